"""A task: its definition (parameters, impairments, seed), how a batch of CSI becomes (input, target), its metric.

Subclasses (one per task family) set the class attributes and implement :meth:`Task.make`,
:meth:`Task.sample_scores`, :meth:`Task.summarise` and :meth:`Task.baselines`. A batch as ``make`` receives it
(:class:`~wirelessdata.tasks.batch.TaskBatch`) is defined with the views' types in :mod:`wirelessdata.tasks.batch`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from torch import Tensor

from wirelessdata.errors import ConfigError
from wirelessdata.shard.store import open_group
from wirelessdata.tasks.batch import Meta, TaskBatch
from wirelessdata.tasks.impairments import IMPAIRMENTS, WHOLE, Impairments, Region
from wirelessdata.tasks.metrics import nmse, nmse_db
from wirelessdata.tasks.source import ShardSamples, Source
from wirelessdata.tasks.view import TaskView


@dataclass(frozen=True)
class Param:
    """A task parameter: its default, meaning (with unit) and parser."""

    default: Any
    help: str
    parse: Callable[[Any], Any] = int


class Baseline:
    """A classical baseline: optionally fitted on a training view, then ``predict(input, meta)``."""

    def fit(self, view: TaskView) -> None:
        """Fit on ``view`` (a training split); the default needs no fitting."""

    def predict(self, inp: Tensor, meta: Meta) -> Any:
        """The prediction for a batch ``inp`` (same form as the task's target, or scores for classification)."""
        raise NotImplementedError

    needs_fit: ClassVar[bool] = False


class Task:
    """A task definition. Construct through :func:`wirelessdata.tasks.get`."""

    name: ClassVar[str]
    rank: ClassVar[int] = 100
    """Place in ``wirelessdata task list`` (low first); plug-in tasks keep the default and come last."""
    summary: ClassVar[str]
    input_desc: ClassVar[str]
    target_desc: ClassVar[str]
    metric: ClassVar[str]
    metric_desc: ClassVar[str]
    baseline_desc: ClassVar[str]
    params: ClassVar[dict[str, Param]] = {}
    labels: ClassVar[tuple[str, ...]] = ()
    """Per-sample variables read from the label shard (:meth:`label_shard`) into ``TaskBatch.labels``."""
    reads_csi: ClassVar[bool] = True
    """Whether :meth:`make` uses the CSI; a task of sensor data sets False and its views read no CSI
    (``TaskBatch.csi`` and ``observed`` are then None)."""
    inputs: tuple[str, ...] = ()
    """Per-sample variables read from the view's shard itself (sensor data) into ``TaskBatch.labels``; set per
    instance (in :meth:`validate`) when they depend on a parameter."""

    def __init__(self, seed: int = 0, **settings: Any) -> None:
        unknown = set(settings) - set(self.params) - set(IMPAIRMENTS)
        if unknown:
            allowed = ", ".join([*self.params, *IMPAIRMENTS, "seed"])
            raise ConfigError(f"task {self.name}: unknown setting(s) {', '.join(sorted(unknown))}; allowed: {allowed}")
        if int(seed) != seed or seed < 0:
            raise ConfigError(f"seed {seed!r} must be a non-negative integer")
        self.seed = int(seed)
        self.values: dict[str, Any] = {}
        for key, p in self.params.items():
            raw = settings.get(key, p.default)
            try:
                self.values[key] = p.parse(raw)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"task {self.name}: {key}={raw!r} is invalid ({exc}); {p.help}") from None
        self.impairments = Impairments(**{k: v for k, v in settings.items() if k in IMPAIRMENTS})
        self.validate()

    def validate(self) -> None:
        """Check the parameter values together (one-line ``ConfigError``)."""

    def __getattr__(self, key: str) -> Any:
        values = self.__dict__.get("values", {})
        if key in values:
            return values[key]
        raise AttributeError(key)

    # definition ----------------------------------------------------------------------------------
    def definition(self) -> dict[str, Any]:
        """What is measured: task, parameters, impairments, seed, input, target and metric (JSON-ready)."""
        return {
            "task": self.name,
            "params": dict(self.values),
            "impairments": self.impairments.to_dict(),
            "seed": self.seed,
            "input": self.input_desc,
            "target": self.target_desc,
            "metric": self.metric,
        }

    # shards --------------------------------------------------------------------------------------
    def uses(self, shard: ShardSamples) -> bool:
        """Whether the view reads ``shard`` (all by default)."""
        return True

    def check(self, shard: ShardSamples) -> None:
        """Raise ``ConfigError`` when ``shard`` cannot serve the task (e.g. too few snapshots)."""

    def region(self, shard: ShardSamples) -> Region:
        """The (snapshot, subcarrier) slices of a sample that are observed (impaired); the whole sample by default."""
        return WHOLE

    def label_shard(self, shard: ShardSamples, candidates: list[ShardSamples]) -> ShardSamples:
        """The shard the labels of ``shard``'s samples come from (itself by default)."""
        return shard

    # per batch -----------------------------------------------------------------------------------
    def make(self, batch: TaskBatch) -> tuple[Tensor, Tensor]:
        """``(input, target)`` of a batch."""
        raise NotImplementedError

    def sample_scores(self, pred: Any, target: Tensor) -> dict[str, np.ndarray]:
        """Per-sample quantities ``[B]`` the metric is summarised from."""
        raise NotImplementedError

    def summarise(self, scores: dict[str, np.ndarray]) -> dict[str, float]:
        """The metric(s) from the concatenated per-sample quantities."""
        raise NotImplementedError

    def baselines(self) -> dict[str, Baseline]:
        """The classical baselines, by name."""
        return {}

    def view(
        self,
        source: Source,
        split: str = "all",
        batch_size: int = 32,
        shuffle: bool = False,
        test_fraction: float = 0.25,
    ) -> TaskView:
        """This task over ``source`` (see :class:`wirelessdata.tasks.view.TaskView`)."""
        return TaskView(self, source, split=split, batch_size=batch_size, shuffle=shuffle, test_fraction=test_fraction)


def no_impairments(task: Task) -> None:
    """A one-line error when impairments are set on ``task``, whose input is not CSI (they apply to CSI only)."""
    if named := task.impairments.to_dict():
        raise ConfigError(f"task {task.name}: impairments ({', '.join(named)}) apply to CSI; its input is not CSI")


def need(shard: ShardSamples, axis: int, count: int, what: str, fix: str) -> None:
    """A one-line error when ``shard`` has fewer than ``count`` entries along CSI ``axis`` (0 = time)."""
    if shard.shape[axis] < count:
        dim = ("snapshots", "subcarriers")[axis]
        raise ConfigError(f"shard {shard.name} has {shard.shape[axis]} {dim}, {what} needs {count}; {fix}")


def require(shard: ShardSamples, names: Sequence[str], fix: str, what: str | None = None) -> Any:
    """The shard's zarr group; a one-line error when it lacks any of the variables ``names``, naming the missing
    ones (or ``what``) and the ``fix``."""
    group = open_group(shard.url)
    if missing := [n for n in names if n not in group]:
        raise ConfigError(f"shard {shard.name} has no {what or ', '.join(missing)}; {fix}")
    return group


def positive(value: Any) -> int:
    """A parser: a positive integer."""
    out = int(value)
    if out != float(value) or out < 1:
        raise ValueError("must be a positive integer")
    return out


def non_negative(value: Any) -> int:
    """A parser: a non-negative integer (an index)."""
    out = int(value)
    if out != float(value) or out < 0:
        raise ValueError("must be a non-negative integer")
    return out


def flag(value: Any) -> bool:
    """A parser: a boolean, ``true``/``false`` (any case) or 1/0."""
    text = str(value).strip().lower()
    if text not in ("true", "false", "1", "0"):
        raise ValueError("must be true or false")
    return text in ("true", "1")


class NmseTask(Task):
    """A task whose target is CSI, scored by NMSE (dB)."""

    metric = "nmse_db"

    def sample_scores(self, pred: Any, target: Tensor) -> dict[str, np.ndarray]:
        return {"nmse": nmse(pred, target)}

    def summarise(self, scores: dict[str, np.ndarray]) -> dict[str, float]:
        return {"nmse_db": nmse_db(scores["nmse"]), "nmse": float(np.mean(scores["nmse"]))}
