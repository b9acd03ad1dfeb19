"""The Wiener / linear MMSE predictor of the two prediction tasks, fitted on a training split.

Every sequence along the task axis is a vector: for ``time`` each (antenna, subcarrier) sequence of ``n_known``
given snapshots ``x`` -> its ``n_unknown`` next snapshots ``y``; for ``frequency`` each (antenna, snapshot)
sequence of ``n_known`` given subcarriers -> the ``n_unknown`` ones above. One matrix ``W`` ``[n_unknown, n_known]``
is pooled over all sequences of all samples of the training view:

    y_hat = W x,   W = C_yx (C_xx + lambda I)^-1,   C_xx = mean x x^H,  C_yx = mean y x^H,
    lambda = ridge * trace(C_xx) / n_known,

complex, zero mean, solved in complex128. ``x`` is the noisy given part exactly as
:class:`~wirelessdata.tasks.prediction.AxisPredictor` feeds a predictor (``tasks.layout.given_input``: divided by
the sample's RMS given amplitude ``s``), ``y`` the clean target divided by the same ``s``, so the fit sees what
evaluation sees (same impairments, same SNR, same normalisation). The normalised data are unitless.

Usage: ``WienerPredictor().fit_view(train_view)`` (a ``time-prediction`` / ``frequency-prediction`` view of the
training split; fit both tasks by calling it on a view of each) gives a ``Predictor`` (model layout, as in
:mod:`wirelessdata.tasks.extrapolation`) for ``AxisPredictor(w, task)`` or ``models.evaluate.evaluate(per_shard=...)``;
:func:`fit_wiener` fits it from task definitions and a training source. As a baseline: ``wiener`` of the
prediction tasks (:class:`~wirelessdata.tasks.prediction.WienerBaseline`, ``needs_fit``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from wirelessdata.errors import ConfigError
from wirelessdata.tasks.extrapolation import TASK_AXIS, along_axis
from wirelessdata.tasks.layout import csi_to_input, given_input

if TYPE_CHECKING:
    from wirelessdata.tasks.base import Task
    from wirelessdata.tasks.source import Source
    from wirelessdata.tasks.view import TaskView


@dataclass(frozen=True)
class WienerFit:
    """The fit of one task: ``weights`` ``W`` complex128 ``[length - n_known, n_known]`` over ``sequences``."""

    n_known: int
    length: int
    weights: Tensor
    sequences: int


def task_sequences(x: Tensor, task: str, n_known: int) -> tuple[Tensor, Tensor]:
    """The given and unknown parts of every sequence of ``x`` ``[B, 2, T, N, K]`` along the task axis, complex128:
    ``([R, n_known], [R, L - n_known])`` with ``R`` = all (sample, antenna, subcarrier / snapshot) sequences."""
    c = torch.complex(x[:, 0], x[:, 1]).movedim(TASK_AXIS[task] - 1, -1).to(torch.complex128)
    c = c.reshape(-1, c.shape[-1])
    return c[:, :n_known], c[:, n_known:]


class WienerPredictor:
    """The pooled linear MMSE predictor (module doc) as a :data:`~wirelessdata.tasks.extrapolation.Predictor`.

    :param ridge: diagonal loading of ``C_xx``, relative to its mean diagonal (unitless).
    """

    def __init__(self, ridge: float = 1e-6) -> None:
        if not ridge >= 0:
            raise ConfigError(f"ridge must be >= 0, got {ridge}")
        self.ridge = ridge
        self.fits: dict[str, WienerFit] = {}

    def fit_view(self, view: TaskView) -> WienerPredictor:
        """Fit on one pass of a ``time-prediction`` or ``frequency-prediction`` view (the training split), for its
        task and shape; returns ``self``. A task fitted before is refitted."""
        definition: Any = view.task
        task = getattr(definition, "model_task", None)
        if task not in TASK_AXIS:
            raise ConfigError(f"Wiener fit needs a time- or frequency-prediction view, got {definition.name}")
        csi_axis = definition.axis + 1  # 1: snapshots, 2: subcarriers
        n_known = int(definition.values[definition.known_key])
        n_unknown = int(definition.values[definition.target_key])
        cxx = torch.zeros(n_known, n_known, dtype=torch.complex128)
        cyx = torch.zeros(n_unknown, n_known, dtype=torch.complex128)
        count = 0
        for inp, target, _ in view.batches():
            x, scale = given_input(inp, n_unknown, csi_axis)
            given, _ = task_sequences(x, task, n_known)
            _, wanted = task_sequences(csi_to_input(target) / scale, task, 0)  # same sequence order as ``given``
            cxx += given.T @ given.conj()
            cyx += wanted.T @ given.conj()
            count += given.shape[0]
        return self.fit_moments(task, cxx / count, cyx / count, count)

    def fit_moments(self, task: str, cxx: Tensor, cyx: Tensor, count: int = 0) -> WienerPredictor:
        """Fit ``task`` from the moments ``C_xx`` ``[n_known, n_known]`` and ``C_yx`` ``[n_unknown, n_known]`` of
        normalised sequences (module doc); ``count``: sequences they average, for the record. Returns ``self``."""
        if task not in TASK_AXIS:
            raise ConfigError(f"unknown task {task!r}; choose from {', '.join(TASK_AXIS)}")
        cxx, cyx = cxx.to(torch.complex128), cyx.to(torch.complex128)
        n_known = cxx.shape[0]
        if not bool(torch.isfinite(torch.view_as_real(cxx)).all()) or float(cxx.diagonal().real.sum()) <= 0:
            raise ConfigError(f"the {task} training view has no usable (finite, non-zero) given CSI to fit on")
        load = self.ridge * cxx.diagonal().real.mean() + torch.finfo(torch.float64).tiny
        eye = torch.eye(n_known, dtype=torch.complex128)
        # W (C_xx + lambda I) = C_yx  <=>  (C_xx + lambda I)^T W^T = C_yx^T
        weights = torch.linalg.solve((cxx + load * eye).T, cyx.T).T
        self.fits[task] = WienerFit(n_known, n_known + cyx.shape[0], weights, count)
        return self

    def __call__(self, x: Tensor, task: str, n_known: int) -> Tensor:
        """Predict the unknown part of ``x`` ``[B, 2, T, N, K]`` (normalised model layout) from its first
        ``n_known`` entries along the task axis."""
        fit = self.fits.get(task)
        if fit is None:
            raise ConfigError(
                f"the Wiener predictor is not fitted for the {task} task; fit it on a training view first "
                "(WienerPredictor.fit_view or tasks.wiener.fit_wiener)"
            )
        length = x.shape[TASK_AXIS[task]]
        if (n_known, length) != (fit.n_known, fit.length):
            raise ConfigError(
                f"the Wiener predictor of the {task} task was fitted on {fit.n_known} given of {fit.length} entries, "
                f"asked for {n_known} of {length}; fit it on a training view of this shape"
            )
        return along_axis(x, task, n_known, lambda seq, _: seq.to(torch.complex128) @ fit.weights.T)


def fit_wiener(
    tasks: Task | Sequence[Task], train: Source, *, batch_size: int = 32, ridge: float = 1e-6
) -> WienerPredictor:
    """A :class:`WienerPredictor` fitted on ``train`` (e.g. ``[shard_info(url, train_indices)]``) for each of
    ``tasks`` (``time-prediction`` / ``frequency-prediction`` definitions, with the impairments and seed of the
    evaluation, e.g. ``wirelessdata.models.evaluate.prediction_task(...)``), over all of its samples."""
    predictor = WienerPredictor(ridge=ridge)
    for task in [tasks] if not isinstance(tasks, Sequence) else tasks:
        predictor.fit_view(task.view(train, batch_size=batch_size))
    return predictor
