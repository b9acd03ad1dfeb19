"""The order of one epoch, planned in index space before any byte is read.

An epoch is a pure function of (manifest split, seed, epoch, batch size, buffer size, run length):

1. each source's samples are grouped into *runs*: the selected samples of one run-length window of a
   shard (windows align with the shard's chunks, so a run is one contiguous read);
2. each source takes whole runs in a seeded random order, cycling (a new order per pass) until it has
   contributed ``per_epoch`` samples (a balanced source does this per histogram bin, for the bin's quota:
   :func:`wirelessdata.mix.balance.by_bin`); the runs of all sources are then shuffled together (block shuffle);
3. samples pass through a seeded shuffle buffer of ``buffer`` samples;
4. samples are batched per shard, so that every batch has one CSI shape (shards differ in T, K, N): a batch
   is emitted when its shard's bucket holds ``batch_size`` samples, and the partial buckets follow at the end
   of the epoch (unless ``drop_last``). Which samples form a batch is random; inside a batch they are ordered
   by run, so that a batch is gathered with one copy per run.

Because the whole order is known, resuming at batch k of an epoch skips k batches without reading, and
batch k of the epoch is the same whatever the number of DataLoader workers or ranks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wirelessdata.mix.balance import by_bin
from wirelessdata.mix.manifest import Source


@dataclass(frozen=True)
class Run:
    """Samples ``indices`` (sorted) of shard ``shard``, all inside ``[start, stop)``: one contiguous read."""

    shard: int
    start: int
    stop: int
    indices: np.ndarray


@dataclass(frozen=True)
class Batch:
    """One batch: for each sample, the run it comes from and its sample index in the shard."""

    shard: int
    runs: np.ndarray
    indices: np.ndarray


def source_runs(source: Source, run_length: dict[int, int]) -> list[Run]:
    """Split a source's selections into runs of the shards' run lengths."""
    runs = []
    for sel in source.selections:
        length = run_length[sel.shard]
        windows = sel.indices // length
        cuts = np.flatnonzero(np.diff(windows)) + 1
        for part in np.split(sel.indices, cuts):
            if part.size:
                start = int(part[0] // length) * length
                runs.append(Run(sel.shard, start, start + length, part))
    return runs


def _take(runs: list[Run], count: int, rng: np.random.Generator) -> list[Run]:
    """Whole runs in random order, cycling with a new order per pass, until ``count`` samples (last one cut)."""
    out: list[Run] = []
    total = 0
    while total < count and runs:
        for i in rng.permutation(len(runs)):
            run = runs[i]
            if total + run.indices.size > count:
                run = Run(run.shard, run.start, run.stop, run.indices[: count - total])
            out.append(run)
            total += run.indices.size
            if total >= count:
                break
    return out


def plan_epoch(
    sources: tuple[Source, ...],
    run_length: dict[int, int],
    seed: int,
    epoch: int,
    batch_size: int,
    buffer: int,
    drop_last: bool = False,
) -> tuple[list[Run], list[Batch]]:
    """The runs and batches of one epoch (see the module docstring).

    :returns: ``(runs, batches)``; ``Batch.runs`` index into ``runs``.
    """
    rng = np.random.default_rng([seed, epoch])
    runs: list[Run] = []
    for source in sources:
        for part in by_bin(source):
            runs += _take(source_runs(part, run_length), part.per_epoch, rng)
    runs = [runs[i] for i in rng.permutation(len(runs))]
    sample_run = np.concatenate([np.full(r.indices.size, i) for i, r in enumerate(runs)]) if runs else np.empty(0, int)
    sample_idx = np.concatenate([r.indices for r in runs]) if runs else np.empty(0, int)
    order = _buffer_shuffle(sample_run.size, buffer, rng)
    buckets: dict[int, list[int]] = {}
    batches: list[Batch] = []

    def emit(members: list[int]) -> None:
        m = np.asarray(members)
        m = m[np.lexsort((sample_idx[m], sample_run[m]))]  # grouped by run: each run is one slice of the batch
        batches.append(Batch(runs[int(sample_run[m[0]])].shard, sample_run[m], sample_idx[m]))

    for pos in order:
        key = runs[int(sample_run[pos])].shard
        bucket = buckets.setdefault(key, [])
        bucket.append(int(pos))
        if len(bucket) == batch_size:
            emit(bucket)
            buckets[key] = []
    if not drop_last:
        for bucket in buckets.values():
            if bucket:
                emit(bucket)
    return runs, batches


def _buffer_shuffle(n: int, buffer: int, rng: np.random.Generator) -> np.ndarray:
    """Positions 0..n-1 in the order a shuffle buffer of ``buffer`` slots emits them."""
    if buffer <= 1:
        return np.arange(n)
    slots: list[int] = []
    out = np.empty(n, dtype=np.int64)
    draws = rng.random(n)
    k = 0
    for pos in range(n):
        slots.append(pos)
        if len(slots) >= buffer:
            j = int(draws[k] * len(slots))
            slots[j], slots[-1] = slots[-1], slots[j]
            out[k] = slots.pop()
            k += 1
    tail = rng.permutation(len(slots))
    out[k:] = np.asarray(slots, dtype=np.int64)[tail]
    return out
