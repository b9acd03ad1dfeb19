"""Dataset shards on Zarr v3: create from the schema, write blocks into their own regions, resume, commit.

A shard is one Zarr v3 group. Every array is pre-created from the schema at :func:`create_shard`; a
block (a fixed range of samples) writes only its own region, and every array's chunking along
``sample`` divides the block size, so two blocks never touch one chunk (concurrent writers are safe).
A block is marked done by writing its checksum into ``block_checksum[block]`` (one chunk per block),
after its data is written and, on a local filesystem, fsynced. A shard is ``complete`` only after
:meth:`Shard.commit` has checked every block and recorded the shard checksum and statistics.

Ragged variables (LiDAR points) get a fixed capacity per sample (``layout.ragged``): sample ``i``
owns rows ``[i * cap, (i + 1) * cap)`` of the ragged dimension, ``*_start`` and ``*_count`` say which
rows hold points. Regions stay known before the data exist, so blocks stay independent.

Any Zarr store URL works: a local path, ``memory://name`` (tests), or an fsspec URL.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import errno
import hashlib
import os
import tempfile
import warnings
import zlib
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import zarr
import zarr.codecs
from zarr.core.sync import sync
from zarr.storage import LocalStore

from wirelessdata import __version__
from wirelessdata.errors import StoreError
from wirelessdata.shard.chunks import ChunkFiles, discard, fsync_all, publish
from wirelessdata.shard.draft import new_group
from wirelessdata.shard.layout import RaggedSpec, ShardLayout
from wirelessdata.shard.schema import Schema, load_schema
from wirelessdata.shard.url import filesystem, is_remote, is_url, remote_error, store_failed

STATUS_CREATING = "creating"
STATUS_INCOMPLETE = "incomplete"
STATUS_COMPLETE = "complete"


def storage_error(url: str, action: str, exc: OSError) -> StoreError:
    """One line for an ``OSError`` met while writing ``url``: what failed, why, and the fix.

    Disk full (``ENOSPC``, ``EDQUOT``) and permission denied (``EACCES``, ``EPERM``, ``EROFS``) name their
    fix; finished blocks are never touched by a failed write, so the fix is followed by a rerun that resumes.

    :param action: what was being done, e.g. ``"write block 3"``.
    """
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = "free space there or choose another --out"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = "make it writable or choose another --out"
    else:
        fix = "check the storage or choose another --out"
    return StoreError(
        f"{url}: cannot {action} ({exc.strerror or exc}); {fix}, then rerun the same command to resume "
        "(finished blocks are kept)"
    )


def check_writable(root: str) -> None:
    """Check that shards can be written under ``root`` before any block is generated: a local folder is created and
    a scratch file written into it; in an object store a scratch object is put and deleted (which also checks the
    credentials, the bucket and the server). A one-line :class:`StoreError` naming ``root`` and the fix otherwise."""
    if is_remote(root):
        fs, path = filesystem(root)
        probe = f"{path.rstrip('/')}/.wirelessdata-probe-{os.getpid()}-{os.urandom(4).hex()}"
        try:
            fs.pipe_file(probe, b"")
            fs.rm_file(probe)
        except Exception as exc:  # the backend's own errors (credentials, bucket, server)
            raise remote_error(root, "write into it", exc) from exc
        return
    if is_url(root):
        return
    try:
        os.makedirs(root, exist_ok=True)
        with tempfile.TemporaryFile(dir=root):
            pass
    except OSError as exc:
        raise storage_error(root, "write into it", exc) from exc


def _is_local(store: Any) -> bool:
    return isinstance(store, LocalStore)


def block_checksum(data: Mapping[str, np.ndarray]) -> int:
    """Checksum of one block's arrays, never 0.

    CRC-32 of each array's bytes (about 3 GB/s; corruption detection, not security), combined with
    the names, shapes and dtypes by blake2b-64, in name order.
    """
    h = hashlib.blake2b(digest_size=8)
    for name in sorted(data):
        arr = np.ascontiguousarray(data[name])
        crc = zlib.crc32(memoryview(arr).cast("B"))
        h.update(f"{name}|{arr.shape}|{arr.dtype.str}|{crc};".encode())
    return int.from_bytes(h.digest(), "little") | 1


def checksummed(data: Mapping[str, np.ndarray], schema: Schema) -> dict[str, np.ndarray]:
    """The arrays a block checksum covers: all but the schema's mutable ones (curation flags)."""
    return {k: v for k, v in data.items() if not (k in schema.variables and schema.variables[k].mutable)}


def shard_checksum(block_checksums: np.ndarray) -> str:
    """Shard checksum: sha256 of the block checksums (uint64, little-endian, in block order)."""
    return hashlib.sha256(np.asarray(block_checksums, dtype="<u8").tobytes()).hexdigest()


def open_group(url: str, mode: str = "r") -> zarr.Group:
    """Open the Zarr group at ``url``; a one-line :class:`StoreError` when it is missing or not a group."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return zarr.open_group(url, mode=mode)
    except FileNotFoundError as exc:
        raise StoreError(f"{url}: no shard there (path does not exist)") from exc
    except Exception as exc:  # zarr raises several types for "not a group"
        if is_remote(url) and store_failed(exc):
            raise remote_error(url, "open the shard", exc) from exc
        raise StoreError(f"{url}: not a Zarr v3 shard ({type(exc).__name__}: {exc})") from exc


def consolidate(group: zarr.Group) -> zarr.Group:
    """Rewrite the group's consolidated metadata (after arrays or their attributes changed).

    :returns: the group opened anew, its consolidated metadata loaded (a later change of the group's own attributes
        through it keeps the consolidated metadata in the group's document).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return zarr.consolidate_metadata(group.store, path=group.path or None)


class Shard:
    """An open dataset shard for writing: block regions, done markers, commit.

    Create or resume with :func:`create_shard`; read with ``xarray.open_zarr`` or :mod:`wirelessdata.shard.read`.
    """

    def __init__(self, group: zarr.Group, schema: Schema | None = None) -> None:
        self.group = group
        self.schema = schema or load_schema()
        attrs = group.attrs.asdict()
        self.num_samples = int(attrs["num_samples"])
        self.block_size = int(attrs["block_size"])
        self.ragged = tuple(RaggedSpec(**r) for r in attrs.get("ragged", []))

    @property
    def url(self) -> str:
        """Where the shard lives."""
        store = self.group.store
        root = store.root if _is_local(store) else str(store)
        return f"{root}/{self.group.path}".rstrip("/")

    @property
    def num_blocks(self) -> int:
        """Number of blocks."""
        return -(-self.num_samples // self.block_size)

    @property
    def status(self) -> str:
        """``incomplete`` or ``complete``."""
        return str(self.group.attrs["status"])

    def block_range(self, block: int) -> tuple[int, int]:
        """Sample range ``[start, stop)`` of ``block``."""
        start = block * self.block_size
        return start, min(start + self.block_size, self.num_samples)

    def block_checksums(self) -> np.ndarray:
        """uint64 [num_blocks]: each block's checksum, 0 for blocks not written yet."""
        return np.asarray(self.group["block_checksum"][:])

    def pending_blocks(self) -> list[int]:
        """Blocks not yet marked done, in order: what a rerun still has to write."""
        return [int(b) for b in np.flatnonzero(self.block_checksums() == 0)]

    def write_block(self, block: int, data: Mapping[str, np.ndarray]) -> int:
        """Write one block's per-sample arrays into their regions, then mark the block done.

        :param block: block index.
        :param data: every per-sample variable of the shard, first axis = the block's samples
            ``n = stop - start``; for a ragged variable, its rows concatenated over the block's samples
            in sample order, with ``<prefix>_count`` [n] saying how many rows each sample has
            (``<prefix>_start`` is computed here).
        :returns: the block checksum recorded in ``block_checksum``.
        """
        if not 0 <= block < self.num_blocks:
            raise StoreError(f"{self.url}: block {block} outside 0..{self.num_blocks - 1}")
        start, stop = self.block_range(block)
        data = self._place_ragged(start, stop, dict(data))
        # arrays opened so that every chunk is written, also one equal to the fill value:
        # a missing chunk file then always means damage
        with zarr.config.set({"array.write_empty_chunks": True}):
            arrays = {
                name: arr for name, arr in self.group.arrays() if arr.metadata.dimension_names[0] in self._sample_dims()
            }
        missing = sorted(set(arrays) - set(data))
        extra = sorted(set(data) - set(arrays))
        if missing or extra:
            raise StoreError(
                f"{self.url}: block {block} data does not match the shard (missing {missing}, unknown {extra})"
            )
        regions: dict[str, slice] = {}
        for name, arr in arrays.items():
            value = np.asarray(data[name])
            region = self._region(arr, start, stop)
            want = (region.stop - region.start, *arr.shape[1:])
            if value.shape != want:
                raise StoreError(f"{self.url}: block {block} variable '{name}' has shape {value.shape}, want {want}")
            data[name] = value.astype(arr.dtype, casting="same_kind", copy=False)
            regions[name] = region
        # uncompressed arrays of a local store: their chunk files written straight (fsynced); the rest through Zarr
        direct = {n: files for n, arr in arrays.items() if (files := ChunkFiles.of(arr, self.url)) is not None}
        through_zarr = {n: arr for n, arr in arrays.items() if n not in direct}
        staged: list[tuple[str, str]] = []
        try:
            with ThreadPoolExecutor(max_workers=1) as pool:  # the checksum (GIL released) overlaps the writes
                pending = pool.submit(block_checksum, checksummed(data, self.schema))
                for name, files in direct.items():
                    staged += files.write(regions[name].start, data[name])
                # the other variables concurrently (one event-loop round trip, I/O overlapped)
                sync(_write_all([(arr.async_array, regions[n], data[n]) for n, arr in through_zarr.items()]))
                checksum = pending.result()
            publish(staged, also=self._chunk_paths(through_zarr, regions))
            marker = self.group["block_checksum"]
            files = ChunkFiles.of(marker, self.url)
            if files is None:
                marker[block] = np.uint64(checksum)
                fsync_all(self._chunk_paths({"block_checksum": marker}, {"block_checksum": slice(block, block + 1)}))
            else:
                publish(files.write(block, np.array([checksum], dtype=np.uint64)))
        except BaseException as exc:
            discard(staged)
            if isinstance(exc, OSError):  # disk full, permission denied: the done marker is written last, a rerun
                raise storage_error(self.url, f"write block {block}", exc) from exc  # redoes the block
            raise
        return checksum

    def commit(self, stats: Mapping[str, Any] | None = None) -> str:
        """Mark the shard complete once every block is done; record its checksum and ``stats``.

        :returns: the shard checksum.
        """
        stored = self.block_checksums()
        pending = np.flatnonzero(stored == 0)
        if pending.size:
            raise StoreError(
                f"{self.url}: cannot commit, {pending.size} of {self.num_blocks} blocks unwritten "
                f"(first: {pending[0]}); rerun the same command to finish them"
            )
        checksum = shard_checksum(stored)
        try:
            # a group opened with its consolidated metadata writes it back with the new attributes, unchanged
            # (no array changed since it was made); only a group without it consolidates here
            self.group.update_attributes(  # one write of the group document (attrs.update writes one per key)
                {"status": STATUS_COMPLETE, "checksum": checksum, "stats": dict(stats or {}), "committed": _now()}
            )
            if self.group.metadata.consolidated_metadata is None:
                consolidate(self.group)
        except OSError as exc:
            raise storage_error(self.url, "commit the shard", exc) from exc
        return checksum

    # internals ---------------------------------------------------------------------------------
    def _sample_dims(self) -> set[str]:
        return {"sample", *(r.dim for r in self.ragged)}

    def _region(self, arr: zarr.Array, start: int, stop: int) -> slice:
        dim = arr.metadata.dimension_names[0]
        if dim == "sample":
            return slice(start, stop)
        cap = next(r.capacity_per_sample for r in self.ragged if r.dim == dim)
        return slice(start * cap, stop * cap)

    def _place_ragged(self, start: int, stop: int, data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = stop - start
        for r in self.ragged:
            counts = np.asarray(data.get(f"{r.prefix}_count", []), dtype=np.int64)
            if counts.shape != (n,):
                raise StoreError(f"{self.url}: '{r.prefix}_count' must have shape ({n},), got {counts.shape}")
            if (counts < 0).any() or (counts > r.capacity_per_sample).any():
                raise StoreError(
                    f"{self.url}: '{r.prefix}_count' must lie in 0..{r.capacity_per_sample} "
                    f"(raise the per-sample capacity of '{r.dim}')"
                )
            for name, spec in self.schema.variables.items():
                if spec.dims and spec.dims[0] == r.dim and name in data:
                    rows = np.asarray(data[name])
                    if rows.shape[0] != counts.sum():
                        raise StoreError(
                            f"{self.url}: '{name}' has {rows.shape[0]} rows, '{r.prefix}_count' sums to {counts.sum()}"
                        )
                    spec_fill = spec.default_fill()
                    padded = np.full((n * r.capacity_per_sample, *rows.shape[1:]), spec_fill, dtype=spec.dtype)
                    offsets = np.concatenate([[0], np.cumsum(counts)])
                    for i in range(n):
                        dst = i * r.capacity_per_sample
                        padded[dst : dst + counts[i]] = rows[offsets[i] : offsets[i + 1]]
                    data[name] = padded
            data[f"{r.prefix}_start"] = (start + np.arange(n, dtype=np.int64)) * r.capacity_per_sample
        return data

    def _chunk_paths(self, arrays: Mapping[str, zarr.Array], regions: Mapping[str, slice]) -> list[str]:
        """The chunk files a write of ``regions`` touched, to fsync (local stores; other stores own their
        durability: none)."""
        store = self.group.store
        if not _is_local(store):
            return []
        paths = []
        for name, arr in arrays.items():
            region = regions[name]
            step = arr.chunks[0]
            for c in range(region.start // step, -(-region.stop // step)):
                key = arr.metadata.encode_chunk_key((c,) + (0,) * (arr.ndim - 1))
                paths.append(os.path.join(str(store.root), arr.path, key))
        return paths


async def _write_all(writes: list[tuple[Any, slice, np.ndarray]]) -> None:
    await asyncio.gather(*(arr.setitem(region, value) for arr, region, value in writes))


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _existing_shard(url: str, layout: ShardLayout, overwrite: bool) -> Shard | None:
    """The shard already at ``url`` if it can be resumed; None when there is nothing (usable) there."""
    try:
        group = open_group(url, mode="r+")
    except StoreError:
        if not is_url(url) and os.path.exists(url) and (not os.path.isdir(url) or os.listdir(url)):
            raise StoreError(
                f"{url}: exists and is not a wirelessdata shard; choose another --out or remove it"
            ) from None
        return None
    attrs = group.attrs.asdict()
    if "schema" not in attrs:
        raise StoreError(f"{url}: exists and is not a wirelessdata shard; choose another --out or remove it")
    if attrs.get("status") == STATUS_CREATING:
        return None  # interrupted during creation: nothing was written yet, recreate
    same = (
        attrs.get("recipe_hash") == layout.attrs.get("recipe_hash")
        and int(attrs["num_samples"]) == (layout.num_samples)
        and int(attrs["block_size"]) == layout.block_size
    )
    if same:
        return Shard(group)
    if overwrite:
        return None
    raise StoreError(
        f"{url}: exists with another recipe (recipe_hash {str(attrs.get('recipe_hash'))[:12]} vs "
        f"{str(layout.attrs.get('recipe_hash'))[:12]}); choose another --out or pass --overwrite"
    )


def create_shard(url: str, layout: ShardLayout, overwrite: bool = False, schema: Schema | None = None) -> Shard:
    """Create the shard at ``url`` with every array pre-created, or reopen it to resume.

    An existing shard with the same ``recipe_hash``, sample count and block size is reopened as it is
    (finished blocks are kept); one with another recipe raises :class:`StoreError` unless ``overwrite``.
    """
    schema = schema or load_schema()
    if layout.num_samples < 1 or layout.block_size < 1:
        raise StoreError(f"{url}: num_samples and block_size must be >= 1")
    for key in ("recipe", "recipe_hash"):
        if key not in layout.attrs:
            raise StoreError(f"{url}: layout attrs lack '{key}'")
    existing = _existing_shard(url, layout, overwrite)
    if existing is not None:
        return existing
    target = int(schema.defaults["chunk_target_bytes"])
    variables = layout.variables(schema)
    attrs = {
        "schema": schema.name,
        "schema_version": schema.version,
        "generator_version": __version__,
        "created": _now(),
        "sensing_time_tolerance_s": schema.defaults["sensing_time_tolerance_s"],
        **dict(layout.attrs),
        "modalities": list(layout.modalities),
        "num_samples": layout.num_samples,
        "block_size": layout.block_size,
        "ragged": [r.__dict__ for r in layout.ragged],
        "status": STATUS_CREATING,
    }
    try:
        group = new_group(url, layout, variables, target, attrs, {**attrs, "status": STATUS_INCOMPLETE})
    except OSError as exc:
        raise storage_error(url, "create the shard", exc) from exc
    return Shard(group, schema)


def open_shard(url: str) -> Shard:
    """Open an existing shard for writing (resume or commit)."""
    group = open_group(url, mode="r+")
    if "schema" not in group.attrs:
        raise StoreError(f"{url}: not a wirelessdata shard (no 'schema' attribute)")
    return Shard(group)
