"""The CSI a model run reads: the pretraining stream of a mixture from any step on (or one rank's rows of it),
and outside it batches of one shard's samples, the held-out shards of a manifest split divided into evaluated and
target-training samples, and the tuning subsets of the latter.

The division is by a hash of ``sample_id`` (``mix.split.val_mask`` with the manifest's seed, salted), so ``evaluate``,
``finetune`` and every baseline see the same evaluated samples, and no target-training sample is evaluated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from wirelessdata.errors import ConfigError
from wirelessdata.mix.loader import MixtureDataset
from wirelessdata.mix.manifest import Manifest
from wirelessdata.mix.order import Batch, Run
from wirelessdata.mix.split import val_mask
from wirelessdata.shard.read import ShardReader

#: Share of a tuning set (few-shot or full-shot) held back for early stopping.
VALIDATION_FRACTION = 0.125
#: Salts of the evaluation and validation hashes: apart from the manifest's own val split (same hash, its seed),
#: which would otherwise land wholly on the evaluated side.
_EVALUATION_SALT = 7727
_VALIDATION_SALT = 104729


def shard_batches(url: str, indices: np.ndarray, batch_size: int, shard: str) -> list[dict[str, Any]]:
    """The samples ``indices`` of the shard at ``url`` as batches ``{"csi": complex64 [B, T, K, Nbs, Nue],
    "sample_id": int64 [B], "shard": name}`` of at most ``batch_size``, in index order (read once, in memory)."""
    reader = ShardReader(url, ("csi", "sample_id"))
    out = []
    for k in range(0, indices.size, batch_size):
        data = reader.read(indices[k : k + batch_size])
        out.append(
            {
                "csi": torch.from_numpy(np.ascontiguousarray(data["csi"])),
                "sample_id": torch.from_numpy(data["sample_id"].astype(np.int64)),
                "shard": shard,
            }
        )
    return out


def split_batches(manifest: Manifest, split: str, limit: int, batch_size: int) -> list[dict[str, Any]]:
    """Up to ``limit`` samples of ``manifest``'s ``split``, spread evenly over its shards, as ``shard_batches``
    (one shard per batch): the fixed held-out batches of the training checks."""
    chosen = _selected(manifest, split)
    per_shard = max(1, limit // max(1, len(chosen)))
    batches: list[dict[str, Any]] = []
    for index, indices in chosen.items():
        picked = np.unique(indices[np.linspace(0, indices.size - 1, min(per_shard, indices.size)).astype(int)])
        batches += shard_batches(manifest.shards[index].url, picked, batch_size, manifest.shards[index].name)
    return batches


def _selected(manifest: Manifest, split: str) -> dict[int, np.ndarray]:
    """Shard number → the sorted sample indices ``split`` selects of it."""
    chosen: dict[int, list[np.ndarray]] = {}
    for source in manifest.split(split):
        for sel in source.selections:
            chosen.setdefault(sel.shard, []).append(sel.indices)
    return {k: np.unique(np.concatenate(v)) for k, v in chosen.items()}


@dataclass(frozen=True)
class TargetShard:
    """A held-out shard of a manifest split: ``evaluated`` sample indices (scored) and ``training`` ones (what
    few-shot fine-tuning, the full-shot model and the fitted classical predictors may learn from)."""

    name: str
    url: str
    evaluated: np.ndarray
    training: np.ndarray


def target_shards(manifest: Manifest, split: str, eval_fraction: float) -> list[TargetShard]:
    """The shards of ``manifest``'s ``split``, each divided by a hash of ``sample_id``: ``eval_fraction`` of its
    samples evaluated, the rest its training split."""
    if not 0 < eval_fraction < 1:
        raise ConfigError(f"eval_fraction {eval_fraction} must lie strictly between 0 and 1")
    out = []
    for index, indices in _selected(manifest, split).items():
        shard = manifest.shards[index]
        ids = ShardReader(shard.url, ("sample_id",)).read(indices)["sample_id"]
        held = val_mask(ids, eval_fraction, manifest.seed + _EVALUATION_SALT)
        if not held.any() or held.all():
            side = "evaluated" if not held.any() else "training"
            raise ConfigError(
                f"shard {shard.name}: no {side} samples among its {indices.size} in split {split!r} at "
                f"eval_fraction {eval_fraction}; use a larger split or another --eval-fraction"
            )
        out.append(TargetShard(shard.name, shard.url, indices[held], indices[~held]))
    return out


def find_target(targets: Sequence[TargetShard], name: str) -> TargetShard:
    """The target shard called ``name`` (a one-line error listing the others)."""
    for target in targets:
        if target.name == name:
            return target
    raise ConfigError(f"no shard {name!r} in the split; choose one of {', '.join(t.name for t in targets)}")


def tuning_split(target: TargetShard, samples: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``samples`` of the target's training split (all when None; a seeded draw otherwise), divided into
    tuning ``train`` and early-stopping ``validation`` indices (``VALIDATION_FRACTION``, at least one each)."""
    pool = target.training
    if samples is not None:
        if samples < 2:
            raise ConfigError(f"--samples {samples}: tuning needs at least 2 samples (one to train, one to validate)")
        if samples > pool.size:
            raise ConfigError(
                f"--samples {samples} is larger than the training split of shard {target.name} ({pool.size} samples; "
                "the evaluated ones are kept apart); choose at most that or a smaller --eval-fraction"
            )
        pool = np.sort(np.random.default_rng(seed).permutation(pool)[:samples])
    if pool.size < 2:
        raise ConfigError(f"shard {target.name} has {pool.size} training sample(s); tuning needs at least 2")
    ids = ShardReader(target.url, ("sample_id",)).read(pool)["sample_id"]
    held = val_mask(ids, VALIDATION_FRACTION, seed + _VALIDATION_SALT)
    if not held.any() or held.all():  # tiny sets: keep one sample on each side
        held = np.zeros(pool.size, bool)
        held[-1] = True
    return pool[~held], pool[held]


def training_stream(dataset: Any) -> Callable[[int], Iterator[dict[str, Any]]]:
    """A callable for :func:`wirelessdata.models.train`: the dataset's batches from step ``k`` on, epoch after
    epoch (seeking by the index-space plans, without reading the skipped batches)."""

    def from_step(step: int) -> Iterator[dict[str, Any]]:
        epoch = 0
        while step >= (n := len(dataset.plan(epoch)[1])):
            step, epoch = step - n, epoch + 1
        dataset.load_state_dict({"epoch": epoch, "batch": step})
        while True:
            yield from dataset  # a finished epoch moves the dataset to the next

    return from_step


class RankRows(MixtureDataset):
    """Rank ``rank`` of ``world_size``'s rows of every batch of a split's stream (distributed training).

    The stream is :class:`~wirelessdata.mix.loader.MixtureDataset`'s with ``batch_size`` the global batch, for any
    number of ranks; each rank reads only its rows of each batch: rows ``[n r / W, n (r + 1) / W)`` of a batch of
    ``n`` samples (``batch_size / W`` of a full batch; a batch's rows are grouped by run, so the ranks read mostly
    different runs). Every batch dict also holds ``"rows": (lo, hi, n)``, the global rows of its samples; a rank
    with no row of a small batch (``n < W``) gets the batch's last sample as a stand-in, ``rows`` ``(n, n, n)``,
    which must weigh nothing.

    (The loader's own ``rank``/``world_size`` deal out whole batches, so that ``W`` batches of ``batch_size / W``
    would make a global step: another stream for every ``W``.)
    """

    def __init__(self, manifest: Manifest, split: str, batch_size: int, rank: int, world_size: int) -> None:
        if batch_size % world_size:
            raise ConfigError(
                f"batch size {batch_size} is not divisible by the {world_size} processes (WORLD_SIZE); choose a batch "
                f"size that is a multiple of {world_size}, e.g. {batch_size - batch_size % world_size or world_size}"
            )
        super().__init__(manifest, split, batch_size=batch_size)
        self.part = (rank, world_size)
        self._sliced: tuple[int, tuple[list[Run], list[Batch]]] | None = None

    def rows(self, n: int) -> tuple[int, int]:
        """This rank's rows ``[lo, hi)`` of a batch of ``n`` samples (empty when ``n`` < world size)."""
        rank, world = self.part
        return n * rank // world, n * (rank + 1) // world

    def plan(self, epoch: int) -> tuple[list[Run], list[Batch]]:
        """The epoch's runs and, of each batch, this rank's rows (or its stand-in)."""
        if self._sliced is None or self._sliced[0] != epoch:
            runs, batches = super().plan(epoch)
            mine = []
            for b in batches:
                lo, hi = self.rows(b.indices.size)
                lo, hi = (lo, hi) if hi > lo else (b.indices.size - 1, b.indices.size)
                mine.append(Batch(b.shard, b.runs[lo:hi], b.indices[lo:hi]))
            self._sliced = (epoch, (runs, mine))
        return self._sliced[1]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for batch in super().__iter__():
            n = super().plan(batch["epoch"])[1][batch["batch_index"]].indices.size
            lo, hi = self.rows(n)
            yield {**batch, "rows": (lo, hi, n) if hi > lo else (n, n, n)}
