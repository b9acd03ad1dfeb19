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
- ``ar-auto``: the same with the order chosen per sample on the given part only (:func:`select_ar_order`): each
  order ``1..max_order`` is fitted on the given part minus its last ``h`` entries and scored on predicting them.

The fitted linear MMSE (Wiener) predictor is in :mod:`wirelessdata.tasks.wiener`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

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


def along_axis(x: Tensor, task: str, n_known: int, extrapolate: Callable[[Tensor, int], Tensor]) -> Tensor:
    """Run a sequence extrapolator along the task axis of ``x`` ``[B, 2, T, N, K]`` (model layout).

    ``extrapolate(seq, horizon)`` gets the given parts as complex sequences ``seq`` ``[B, M, n_known]`` (``M`` =
    ``N * K`` antenna/subcarrier sequences for ``time``, ``T * N`` antenna/snapshot sequences for ``frequency``)
    and returns their continuations ``[B, M, horizon]``, ``horizon = L - n_known``; the result is ``x`` with its
    unknown part replaced by them.
    """
    axis = TASK_AXIS[task]
    c = torch.complex(x[:, 0], x[:, 1]).movedim(axis - 1, -1)  # [B, ..., L], task axis last
    seq = c[..., :n_known].reshape(x.shape[0], -1, n_known)
    pred = extrapolate(seq, x.shape[axis] - n_known).reshape(*c.shape[:-1], -1).to(c.dtype)
    pred = torch.stack([pred.real, pred.imag], dim=1).movedim(-1, axis)
    return _with_unknown(x, axis, n_known, pred)


def ar_extrapolate(seq: Tensor, horizon: int, order: int | Tensor) -> Tensor:
    """Extrapolate complex sequences ``seq`` ``[S, M, n]`` by ``horizon`` steps: ``[S, M, horizon]``.

    Model ``x[j] = sum_i a_i x[j - i]``, ``i = 1..p`` with ``p = min(order, n - 1)``, coefficients ``a`` shared by
    the ``M`` sequences of each of the ``S`` groups, fitted by minimum-norm least squares: a pseudo-inverse that drops
    singular values below ``1e-5`` of the largest (float32 input precision), so a rank-deficient fit, e.g. a
    constant or a single exponential with ``order > 1``, stays exact instead of fitting rounding noise.

    :param order: one order for all groups, or an integer tensor ``[S]`` of per-group orders (the groups of each
        distinct order are extrapolated together).
    """
    s, m, n = seq.shape
    if torch.is_tensor(order):
        if order.shape != (s,):
            raise ConfigError(f"per-group AR orders must have shape ({s},), got {tuple(order.shape)}")
        out = seq.new_empty(s, m, horizon)
        for p in torch.unique(order).tolist():
            sel = order == p
            out[sel] = ar_extrapolate(seq[sel], horizon, int(p))
        return out
    p = min(order, n - 1)
    if p < 1:
        raise ConfigError(f"AR extrapolation needs at least 2 given entries and order >= 1, got {n} and {order}")
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


#: held-out errors within this share of the held-out power of the smallest one count as ties (the lowest order
#: wins): the float32 floor of an exact fit, so a signal every order predicts exactly gets the lowest such order
TIE_TOLERANCE = 1e-6


def select_ar_order(seq: Tensor, horizon: int, max_order: int = 8) -> Tensor:
    """The AR order of each group of ``seq`` ``[S, M, n]``, chosen on the given entries only: ``[S]`` int64.

    The last ``h = max(1, min(horizon, n // 3))`` given entries are held back; every order ``p = 1..max_order``
    that leaves at least one equation per sequence and ``p`` equations in all (``n - h - p >= 1`` and
    ``M (n - h - p) >= p``) is fitted on the rest (:func:`ar_extrapolate`, coefficients shared by the ``M``
    sequences of a group) and predicts the ``h`` held-back entries recursively; the order with the lowest mean
    squared error wins, the lowest one among ties (within ``TIE_TOLERANCE`` of the held-back power). When no order
    qualifies (``n - h < 2``), order 1. Deterministic.
    """
    if max_order < 1:
        raise ConfigError(f"max_order must be >= 1, got {max_order}")
    s, m, n = seq.shape
    h = max(1, min(horizon, n // 3))
    fit, held = seq[..., : n - h], seq[..., n - h :].to(torch.complex128)
    errors = []
    for p in range(1, max_order + 1):
        if n - h - p < 1 or m * (n - h - p) < p:
            break  # higher orders leave even fewer equations
        pred = ar_extrapolate(fit, h, p).to(torch.complex128)
        errors.append((pred - held).abs().square().flatten(1).mean(1))
    if not errors:
        return torch.ones(s, dtype=torch.int64)
    err = torch.stack(errors, dim=1)  # [S, orders]
    best = err.min(dim=1, keepdim=True).values
    power = held.abs().square().flatten(1).mean(1, keepdim=True)
    good = err <= best + TIE_TOLERANCE * power
    return good.to(torch.int8).argmax(dim=1) + 1  # the first (lowest) order within the tolerance


class ARPredictor:
    """``ar`` / ``ar-auto`` baseline as a ``Predictor``: ``ar_extrapolate`` along the task axis.

    :param order: the number of AR coefficients, or ``"auto"``: chosen per sample in ``1..max_order`` on the given
        part (:func:`select_ar_order`), then refitted on the whole given part.
    """

    def __init__(self, order: int | Literal["auto"] = 4, max_order: int = 8) -> None:
        if order != "auto" and (isinstance(order, str) or int(order) != order or order < 1):
            raise ConfigError(f"AR order must be a positive integer or 'auto', got {order!r}")
        self.order, self.max_order = order, max_order

    def extrapolate(self, seq: Tensor, horizon: int) -> Tensor:
        """``ar_extrapolate`` of ``seq`` ``[S, M, n]`` with this predictor's (or the selected) orders."""
        order = select_ar_order(seq, horizon, self.max_order) if self.order == "auto" else self.order
        return ar_extrapolate(seq, horizon, order)

    def __call__(self, x: Tensor, task: str, n_known: int) -> Tensor:
        return along_axis(x, task, n_known, self.extrapolate)
