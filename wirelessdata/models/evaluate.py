"""Zero-shot channel prediction: NMSE of predictors on the two WiFo tasks, per shard, read through task views.

On a shard of CSI shape ``(T, K, Nbs, Nue)`` the tasks are the views (:mod:`wirelessdata.tasks.prediction`)

- ``time``: ``time-prediction`` with ``history = T // 2``, ``horizon = T - T // 2``;
- ``frequency``: ``frequency-prediction`` with ``known = K // 2``, ``target = K - K // 2``;

each with AWGN at ``snr_db`` on the given part (per sample, against its mean channel power, seeded by
``(seed, shard, sample_id)``: the impairments of :mod:`wirelessdata.tasks.impairments`). Every predictor sees
the same noisy input of a batch; :class:`~wirelessdata.tasks.prediction.AxisPredictor` normalises it per
sample by the RMS amplitude of the given part and scales the estimate back. The metric is the views' one:

    NMSE = mean over samples of ||H_pred - H||^2 / ||H||^2   (target part, clean H),   NMSE_dB = 10 log10(NMSE).

The result records each view's definition (task, parameters, impairments, seed, shard checksums, samples).

:func:`reconstruction_losses` is the training objective on the evaluated samples, next to the loss of predicting
zeros (0.5 on unit-power samples): a model whose loss equals the zeros' one has learned nothing yet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from wirelessdata.errors import ConfigError, WirelessDataError
from wirelessdata.models.data import shard_batches
from wirelessdata.models.masking import MASK_KINDS, prefix_mask
from wirelessdata.models.objective import masked_losses
from wirelessdata.models.wifo import WiFo, patch_grid
from wirelessdata.tasks.base import Task
from wirelessdata.tasks.evaluation import score_many
from wirelessdata.tasks.extrapolation import TASK_AXIS, TASKS, Predictor
from wirelessdata.tasks.prediction import AxisPredictor, FrequencyPrediction, TimePrediction
from wirelessdata.tasks.source import ShardInfo

_TASK_MASK = {"time": "temporal", "frequency": "frequency"}


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


def prediction_task(task: str, shape: Sequence[int], snr_db: float | None = 20.0, seed: int = 0) -> Task:
    """The view definition of ``task`` (``time`` or ``frequency``) on CSI of ``shape`` ``(T, K, ...)``: half given."""
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    n = int(shape[0] if task == "time" else shape[1])
    if n < 2:
        raise WirelessDataError(f"the {task} task needs at least 2 entries along that axis, got {n}")
    noise = {} if snr_db is None else {"snr_db": snr_db}
    if task == "time":
        return TimePrediction(seed=seed, history=n // 2, horizon=n - n // 2, **noise)
    return FrequencyPrediction(seed=seed, known=n // 2, target=n - n // 2, **noise)


def evaluate(
    predictors: Mapping[str, Predictor],
    shards: Sequence[ShardInfo],
    *,
    per_shard: Mapping[str, Mapping[str, Predictor]] | None = None,
    tasks: Sequence[str] = TASKS,
    snr_db: float | None = 20.0,
    seed: int = 0,
    batch_size: int = 32,
) -> dict[str, Any]:
    """NMSE of every predictor on every shard and task (module doc).

    :param predictors: name → predictor, run on every shard (e.g. ``{"wifo": model_predictor(m), **BASELINES}``).
    :param shards: the evaluated samples of each shard (``wirelessdata.tasks.source.shard_info(url, indices)``).
    :param per_shard: shard name → extra predictors for that shard only (e.g. its full-shot model).
    :param snr_db: AWGN on the given CSI (None: clean).
    :returns: ``{"snr_db", "seed", "tasks", "shards": {shard: {"samples": n, task: {name: {"nmse", "nmse_db"}}}},
        "definitions": {shard: {task: the view's definition}}}``.
    :raises WirelessDataError: a shard without samples or with shapes a predictor cannot take (names the shard).
    """
    if unknown := set(tasks) - set(TASKS):
        raise ConfigError(f"unknown task(s) {', '.join(sorted(unknown))}; choose from {', '.join(TASKS)}")
    results: dict[str, Any] = {}
    definitions: dict[str, Any] = {}
    for shard in shards:
        named = {**predictors, **(per_shard or {}).get(shard.name, {})}
        try:
            if not shard.indices.size:
                raise WirelessDataError("no evaluation samples")
            results[shard.name] = {"samples": int(shard.indices.size)}
            definitions[shard.name] = {}
            for task in tasks:
                view = prediction_task(task, shard.shape, snr_db, seed).view([shard], batch_size=batch_size)
                scores = score_many(view, {name: AxisPredictor(p, task).predict for name, p in named.items()})
                results[shard.name][task] = {n: {k: s[k] for k in ("nmse", "nmse_db")} for n, s in scores.items()}
                definitions[shard.name][task] = view.definition()
        except WirelessDataError as exc:
            raise type(exc)(f"shard {shard.name}: {exc}") from None
    return {"snr_db": snr_db, "seed": seed, "tasks": list(tasks), "shards": results, "definitions": definitions}


@torch.no_grad()
def reconstruction_losses(
    model: WiFo,
    shards: Sequence[ShardInfo],
    *,
    masks: Sequence[str] = MASK_KINDS,
    mask_ratio: float = 0.5,
    snr_db: float | None = 20.0,
    seed: int = 0,
    batch_size: int = 32,
) -> dict[str, dict[str, dict[str, float]]]:
    """The masked MSE of ``model`` per shard and mask, as in training, and that of the all-zero prediction.

    Samples are normalised to unit power (``normalise``) and noised at ``snr_db``; masks and noise come from a
    generator seeded by ``seed``. :returns: ``{shard: {mask: {"model": loss, "zeros": loss}}}`` (means over the
    hidden patches of all samples).
    """
    out: dict[str, dict[str, dict[str, float]]] = {}
    for shard in shards:
        out[shard.name] = masked_losses(
            model,
            shard_batches(shard.url, shard.indices, batch_size, shard.name),
            masks,
            mask_ratio=mask_ratio,
            snr_db=snr_db,
            seed=seed,
        )
    return out
