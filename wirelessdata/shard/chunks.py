"""Samples read straight from the chunk files of an uncompressed array, and the error for a damaged chunk.

CSI is stored without a compressor (``docs/store.md``): a chunk file of such an array holds the chunk's
samples as raw C-order bytes. Chunk files are memory-mapped read-only and kept mapped (least recently used
unmapped first), so samples ``[a, b)`` of one chunk are one copy from the page cache into the caller's buffer,
as a numpy memmap gather costs (measured here: ``os.preadv`` of the same bytes reaches about 0.5-0.7 of it,
``benchmarks/loader.py``). A mapped file must not be truncated while mapped (the process would get SIGBUS).
:meth:`ChunkFiles.of` says whether an array qualifies (a local store, Zarr v3, the ``bytes`` codec alone in the
machine's byte order, chunked along the first axis only); other arrays (compressed, sharded, remote) are read
through Zarr by the caller.
"""

from __future__ import annotations

import mmap
import os
import sys
from collections import OrderedDict
from typing import Any

import numpy as np
import zarr
from zarr.codecs import BytesCodec
from zarr.core.chunk_grids import RegularChunkGrid
from zarr.storage import LocalStore

from wirelessdata.errors import StoreError

MAPPED_BYTES = 1 << 30
"""Bytes of chunk files a :class:`ChunkFiles` keeps mapped (least recently used unmapped first)."""


class ChunkError(StoreError):
    """A chunk of a shard cannot be read or decoded: one line naming the shard, the chunk and its samples.

    A DataLoader worker's exception is re-raised in the main process as ``type(exc)(text)`` with the worker's
    traceback in ``text``; the message kept is then the original one (the traceback's last line) and the full
    text is in :attr:`worker_traceback`, so that the error stays one line whichever process met it.
    """

    def __init__(self, message: str) -> None:
        lines = message.strip().splitlines()
        self.worker_traceback = message if len(lines) > 1 else ""
        super().__init__(lines[-1].split(f"{ChunkError.__name__}: ", 1)[-1] if lines else message)


def chunk_error(shard: str, array: str, chunk: int, chunk_samples: int, num_samples: int, why: str) -> ChunkError:
    """The :class:`ChunkError` of chunk ``chunk`` (``chunk_samples`` samples along ``sample``) of ``array``."""
    first = chunk * chunk_samples
    last = min(first + chunk_samples, num_samples) - 1
    return ChunkError(
        f"{shard}: chunk {chunk} of '{array}' (samples {first}..{last}) cannot be read: {why}; "
        "restore or regenerate the shard (`wirelessdata validate` checks it)"
    )


class ChunkFiles:
    """Samples of an uncompressed, first-axis-chunked Zarr v3 array on a local store, read from its chunk files.

    Build with :meth:`of`. Keeps up to :data:`MAPPED_BYTES` of chunk files mapped, across calls (a DataLoader
    worker inherits the mappings of a forked parent; a pickled copy starts with none); :meth:`close` drops them.

    :param shard: the shard's name, for error messages.
    """

    def __init__(self, array: zarr.Array, shard: str) -> None:
        self.shard, self.name = shard, array.basename
        self.directory = os.path.join(str(array.store_path.store.root), array.path)
        self.encode = array.metadata.encode_chunk_key
        self.ndim, self.num_samples, self.chunk = array.ndim, int(array.shape[0]), int(array.chunks[0])
        self.sample_shape, self.dtype = tuple(array.shape[1:]), array.dtype
        self.sample_bytes = int(np.prod(self.sample_shape, dtype=np.int64)) * self.dtype.itemsize
        self.chunk_bytes = self.chunk * self.sample_bytes
        self._mapped: OrderedDict[int, np.ndarray] = OrderedDict()

    @classmethod
    def of(cls, array: zarr.Array, shard: str) -> ChunkFiles | None:
        """A reader of ``array``'s chunk files, or None when its chunk files are not its raw samples."""
        meta = array.metadata
        codecs = getattr(meta, "codecs", ())
        raw = (
            isinstance(array.store_path.store, LocalStore)
            and len(codecs) == 1
            and isinstance(codecs[0], BytesCodec)
            and (codecs[0].endian is None or codecs[0].endian.value == sys.byteorder)
            and isinstance(meta.chunk_grid, RegularChunkGrid)
            and tuple(array.chunks[1:]) == tuple(array.shape[1:])
            and array.dtype.isnative
        )
        return cls(array, shard) if raw else None

    def read_into(self, indices: np.ndarray, out: np.ndarray) -> None:
        """Samples ``indices`` into ``out`` [len(indices), ...] (C-contiguous, the array's dtype and sample shape).

        Consecutive indices of one chunk are copied at once. A missing or short chunk file raises
        :class:`ChunkError`.
        """
        idx = np.asarray(indices, dtype=np.int64)
        if not idx.size:
            return
        if idx.min() < 0 or idx.max() >= self.num_samples:
            raise IndexError(f"{self.shard}: sample index outside 0..{self.num_samples - 1}")
        chunks = idx // self.chunk
        cuts = np.flatnonzero((np.diff(chunks) != 0) | (np.diff(idx) != 1)) + 1
        rows = out.reshape(idx.size, -1).view(np.uint8)
        for a, b in zip(np.r_[0, cuts].tolist(), np.r_[cuts, idx.size].tolist(), strict=True):
            c = int(chunks[a])
            first = int(idx[a]) - c * self.chunk
            rows[a:b] = self._map(c)[first : first + b - a]

    def close(self) -> None:
        """Unmap the chunk files (each mapping goes once no copy of it is referenced)."""
        self._mapped.clear()

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__ | {"_mapped": OrderedDict()}

    def _map(self, chunk: int) -> np.ndarray:
        """uint8 [chunk samples, sample bytes]: ``chunk``'s file mapped, its size checked when it is mapped."""
        if chunk in self._mapped:
            self._mapped.move_to_end(chunk)
            return self._mapped[chunk]
        path = os.path.join(self.directory, self.encode((chunk,) + (0,) * (self.ndim - 1)))
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise self._error(chunk, f"{path}: {exc.strerror}") from exc
        try:
            size = os.fstat(fd).st_size
            if size != self.chunk_bytes:
                raise self._error(chunk, f"{path} holds {size} bytes, not {self.chunk_bytes}")
            view = np.frombuffer(mmap.mmap(fd, size, prot=mmap.PROT_READ), np.uint8).reshape(self.chunk, -1)
        finally:
            os.close(fd)
        self._mapped[chunk] = view
        while len(self._mapped) * self.chunk_bytes > MAPPED_BYTES and len(self._mapped) > 1:
            self._mapped.popitem(last=False)
        return view

    def _error(self, chunk: int, why: str) -> ChunkError:
        return chunk_error(self.shard, self.name, chunk, self.chunk, self.num_samples, why)
