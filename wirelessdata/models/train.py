"""Pretraining loop: masked reconstruction over a stream of CSI batches, with checkpoints and exact resume.

A batch is ``{"csi": complex64 [B, T, K, Nbs, Nue], "sample_id": int64 [B], "shard": str}``; batches may
differ in shape. One step: per-sample normalisation (``normalise``: RMS complex amplitude 1 over the whole
sample), noise at ``snr_db`` on the model input only (the target stays clean), and the masked MSE averaged
over the masks of ``cfg.masks`` (each a separate forward pass; or one drawn per batch, see
``TrainConfig``); AdamW and a linear warm-up + cosine schedule.

A run directory holds ``checkpoint.pt`` (model, optimiser, scheduler, RNG, step, loss curve, config; written
atomically every ``checkpoint_every`` steps and at the end) and ``model_card.json`` next to it.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from wirelessdata.errors import ConfigError, WirelessDataError
from wirelessdata.models.masking import MASK_KINDS, make_mask
from wirelessdata.models.objective import objective_inputs
from wirelessdata.models.wifo import DEFAULT_PATCH, MODEL_SIZES, ModelConfig, WiFo, masked_mse

CHECKPOINT = "checkpoint.pt"
MODEL_CARD = "model_card.json"
SNAPSHOTS = "snapshots"  # kept copies of the checkpoint (train(keep_every=...))
_FORMAT_FAMILY = "wirelessdata-wifo-checkpoint/"
_FORMAT = _FORMAT_FAMILY + "2"  # 2: sizes.toml architectures, locality bias, zero-init head, validation record

Batches = Iterable[Mapping[str, Any]] | Callable[[int], Iterable[Mapping[str, Any]]]
#: A held-out check of a model: mask → {"model": masked loss, "zeros": the all-zero prediction's}
#: (``objective.masked_losses`` on fixed batches).
Validate = Callable[[WiFo], Mapping[str, Mapping[str, float]]]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that shapes the numbers of a run; resuming requires the same values.

    ``steps`` is the length of the schedule (optimiser steps); the learning rate rises linearly from 0 to ``lr``
    over ``warmup_steps`` and follows a half cosine down to ``min_lr`` at ``steps``. ``mask_schedule``:
    ``sample`` (default) draws one mask of ``masks`` per batch (uniformly, from the run's generator, as WiFo
    does); ``mean`` averages the loss of every mask on every batch (one forward pass each, ``len(masks)`` times
    the cost). ``mask_ratio`` is the hidden share of the ``random`` mask. ``grad_clip``: the global gradient
    norm is clipped to it (0: off). ``locality``: the 3D ALiBi attention bias of the model (``ModelConfig``).

    Early stopping (``train(validate=...)``): every ``eval_every`` steps the held-out loss (mean over masks) is
    measured; after ``patience`` checks without a new best the run stops (``patience=0``: never), and the
    checkpoint keeps the best weights, which ``load_checkpoint`` returns.
    """

    model: str = "little"
    patch: tuple[int, int, int] = DEFAULT_PATCH
    steps: int = 600
    lr: float = 3e-3
    min_lr: float = 1e-5
    warmup_steps: int = 30
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.999)
    mask_ratio: float = 0.5
    masks: tuple[str, ...] = MASK_KINDS
    mask_schedule: str = "sample"
    snr_db: float | None = 20.0
    grad_clip: float = 1.0
    locality: bool = True
    eval_every: int = 50
    patience: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        checks = [
            (self.model in MODEL_SIZES, f"model must be one of {', '.join(MODEL_SIZES)}"),
            (len(self.patch) == 3 and all(p >= 1 for p in self.patch), "patch must be 3 positive integers"),
            (self.steps >= 1, "steps must be at least 1"),
            (0 <= self.warmup_steps <= self.steps, "warmup_steps must be between 0 and steps"),
            (0 <= self.min_lr <= self.lr, "lr must be positive and min_lr between 0 and lr"),
            (self.lr > 0 and self.weight_decay >= 0, "lr must be positive and weight_decay non-negative"),
            (all(0 <= b < 1 for b in self.betas) and len(self.betas) == 2, "betas must be two numbers in [0, 1)"),
            (0 < self.mask_ratio < 1, "mask_ratio must be between 0 and 1"),
            (bool(self.masks) and set(self.masks) <= set(MASK_KINDS), f"masks must be among {', '.join(MASK_KINDS)}"),
            (self.mask_schedule in ("mean", "sample"), "mask_schedule must be mean or sample"),
            (self.snr_db is None or math.isfinite(self.snr_db), "snr_db must be a finite number or None"),
            (self.grad_clip >= 0, "grad_clip must be 0 (off) or positive"),
            (self.eval_every >= 1 and self.patience >= 0, "eval_every must be at least 1 and patience at least 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"invalid training configuration: {message}")

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Inverse of ``to_dict``; unknown keys are an error."""
        names = {f.name for f in fields(cls)}
        if unknown := set(data) - names:
            raise ConfigError(f"unknown training option(s): {', '.join(sorted(unknown))}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    def model_config(self) -> ModelConfig:
        return replace(ModelConfig.of_size(self.model, tuple(self.patch)), locality=self.locality)


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


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: the model (eval mode; the best weights of a run with validation), its training
    configuration, step, loss curve and held-out checks."""

    model: WiFo
    config: TrainConfig
    step: int
    losses: tuple[float, ...]
    validation: tuple[dict[str, Any], ...] = ()
    best_step: int = 0


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Learning rate of optimiser step ``step`` (0-based) as a fraction of ``cfg.lr``: warm-up, then cosine."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    floor = cfg.min_lr / cfg.lr
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


class _Run:
    """Model, optimiser, schedule and RNG of one run, with their state as a checkpoint dict."""

    def __init__(self, cfg: TrainConfig, device: torch.device) -> None:
        self.cfg, self.device = cfg, device
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
        """One optimiser step on ``batch``; returns the loss (masked MSE, averaged over the masks of the step)."""
        noisy, target, grid = objective_inputs(
            batch.get("csi"), self.cfg.patch, self.cfg.snr_db, self.generator, self.device
        )
        self.model.train()
        kinds = self.cfg.masks
        if self.cfg.mask_schedule == "sample":
            kinds = (kinds[int(torch.randint(len(kinds), (), generator=self.generator))],)
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

    def _finite(self, what: str, value: float) -> None:
        """Refuse a step whose loss or gradient is NaN or infinite (the weights are left as they were)."""
        if not math.isfinite(value):
            raise WirelessDataError(
                f"the {what} is {value} at step {self.step + 1} (lr {self.scheduler.get_last_lr()[0]:.2g}): the run "
                "diverged; the last checkpoint is kept: train again with a lower --lr or a longer --warmup-steps"
            )

    def state(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
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


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The raw checkpoint dict at ``path`` (a file, or a run directory holding ``checkpoint.pt``).

    :raises WirelessDataError: missing, unreadable, or not a checkpoint of this package.
    """
    path = Path(path)
    path = path / CHECKPOINT if path.is_dir() else path
    if not path.is_file():
        raise WirelessDataError(f"no checkpoint at {path}; train first (wirelessdata train)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("format") == _FORMAT:
            TrainConfig.from_dict(state["config"])
    except Exception as exc:  # torch raises many types for truncated or foreign files
        raise WirelessDataError(
            f"checkpoint {path} is corrupt or not a wirelessdata checkpoint ({type(exc).__name__}); "
            "delete it to start over"
        ) from None
    if not isinstance(state, dict) or state.get("format") != _FORMAT:
        found = state.get("format") if isinstance(state, dict) else None
        if isinstance(found, str) and found.startswith(_FORMAT_FAMILY):
            raise WirelessDataError(
                f"checkpoint {path} was written by another version of the reference model ({found}, this one reads "
                f"{_FORMAT}); train it again with this version (wirelessdata train) or use the version that wrote it"
            )
        raise WirelessDataError(f"checkpoint {path} is not a {_FORMAT} checkpoint; delete it to start over")
    return state


def _mismatch(path: Path, exc: Exception) -> WirelessDataError:
    return WirelessDataError(
        f"checkpoint {path} does not match its own configuration ({type(exc).__name__}); delete it to start over"
    )


def load_checkpoint(path: Path, device: str | torch.device | None = None) -> Checkpoint:
    """The model of a checkpoint file or run directory, on ``device`` (default: CUDA when present), eval mode."""
    state = read_checkpoint(path)
    cfg = TrainConfig.from_dict(state["config"])
    model = WiFo(cfg.model_config())
    best = state.get("best")
    try:
        model.load_state_dict(best["model"] if best else state["model"])
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:
        raise _mismatch(path, exc) from None
    model.to(device or default_device()).eval()
    return Checkpoint(
        model=model,
        config=cfg,
        step=int(state["step"]),
        losses=tuple(state["losses"]),
        validation=tuple(state.get("validation", ())),
        best_step=int(best["step"]) if best else int(state["step"]),
    )


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def _write_card(out_dir: Path, run: _Run, data: Any, seconds: float, samples: int, init: Any) -> Path:
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
            "last_session": {"samples": samples, "seconds": round(seconds, 3), "device": str(run.device)},
            "torch": torch.__version__,
        },
        "metrics": previous.get("metrics", {}),
    }
    _atomic_write(path, lambda p: p.write_text(json.dumps(card, indent=2) + "\n"))
    return path


def _keep_snapshot(out_dir: Path, step: int) -> Path:
    """Copy the run's checkpoint and model card into ``out_dir/snapshots/step-NNNNNN/`` (atomically)."""
    snap = out_dir / SNAPSHOTS / f"step-{step:06d}"
    snap.mkdir(parents=True, exist_ok=True)
    for name in (CHECKPOINT, MODEL_CARD):
        _atomic_write(snap / name, lambda p, name=name: shutil.copyfile(out_dir / name, p))
    return snap


def read_model_card(run_dir: Path) -> dict[str, Any]:
    """The model card of a run directory (``{}`` when it has none).

    :raises WirelessDataError: the card is not a JSON object (cut short, damaged, not UTF-8).
    """
    path = Path(run_dir) / MODEL_CARD
    if not path.is_file():
        return {}
    try:
        card = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        card = None
    if not isinstance(card, dict) or not isinstance(card.get("metrics", {}), dict):
        raise WirelessDataError(
            f"model card {path} is damaged (not a model card's JSON); restore it, or delete it and the next "
            "train, evaluate or probe of the run writes a new one"
        )
    return card


def update_model_card(run_dir: Path, metrics: Mapping[str, Any]) -> Path:
    """Merge ``metrics`` (e.g. the result of ``evaluate``) into the ``metrics`` of the run's model card (a new card
    holding only them when the run has none)."""
    path = Path(run_dir) / MODEL_CARD
    card = read_model_card(run_dir)
    card["metrics"] = {**card.get("metrics", {}), **metrics}
    _atomic_write(path, lambda p: p.write_text(json.dumps(card, indent=2) + "\n"))
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
        raise _mismatch(out_dir / CHECKPOINT, exc) from None


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
    :param device: default CUDA when present, else CPU.
    :param data: JSON-able description of the training data (e.g. the manifest) for the model card.
    :param validate: held-out check run every ``cfg.eval_every`` steps and at the end (per-mask learning curves in
        the checkpoint and model card); with ``cfg.patience`` it also stops the run and keeps the best weights.
    :param init: a pretrained run (directory or checkpoint) whose weights start this run (fine-tuning; same
        architecture); ignored on resume, where the checkpoint holds the weights.
    :raises WirelessDataError: no batches, bad CSI, corrupt checkpoint, or a different config on resume.
    """
    out_dir = Path(out_dir)
    if keep_every < 0:
        raise ConfigError(f"keep_every must be 0 (off) or a positive number of steps, got {keep_every}")
    run = _Run(cfg, torch.device(device) if device else default_device())
    origin = _initialise(run, Path(init)) if init is not None and not (out_dir / CHECKPOINT).exists() else None
    out_dir.mkdir(parents=True, exist_ok=True)
    _resume(run, out_dir, resume)
    start, saved, samples, began = run.step, run.step, 0, time.perf_counter()
    stream = batches(start) if callable(batches) else itertools.islice(batches, start, None)

    def kept() -> bool:  # a step whose checkpoint is also kept as a snapshot
        return keep_every > 0 and run.step % keep_every == 0

    def save() -> None:
        _atomic_write(out_dir / CHECKPOINT, lambda p: torch.save(run.state(), p))
        _write_card(out_dir, run, data, time.perf_counter() - began, samples, origin)
        if kept():
            _keep_snapshot(out_dir, run.step)

    for _, batch in zip(range(start, cfg.steps if not run.stopped else start), stream, strict=False):
        shard = str(batch.get("shard", "?"))
        try:
            loss = run.train_step(batch)
        except WirelessDataError as exc:
            raise type(exc)(f"shard {shard}: {exc}") from None
        samples += int(batch["csi"].shape[0])
        due = run.step % cfg.eval_every == 0 or run.step == cfg.steps
        stop = validate is not None and due and run.check(validate)
        if stop or run.step % checkpoint_every == 0 or run.step == cfg.steps or kept():
            save()
            saved = run.step
        if on_step is not None:
            lr = run.scheduler.get_last_lr()[0]
            on_step(StepInfo(run.step, cfg.steps, loss, lr, samples, shard, time.perf_counter() - began))
        if stop:
            break
    if run.step == 0:
        raise WirelessDataError("no training batches: the data selects no training samples")
    checked = validate is not None and not run.stopped and (not run.validation or run.validation[-1]["step"] < run.step)
    if checked:
        run.check(validate)  # the stream ended between checks
    if run.step != saved or checked:
        save()
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
