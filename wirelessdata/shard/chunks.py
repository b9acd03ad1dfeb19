"""Samples read from and written to the chunk files of an uncompressed array, and the error for a damaged chunk.

CSI is stored without a compressor (``docs/store.md``): a chunk file of such an array holds the chunk's samples as
raw C-order bytes. Chunk files are memory-mapped read-only and kept mapped (least recently used unmapped first,
:data:`MAPPED_FILES` in the process), so samples ``[a, b)`` of one chunk are one copy from the page cache into the
caller's buffer, as a numpy memmap gather costs (measured here: ``os.preadv`` of the same bytes reaches about
0.5-0.7 of it, ``benchmarks/loader.py``). A mapped file must not be truncated while mapped (the process would get
SIGBUS). :meth:`ChunkFiles.of` says whether an array qualifies (a local store, Zarr v3, the ``bytes`` codec alone in
the machine's byte order, chunked along the first axis only); other arrays (compressed, sharded, remote) are read
through Zarr by the caller.

Writes of whole chunks take the same way back (:meth:`ChunkFiles.write`, then :func:`publish`): the samples'
bytes go to a temporary file beside each chunk file, which is fsynced and renamed over it, as Zarr's local store
does, without Zarr's codec pipeline and its copies (about 3x less time for a block of CSI). The bytes are those
Zarr writes, an edge chunk padded with the fill value (tests/shard/test_chunks.py compares them). Chunk files of
a multiple of :data:`DIRECT_ALIGN` bytes are written with ``O_DIRECT`` (:func:`direct_write`), and whole-shard passes
read them back the same way (:meth:`ChunkFiles.read_range`): neither fills the page cache, whose new pages cost
this project's virtual machine about 3 ms of CPU per MB (``docs/store.md``). A filesystem without ``O_DIRECT``
gets the same bytes through the page cache.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import mmap
import os
import secrets
import sys
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import zarr
from zarr.codecs import BytesCodec
from zarr.core.chunk_grids import RegularChunkGrid
from zarr.storage import LocalStore

from wirelessdata.errors import StoreError

MAPPED_FILES = 8192
"""Chunk files this process keeps mapped, over all :class:`ChunkFiles` (least recently used unmapped first). Each
mapping is one of the process's memory maps (Linux allows 65,530 by default: a limit per reader let a mixture of a
few hundred shards run out of them), and a mapped file's pages are page cache, which the kernel reclaims as it
needs: the limit is not in bytes (one of 1 GiB per reader made a corpus larger than that map its files again every
epoch, 0.6x the rate of one that fits)."""

PARALLEL_BYTES = 4 << 20
"""A parallel :meth:`ChunkFiles.read_into` gives each thread at least this many bytes (less is not worth a
hand-over)."""

DIRECT_ALIGN = 4096
"""Bytes that the length, file offset and memory address of an ``O_DIRECT`` transfer are multiples of (the page
size, which covers the logical block size of common disks)."""

DIRECT_BUFFER = 4 << 20
"""Bytes of each thread's aligned buffer for direct writes (a multiple of :data:`DIRECT_ALIGN`)."""

_POOLS: dict[tuple[int, int], ThreadPoolExecutor] = {}
_MAPPINGS: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()  # (reader token, chunk) -> its mapped file
_MAPPINGS_LOCK = threading.Lock()
_TOKENS = itertools.count()


def _after_fork() -> None:
    global _MAPPINGS_LOCK
    _MAPPINGS_LOCK = threading.Lock()  # a forked child (a DataLoader worker) never waits on a parent thread's lock


os.register_at_fork(after_in_child=_after_fork)
_THREAD = threading.local()


def _copy_pool(threads: int) -> ThreadPoolExecutor:
    """This process's pool of ``threads`` copy threads (a forked child, e.g. a DataLoader worker, makes its own)."""
    key = (os.getpid(), threads)
    if key not in _POOLS:
        _POOLS[key] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="wirelessdata-copy")
    return _POOLS[key]


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

    Build with :meth:`of`. Keeps the chunk files it reads mapped, across calls, up to :data:`MAPPED_FILES` in the
    process (a DataLoader worker inherits the mappings of a forked parent; a pickled copy starts with none);
    :meth:`close`, or the reader's end, drops them.

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
        self.fill_value = array.metadata.fill_value
        self._start_mapping()

    def _start_mapping(self) -> None:
        """A token of its own in the process's mappings, dropped with the reader."""
        self._token, self._chunks = next(_TOKENS), set()
        weakref.finalize(self, _unmap, self._token, self._chunks)

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

    def read_into(self, indices: np.ndarray, out: np.ndarray, threads: int = 1) -> None:
        """Samples ``indices`` into ``out`` [len(indices), ...] (C-contiguous, the array's dtype and sample shape).

        Consecutive indices of one chunk are copied at once. A missing or short chunk file raises
        :class:`ChunkError`.

        :param threads: copy with this many threads (numpy's copies release the GIL; one copy thread leaves
            part of the memory bandwidth unused), each taking a contiguous share of ``out``.
        """
        idx = np.asarray(indices, dtype=np.int64)
        if not idx.size:
            return
        if idx.min() < 0 or idx.max() >= self.num_samples:
            raise IndexError(f"{self.shard}: sample index outside 0..{self.num_samples - 1}")
        chunks = idx // self.chunk
        cuts = np.flatnonzero((np.diff(chunks) != 0) | (np.diff(idx) != 1)) + 1
        rows = out.reshape(idx.size, -1).view(np.uint8)
        pieces = [
            (a, b, self._map(int(chunks[a])), int(idx[a]) - int(chunks[a]) * self.chunk)  # mapped here, in order
            for a, b in zip(np.r_[0, cuts].tolist(), np.r_[cuts, idx.size].tolist(), strict=True)
        ]

        def copy(share: list[tuple[int, int, np.ndarray, int]]) -> None:
            for a, b, mapped, first in share:
                rows[a:b] = mapped[first : first + b - a]

        threads = min(threads, len(pieces), max(1, rows.nbytes // PARALLEL_BYTES))
        if threads <= 1:
            copy(pieces)
            return
        shares = [pieces[i::threads] for i in range(threads)]
        futures = [_copy_pool(threads - 1).submit(copy, share) for share in shares[1:]]
        copy(shares[0])
        for future in futures:
            future.result()

    def read_range(self, start: int, stop: int) -> np.ndarray:
        """Samples ``[start, stop)`` in a new array, read once from their chunk files (not mapped): with
        ``O_DIRECT`` where the sample size is a multiple of :data:`DIRECT_ALIGN` and the filesystem takes it, so
        that a whole-shard pass (validation, statistics) neither fills the page cache nor pays for its pages
        (:func:`direct_write`); otherwise through the page cache. A missing or short chunk file raises
        :class:`ChunkError`.
        """
        if not 0 <= start <= stop <= self.num_samples:
            raise IndexError(f"{self.shard}: samples {start}..{stop - 1} outside 0..{self.num_samples - 1}")
        out = _aligned_empty((stop - start, *self.sample_shape), self.dtype)
        direct = getattr(os, "O_DIRECT", 0) if self.sample_bytes % DIRECT_ALIGN == 0 else 0
        if stop > start and not (direct and self._read_files(start, out, direct)):
            self._read_files(start, out, 0)
        return out

    def _read_files(self, start: int, out: np.ndarray, flags: int) -> bool:
        """Fill ``out`` with the samples from ``start`` on, by ``pread`` of their chunk files opened with ``flags``
        (``O_DIRECT`` needs ``out`` aligned); False when the filesystem refuses ``flags`` (EINVAL: nothing to trust
        in ``out`` then)."""
        rows = out.reshape(out.shape[0], -1).view(np.uint8)
        stop = start + rows.shape[0]
        for chunk in range(start // self.chunk, -(-stop // self.chunk)):
            a, b = max(start, chunk * self.chunk), min(stop, (chunk + 1) * self.chunk)
            try:
                fd, path = self._open(chunk, flags)
            except OSError:  # EINVAL of flags, raised as it is by _open
                return False
            try:
                part = rows[a - start : b - start].reshape(-1)
                offset = (a - chunk * self.chunk) * self.sample_bytes
                done = 0
                while done < part.size:
                    n = os.preadv(fd, [part[done:]], offset + done)
                    if n == 0:
                        raise self._error(chunk, f"{path} ended at byte {offset + done}")
                    done += n
            except OSError as exc:
                if flags and exc.errno == errno.EINVAL:
                    return False
                raise self._error(chunk, f"{path}: {exc.strerror}") from exc
            finally:
                os.close(fd)
        return True

    def write(self, start: int, values: np.ndarray) -> list[tuple[str, str]]:
        """Samples ``[start, start + len(values))`` written as whole chunk files, each to a temporary file beside
        its chunk file: :func:`publish` makes them durable and puts them in place (a block's files at once, so
        that the disk sees one batch of writes instead of one flush per file).

        :param start: first sample; a multiple of the chunk length.
        :param values: [n, ...] the array's sample shape; ``start + n`` is a multiple of the chunk length or the
            array's end (the edge chunk is padded with the fill value, as Zarr stores it).
        :returns: ``(temporary file, chunk file)`` pairs for :func:`publish`.
        :raises ValueError: the range does not cover whole chunks.
        """
        stop = start + len(values)
        if start % self.chunk or stop > self.num_samples or (stop % self.chunk and stop != self.num_samples):
            raise ValueError(f"{self.shard}: samples {start}..{stop - 1} of '{self.name}' are not whole chunks")
        values = np.ascontiguousarray(values, dtype=self.dtype)
        staged = []
        try:
            for first in range(start, stop, self.chunk):
                part = values[first - start : first - start + self.chunk]
                if len(part) < self.chunk:
                    padded = np.full((self.chunk, *self.sample_shape), self.fill_value, dtype=self.dtype)
                    padded[: len(part)] = part
                    part = padded
                path = os.path.join(self.directory, self.encode((first // self.chunk,) + (0,) * (self.ndim - 1)))
                staged.append((write_partial(path, memoryview(part).cast("B"), direct=True), path))
        except BaseException:
            discard(staged)
            raise
        return staged

    def close(self) -> None:
        """Unmap the chunk files (each mapping goes once no copy of it is referenced)."""
        _unmap(self._token, self._chunks)

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("_token", "_chunks")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._start_mapping()

    def _map(self, chunk: int) -> np.ndarray:
        """uint8 [chunk samples, sample bytes]: ``chunk``'s file mapped, its size checked when it is mapped."""
        key = (self._token, chunk)
        with _MAPPINGS_LOCK:
            if key in _MAPPINGS:
                _MAPPINGS.move_to_end(key)
                return _MAPPINGS[key]
        fd, _ = self._open(chunk)
        try:
            view = np.frombuffer(mmap.mmap(fd, self.chunk_bytes, prot=mmap.PROT_READ), np.uint8)
        finally:
            os.close(fd)
        view = view.reshape(self.chunk, -1)
        with _MAPPINGS_LOCK:
            _MAPPINGS[key] = view
            self._chunks.add(chunk)
            while len(_MAPPINGS) > MAPPED_FILES:
                _MAPPINGS.popitem(last=False)  # its reader's _chunks may still name it: _unmap skips it then
        return view

    def _open(self, chunk: int, flags: int = 0) -> tuple[int, str]:
        """``(descriptor, path)`` of ``chunk``'s file opened read-only with ``flags`` added, its size checked: a
        missing or short file raises :class:`ChunkError`; a filesystem refusing ``flags`` (EINVAL) its OSError."""
        path = os.path.join(self.directory, self.encode((chunk,) + (0,) * (self.ndim - 1)))
        try:
            fd = os.open(path, os.O_RDONLY | flags)
        except OSError as exc:
            if flags and exc.errno == errno.EINVAL:
                raise
            raise self._error(chunk, f"{path}: {exc.strerror}") from exc
        size = os.fstat(fd).st_size
        if size != self.chunk_bytes:
            os.close(fd)
            raise self._error(chunk, f"{path} holds {size} bytes, not {self.chunk_bytes}")
        return fd, path

    def _error(self, chunk: int, why: str) -> ChunkError:
        return chunk_error(self.shard, self.name, chunk, self.chunk, self.num_samples, why)


def _unmap(token: int, chunks: set[int]) -> None:
    """Drop the mappings of the reader with ``token`` (its ``chunks``) from the process's mappings."""
    with _MAPPINGS_LOCK:
        for chunk in chunks:
            _MAPPINGS.pop((token, chunk), None)
        chunks.clear()


def write_partial(path: str, data: memoryview, direct: bool = False) -> str:
    """``data`` in a new temporary file beside ``path`` (its folders made); returns the temporary file's path.

    :param direct: write with ``O_DIRECT`` where the filesystem takes it and ``len(data)`` is a multiple of
        :data:`DIRECT_ALIGN` (:func:`direct_write`); otherwise, or when it refuses, through the page cache.
    """
    partial = f"{path}.{secrets.token_hex(16)}.partial"
    try:
        if not (direct and direct_write(partial, data)):
            fd = _create(partial)
            try:
                written = 0
                while written < len(data):
                    written += os.write(fd, data[written:])
            finally:
                os.close(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise
    return partial


def direct_write(path: str, data: memoryview) -> bool:
    """Write ``data`` into a new file ``path`` with ``O_DIRECT``: from an aligned buffer of this thread straight to
    the disk, without the page cache. Returns False (nothing written, the file may exist empty) where that is not
    possible: no ``O_DIRECT`` on this system or filesystem, or a length that is not a multiple of
    :data:`DIRECT_ALIGN`.

    Through the page cache, every page of a new file is a page the kernel must find and fill first: on this
    project's virtual machine that cost about 3 ms of CPU per MB written (the host backs each page on first use),
    as much as the rest of a shard write together; a direct write costs the copy into the buffer.
    """
    flag = getattr(os, "O_DIRECT", 0)
    if not flag or len(data) % DIRECT_ALIGN or not len(data):
        return False
    try:
        fd = _create(path, flag)
    except OSError as exc:
        if exc.errno == errno.EINVAL:  # a filesystem without O_DIRECT
            return False
        raise
    try:
        buffer = _aligned_buffer()
        source, staging = np.frombuffer(data, np.uint8), np.frombuffer(buffer, np.uint8)
        written = 0
        while written < len(data):
            n = min(len(buffer), len(data) - written)
            staging[:n] = source[written : written + n]  # numpy's copy releases the GIL (a memoryview's holds it)
            done = 0
            while done < n:
                done += os.write(fd, buffer[done:n])
            written += n
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        return False  # an alignment this filesystem refuses: the caller writes it through the page cache
    finally:
        os.close(fd)
    return True


def _aligned_buffer() -> memoryview:
    """This thread's buffer for :func:`direct_write`: :data:`DIRECT_BUFFER` bytes, page-aligned (an anonymous
    mapping), made once per thread so that its pages are faulted in once."""
    buffer = getattr(_THREAD, "buffer", None)
    if buffer is None or getattr(_THREAD, "pid", None) != os.getpid():
        _THREAD.buffer = buffer = memoryview(mmap.mmap(-1, DIRECT_BUFFER))
        _THREAD.pid = os.getpid()
    return buffer


def _aligned_empty(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts at a multiple of :data:`DIRECT_ALIGN` bytes."""
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + DIRECT_ALIGN, np.uint8)
    skip = -raw.ctypes.data % DIRECT_ALIGN
    return raw[skip : skip + nbytes].view(dtype).reshape(shape)


def _create(path: str, flags: int = 0) -> int:
    """A new file at ``path`` opened for writing with ``flags`` added; its folder is made when missing (on the
    first file written into it, rather than stat'ed for every file)."""
    mode = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | flags
    try:
        return os.open(path, mode, 0o666)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return os.open(path, mode, 0o666)


def publish(staged: list[tuple[str, str]], also: Sequence[str] = ()) -> None:
    """Make the temporary files of :meth:`ChunkFiles.write` durable (fsynced, concurrently) and rename each over
    its chunk file; on an error every temporary file left is removed.

    :param also: other files to fsync in the same batch (one flush of the disk instead of two).
    """
    try:
        fsync_all([partial for partial, _ in staged] + list(also))
        for i, (partial, path) in enumerate(staged):
            os.replace(partial, path)
            staged[i] = ("", path)
    except BaseException:
        discard(staged)
        raise


def discard(staged: list[tuple[str, str]]) -> None:
    """Remove the temporary files of :meth:`ChunkFiles.write` not yet published."""
    for partial, _ in staged:
        if partial:
            with contextlib.suppress(OSError):
                os.unlink(partial)


def fsync_all(paths: list[str]) -> None:
    """Flush the files at ``paths`` to their disk, concurrently (the disk sees one batch instead of a flush per
    file)."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(_fsync, paths))


def _fsync(path: str) -> None:
    """Flush the file at ``path`` to its disk (``fsync``)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
