"""The types a task and its views share: one batch as a task receives it (:class:`TaskBatch`), the bookkeeping a
view yields next to it (:class:`Meta`), and what a view needs of its task (:class:`ViewedTask`).

:class:`~wirelessdata.tasks.base.Task` provides :class:`ViewedTask` and builds its views
(:class:`~wirelessdata.tasks.view.TaskView`); the view knows the task only through this protocol, so
``tasks.base`` imports ``tasks.view`` and not the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from torch import Tensor

from wirelessdata.tasks.impairments import Impairments, Region
from wirelessdata.tasks.source import ShardSamples


@dataclass
class TaskBatch:
    """What :meth:`Task.make <wirelessdata.tasks.base.Task.make>` receives for one batch of one shard.

    :param csi: ``[B, T, K, Nbs, Nue]`` complex64, the clean channel (None for a task that reads no CSI,
        ``Task.reads_csi``).
    :param observed: the task's region of it (``Task.region``) after the impairments (None likewise).
    :param labels: per-sample variables the task asked for: ``Task.labels`` from its label shard, ``Task.inputs``
        from ``shard``; a ragged one (e.g. ``lidar_points``) as an object array ``[B]`` of per-sample arrays.
    """

    csi: Tensor | None
    observed: Tensor | None
    labels: dict[str, np.ndarray]
    shard: ShardSamples
    sample_id: np.ndarray


@dataclass
class Meta:
    """Bookkeeping of a batch: its shard, sample ids, target shape (``(B,)`` for a ragged target, a list) and the
    impairment draws."""

    shard: ShardSamples
    sample_id: np.ndarray
    target_shape: tuple[int, ...]
    draws: dict[str, np.ndarray]


class ViewedTask(Protocol):
    """A task as its view and the scoring of a view use it (:class:`~wirelessdata.tasks.base.Task` documents
    every member)."""

    name: str
    summary: str
    seed: int
    labels: tuple[str, ...]
    inputs: tuple[str, ...]
    reads_csi: bool
    impairments: Impairments

    def definition(self) -> dict[str, Any]: ...

    def uses(self, shard: ShardSamples) -> bool: ...

    def check(self, shard: ShardSamples) -> None: ...

    def region(self, shard: ShardSamples) -> Region: ...

    def label_shard(self, shard: ShardSamples, candidates: list[ShardSamples]) -> ShardSamples: ...

    def make(self, batch: TaskBatch) -> tuple[Tensor, Tensor]: ...

    def sample_scores(self, pred: Any, target: Tensor) -> dict[str, np.ndarray]: ...

    def summarise(self, scores: dict[str, np.ndarray]) -> dict[str, float]: ...
