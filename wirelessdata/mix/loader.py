"""A deterministic, resumable PyTorch dataset over a manifest split.

Batches come from :func:`wirelessdata.mix.order.plan_epoch`; this module only reads them. Batch ``k`` of an
epoch uses the runs (chunk-aligned windows of a shard) of partition ``k mod partitions``. A process reading
from batch ``s`` on (``s`` = 0, or the resumed batch) with ``n`` readers (DataLoader workers x ranks) takes
batches ``k`` with ``(k - s) mod n`` its own index, in the order ``torch.utils.data.DataLoader`` collects them,
so the stream is the same for any number of workers or ranks; when ``n`` divides ``partitions``, the readers
split the epoch's chunks, each chunk read by one reader once per epoch.

How a batch is read:

- chunks stored raw (CSI has no compressor, local stores: :class:`wirelessdata.shard.chunks.ChunkFiles`): each
  sample is copied from its memory-mapped chunk file straight into the batch (one copy from the page cache, as
  a numpy memmap; the mappings are kept across epochs, per process), by as many threads as the process has
  cores to itself (cores / (DataLoader workers x local ranks));
- otherwise (compressed, remote or sharded storage): each run is read with one Zarr read when a batch first
  needs it (the runs a batch needs are read concurrently), kept in memory until the last batch of this process
  that uses it (at most about ``partitions / readers`` windows of ``buffer`` samples), and gathered.

A chunk that cannot be read or decoded raises a one-line :class:`~wirelessdata.shard.chunks.ChunkError` naming
the shard, the chunk and its samples (also from a DataLoader worker).

Use with ``DataLoader(dataset, batch_size=None, num_workers=...)``. Each batch is a dict::

    csi          complex64 [B, T, K, Nbs, Nue] (or float32 [B, 2, T, K, Nbs, Nue] with output="real";
                 absent with read_csi=False)
    sample_id    int64 [B] (the uint64 ids reinterpreted)
    shard        str, the shard's name
    epoch, batch_index   where the batch sits in the stream

Resume: save ``{"epoch": b["epoch"], "batch": b["batch_index"] + 1}`` of the last batch consumed (or
:meth:`MixtureDataset.state_dict` without workers) and pass it to :meth:`MixtureDataset.load_state_dict`.
Without workers, finishing an epoch moves the dataset to the next one; with workers, call
:meth:`MixtureDataset.set_epoch` between epochs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import IterableDataset, get_worker_info

from wirelessdata.errors import ConfigError
from wirelessdata.mix.handover import Leases, WorkerSlots
from wirelessdata.mix.manifest import Manifest, ManifestError
from wirelessdata.mix.order import Batch, Run, plan_epoch
from wirelessdata.shard.chunks import ChunkFiles
from wirelessdata.shard.read import ShardReader

OUTPUTS = ("complex", "real")
NORMALIZATIONS = ("none", "sample", "shard")


class MixtureDataset(IterableDataset):
    """Stream one split of a manifest as batches.

    :param manifest: the frozen mixture (verified against the stores here).
    :param split: ``train``, ``val`` or a held-out split name.
    :param batch_size: samples per batch (the last batch of a shard in an epoch may be smaller).
    :param buffer: shuffle window in samples: the samples of whole runs adding up to at least ``buffer`` are
        shuffled together (1: no sample shuffle, only the run order).
    :param output: ``complex`` or ``real`` (real/imag stacked on a new axis 1).
    :param normalize: ``none``; ``sample`` (each sample scaled to unit mean power); ``shard`` (each shard
        scaled by its mean sample power, from ``path_gain_db``).
    :param drop_last: drop the partial batches at the end of an epoch.
    :param rank: this process's rank among ``world_size`` (distributed training).
    :param partitions: how many readers (DataLoader workers x ranks) can split the epoch's chunks: readers split
        them whenever their number divides ``partitions`` (the stream depends on it, not on the readers).
    :param read_csi: read the CSI (``False``: the batches carry everything else, for consumers that look up other
        variables by ``sample_id``, e.g. the task views of sensor data).
    :param shared_memory: DataLoader workers hand batches over in reused shared memory
        (:mod:`wirelessdata.mix.handover`); this needs ``batch_size=None`` and the default ``collate_fn`` (a
        ``collate_fn`` of your own gets a one-line error saying so): set ``False`` to use either.
    """

    def __init__(
        self,
        manifest: Manifest,
        split: str = "train",
        batch_size: int = 32,
        buffer: int = 256,
        output: str = "complex",
        normalize: str = "none",
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
        partitions: int = 2,
        read_csi: bool = True,
        shared_memory: bool = True,
    ) -> None:
        super().__init__()
        if output not in OUTPUTS:
            raise ConfigError(f"output: unknown value {output!r}; allowed: {list(OUTPUTS)}")
        if normalize not in NORMALIZATIONS:
            raise ConfigError(f"normalize: unknown value {normalize!r}; allowed: {list(NORMALIZATIONS)}")
        if min(batch_size, buffer, partitions) < 1 or not 0 <= rank < world_size:
            raise ConfigError("batch_size, buffer and partitions must be >= 1 and 0 <= rank < world_size")
        self.sources = manifest.split(split)
        manifest.verify()
        self.manifest = manifest
        if not sum(s.per_epoch for s in self.sources):
            raise ManifestError(f"split '{split}' of the manifest has no samples")
        self.split = split
        self.batch_size, self.buffer, self.drop_last = batch_size, buffer, drop_last
        self.output, self.normalize = output, normalize
        self.rank, self.world_size, self.partitions = rank, world_size, partitions
        self.read_csi, self.shared_memory = read_csi, shared_memory
        self.epoch, self.start_batch = 0, 0
        self._planned: tuple[int, tuple[list[Run], list[Batch]]] | None = None
        used = {sel.shard for src in self.sources for sel in src.selections}
        self.run_length = {i: _csi_chunk(manifest.shards[i].url) for i in used}
        self._scale = {i: _shard_scale(manifest.shards[i].url) for i in used} if normalize == "shard" else {}
        self._sample_ids = {i: _whole(manifest.shards[i].url, "sample_id") for i in used}
        self._readers: dict[int, tuple[ShardReader, ChunkFiles | None]] = {}  # per shard, opened when first read
        self._buffers = BatchBuffers()
        self._leases = Leases()  # made here, before DataLoader workers start: shared with them

    # position in the stream ------------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Start at the beginning of ``epoch`` on the next iteration."""
        self.epoch, self.start_batch = epoch, 0

    def state_dict(self) -> dict[str, int]:
        """Where the next iteration starts: ``{"epoch", "batch"}``."""
        return {"epoch": self.epoch, "batch": self.start_batch}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Resume at batch ``state["batch"]`` of epoch ``state["epoch"]``."""
        self.epoch, self.start_batch = int(state["epoch"]), int(state["batch"])

    def plan(self, epoch: int) -> tuple[list[Run], list[Batch]]:
        """The runs and batches of ``epoch`` (index space, no reading; the last epoch's plan is kept)."""
        if self._planned is None or self._planned[0] != epoch:
            plan = plan_epoch(
                self.sources,
                self.run_length,
                self.manifest.seed,
                epoch,
                self.batch_size,
                self.buffer,
                self.drop_last,
                self.partitions,
            )
            self._planned = (epoch, plan)
        return self._planned[1]

    def __len__(self) -> int:
        """Batches in the current epoch, over all workers and ranks."""
        return len(self.plan(self.epoch)[1])

    # reading ---------------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        workers = info.num_workers if info else 1
        worker = info.id if info else 0
        stride, offset = workers * self.world_size, self.rank * workers + worker
        runs, batches = self.plan(self.epoch)
        start = self.start_batch
        mine = [k for k in range(start, len(batches)) if (k - start) % stride == offset]
        # a DataLoader worker of this dataset reads batches into shared-memory slots (of a dataset that wraps this
        # one, e.g. a task view, the batches stay in the worker)
        slots = self._leases.slots(worker) if info and info.dataset is self and self.shared_memory else None
        reader = _BatchReader(
            self.manifest,
            runs,
            {k: batches[k] for k in mine},
            self._readers,
            slots or self._buffers,
            _copy_threads(workers),
        )
        try:
            for k in mine:
                csi = reader.csi(k) if self.read_csi else None
                ids = self._sample_ids[batches[k].shard][batches[k].indices]
                if not info:
                    self.start_batch = k + 1
                out = self._to_batch(batches[k], csi, ids, k)
                yield out if slots is None else slots.pack(out)  # to the main process in reused shared memory
        finally:
            reader.close()
        if not info:  # a finished epoch: the next iteration is the next epoch
            self.set_epoch(self.epoch + 1)

    def _to_batch(self, batch: Batch, csi: np.ndarray | None, ids: np.ndarray, k: int) -> dict[str, Any]:
        out = {
            "sample_id": torch.from_numpy(ids.astype(np.uint64).view(np.int64)),
            "shard": self.manifest.shards[batch.shard].name,
            "epoch": self.epoch,
            "batch_index": k,
        }
        return out if csi is None else {"csi": self._tensor(batch, csi), **out}

    def _tensor(self, batch: Batch, csi: np.ndarray) -> Tensor:
        """The batch's CSI as the stream's ``output``, normalised as asked."""
        if self.normalize == "sample":
            power = np.mean(np.abs(csi) ** 2, axis=tuple(range(1, csi.ndim)), keepdims=True)
            csi = csi / np.sqrt(np.maximum(power, np.finfo(np.float32).tiny))
        elif self.normalize == "shard":
            csi = csi * np.float32(self._scale[batch.shard])
        x = torch.from_numpy(np.ascontiguousarray(csi, dtype=np.complex64))
        return torch.stack((x.real, x.imag), dim=1) if self.output == "real" else x


class BatchBuffers:
    """Batch arrays of the chunk-file path, reused once nothing else holds them.

    A fresh array per batch costs its page faults on first touch (tens of MB per batch). A batch handed out lives
    on in the tensor that wraps it (``torch.from_numpy`` keeps its array alive), so an array is reused only when
    its reference count says that no batch, tensor or view of it is left anywhere else: never while the consumer
    still holds a batch.
    """

    KEEP = 4
    """Arrays kept for reuse; more in use at once are allocated afresh."""

    def __init__(self) -> None:
        self.arrays: list[np.ndarray] = []

    def get(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """An array of ``shape`` and ``dtype`` (its contents undefined)."""
        # references of a free array: the list's and getrefcount's argument; more is a batch still in use
        free = [i for i in range(len(self.arrays)) if sys.getrefcount(self.arrays[i]) == 2]
        for i in free:
            if self.arrays[i].shape == shape and self.arrays[i].dtype == dtype:
                return self.arrays[i]
        out = np.empty(shape, dtype)
        if len(self.arrays) < self.KEEP:
            self.arrays.append(out)
        elif free:  # a free array of another shape (another shard, a last partial batch) makes room
            self.arrays[free[0]] = out
        return out

    def __getstate__(self) -> dict[str, Any]:
        return {"arrays": []}  # a DataLoader worker starts with none


PREFETCH_BATCHES = 4
"""Batches ahead whose runs the Zarr path (remote, compressed or sharded shards) reads in background threads while
the current batch is used, so that an object store's round trips overlap the training step."""


class _BatchReader:
    """The CSI of one process's batches ``{k: batch}``: from the chunk files, or from whole runs read through Zarr
    (the runs of the next :data:`PREFETCH_BATCHES` batches read ahead in background threads).

    :param readers: per shard, its Zarr reader and chunk files (filled here, kept by the caller across epochs).
    :param threads: copy threads of the chunk-file path (:meth:`~wirelessdata.shard.chunks.ChunkFiles.read_into`).
    """

    def __init__(
        self,
        manifest: Manifest,
        runs: list[Run],
        batches: dict[int, Batch],
        readers: dict[int, tuple[ShardReader, ChunkFiles | None]],
        buffers: BatchBuffers | WorkerSlots,
        threads: int = 1,
    ) -> None:
        self.manifest, self.runs, self.batches, self.readers = manifest, runs, batches, readers
        self.buffers, self.threads = buffers, threads
        self.last_use = {int(r): k for k, batch in batches.items() for r in np.unique(batch.runs)}
        self.loaded: dict[int, np.ndarray] = {}
        self.order = list(batches)
        self.position = {k: i for i, k in enumerate(self.order)}
        self.pending: dict[int, Future] = {}
        self.pool: ThreadPoolExecutor | None = None

    def csi(self, k: int) -> np.ndarray:
        """The CSI [B, T, K, Nbs, Nue] of batch ``k``, samples in batch order."""
        batch = self.batches[k]
        files = self._files(batch.shard)
        if files is not None:
            csi = self.buffers.get((batch.indices.size, *files.sample_shape), files.dtype)
            files.read_into(batch.indices, csi, self.threads)
            return csi
        self._prefetch(k)
        needed = [int(r) for r in np.unique(batch.runs) if int(r) not in self.loaded]
        self._load([r for r in needed if r not in self.pending], batch.shard)
        for r in needed:
            if r in self.pending:
                self.loaded[r] = self.pending.pop(r).result()
        csi = _gather(batch, self.runs, self.loaded)
        for r in np.unique(batch.runs):
            if self.last_use[int(r)] == k:
                del self.loaded[int(r)]
        return csi

    def close(self) -> None:
        """Stop reading ahead (runs not started are dropped)."""
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
        self.pending.clear()

    def _files(self, shard: int) -> ChunkFiles | None:
        if shard not in self.readers:
            reader = ShardReader(self.manifest.shards[shard].url, ("csi",))
            self.readers[shard] = (reader, ChunkFiles.of(reader.arrays["csi"], self.manifest.shards[shard].name))
        return self.readers[shard][1]

    def _prefetch(self, k: int) -> None:
        """Start reading the runs of the batches after ``k`` (Zarr path only) that are not loaded or pending."""
        i = self.position[k]
        for j in self.order[i + 1 : i + 1 + PREFETCH_BATCHES]:
            batch = self.batches[j]
            if self._files(batch.shard) is not None:
                continue
            for r in map(int, np.unique(batch.runs)):
                if r not in self.loaded and r not in self.pending:
                    self.pool = self.pool or ThreadPoolExecutor(max_workers=PREFETCH_BATCHES)
                    self.pending[r] = self.pool.submit(self._read_run, batch.shard, r)

    def _read_run(self, shard: int, r: int) -> np.ndarray:
        reader = self.readers[shard][0]
        return reader.read_range(self.runs[r].start, min(self.runs[r].stop, reader.num_samples))["csi"]

    def _load(self, needed: list[int], shard: int) -> None:
        """Read the runs ``needed`` of ``shard`` concurrently (one Zarr read each; a damaged chunk is named by the
        reader's :class:`~wirelessdata.shard.chunks.ChunkError`)."""
        if not needed:
            return
        reader = self.readers[shard][0]
        ranges = [(self.runs[r].start, min(self.runs[r].stop, reader.num_samples)) for r in needed]
        self.loaded.update(zip(needed, (d["csi"] for d in reader.read_ranges(ranges)), strict=True))


def _copy_threads(workers: int) -> int:
    """Copy threads of one reader process: this host's cores (those this process may run on) shared among its
    readers, the DataLoader workers of each local rank (``LOCAL_WORLD_SIZE``, set by torchrun)."""
    local_ranks = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // (max(1, workers) * max(1, local_ranks)))


def _gather(batch: Batch, runs: list[Run], loaded: dict[int, np.ndarray]) -> np.ndarray:
    """The batch's CSI [B, ...] in batch order from the loaded runs' CSI (one copy per run).

    ``np.take`` with ``out`` and the default ``mode="raise"`` copies through a temporary buffer (numpy
    documents it), which made this gather cost more than the Zarr reads; the indices lie inside their
    run by construction (:func:`wirelessdata.mix.order.source_runs`), so ``mode="clip"`` copies once.
    """
    first = loaded[int(batch.runs[0])]
    csi = np.empty((batch.indices.size, *first.shape[1:]), dtype=first.dtype)
    bounds = np.flatnonzero(np.diff(batch.runs)) + 1
    for a, b in zip(np.r_[0, bounds], np.r_[bounds, batch.indices.size], strict=True):
        r = int(batch.runs[a])
        np.take(loaded[r], batch.indices[a:b] - runs[r].start, axis=0, out=csi[a:b], mode="clip")
    return csi


def _csi_chunk(url: str) -> int:
    """Samples per CSI chunk of a shard: the run length that makes a run one contiguous read."""
    reader = ShardReader(url, ("csi",))
    return int(reader.arrays["csi"].chunks[0])


def _whole(url: str, name: str) -> np.ndarray:
    """A whole per-sample label array of a shard (small: one value per sample)."""
    reader = ShardReader(url, (name,))
    return reader.read_range(0, len(reader))[name]


def _shard_scale(url: str) -> float:
    """1 / sqrt(mean sample power) of a shard, from its ``path_gain_db`` labels."""
    gain = _whole(url, "path_gain_db").astype(np.float64)
    return float(1.0 / np.sqrt(np.mean(10 ** (gain / 10))))
