"""A run directory on disk: ``checkpoint.pt`` (model, optimiser, scheduler, RNG, step, loss curve, config, held-out
checks; format :data:`CHECKPOINT_FORMAT`), ``model_card.json`` next to it, and kept copies of both under
``snapshots/step-NNNNNN/``. Reading and loading checkpoints, reading and updating model cards, atomic writes.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from wirelessdata.errors import WirelessDataError
from wirelessdata.models.config import TrainConfig, default_device
from wirelessdata.models.wifo import WiFo

CHECKPOINT = "checkpoint.pt"
MODEL_CARD = "model_card.json"
SNAPSHOTS = "snapshots"  # kept copies of the checkpoint (train(keep_every=...))
_FORMAT_FAMILY = "wirelessdata-wifo-checkpoint/"
#: 2: sizes.toml architectures, locality bias, zero-init head, validation record
CHECKPOINT_FORMAT = _FORMAT_FAMILY + "2"


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
        if state.get("format") == CHECKPOINT_FORMAT:
            TrainConfig.from_dict(state["config"])
    except Exception as exc:  # torch raises many types for truncated or foreign files
        raise WirelessDataError(
            f"checkpoint {path} is corrupt or not a wirelessdata checkpoint ({type(exc).__name__}); "
            "delete it to start over"
        ) from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        found = state.get("format") if isinstance(state, dict) else None
        if isinstance(found, str) and found.startswith(_FORMAT_FAMILY):
            raise WirelessDataError(
                f"checkpoint {path} was written by another version of the reference model ({found}, this one reads "
                f"{CHECKPOINT_FORMAT}); train it again with this version (wirelessdata train) or use the version that "
                "wrote it"
            )
        raise WirelessDataError(f"checkpoint {path} is not a {CHECKPOINT_FORMAT} checkpoint; delete it to start over")
    return state


def mismatch_error(path: Path, exc: Exception) -> WirelessDataError:
    """The one-line error for a checkpoint at ``path`` whose weights or state do not fit its configuration."""
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
        raise mismatch_error(path, exc) from None
    model.to(device or default_device()).eval()
    return Checkpoint(
        model=model,
        config=cfg,
        step=int(state["step"]),
        losses=tuple(state["losses"]),
        validation=tuple(state.get("validation", ())),
        best_step=int(best["step"]) if best else int(state["step"]),
    )


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """``write`` a temporary file next to ``path``, then move it onto ``path`` (readers never see half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def keep_snapshot(out_dir: Path, step: int) -> Path:
    """Copy the run's checkpoint and model card into ``out_dir/snapshots/step-NNNNNN/`` (atomically)."""
    snap = out_dir / SNAPSHOTS / f"step-{step:06d}"
    snap.mkdir(parents=True, exist_ok=True)
    for name in (CHECKPOINT, MODEL_CARD):
        atomic_write(snap / name, lambda p, name=name: shutil.copyfile(out_dir / name, p))
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
    atomic_write(path, lambda p: p.write_text(json.dumps(card, indent=2) + "\n"))
    return path
