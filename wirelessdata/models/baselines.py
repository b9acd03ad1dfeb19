"""Baselines for the prediction tasks of ``evaluate``: zero-order hold, AR extrapolation, full-shot WiFo.

- ``zoh``: every unknown entry repeats the last given one (last snapshot / highest given subcarrier).
- ``ar``: linear prediction along the task axis. Per sample, one set of ``order`` complex AR coefficients is
  fitted by least squares over all the antenna/subcarrier sequences (time task) or antenna/snapshot sequences
  (frequency task) of the given part, then the sequences are extrapolated recursively. A sum of ``order`` complex
  exponentials (Doppler lines in time, path delays in frequency) is predicted exactly; this is the classical
  Prony / linear-prediction extrapolator.
- full-shot: the same architecture trained from scratch on the target shard's training split
  (``train_full_shot``), evaluated with ``model_predictor``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from wirelessdata.errors import ConfigError
from wirelessdata.models.evaluate import TASK_AXIS, Predictor
from wirelessdata.models.train import StepInfo, TrainConfig, load_checkpoint, train
from wirelessdata.models.wifo import WiFo


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


#: the classical baselines, run on every shard
BASELINES: dict[str, Predictor] = {"zoh": zoh_predict, "ar": ARPredictor()}


def train_full_shot(
    batches: Iterable[Mapping[str, Any]] | Callable[[int], Iterable[Mapping[str, Any]]],
    cfg: TrainConfig,
    out_dir: Path,
    resume: bool = False,
    on_step: Callable[[StepInfo], None] | None = None,
    device: str | torch.device | None = None,
) -> WiFo:
    """The full-shot baseline: a WiFo model trained from scratch on one target shard's training ``batches``.

    Same loop, checkpoints and resume as ``train`` (into ``out_dir``); returns the trained model in eval mode.
    """
    train(batches, cfg, out_dir, resume, on_step, device=device)
    return load_checkpoint(out_dir, device).model
