"""A task view: a deterministic PyTorch stream of ``(input, target)`` batches of a task over shards or a manifest.

The CSI is read by :class:`~wirelessdata.mix.loader.MixtureDataset` (over the view's shards and samples, each
sample once per pass, batches from one shard each); per batch the impairments are applied to the clean CSI, the
labels the task needs are looked up by ``sample_id``, and the task turns both into ``(input, target)``. The
observation of a sample depends only on ``(seed, shard name, sample_id)``, so every pass, batch size, order
and number of DataLoader workers sees the same pairs. Use with ``DataLoader(view, batch_size=None)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from torch import Tensor
from torch.utils.data import IterableDataset, get_worker_info

from wirelessdata.errors import ConfigError
from wirelessdata.mix.handover import Leases
from wirelessdata.mix.loader import MixtureDataset
from wirelessdata.mix.manifest import Manifest, ManifestShard, Selection
from wirelessdata.mix.manifest import Source as ManifestSource
from wirelessdata.tasks.batch import Meta, TaskBatch, ViewedTask
from wirelessdata.tasks.impairments import apply
from wirelessdata.tasks.source import Labels, Source, resolve

SPLIT = "view"


class TaskView(IterableDataset):
    """``task`` (a :class:`~wirelessdata.tasks.base.Task`; built by ``Task.view``) over the samples of ``split`` of
    ``source`` (see :mod:`wirelessdata.tasks.source`).

    DataLoader workers hand the pairs over in reused shared memory (:mod:`wirelessdata.mix.handover`), which needs
    ``batch_size=None`` and the default ``collate_fn``; set ``view.shared_memory = False`` to use your own.

    :param batch_size: samples per batch (the last batch of each shard may be smaller).
    :param shuffle: shuffle samples (seeded by the task seed); otherwise runs of consecutive samples.
    :param test_fraction: share of each shard's samples on the ``test`` side (shard sources).
    """

    def __init__(
        self,
        task: ViewedTask,
        source: Source,
        split: str = "all",
        batch_size: int = 32,
        shuffle: bool = False,
        test_fraction: float = 0.25,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ConfigError(f"batch_size {batch_size} must be >= 1")
        self.task = task
        candidates, self.source = resolve(source, split, task.seed, test_fraction)
        self.shards = [s for s in candidates if task.uses(s)]
        if not self.shards:
            raise ConfigError(f"task {task.name}: no usable shard in the source ({task.summary})")
        self.shards = [s for s in self.shards if s.indices.size]
        if not self.shards:
            raise ConfigError(f"task {task.name}: split {split!r} of the source has no samples")
        self.by_name = {s.name: s for s in self.shards}
        self.labels: dict[str, list[Labels]] = {}
        self.regions = {s.name: task.region(s) for s in self.shards}
        for s in self.shards:
            task.check(s)
            reads = [(s.url, task.inputs)] if task.inputs else []
            if task.labels:
                reads.append((task.label_shard(s, candidates).url, task.labels))
            self.labels[s.name] = [Labels(url, names) for url, names in reads]
        manifest = Manifest(
            seed=task.seed,
            shards=tuple(
                ManifestShard(s.name, s.url, str(s.attrs.get("checksum")), int(s.attrs["num_samples"]), s.shape)
                for s in self.shards
            ),
            splits={
                SPLIT: (
                    ManifestSource(
                        SPLIT,
                        tuple(Selection(i, s.indices) for i, s in enumerate(self.shards)),
                        per_epoch=sum(int(s.indices.size) for s in self.shards),
                    ),
                )
            },
        )
        self.batch_size = batch_size
        self.stream = MixtureDataset(
            manifest, SPLIT, batch_size=batch_size, buffer=256 if shuffle else 1, read_csi=task.reads_csi
        )
        self.epoch = 0
        self._leases = Leases()  # made here, before DataLoader workers start: shared with them
        self.shared_memory = True

    @property
    def num_samples(self) -> int:
        """Samples per pass."""
        return sum(int(s.indices.size) for s in self.shards)

    def __len__(self) -> int:
        """Batches per pass."""
        return len(self.stream.plan(self.epoch)[1])

    def set_epoch(self, epoch: int) -> None:
        """Use the batch order of ``epoch`` (with ``shuffle``; the pairs themselves do not change)."""
        self.epoch = epoch

    def definition(self) -> dict[str, Any]:
        """The task's definition plus the source: split, shards (name, url, checksum, ...) and sample count."""
        return self.task.definition() | {
            "source": self.source | {"samples": self.num_samples, "shards": [s.describe() for s in self.shards]},
        }

    def batches(self) -> Iterator[tuple[Tensor, Tensor, Meta]]:
        """``(input, target, meta)`` for every batch of a pass."""
        self.stream.set_epoch(self.epoch)
        for raw in self.stream:
            shard = self.by_name[raw["shard"]]
            ids = raw["sample_id"].numpy().view(np.uint64)
            csi, observed, draws = raw.get("csi"), None, {}
            if csi is not None:
                observed, draws = apply(
                    self.task.impairments,
                    csi,
                    ids,
                    shard.time_s,
                    shard.subcarrier_hz,
                    self.task.seed,
                    shard.key,
                    self.regions[shard.name],
                )
            labels = {k: v for read in self.labels[shard.name] for k, v in read.take(ids).items()}
            inp, target = self.task.make(TaskBatch(csi, observed, labels, shard, ids))
            shape = tuple(target.shape) if isinstance(target, Tensor) else (len(target),)  # ragged: a list
            yield inp, target, Meta(shard, ids, shape, draws)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        info = get_worker_info()
        # a DataLoader worker of this view hands its pairs over in reused shared memory (wirelessdata.mix.handover)
        mine = info is not None and info.dataset is self and self.shared_memory
        slots = self._leases.slots(info.id) if mine else None
        for inp, target, _ in self.batches():
            yield (inp, target) if slots is None else slots.pack((inp, target))
