"""Scoring predictors on a task view, and the classical baselines' table."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from wirelessdata.errors import ConfigError
from wirelessdata.mix.manifest import Manifest
from wirelessdata.tasks.base import Task
from wirelessdata.tasks.source import Source
from wirelessdata.tasks.view import Meta, TaskView


def score(view: TaskView, predict: Callable[[Tensor, Meta], Any]) -> dict[str, float]:
    """The task's metric(s) of ``predict(input, meta)`` over one pass of ``view``, plus ``samples``."""
    return score_many(view, {"": predict})[""]


def score_many(view: TaskView, predictors: Mapping[str, Callable[[Tensor, Meta], Any]]) -> dict[str, dict[str, float]]:
    """:func:`score` of every predictor on the same single pass of ``view`` (each batch read and impaired once,
    every predictor seeing the same inputs): ``{name: {metric: value, "samples": n}}``."""
    parts: dict[str, dict[str, list[np.ndarray]]] = {name: {} for name in predictors}
    for inp, target, meta in view.batches():
        for name, predict in predictors.items():
            for key, value in view.task.sample_scores(predict(inp, meta), target).items():
                parts[name].setdefault(key, []).append(np.asarray(value))
    out = {}
    for name, named in parts.items():
        if not named:
            raise ConfigError(f"task {view.task.name}: the view has no samples to score")
        scores = {k: np.concatenate(v) for k, v in named.items()}
        out[name] = view.task.summarise(scores) | {"samples": int(len(next(iter(scores.values()))))}
    return out


def run_baselines(
    task: Task,
    source: Source,
    *,
    train_split: str | None = None,
    test_split: str | None = None,
    batch_size: int = 64,
    test_fraction: float = 0.25,
) -> dict[str, Any]:
    """Every classical baseline of ``task`` on ``source``: fitted (where needed) on ``train_split``, scored on
    ``test_split`` (defaults: ``train`` / ``test`` for shards, ``train`` / ``val`` for a manifest).

    :returns: ``{"definition": the test view's definition, "baselines": {name: {metric: value, "samples": n}}}``.
    """
    is_manifest = isinstance(source, Manifest) or (isinstance(source, str | Path) and str(source).endswith(".json"))
    train_split = train_split or "train"
    test_split = test_split or ("val" if is_manifest else "test")
    test = task.view(source, split=test_split, batch_size=batch_size, test_fraction=test_fraction)
    results = {}
    train: TaskView | None = None
    for name, baseline in task.baselines().items():
        if baseline.needs_fit:
            train = train or task.view(source, split=train_split, batch_size=batch_size, test_fraction=test_fraction)
            baseline.fit(train)
        results[name] = score(test, baseline.predict)
    return {"definition": test.definition(), "baselines": results}
