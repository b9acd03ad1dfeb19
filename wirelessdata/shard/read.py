"""Random-access reads of per-sample variables of a shard, for loaders and benchmarks.

Reads go straight to the Zarr arrays (no xarray, no Dask graph per batch). When the optional
``zarrs`` package is installed (extra ``fast``), the arrays are opened with its Rust codec pipeline,
which decodes the chunks of one request concurrently (about 4x faster for a random batch here;
see ``benchmarks/store_io.py`` and ``docs/store.md``).
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import zarr
from zarr.core.sync import sync

from wirelessdata.shard.chunks import ChunkFiles, chunk_error
from wirelessdata.shard.store import open_group
from wirelessdata.shard.url import shard_name

ZARRS_PIPELINE = "zarrs.ZarrsCodecPipeline"


def fast_pipeline_available() -> bool:
    """True when the ``zarrs`` codec pipeline can be used."""
    return importlib.util.find_spec("zarrs") is not None


class ShardReader:
    """Read samples of a shard by index.

    :param url: shard path or URL.
    :param variables: per-sample variables to read, e.g. ``("csi", "los")``.
    :param fast: use the ``zarrs`` pipeline when installed.
    """

    def __init__(self, url: str, variables: Sequence[str] = ("csi",), fast: bool = True) -> None:
        pipeline = ZARRS_PIPELINE if fast and fast_pipeline_available() else None
        with zarr.config.set({"codec_pipeline.path": pipeline} if pipeline else {}):
            group = open_group(url, mode="r")
            self.arrays = {name: group[name] for name in variables}
        self.pipeline = pipeline or "zarr-python"
        self.url = str(url)
        self.num_samples = int(group.attrs["num_samples"])

    def __len__(self) -> int:
        return self.num_samples

    def read(self, indices: Sequence[int] | np.ndarray) -> dict[str, np.ndarray]:
        """Samples ``indices`` (any order, repeats allowed) of every variable.

        :returns: per variable an array ``[len(indices), ...]`` in the order of ``indices``.
        """
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_samples):
            raise IndexError(f"sample index outside 0..{self.num_samples - 1}")
        unique, inverse = np.unique(idx, return_inverse=True)
        try:
            return {name: arr.get_orthogonal_selection((unique,))[inverse] for name, arr in self.arrays.items()}
        except Exception as exc:  # a chunk that does not decode: name it (or re-raise what is not a damaged chunk)
            raise self._damaged(np.unique(unique // self._chunk_samples()).tolist(), exc) from exc

    def read_range(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Samples ``[start, stop)`` of every variable: one contiguous read per variable."""
        return self.read_ranges([(start, stop)])[0]

    def read_ranges(self, ranges: Sequence[tuple[int, int]]) -> list[dict[str, np.ndarray]]:
        """Several ``[start, stop)`` ranges of every variable, read concurrently (one event-loop round trip)."""
        names = list(self.arrays)
        try:
            flat = sync(_get_all([(self.arrays[n].async_array, slice(a, b)) for a, b in ranges for n in names]))
        except Exception as exc:  # a chunk that does not decode: name it (or re-raise what is not a damaged chunk)
            size = self._chunk_samples()
            chunks = sorted({c for a, b in ranges for c in range(a // size, -(-b // size))})
            raise self._damaged(chunks, exc) from exc
        return [dict(zip(names, flat[i * len(names) : (i + 1) * len(names)], strict=True)) for i in range(len(ranges))]

    def _chunk_samples(self) -> int:
        """Samples per chunk along ``sample`` (the smallest over the variables read)."""
        return min(int(arr.chunks[0]) for arr in self.arrays.values())

    def _damaged(self, chunks: list[int], error: Exception) -> Exception:
        """The :class:`~wirelessdata.shard.chunks.ChunkError` of the first of ``chunks`` that fails when read alone,
        for each variable in turn; ``error`` itself when every chunk reads (the failure was not a damaged chunk)."""
        for name, arr in self.arrays.items():
            size = int(arr.chunks[0])
            for c in sorted({c * self._chunk_samples() // size for c in chunks}):
                try:
                    arr[c * size : (c + 1) * size]
                except Exception as one:
                    why = f"{type(one).__name__}: {one}".splitlines()[0]
                    return chunk_error(shard_name(self.url), name, c, size, self.num_samples, why)
        return error


async def _get_all(reads: list[tuple[Any, slice]]) -> list[np.ndarray]:
    return list(await asyncio.gather(*(arr.getitem(region) for arr, region in reads)))


def read_slices(requests: Sequence[tuple[zarr.Array, int, int]], shard: str) -> list[np.ndarray | BaseException]:
    """Rows ``[a, b)`` (first axis) of each ``(array, a, b)`` in ``requests``, or the exception reading them raised.

    Arrays whose chunk files hold raw samples (:meth:`ChunkFiles.of`) are read from those files
    (:meth:`ChunkFiles.read_range`: straight from the disk where it can); the others are read through Zarr, all
    requests in flight at once (one event-loop round trip). Whole-shard passes (statistics, validation) read each
    block this way (:func:`read_ahead`): Zarr's per-array work is most of the time of a small shard.

    :param shard: the shard's name, for the errors of damaged chunk files.
    """
    out: list[np.ndarray | BaseException | None] = [None] * len(requests)
    through_zarr = []
    for i, (array, a, b) in enumerate(requests):
        files = ChunkFiles.of(array, shard)
        if files is None:
            through_zarr.append(i)
            continue
        try:
            out[i] = files.read_range(a, b)
        except Exception as exc:  # a damaged chunk file: ChunkError, IndexError
            out[i] = exc
    if through_zarr:
        read = sync(_read_all([requests[i] for i in through_zarr]))
        for i, value in zip(through_zarr, read, strict=True):
            out[i] = value
    return out  # type: ignore[return-value]


def read_ahead(
    blocks: Iterable[Sequence[tuple[zarr.Array, int, int]]], shard: str
) -> Iterator[list[np.ndarray | BaseException]]:
    """:func:`read_slices` of each item of ``blocks``, in order, the next one read in a background thread while the
    caller works on the current one: a whole-shard pass (validation, statistics) then waits on the disk only where
    its checks are faster than the reads (direct reads and Zarr's I/O release the GIL). Two items are in memory
    at a time.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="wirelessdata-read") as pool:
        reading: Future | None = None
        for requests in blocks:
            upcoming = pool.submit(read_slices, requests, shard)
            if reading is not None:
                yield reading.result()
            reading = upcoming
        if reading is not None:
            yield reading.result()


def read_whole(arrays: Sequence[zarr.Array]) -> list[np.ndarray | BaseException]:
    """Every element of each of ``arrays`` through Zarr (a missing chunk reads as the fill value), or the exception
    reading it raised; all in one event-loop round trip (each round trip costs about 0.1 ms of thread hand-overs
    here, a small array read alone about 0.5 ms)."""
    return sync(_read_all([(array, 0, array.shape[0]) for array in arrays]))


async def _read_all(requests: Sequence[tuple[zarr.Array, int, int]]) -> list[np.ndarray | BaseException]:
    reads = [array.async_array.getitem(slice(a, b)) for array, a, b in requests]
    got = await asyncio.gather(*reads, return_exceptions=True)
    return [v if isinstance(v, BaseException) else np.asarray(v) for v in got]
