"""Pretraining loop: masked reconstruction over a stream of CSI batches, with checkpoints and exact resume.

A batch is ``{"csi": complex64 [B, T, K, Nbs, Nue], "sample_id": int64 [B], "shard": str}``; batches may
differ in shape. One step: per-sample normalisation (``normalise``: RMS complex amplitude 1 over the whole
sample), noise at ``snr_db`` on the model input only (the target stays clean), and the masked MSE averaged
over the masks of ``cfg.masks`` (each a separate forward pass; or one drawn per batch, see
``TrainConfig``); AdamW and a linear warm-up + cosine schedule.

A run directory holds ``checkpoint.pt`` (model, optimiser, scheduler, RNG, step, loss curve, config; written
atomically every ``checkpoint_every`` steps and at the end) and ``model_card.json`` next to it
(:mod:`wirelessdata.models.checkpoint`); the configuration is :class:`~wirelessdata.models.config.TrainConfig`.

:func:`train_on_manifest` is ``wirelessdata train``: the stream of a mixture manifest's ``train`` split, checked on
fixed samples of its ``val`` split.

Under ``torchrun`` (:mod:`wirelessdata.models.distributed`) the model is wrapped in ``DistributedDataParallel``;
every rank trains on its rows of each global batch (:class:`~wirelessdata.models.data.RankRows`), with the noise
and masks a one-process run draws for the whole batch, and the masked MSE over the global batch's hidden patches:
the one-process loss curve to float rounding; a run resumes exactly with any number of processes. Rank 0 alone
writes the checkpoint and model card, calls ``on_step`` and runs the held-out checks (the others wait for it).
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from wirelessdata.errors import ConfigError, WirelessDataError
from wirelessdata.mix.loader import MixtureDataset
from wirelessdata.mix.manifest import load_manifest
from wirelessdata.models import distributed
from wirelessdata.models.checkpoint import (
    CHECKPOINT,
    CHECKPOINT_FORMAT,
    MODEL_CARD,
    atomic_write,
    keep_snapshot,
    load_checkpoint,
    mismatch_error,
    read_checkpoint,
    read_model_card,
)
from wirelessdata.models.config import TrainConfig, default_device
from wirelessdata.models.data import RankRows, split_batches, training_stream
from wirelessdata.models.masking import TokenMask, make_mask
from wirelessdata.models.objective import masked_losses, objective_inputs
from wirelessdata.models.wifo import WiFo, masked_mse
from wirelessdata.tasks.noise import noise_std

Batches = Iterable[Mapping[str, Any]] | Callable[[int], Iterable[Mapping[str, Any]]]
#: A held-out check of a model: mask → {"model": masked loss, "zeros": the all-zero prediction's}
#: (``objective.masked_losses`` on fixed batches).
Validate = Callable[[WiFo], Mapping[str, Mapping[str, float]]]


@dataclass(frozen=True)
class StepInfo:
    """Progress after one optimiser step (``step`` counts from 1); ``seconds`` since this call of ``train`` began."""

    step: int
    steps: int
    loss: float
    lr: float
    samples: int
    shard: str
    seconds: float


@dataclass(frozen=True)
class TrainResult:
    """``losses``: the loss of every step since step 1 (across resumes); ``samples``/``seconds``: this call only.

    ``validation``: the held-out checks (``{"step", "losses": {mask: {"model", "zeros"}}, "loss"}`` each, across
    resumes; empty without ``validate``); ``best_step``: the step of the kept weights (the last one without
    validation); ``stopped_early``: the run stopped for lack of progress before ``steps``.
    """

    checkpoint: Path
    model_card: Path
    step: int
    losses: tuple[float, ...]
    samples: int
    seconds: float
    validation: tuple[dict[str, Any], ...] = ()
    best_step: int = 0
    stopped_early: bool = False


def parameter_count(model: nn.Module) -> int:
    """Number of parameters (weights and biases) of ``model``."""
    return sum(p.numel() for p in model.parameters())


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Learning rate of optimiser step ``step`` (0-based) as a fraction of ``cfg.lr``: warm-up, then cosine."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    floor = cfg.min_lr / cfg.lr
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


class _Run:
    """Model, optimiser, schedule and RNG of one run, with their state as a checkpoint dict."""

    def __init__(self, cfg: TrainConfig, device: torch.device, ranks: distributed.Ranks) -> None:
        self.cfg, self.device, self.ranks = cfg, device, ranks
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            self.model = WiFo(cfg.model_config()).to(device)
        decay = [p for p in self.model.parameters() if p.dim() >= 2]
        no_decay = [p for p in self.model.parameters() if p.dim() < 2]  # biases, norms, mask token
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=cfg.lr,
            betas=cfg.betas,
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda s: lr_factor(s, cfg))
        self.generator = torch.Generator().manual_seed(cfg.seed)  # masks and noise, always on the CPU
        self.step = 0
        self.losses: list[float] = []
        self.validation: list[dict[str, Any]] = []  # held-out checks, in step order
        self.best: dict[str, Any] | None = None  # {"step", "loss", "model": state_dict on the CPU}
        self.stale = 0  # checks since the best one
        self.stopped = False  # early stopping ended the run
        self.net: nn.Module = self.model  # what the steps call: the model, or its DistributedDataParallel wrapper

    def share(self) -> None:
        """Wrap the model in ``DistributedDataParallel`` (after loading any checkpoint: rank 0's weights win)."""
        ids = [self.device] if self.device.type == "cuda" else None
        self.net = DistributedDataParallel(self.model, device_ids=ids)

    def autocast(self) -> Any:
        """bf16 autocast on CUDA (tensor cores; fp32 master weights); nothing on the CPU."""
        enabled = self.device.type == "cuda"
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=enabled)

    def check(self, validate: Validate) -> bool:
        """Run the held-out check; record it; True when the run should stop (``patience`` checks, no new best)."""
        losses = {k: dict(v) for k, v in validate(self.model).items()}
        loss = sum(v["model"] for v in losses.values()) / max(1, len(losses))
        self.validation.append({"step": self.step, "loss": loss, "losses": losses})
        if self.best is None or loss < self.best["loss"]:
            state = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
            self.best, self.stale = {"step": self.step, "loss": loss, "model": state}, 0
        else:
            self.stale += 1
        self.stopped = self.cfg.patience > 0 and self.stale >= self.cfg.patience
        return self.stopped

    def train_step(self, batch: Mapping[str, Any]) -> float:
        """One optimiser step on ``batch``; returns the loss (masked MSE, averaged over the masks of the step; over
        the global batch when distributed)."""
        self.model.train()
        if self.ranks.distributed:
            loss, global_loss = self._rank_loss(batch)
            value = global_loss.item()
        else:
            noisy, target, grid = objective_inputs(
                batch.get("csi"), self.cfg.patch, self.cfg.snr_db, self.generator, self.device
            )
            kinds = self._kinds()
            loss = torch.zeros((), device=self.device)
            for kind in kinds:
                mask = make_mask(kind, noisy.shape[0], grid, self.cfg.mask_ratio, self.generator)
                with self.autocast():
                    pred = self.model(noisy, mask)
                loss = loss + masked_mse(pred.float(), target, mask) / len(kinds)
            value = loss.item()
        self._finite("loss", value)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip > 0:
            self._finite("gradient norm", float(nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)))
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        self.losses.append(value)
        return value

    def _kinds(self) -> tuple[str, ...]:
        """The masks of this step: all of ``cfg.masks``, or one drawn from the generator (``mask_schedule`` sample)."""
        kinds = self.cfg.masks
        if self.cfg.mask_schedule == "sample":
            kinds = (kinds[int(torch.randint(len(kinds), (), generator=self.generator))],)
        return kinds

    def _rank_loss(self, batch: Mapping[str, Any]) -> tuple[Tensor, Tensor]:
        """This rank's share of a distributed step: ``(loss to back-propagate, the step's loss)``, scalars.

        ``batch["rows"] = (lo, hi, n)``: the CSI holds rows ``lo..hi`` of a global batch of ``n`` samples (a
        weightless stand-in when ``lo == hi``). Noise ``[n, 2, T, N, K]`` and masks ``[n, L]`` are drawn for the
        whole global batch, as one process draws them, and sliced. Each rank's loss is its sum over hidden patches
        divided by the global batch's hidden count, times the world size (DDP averages the gradients over ranks):
        the gradient is the one-process gradient of the global batch; the step's loss is the sum over ranks.
        """
        if "rows" not in batch:
            raise ConfigError(
                "under torchrun, train() needs each rank's rows of the global batches (batch dicts with 'rows', e.g. "
                "from wirelessdata.models.data.RankRows); use train_on_manifest or wirelessdata train"
            )
        lo, hi, n = (int(v) for v in batch["rows"])
        take, weight = (slice(lo, hi), 1.0) if hi > lo else (slice(n - 1, n), 0.0)
        x, target, grid = objective_inputs(batch.get("csi"), self.cfg.patch, None, self.generator, self.device)
        noisy = x
        if self.cfg.snr_db is not None:  # add_noise's draw, for the whole global batch
            std = noise_std(x, self.cfg.snr_db).view(-1, *([1] * (x.dim() - 1)))
            noise = torch.randn((n, *x.shape[1:]), generator=self.generator, dtype=x.dtype)[take]
            noisy = x + noise.to(self.device) * std
        kinds = self._kinds()
        loss = torch.zeros((), device=self.device)
        for kind in kinds:
            whole = make_mask(kind, n, grid, self.cfg.mask_ratio, self.generator)
            mask = TokenMask(keep=whole.keep[take], masked=whole.masked[take])
            with self.autocast():
                pred = self.net(noisy, mask)
            share = weight * mask.masked.sum().item() / whole.masked.sum().item()
            loss = loss + masked_mse(pred.float(), target, mask) * (share / len(kinds))
        return loss * self.ranks.world_size, distributed.all_sum(loss)

    def _finite(self, what: str, value: float) -> None:
        """Refuse a step whose loss or gradient is NaN or infinite (the weights are left as they were)."""
        if not math.isfinite(value):
            raise WirelessDataError(
                f"the {what} is {value} at step {self.step + 1} (lr {self.scheduler.get_last_lr()[0]:.2g}): the run "
                "diverged; the last checkpoint is kept: train again with a lower --lr or a longer --warmup-steps"
            )

    def state(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "config": self.cfg.to_dict(),
            "step": self.step,
            "losses": list(self.losses),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": self.generator.get_state(),
            "validation": list(self.validation),
            "best": self.best,
            "stale": self.stale,
            "stopped": self.stopped,
        }

    def load(self, state: Mapping[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["rng"])
        self.step, self.losses = int(state["step"]), [float(v) for v in state["losses"]]
        self.validation, self.best = list(state["validation"]), state["best"]
        self.stale, self.stopped = int(state["stale"]), bool(state["stopped"])


def _write_card(out_dir: Path, run: _Run, data: Any, seconds: float, samples: int, init: Any) -> Path:
    """Write the run's model card (rank 0 of a distributed run)."""
    path = out_dir / MODEL_CARD
    previous = read_model_card(out_dir)
    card = {
        "format": "wirelessdata-model-card/1",
        "model": {
            "architecture": "WiFo masked autoencoder (3D patches, STF-PE)",
            "size": run.cfg.model,
            "parameters": parameter_count(run.model),
            **asdict(run.model.cfg),
        },
        "config": run.cfg.to_dict(),
        "data": data if data is not None else previous.get("data"),
        "training": {
            "checkpoint": CHECKPOINT,
            "step": run.step,
            "final_loss": run.losses[-1] if run.losses else None,
            "initialised_from": init if init is not None else previous.get("training", {}).get("initialised_from"),
            "validation": run.validation,
            "best_step": run.best["step"] if run.best else run.step,
            "stopped_early": run.stopped,
            "last_session": {
                "samples": samples,
                "seconds": round(seconds, 3),
                "device": str(run.device),
                "processes": run.ranks.world_size,
            },
            "torch": torch.__version__,
        },
        "metrics": previous.get("metrics", {}),
    }
    atomic_write(path, lambda p: p.write_text(json.dumps(card, indent=2) + "\n"))
    return path


def _resume(run: _Run, out_dir: Path, resume: bool) -> None:
    if not (out_dir / CHECKPOINT).exists():
        return
    if not resume:
        raise WirelessDataError(f"{out_dir} already holds a checkpoint; resume it or choose another output directory")
    state = read_checkpoint(out_dir / CHECKPOINT)
    saved = TrainConfig.from_dict(state["config"])
    if saved != run.cfg:
        changed = ", ".join(
            f"{f.name} {getattr(saved, f.name)} -> {getattr(run.cfg, f.name)}"
            for f in fields(TrainConfig)
            if getattr(saved, f.name) != getattr(run.cfg, f.name)
        )
        raise ConfigError(f"cannot resume {out_dir} with a different configuration ({changed}); use the same options")
    try:
        run.load(state)
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:
        raise mismatch_error(out_dir / CHECKPOINT, exc) from None


def _initialise(run: _Run, init: Path) -> str:
    """Load the weights of the pretrained run ``init`` into ``run`` (fine-tuning); same architecture required."""
    pretrained = load_checkpoint(init, "cpu")
    if pretrained.config.model_config() != run.cfg.model_config():
        raise ConfigError(
            f"cannot fine-tune from {init}: its architecture ({pretrained.config.model}, patch "
            f"{tuple(pretrained.config.patch)}) differs from this run's ({run.cfg.model}, patch {tuple(run.cfg.patch)})"
        )
    run.model.load_state_dict(pretrained.model.state_dict())
    return str(init)


def train(
    batches: Batches,
    cfg: TrainConfig,
    out_dir: Path,
    resume: bool = False,
    on_step: Callable[[StepInfo], None] | None = None,
    *,
    checkpoint_every: int = 100,
    keep_every: int = 0,
    device: str | torch.device | None = None,
    data: Any = None,
    validate: Validate | None = None,
    init: Path | None = None,
) -> TrainResult:
    """Train (or resume) a WiFo model on ``batches`` until ``cfg.steps`` steps, the end of the stream, or early
    stopping.

    :param batches: batch dicts in step order (step 1 first). On resume the first ``step`` batches of an iterable
        are skipped; a callable is called with the number of steps already done and must yield from there.
    :param out_dir: run directory for ``checkpoint.pt`` and ``model_card.json`` (created).
    :param resume: continue from ``out_dir``'s checkpoint; without it an existing checkpoint is an error.
        Resuming with the same config and the same batches reproduces the uninterrupted run exactly (same device).
    :param on_step: called after every step (after the checkpoint of that step is written).
    :param keep_every: also keep a copy of the checkpoint and model card every ``keep_every`` steps (0: never)
        in ``out_dir/snapshots/step-NNNNNN/``, a run directory of its own (for learning curves: ``evaluate`` it).
    :param device: default CUDA when present, else CPU (under torchrun: ``cuda:LOCAL_RANK``, else CPU).
    :param data: JSON-able description of the training data (e.g. the manifest) for the model card.
    :param validate: held-out check run every ``cfg.eval_every`` steps and at the end (per-mask learning curves in
        the checkpoint and model card); with ``cfg.patience`` it also stops the run and keeps the best weights.
    :param init: a pretrained run (directory or checkpoint) whose weights start this run (fine-tuning; same
        architecture); ignored on resume, where the checkpoint holds the weights.
    :raises WirelessDataError: no batches, bad CSI, corrupt checkpoint, or a different config on resume; under
        torchrun, prefixed with the rank, or another rank died or hung past the timeout.

    Under torchrun (``WORLD_SIZE`` > 1) every rank calls this with its rows of the global batches (``"rows"`` in
    each batch dict: :class:`~wirelessdata.models.data.RankRows`); see the module docstring. Every rank returns the
    steps and loss curve; only rank 0's result holds the held-out checks.
    """
    if keep_every < 0:
        raise ConfigError(f"keep_every must be 0 (off) or a positive number of steps, got {keep_every}")
    with distributed.process_group(device) as ranks:
        run = _Run(cfg, ranks.device or default_device(), ranks)
        with distributed.errors_named(ranks, lambda: run.step + 1):
            return _train(
                run, batches, Path(out_dir), resume, on_step, checkpoint_every, keep_every, data, validate, init
            )


def _train(
    run: _Run,
    batches: Batches,
    out_dir: Path,
    resume: bool,
    on_step: Callable[[StepInfo], None] | None,
    checkpoint_every: int,
    keep_every: int,
    data: Any,
    validate: Validate | None,
    init: Path | None,
) -> TrainResult:
    """:func:`train` of ``run`` in this process (one of ``run.ranks``)."""
    cfg, ranks = run.cfg, run.ranks
    origin = _initialise(run, Path(init)) if init is not None and not (out_dir / CHECKPOINT).exists() else None
    out_dir.mkdir(parents=True, exist_ok=True)
    _resume(run, out_dir, resume)
    if ranks.distributed:
        run.share()
    start, saved, samples, began = run.step, run.step, 0, time.perf_counter()
    stream = batches(start) if callable(batches) else itertools.islice(batches, start, None)

    def kept() -> bool:  # a step whose checkpoint is also kept as a snapshot
        return keep_every > 0 and run.step % keep_every == 0

    def save() -> None:
        if not ranks.main:
            return
        atomic_write(out_dir / CHECKPOINT, lambda p: torch.save(run.state(), p))
        _write_card(out_dir, run, data, time.perf_counter() - began, samples, origin)
        if kept():
            keep_snapshot(out_dir, run.step)

    for _, batch in zip(range(start, cfg.steps if not run.stopped else start), stream, strict=False):
        shard = str(batch.get("shard", "?"))
        distributed.heartbeat(ranks, run.step + 1)
        try:
            loss = run.train_step(batch)
        except WirelessDataError as exc:
            raise type(exc)(f"shard {shard}: {exc}") from None
        samples += int(batch["rows"][2]) if ranks.distributed else int(batch["csi"].shape[0])
        due = validate is not None and (run.step % cfg.eval_every == 0 or run.step == cfg.steps)
        stop = due and ranks.main and run.check(validate)
        if due and ranks.distributed:
            stop = run.stopped = distributed.from_main(stop, run.device)
        if stop or run.step % checkpoint_every == 0 or run.step == cfg.steps or kept():
            save()
            saved = run.step
        if on_step is not None and ranks.main:
            lr = run.scheduler.get_last_lr()[0]
            on_step(StepInfo(run.step, cfg.steps, loss, lr, samples, shard, time.perf_counter() - began))
        if stop:
            break
    if run.step == 0:
        raise WirelessDataError("no training batches: the data selects no training samples")
    late = not run.validation or run.validation[-1]["step"] < run.step
    checked = validate is not None and ranks.main and not run.stopped and late
    if checked:
        run.check(validate)  # the stream ended between checks
    if run.step != saved or checked:
        save()
    if ranks.distributed:
        distributed.barrier(run.device)  # the checkpoint is written when train returns on any rank
    return TrainResult(
        checkpoint=out_dir / CHECKPOINT,
        model_card=out_dir / MODEL_CARD,
        step=run.step,
        losses=tuple(run.losses),
        samples=samples,
        seconds=time.perf_counter() - began,
        validation=tuple(run.validation),
        best_step=run.best["step"] if run.best else run.step,
        stopped_early=run.stopped,
    )


def train_on_manifest(
    manifest: str | Path,
    cfg: TrainConfig,
    out_dir: Path,
    *,
    batch_size: int = 32,
    eval_samples: int = 256,
    resume: bool = False,
    keep_every: int = 0,
    on_step: Callable[[StepInfo], None] | None = None,
) -> tuple[TrainResult, int]:
    """:func:`train` on the ``train`` split of the mixture manifest at ``manifest`` in batches of ``batch_size``
    samples, with the held-out check (masked loss of every mask of ``cfg``, next to the all-zero prediction's) on up
    to ``eval_samples`` samples of its ``val`` split (no check when it has none).

    Under torchrun, ``batch_size`` is the global batch: each rank reads its ``batch_size / WORLD_SIZE`` rows of
    every batch (the stream does not depend on the number of processes); the checks run on rank 0.

    :returns: the run's result and the number of held-out samples checked (0 without a ``val`` split).
    :raises ConfigError: under torchrun, a ``batch_size`` that ``WORLD_SIZE`` does not divide.
    """
    m = load_manifest(manifest)
    ranks = distributed.launched()
    if ranks.distributed:
        ds: MixtureDataset = RankRows(m, "train", batch_size, ranks.rank, ranks.world_size)
    else:
        ds = MixtureDataset(m, "train", batch_size=batch_size)
    held = split_batches(m, "val", eval_samples, batch_size) if "val" in m.splits else []

    def validate(net: WiFo) -> dict[str, dict[str, float]]:
        return masked_losses(net, held, cfg.masks, mask_ratio=cfg.mask_ratio, snr_db=cfg.snr_db, seed=cfg.seed)

    result = train(
        training_stream(ds),
        cfg,
        out_dir,
        resume,
        on_step,
        keep_every=keep_every,
        data={"manifest": str(manifest)},
        validate=validate if held else None,
    )
    return result, sum(int(b["csi"].shape[0]) for b in held)
