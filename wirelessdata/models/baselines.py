"""Baselines of ``wirelessdata evaluate``: the classical extrapolators (zero-order hold, AR; defined with the task
views in :mod:`wirelessdata.tasks.extrapolation`) and the full-shot WiFo: the same architecture trained from
scratch on the target shard's training split (``train_full_shot``), evaluated with ``model_predictor``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from wirelessdata.models.train import StepInfo, TrainConfig, load_checkpoint, train
from wirelessdata.models.wifo import WiFo
from wirelessdata.tasks.extrapolation import ARPredictor, Predictor, zoh_predict

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
