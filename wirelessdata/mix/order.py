"""The order of one epoch, planned in index space before any byte is read.

An epoch is a pure function of (manifest split, seed, epoch, batch size, window, run length, partitions):

1. each source's samples are grouped into *runs*: the selected samples of one run-length window of a
   shard (windows align with the shard's chunks, so a run lies in one chunk: one contiguous read);
2. each source takes whole runs in a seeded random order, cycling (a new order per pass) until it has
   contributed ``per_epoch`` samples (a balanced source does this per histogram bin, for the bin's quota:
   :func:`wirelessdata.mix.balance.by_bin`); the runs of all sources are then shuffled together (block shuffle);
3. the runs are dealt to ``partitions`` partitions (run ``i`` to partition ``i mod partitions``); a partition is
   read by one DataLoader worker or rank, so every chunk is read by one process, once per epoch;
4. inside a partition, runs are taken in *windows* of at least ``buffer`` samples (whole runs) and the samples of
   a window are shuffled together (the block shuffle of MosaicML Streaming; WebDataset's shard-then-buffer
   shuffles the same way with a sliding buffer): only the runs of one window are needed at a time;
5. samples are batched per shard, so that every batch has one CSI shape (shards differ in T, K, N): a batch
   is emitted when its shard's bucket holds ``batch_size`` samples; the partial buckets of all partitions are
   merged per shard at the end of the epoch (at most one partial batch per shard, none with ``drop_last``).
   Which samples form a batch is random; inside a batch they are ordered by run, so that a batch is gathered
   with one read or copy per run;
6. the partitions' batch counts are balanced to differ by at most one, longer partitions first (the merged
   batches and a few trailing ones move), and batch ``k`` of the epoch is batch ``k // partitions`` of partition
   ``k mod partitions``.

So batch ``k`` uses the runs of partition ``k mod partitions`` (but for the few moved batches), and a reader
that takes batches ``k ≡ j (mod n)`` reads only the chunks of its own partitions whenever ``n`` divides
``partitions``. Because the whole order is known, resuming at batch k of an epoch skips k batches without
reading, and batch k of the epoch is the same whatever the number of DataLoader workers or ranks.
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
    partitions: int = 1,
) -> tuple[list[Run], list[Batch]]:
    """The runs and batches of one epoch (see the module docstring).

    :param buffer: shuffle window, samples (1: no sample shuffle, only the run order).
    :param partitions: how many readers can split the epoch by chunks (see the module docstring).
    :returns: ``(runs, batches)``; ``Batch.runs`` index into ``runs``.
    """
    rng = np.random.default_rng([seed, epoch])
    runs: list[Run] = []
    for source in sources:
        for part in by_bin(source):
            runs += _take(source_runs(part, run_length), part.per_epoch, rng)
    runs = [runs[i] for i in rng.permutation(len(runs))]
    sizes = np.array([r.indices.size for r in runs], dtype=np.int64)
    first = np.concatenate([[0], np.cumsum(sizes)])
    sample_run = np.repeat(np.arange(len(runs)), sizes)
    sample_idx = np.concatenate([r.indices for r in runs]) if runs else np.empty(0, np.int64)
    shard_of = np.array([r.shard for r in runs], dtype=np.int64)

    def batch(members: np.ndarray) -> Batch:
        m = members[np.lexsort((sample_idx[members], sample_run[members]))]  # grouped by run: one slice per run
        return Batch(int(shard_of[sample_run[m[0]]]), sample_run[m], sample_idx[m])

    parts: list[list[Batch]] = []
    left: dict[int, list[np.ndarray]] = {}
    for p in range(partitions):
        mine = np.arange(p, len(runs), partitions)
        shuffled = [_window_shuffle(first, w, buffer, rng) for w in _windows(sizes[mine], mine, buffer)]
        order = np.concatenate([np.empty(0, np.int64), *shuffled])
        full, rest = _bucket(order, shard_of[sample_run[order]], batch_size)
        parts.append([batch(m) for m in full])
        for shard, members in rest.items():
            left.setdefault(shard, []).append(members)
    tail = []
    for pieces in left.values():
        merged = np.concatenate(pieces)
        stop = merged.size - merged.size % batch_size if drop_last else merged.size
        tail += [batch(merged[a : a + batch_size]) for a in range(0, stop, batch_size)]
    return runs, _interleave(parts, tail)


def _windows(sizes: np.ndarray, runs: np.ndarray, buffer: int) -> list[np.ndarray]:
    """``runs`` (in order) cut into consecutive groups of at least ``buffer`` samples (the last one may be less)."""
    cuts = []
    total = 0
    for i, n in enumerate(sizes):
        total += int(n)
        if total >= buffer:
            cuts.append(i + 1)
            total = 0
    return [w for w in np.split(runs, cuts) if w.size]


def _window_shuffle(first: np.ndarray, window: np.ndarray, buffer: int, rng: np.random.Generator) -> np.ndarray:
    """Sample positions of the runs ``window``, shuffled together (in run order when ``buffer`` <= 1)."""
    positions = np.concatenate([np.arange(first[r], first[r + 1]) for r in window])
    return positions if buffer <= 1 else rng.permutation(positions)


def _bucket(order: np.ndarray, shards: np.ndarray, size: int) -> tuple[list[np.ndarray], dict[int, np.ndarray]]:
    """Full batches of ``size`` samples of one shard, in the order their bucket fills; the partial buckets."""
    buckets: dict[int, list[int]] = {}
    full = []
    for pos, shard in zip(order.tolist(), shards.tolist(), strict=True):
        bucket = buckets.setdefault(shard, [])
        bucket.append(pos)
        if len(bucket) == size:
            full.append(np.asarray(bucket, dtype=np.int64))
            buckets[shard] = []
    return full, {s: np.asarray(b, dtype=np.int64) for s, b in buckets.items() if b}


def _interleave(parts: list[list[Batch]], tail: list[Batch]) -> list[Batch]:
    """Batch ``k`` = batch ``k // P`` of partition ``k mod P``, after balancing the partitions' lengths.

    The merged ``tail`` batches and the batches beyond a partition's share move, in order, to the partitions
    short of theirs; shares differ by at most one, the longer first, so that the round-robin covers every batch.
    """
    total = sum(len(p) for p in parts) + len(tail)
    share, extra = divmod(total, len(parts))
    want = [share + (p < extra) for p in range(len(parts))]
    spare = [b for p, batches in enumerate(parts) for b in batches[want[p] :]] + tail
    for p, batches in enumerate(parts):
        del batches[want[p] :]
        need = want[p] - len(batches)
        batches += spare[:need]
        del spare[:need]
    return [parts[k % len(parts)][k // len(parts)] for k in range(total)]
