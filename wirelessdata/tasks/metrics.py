"""The task metrics, each defined once: NMSE (dB), top-k accuracy, F1, mean absolute (position) error, and the
Chamfer distance and recall of point sets.

Inputs are numpy arrays or CPU torch tensors, batch first.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.metrics import f1_score


def nmse(pred: Any, target: Any) -> np.ndarray:
    """Per-sample NMSE ``||pred - target||^2 / ||target||^2`` over all axes but the first: ``[B]`` (linear)."""
    p, t = np.asarray(pred), np.asarray(target)
    if p.shape != t.shape:
        raise ValueError(f"prediction shape {p.shape} differs from the target's {t.shape}")
    err = np.abs(p - t).astype(np.float64) ** 2
    ref = np.abs(t).astype(np.float64) ** 2
    return err.reshape(len(t), -1).sum(1) / np.maximum(ref.reshape(len(t), -1).sum(1), np.finfo(np.float64).tiny)


def db(value: float) -> float:
    """``10 log10(value)``; ``-inf`` for 0, NaN for NaN (a predictor that output NaN is not the best one)."""
    if math.isnan(value):
        return math.nan
    return 10 * math.log10(value) if value > 0 else -math.inf


def nmse_db(per_sample: Any) -> float:
    """NMSE in dB of a set of samples: ``10 log10(mean of the per-sample NMSEs)``."""
    return db(float(np.mean(per_sample)))


def topk_hits(scores: Any, labels: Any, k: int) -> np.ndarray:
    """``[B]`` bool: label ``i`` is among the ``k`` largest ``scores[i]`` ``[B, C]`` (a label >= C never is)."""
    s, y = np.asarray(scores), np.asarray(labels)
    top = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return (top == y[:, None]).any(axis=1)


def topk_accuracy(scores: Any, labels: Any, k: int) -> float:
    """Share of samples whose label is among the ``k`` highest-scored classes."""
    return float(np.mean(topk_hits(scores, labels, k)))


def f1(pred: Any, target: Any) -> float:
    """F1 score of the positive class (bool arrays ``[B]``); 0 when there is no true or predicted positive."""
    return float(f1_score(np.asarray(target, bool), np.asarray(pred, bool), zero_division=0.0))


def abs_error(pred: Any, target: Any) -> np.ndarray:
    """Per-sample absolute error ``[B]``: ``|pred - target|`` for ``[B]``, the Euclidean norm for ``[B, D]``."""
    d = np.asarray(pred, np.float64) - np.asarray(target, np.float64)
    return np.abs(d) if d.ndim == 1 else np.linalg.norm(d.reshape(len(d), -1), axis=1)


def mae(pred: Any, target: Any) -> float:
    """Mean absolute error (for positions ``[B, 3]`` in m: the mean distance error, m)."""
    return float(np.mean(abs_error(pred, target)))


def _nearest(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[len(a)]`` distance from each point of ``a`` ``[N, D]`` to the nearest of ``b`` ``[M, D]`` (M >= 1)."""
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1).min(axis=1))


def chamfer(pred: Any, target: Any) -> float:
    """Symmetric Chamfer distance between point sets ``pred`` ``[P, 3]`` and ``target`` ``[M, 3]`` (m for points
    in m): the mean of (the mean distance from a target point to the nearest predicted one) and (the same from
    prediction to target). NaN for an empty target (nothing to find), ``inf`` for an empty prediction of a
    non-empty target."""
    p, t = np.asarray(pred, np.float64).reshape(-1, 3), np.asarray(target, np.float64).reshape(-1, 3)
    if not len(t):
        return math.nan
    if not len(p):
        return math.inf
    return float((_nearest(t, p).mean() + _nearest(p, t).mean()) / 2)


def recall_within(pred: Any, target: Any, radius: float) -> float:
    """Share of the target points ``[M, 3]`` with a predicted point ``[P, 3]`` within ``radius`` (same unit); NaN
    for an empty target, 0 for an empty prediction."""
    p, t = np.asarray(pred, np.float64).reshape(-1, 3), np.asarray(target, np.float64).reshape(-1, 3)
    if not len(t):
        return math.nan
    return float((_nearest(t, p) <= radius).mean()) if len(p) else 0.0
