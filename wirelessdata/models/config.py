"""The configuration of a training run (:class:`TrainConfig`: everything that shapes its numbers) and the device a
run uses by default."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import torch

from wirelessdata.errors import ConfigError
from wirelessdata.models.masking import MASK_KINDS
from wirelessdata.models.wifo import DEFAULT_PATCH, MODEL_SIZES, ModelConfig


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


def default_device() -> torch.device:
    """CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
