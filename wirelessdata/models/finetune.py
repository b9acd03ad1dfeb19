"""Models fitted on one target shard: few-shot fine-tuning of a pretrained run and the full-shot baseline.

Both follow one protocol, so the comparison is fair: the tuning samples (``data.tuning_split``: N of the target's
training split for few-shot, all of it for full-shot) are divided into a training part and an early-stopping
validation part; the model trains on the evaluated tasks' masks (``TUNE_MASKS``: temporal and frequency, one
drawn per step) until the validation loss (mean over those masks) has not improved for ``patience`` checks or
``steps`` is reached, and keeps its best weights. Few-shot starts from the pretrained weights at a lower
learning rate; full-shot starts from scratch at the pretraining one.

:func:`finetune_run` is ``wirelessdata finetune``: one shard of a manifest split, few-shot, with the masked losses
on its evaluated samples before and after.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wirelessdata.errors import ConfigError, WirelessDataError
from wirelessdata.mix.manifest import load_manifest
from wirelessdata.models.checkpoint import CHECKPOINT, load_checkpoint
from wirelessdata.models.config import TrainConfig
from wirelessdata.models.data import TargetShard, find_target, shard_batches, target_shards, tuning_split
from wirelessdata.models.masking import make_mask
from wirelessdata.models.objective import masked_losses
from wirelessdata.models.train import TrainResult, train
from wirelessdata.models.wifo import WiFo, patch_grid

#: The masks of the evaluated tasks (time- and frequency-domain prediction).
TUNE_MASKS: tuple[str, ...] = ("temporal", "frequency")


@dataclass(frozen=True)
class TuneSettings:
    """How a target model is tuned: at most ``steps`` steps of ``batch_size``, a check every ``eval_every`` steps,
    stop after ``patience`` checks without a new best; ``lr`` (None: the pretraining one for full-shot, a third of
    it for few-shot)."""

    steps: int = 400
    batch_size: int = 32
    eval_every: int = 20
    patience: int = 4
    lr: float | None = None
    seed: int = 0


@dataclass(frozen=True)
class Tuned:
    """A tuned model (best weights, eval mode), its run, and the tuning samples (train / validation) and batch."""

    model: WiFo
    result: TrainResult
    train_samples: int
    validation_samples: int
    batch_size: int

    def describe(self) -> dict[str, Any]:
        """Steps, samples and the stopping point, for reports."""
        r = self.result
        return {
            "steps": r.step,
            "best_step": r.best_step,
            "stopped_early": r.stopped_early,
            "train_samples": self.train_samples,
            "validation_samples": self.validation_samples,
            "samples_seen": r.step * self.batch_size,
            "best_validation_loss": min((v["loss"] for v in r.validation), default=None),
        }


def memory_stream(batches: list[dict[str, Any]], batch_size: int, seed: int) -> Callable[[int], Iterator[dict]]:
    """An endless seeded stream of shuffled batches of ``batch_size`` over the samples of ``batches`` (in memory),
    as a callable ``from_step(k)`` for ``train`` (exact resume: epoch ``e`` is permutation ``seed + e``)."""
    csi = torch.cat([b["csi"] for b in batches])
    ids = torch.cat([b["sample_id"] for b in batches])
    shard = batches[0]["shard"]
    per_epoch = max(1, csi.shape[0] // batch_size)  # full batches only: one shape per step

    def from_step(step: int) -> Iterator[dict[str, Any]]:
        epoch, offset = divmod(step, per_epoch)
        while True:
            order = torch.from_numpy(np.random.default_rng(seed + epoch).permutation(csi.shape[0]))
            for k in range(offset, per_epoch):
                pick = order[k * batch_size : (k + 1) * batch_size]
                yield {"csi": csi[pick], "sample_id": ids[pick], "shard": shard}
            epoch, offset = epoch + 1, 0

    return from_step


def check_shape(name: str, cfg: TrainConfig, shape: tuple[int, ...], use: str = "tuned") -> None:
    """A one-line error when shard ``name``'s CSI ``shape`` ``(T, K, Nbs, Nue)`` cannot be patched or masked."""
    t, k, nbs, nue = shape
    try:
        grid = patch_grid((t, nbs * nue, k), tuple(cfg.patch))
        for kind in TUNE_MASKS:
            make_mask(kind, 1, grid)
    except WirelessDataError as exc:
        raise type(exc)(f"shard {name} cannot be {use} with patch {tuple(cfg.patch)}: {exc}") from None


def tune(
    target: TargetShard,
    base: TrainConfig,
    out_dir: Path,
    *,
    init: Path | None = None,
    samples: int | None = None,
    settings: TuneSettings = TuneSettings(),
) -> Tuned:
    """Tune a model on ``target`` into ``out_dir``: few-shot from the pretrained run ``init`` on ``samples`` of the
    target's training split, or full-shot (``init=None``, ``samples=None``: every training sample, from scratch).

    ``base`` gives the architecture, patch, noise and mask ratio (the pretraining configuration). An ``out_dir``
    holding a finished tuning with the same configuration is reused (resume); another configuration is an error.
    """
    train_idx, val_idx = tuning_split(target, samples, settings.seed)
    train_b = shard_batches(target.url, train_idx, settings.batch_size, target.name)
    val_b = shard_batches(target.url, val_idx, settings.batch_size, target.name)
    check_shape(target.name, base, tuple(train_b[0]["csi"].shape[1:]))
    lr = settings.lr if settings.lr is not None else (base.lr / 3 if init is not None else base.lr)
    cfg = TrainConfig.from_dict(
        base.to_dict()
        | {
            "steps": settings.steps,
            "lr": lr,
            "min_lr": min(base.min_lr, lr),
            "warmup_steps": min(10, settings.steps) if init is not None else min(base.warmup_steps, settings.steps),
            "masks": list(TUNE_MASKS),
            "mask_schedule": "sample",
            "eval_every": settings.eval_every,
            "patience": settings.patience,
            "seed": settings.seed,
        }
    )
    batch = min(settings.batch_size, train_idx.size)

    def validate(model: WiFo) -> dict[str, dict[str, float]]:
        return masked_losses(model, val_b, TUNE_MASKS, mask_ratio=cfg.mask_ratio, snr_db=cfg.snr_db, seed=cfg.seed)

    out_dir = Path(out_dir)
    result = train(
        memory_stream(train_b, batch, settings.seed),
        cfg,
        out_dir,
        resume=(out_dir / CHECKPOINT).exists(),
        checkpoint_every=10**9,
        validate=validate,
        init=init,
        data={"target": target.name, "url": target.url, "init": str(init) if init else None, "samples": samples},
    )
    model = load_checkpoint(out_dir).model
    return Tuned(model, result, int(train_idx.size), int(val_idx.size), batch)


def guard_out(run: Path, out: Path) -> None:
    """Refuse an output directory that is the pretrained run itself (it would overwrite it)."""
    if Path(out).resolve() == Path(run).resolve():
        raise ConfigError(f"--out {out} is the pretrained run itself; choose a new directory for the tuned model")


@dataclass(frozen=True)
class FineTuned:
    """A few-shot model of one target shard (``finetune_run``) and the masked losses (``TUNE_MASKS``; each
    ``{"model": loss, "zeros": the all-zero prediction's}``) on the shard's ``evaluated`` samples (a count)
    before and after tuning."""

    tuned: Tuned
    evaluated: int
    before: dict[str, dict[str, float]]
    after: dict[str, dict[str, float]]


def finetune_run(
    run: Path,
    manifest: str | Path,
    shard: str,
    out: Path,
    *,
    samples: int = 512,
    split: str = "zero-shot",
    eval_fraction: float = 0.5,
    settings: TuneSettings = TuneSettings(),
) -> FineTuned:
    """Fine-tune the pretrained run directory ``run`` on ``samples`` training samples of ``shard`` of ``split`` of
    the manifest at ``manifest`` (few-shot; the shard divided as ``wirelessdata evaluate`` divides it at
    ``eval_fraction``) into the new run directory ``out``.

    :param settings: how the model is tuned (its ``seed`` is replaced by the manifest's); its ``batch_size`` is also
        the batch of the loss measurements.
    :raises ConfigError: ``out`` is ``run`` or already holds a model (nothing is overwritten), or no such shard.
    """
    guard_out(run, out)
    m = load_manifest(manifest)
    ckpt = load_checkpoint(run)
    target = find_target(target_shards(m, split, eval_fraction), shard)
    if (Path(out) / CHECKPOINT).exists():
        raise ConfigError(f"{out} already holds a model; choose a new --out (nothing was overwritten)")
    settings = replace(settings, seed=m.seed)
    tuned = tune(target, ckpt.config, out, init=run, samples=samples, settings=settings)
    evaluated = shard_batches(target.url, target.evaluated, settings.batch_size, target.name)

    def losses(net: WiFo) -> dict[str, dict[str, float]]:
        cfg = ckpt.config
        return masked_losses(net, evaluated, TUNE_MASKS, mask_ratio=cfg.mask_ratio, snr_db=cfg.snr_db, seed=m.seed)

    return FineTuned(tuned, int(target.evaluated.size), losses(ckpt.model), losses(tuned.model))
