"""Classical extrapolators of the two WiFo prediction tasks, in the model layout: zero-order hold and AR.

A :data:`Predictor` ``predict(x, task, n_known)`` takes ``x`` ``[B, 2, T, N, K]`` (:mod:`wirelessdata.tasks.layout`)
whose first ``n_known`` entries along ``TASK_AXIS[task]`` are given and the rest zero, and returns an estimate of
the same shape (only the unknown part is scored). :class:`wirelessdata.tasks.prediction.AxisPredictor` runs one
on a task view; a WiFo model becomes one with :func:`wirelessdata.models.evaluate.model_predictor`.

- ``zoh``: every unknown entry repeats the last given one (last snapshot / highest given subcarrier).
- ``ar``: linear prediction along the task axis. Per sample, one set of ``order`` complex AR coefficients is
  fitted by least squares over all the antenna/subcarrier sequences (time task) or antenna/snapshot sequences
  (frequency task) of the given part, then the sequences are extrapolated recursively. A sum of ``order`` complex
  exponentials (Doppler lines in time, path delays in frequency) is predicted exactly; this is the classical
  Prony / linear-prediction extrapolator.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from wirelessdata.errors import ConfigError

#: the two tasks: given the first half of the snapshots (time) or subcarriers (frequency), predict the rest
TASKS: tuple[str, ...] = ("time", "frequency")
#: axis of each task in the model layout [B, 2, T, N, K]
TASK_AXIS: dict[str, int] = {"time": 2, "frequency": 4}

Predictor = Callable[[Tensor, str, int], Tensor]


def _with_unknown(x: Tensor, axis: int, n_known: int, values: Tensor) -> Tensor:
    """``x`` with its entries ``n_known:`` along ``axis`` replaced by ``values``."""
    out = x.clone()
    out.narrow(axis, n_known, x.shape[axis] - n_known).copy_(values)
    return out


def zoh_predict(x: Tensor, task: str, n_known: int) -> Tensor:
    """Zero-order hold / nearest known entry: repeat the last given slice along the task axis."""
    axis = TASK_AXIS[task]
    last = x.narrow(axis, n_known - 1, 1)
    return _with_unknown(x, axis, n_known, last.expand_as(x.narrow(axis, n_known, x.shape[axis] - n_known)))


def ar_extrapolate(seq: Tensor, horizon: int, order: int) -> Tensor:
    """Extrapolate complex sequences ``seq`` ``[S, M, n]`` by ``horizon`` steps: ``[S, M, horizon]``.

    Model ``x[j] = sum_i a_i x[j - i]``, ``i = 1..p`` with ``p = min(order, n - 1)``, coefficients ``a`` shared by
    the ``M`` sequences of each of the ``S`` groups, fitted by minimum-norm least squares: a pseudo-inverse that drops
    singular values below ``1e-5`` of the largest (float32 input precision), so a rank-deficient fit, e.g. a
    constant or a single exponential with ``order > 1``, stays exact instead of fitting rounding noise.
    """
    s, m, n = seq.shape
    p = min(order, n - 1)
    if p < 1:
        raise ConfigError(f"AR extrapolation needs at least 2 given entries, got {n}")
    x = seq.to(torch.complex128)
    # regressors [S, M * (n - p), p]: the p previous values of every predicted entry, most recent first
    lags = torch.stack([x[..., p - i : n - i] for i in range(1, p + 1)], dim=-1)
    coef = torch.linalg.pinv(lags.reshape(s, -1, p), rtol=1e-5) @ x[..., p:].reshape(s, -1, 1)  # [S, p, 1]
    history = x[..., n - p :].flip(-1)  # [S, M, p], most recent first
    out = []
    for _ in range(horizon):
        nxt = (history @ coef).squeeze(-1)  # [S, M]
        out.append(nxt)
        history = torch.cat([nxt[..., None], history[..., :-1]], dim=-1)
    return torch.stack(out, dim=-1).to(seq.dtype)


class ARPredictor:
    """``ar`` baseline as a ``Predictor``: ``ar_extrapolate`` along the task axis with ``order`` coefficients."""

    def __init__(self, order: int = 4) -> None:
        self.order = order

    def __call__(self, x: Tensor, task: str, n_known: int) -> Tensor:
        axis = TASK_AXIS[task]
        c = torch.complex(x[:, 0], x[:, 1]).movedim(axis - 1, -1)  # [B, ..., L], task axis last
        seq = c[..., :n_known].reshape(x.shape[0], -1, n_known)
        pred = ar_extrapolate(seq, x.shape[axis] - n_known, self.order).reshape(*c.shape[:-1], -1)
        pred = torch.stack([pred.real, pred.imag], dim=1).movedim(-1, axis)
        return _with_unknown(x, axis, n_known, pred)
