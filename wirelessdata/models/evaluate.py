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

:func:`evaluate_run` is ``wirelessdata evaluate`` of a run on the held-out shards of a manifest split: each shard
divided into evaluated and training samples (``data.target_shards``), the Wiener predictor fitted on the latter,
optionally few-shot and full-shot models tuned on it (:mod:`wirelessdata.models.finetune`), then :func:`evaluate`
and :func:`reconstruction_losses` on the evaluated samples, recorded in the run's model card.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from wirelessdata.errors import ConfigError, WirelessDataError
from wirelessdata.mix.manifest import load_manifest
from wirelessdata.models.baselines import BASELINES
from wirelessdata.models.checkpoint import load_checkpoint, read_model_card, update_model_card
from wirelessdata.models.data import shard_batches, target_shards
from wirelessdata.models.finetune import TuneSettings, tune
from wirelessdata.models.masking import MASK_KINDS, prefix_mask
from wirelessdata.models.objective import masked_losses
from wirelessdata.models.wifo import WiFo, patch_grid
from wirelessdata.tasks.base import Task
from wirelessdata.tasks.evaluation import score_many
from wirelessdata.tasks.extrapolation import TASK_AXIS, TASKS, Predictor
from wirelessdata.tasks.prediction import AxisPredictor, FrequencyPrediction, TimePrediction
from wirelessdata.tasks.source import ShardSamples, shard_info
from wirelessdata.tasks.wiener import fit_wiener

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
    shards: Sequence[ShardSamples],
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
    shards: Sequence[ShardSamples],
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


def evaluate_run(
    run: Path,
    manifest: str | Path,
    *,
    split: str = "zero-shot",
    eval_fraction: float = 0.5,
    few_shot: int = 0,
    full_shot: bool = False,
    settings: TuneSettings | None = None,
    snr_db: float | None = 20.0,
) -> dict[str, Any]:
    """Evaluate the run directory ``run`` on the held-out shards of ``split`` of the manifest at ``manifest`` (module
    doc) and merge the result into the run's model card as ``evaluation``.

    :param eval_fraction: share of each shard's samples (by ``sample_id`` hash) evaluated; the rest is its training
        split (Wiener fit, few-shot and full-shot tuning).
    :param few_shot: also tune the run on this many training samples per shard (0: no few-shot model).
    :param full_shot: also train the full-shot model per shard on its whole training split, from scratch.
    :param settings: how the target models are tuned (default ``TuneSettings()``; its ``seed`` is replaced by the
        manifest's); its ``batch_size`` is also the evaluation batch.
    :param snr_db: AWGN on the given CSI, dB (None: clean).
    :returns: :func:`evaluate`'s metrics plus ``"reconstruction"`` (:func:`reconstruction_losses`), ``"split"``,
        ``"manifest"``, ``"eval_fraction"``, ``"tuning"`` (``{shard: {model: Tuned.describe()}}``) and
        ``"tune_settings"`` (``{"max_steps", "patience", "eval_every"}``).
    :raises WirelessDataError: a manifest whose shards changed, no loadable checkpoint or a damaged model card
        (refused before anything is evaluated), or a shard the models cannot take.
    """
    m = load_manifest(manifest)
    m.verify()
    ckpt = load_checkpoint(run)
    read_model_card(run)  # a damaged card is refused before the evaluation, not after it
    settings = replace(settings or TuneSettings(), seed=m.seed)
    test, per_shard, tuning = [], {}, {}
    for target in target_shards(m, split, eval_fraction):
        info = shard_info(target.url, target.evaluated, target.name)
        test.append(info)
        tasks = [prediction_task(t, info.shape, snr_db, m.seed) for t in ("time", "frequency")]
        extra = {"wiener": fit_wiener(tasks, [shard_info(target.url, target.training, target.name)])}
        if few_shot > 0:
            tuned = tune(
                target,
                ckpt.config,
                run / f"few-shot-{few_shot}" / target.name,
                init=run,
                samples=few_shot,
                settings=settings,
            )
            extra[f"few-shot-{few_shot}"] = model_predictor(tuned.model)
            tuning.setdefault(target.name, {})[f"few-shot-{few_shot}"] = tuned.describe()
        if full_shot:
            tuned = tune(target, ckpt.config, run / "full-shot" / target.name, settings=settings)
            extra["full-shot"] = model_predictor(tuned.model)
            tuning.setdefault(target.name, {})["full-shot"] = tuned.describe()
        per_shard[target.name] = extra
    metrics = evaluate(
        {"wifo": model_predictor(ckpt.model), **BASELINES},
        test,
        per_shard=per_shard,
        snr_db=snr_db,
        seed=m.seed,
        batch_size=settings.batch_size,
    )
    metrics["reconstruction"] = reconstruction_losses(
        ckpt.model,
        test,
        mask_ratio=ckpt.config.mask_ratio,
        snr_db=snr_db,
        seed=m.seed,
        batch_size=settings.batch_size,
    )
    metrics |= {
        "split": split,
        "manifest": str(manifest),
        "eval_fraction": eval_fraction,
        "tuning": tuning,
        "tune_settings": {
            "max_steps": settings.steps,
            "patience": settings.patience,
            "eval_every": settings.eval_every,
        },
    }
    update_model_card(run, {"evaluation": metrics})
    return metrics
