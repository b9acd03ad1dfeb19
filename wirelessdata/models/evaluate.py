"""Zero-shot channel prediction: NMSE of predictors on the two WiFo tasks, per shard.

- ``time``: the first ``T // 2`` snapshots are given, the remaining ones are predicted.
- ``frequency``: the lower ``K // 2`` subcarriers are given, the upper ones are predicted.

Per batch, the CSI ``[B, 2, T, N, K]`` gets noise at ``snr_db`` (relative to each sample's mean power, drawn
from a generator seeded by ``seed`` and the shard name), the given part is normalised per sample by its own
RMS amplitude, and the unknown part of the input is zeroed. A predictor sees only that input; its output is
scored on the unknown part against the clean CSI under the same scale:

    NMSE = mean over samples of ||H_pred - H||^2 / ||H||^2   (unknown part only),   NMSE_dB = 10 log10(NMSE).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from wirelessdata.errors import ConfigError, WirelessDataError
from wirelessdata.models.masking import prefix_mask
from wirelessdata.models.wifo import WiFo, add_noise, csi_to_input, normalise, patch_grid

TASKS: tuple[str, ...] = ("time", "frequency")
#: axis of the task in the model layout [B, 2, T, N, K], and the mask that shows the given part
TASK_AXIS: dict[str, int] = {"time": 2, "frequency": 4}
_TASK_MASK = {"time": "temporal", "frequency": "frequency"}

#: ``predict(x, task, n_known) -> estimate``: ``x`` ``[B, 2, T, N, K]`` with the first ``n_known`` entries along
#: ``TASK_AXIS[task]`` given and the rest zero; the estimate has the same shape (only the unknown part is scored).
Predictor = Callable[[Tensor, str, int], Tensor]


def model_predictor(model: WiFo) -> Predictor:
    """A WiFo model as a predictor: the given patches are the visible tokens, the rest is reconstructed."""

    @torch.no_grad()
    def predict(x: Tensor, task: str, n_known: int) -> Tensor:
        patch = model.cfg.patch
        axis = TASK_AXIS[task]
        if n_known % patch[axis - 2]:
            raise WirelessDataError(
                f"the {task} task gives {n_known} of {x.shape[axis]} entries, not a multiple of the patch "
                f"{patch[axis - 2]}; use a shape divisible by twice the patch"
            )
        grid = patch_grid(tuple(x.shape[2:]), patch)
        mask = prefix_mask(_TASK_MASK[task], x.shape[0], grid, keep=n_known // patch[axis - 2])
        device = next(model.parameters()).device
        model.eval()
        return model.reconstruct(x.to(device), mask).to(x.device)

    return predict


def task_input(x: Tensor, task: str) -> tuple[Tensor, Tensor, int]:
    """Split the (noisy) CSI ``x`` ``[B, 2, T, N, K]`` for ``task``: ``(input, scale, n_known)``.

    ``input`` is ``x / scale`` with the unknown part zeroed, ``scale`` ``[B, 1, 1, 1, 1]`` the RMS amplitude of
    the given part.
    """
    axis = TASK_AXIS[task]
    n_known = x.shape[axis] // 2
    if n_known < 1:
        raise WirelessDataError(f"the {task} task needs at least 2 entries along that axis, got {x.shape[axis]}")
    known = x.narrow(axis, 0, n_known)
    known, scale = normalise(known)
    inp = torch.zeros_like(x)
    inp.narrow(axis, 0, n_known).copy_(known)
    return inp, scale, n_known


def _nmse(pred: Tensor, truth: Tensor, axis: int, n_known: int) -> Tensor:
    """Per-sample NMSE ``[B]`` of ``pred`` against ``truth`` over the unknown part (index >= n_known on axis)."""
    size = truth.shape[axis] - n_known
    err = (pred.narrow(axis, n_known, size) - truth.narrow(axis, n_known, size)).square().flatten(1).sum(1)
    return err / truth.narrow(axis, n_known, size).square().flatten(1).sum(1).clamp_min(torch.finfo(err.dtype).tiny)


def _score(value: float) -> dict[str, float]:
    return {"nmse": value, "nmse_db": 10 * math.log10(value) if value > 0 else -math.inf}


def evaluate_shard(
    predictors: Mapping[str, Predictor],
    batches: Iterable[Mapping[str, Any]],
    *,
    tasks: Sequence[str] = TASKS,
    snr_db: float | None = 20.0,
    seed: int = 0,
) -> dict[str, Any]:
    """``{"samples": n, task: {predictor: {"nmse", "nmse_db"}}}`` for one shard's batches (see module doc)."""
    if unknown := set(tasks) - set(TASKS):
        raise ConfigError(f"unknown task(s) {', '.join(sorted(unknown))}; choose from {', '.join(TASKS)}")
    generator = torch.Generator().manual_seed(seed)
    sums = {(task, name): 0.0 for task in tasks for name in predictors}
    samples = 0
    for batch in batches:
        x = csi_to_input(batch.get("csi"))
        noisy = add_noise(x, snr_db, generator)
        for task in tasks:
            inp, scale, n_known = task_input(noisy, task)
            for name, predict in predictors.items():
                nmse = _nmse(predict(inp, task, n_known).float(), x / scale, TASK_AXIS[task], n_known)
                sums[task, name] += nmse.double().sum().item()
        samples += x.shape[0]
    if samples == 0:
        raise WirelessDataError("no evaluation samples")
    return {"samples": samples} | {
        task: {name: _score(sums[task, name] / samples) for name in predictors} for task in tasks
    }


def evaluate(
    predictors: Mapping[str, Predictor],
    batches_per_shard: Mapping[str, Iterable[Mapping[str, Any]]],
    *,
    per_shard: Mapping[str, Mapping[str, Predictor]] | None = None,
    tasks: Sequence[str] = TASKS,
    snr_db: float | None = 20.0,
    seed: int = 0,
) -> dict[str, Any]:
    """NMSE of every predictor on every shard and task.

    :param predictors: name → predictor, run on every shard (e.g. ``{"wifo": model_predictor(m), **BASELINES}``).
    :param batches_per_shard: shard name → its test batches.
    :param per_shard: shard name → extra predictors for that shard only (e.g. its full-shot model).
    :param snr_db: noise on the given CSI (None: clean); the same noisy input goes to every predictor.
    :returns: ``{"snr_db", "seed", "tasks", "shards": {shard: {"samples": n, task: {name: {"nmse", "nmse_db"}}}}}``.
    :raises WirelessDataError: a shard without samples or with shapes a predictor cannot take (names the shard).
    """
    shards = {}
    for shard, batches in batches_per_shard.items():
        extra = (per_shard or {}).get(shard, {})
        try:
            shards[shard] = evaluate_shard(
                {**predictors, **extra}, batches, tasks=tasks, snr_db=snr_db, seed=seed + zlib.crc32(shard.encode())
            )
        except WirelessDataError as exc:
            raise type(exc)(f"shard {shard}: {exc}") from None
    return {"snr_db": snr_db, "seed": seed, "tasks": list(tasks), "shards": shards}
