"""A new shard's Zarr hierarchy: its arrays' metadata from the schema and the layout (shapes, chunks, codecs,
fill values), their documents, written to its store in one pass (:func:`new_group`).

Zarr's local store hands every file operation to a thread of its event loop's executor: creating a group of some
twenty arrays through ``create_array``, with the existence checks and the consolidation read-back, took about 45 ms
and some 5,500 thread hand-overs (futex calls) per shard here, more than Sionna spends on a small configuration
(``benchmarks/space.py``). Here the documents are serialised from Zarr's own metadata objects (``ArrayV3Metadata``,
``GroupMetadata``; ``tests/shard/test_store.py`` compares them with ``zarr.create_array``'s) and written file by
file: about 20 ms a shard, half of it the file writes. Only their placement is done here.

Order, so that an interruption is recognised and redone: the group document with status ``creating`` first, then
every array document and coordinate chunk, then the final group document (its consolidated metadata, status
``incomplete``) renamed over the first.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import zarr
import zarr.codecs
from zarr.core.buffer import Buffer, default_buffer_prototype
from zarr.core.chunk_grids import RegularChunkGrid
from zarr.core.dtype import parse_dtype
from zarr.core.group import ConsolidatedMetadata, GroupMetadata
from zarr.core.metadata.v3 import ArrayV3Metadata
from zarr.core.sync import sync
from zarr.storage import FsspecStore, LocalStore, MemoryStore, StorePath

from wirelessdata.errors import StoreError
from wirelessdata.shard.chunks import write_partial
from wirelessdata.shard.layout import ShardLayout
from wirelessdata.shard.schema import VariableSpec
from wirelessdata.shard.url import is_url

GROUP_DOCUMENT = "zarr.json"


def new_group(
    url: str,
    layout: ShardLayout,
    variables: list[VariableSpec],
    target: int,
    creating: dict[str, Any],
    ready: dict[str, Any],
) -> zarr.Group:
    """Write the hierarchy of a new shard at ``url`` (replacing what is there) and return its group, writable.

    :param variables: the schema's variables of ``layout``; every array is made, chunked along ``sample`` at
        most ``target`` bytes a chunk (a divisor of the block size), and the coordinates of ``layout`` written.
    :param creating: the group attributes while the files are written (status ``creating``).
    :param ready: the group attributes once they are (written last, with the consolidated metadata).
    :raises OSError: the store refused a write.
    """
    coordinates = " ".join(v.name for v in variables if v.coordinate and v.name not in v.dims)
    metadata = {
        spec.name: _array_metadata(spec, layout, coordinates, target)
        for spec in sorted(variables, key=lambda v: v.name)
    }
    final = GroupMetadata(attributes=ready, consolidated_metadata=ConsolidatedMetadata(metadata=dict(metadata)))
    files = {
        GROUP_DOCUMENT: _document(final),
        **{f"{name}/{GROUP_DOCUMENT}": _document(meta) for name, meta in metadata.items()},
        **_coordinate_chunks(url, layout, variables, metadata),
    }
    where = write_hierarchy(url, _document(GroupMetadata(attributes=creating)), files)
    return zarr.Group(zarr.AsyncGroup(metadata=final, store_path=where))


def _document(metadata: GroupMetadata | ArrayV3Metadata) -> bytes:
    """The ``zarr.json`` of ``metadata``, as Zarr writes it."""
    return metadata.to_buffer_dict(default_buffer_prototype())[GROUP_DOCUMENT].to_bytes()


def _array_metadata(spec: VariableSpec, layout: ShardLayout, coordinates: str, target: int) -> ArrayV3Metadata:
    """The Zarr metadata of array ``spec`` in a new shard of ``layout``: shape, chunks (``target`` bytes at most
    along ``sample``), codecs, fill value, dimension names, units and, for a per-sample variable, ``coordinates``
    (the names of the per-sample coordinates, space-separated, as CF and xarray read them).

    Built as ``zarr.create_array`` builds it (the same document, ``tests/shard/test_store.py`` compares them),
    without its store round trips: some twenty arrays a shard, which made creation cost more than Sionna spends
    on a small configuration.
    """
    shape = _shape(spec, layout)
    attributes: dict[str, Any] = {"units": spec.units, "long_name": spec.long_name}
    if spec.per_sample and spec.name not in coordinates.split():
        attributes["coordinates"] = coordinates
    return ArrayV3Metadata(
        shape=shape,
        data_type=parse_dtype(spec.dtype, zarr_format=3),
        chunk_grid=RegularChunkGrid(chunk_shape=_chunks(spec, shape, layout, target)),
        chunk_key_encoding={"name": "default", "configuration": {"separator": "."}},
        fill_value=spec.default_fill(),
        codecs=(zarr.codecs.BytesCodec(), *_compressors(spec)),
        dimension_names=spec.dims,
        attributes=attributes,
        storage_transformers=(),
    )


def _coordinate_chunks(
    url: str, layout: ShardLayout, variables: list[VariableSpec], metadata: Mapping[str, ArrayV3Metadata]
) -> dict[str, bytes]:
    """The chunk files (store keys and bytes, encoded by Zarr) of the arrays whose values the layout gives: the
    coordinates and constants that are not per sample or per block (``time``, ``subcarrier``, antenna positions)."""
    draft = MemoryStore()
    per_sample = ("sample", "block", *(r.dim for r in layout.ragged))

    async def put(spec: VariableSpec) -> None:
        if spec.name not in layout.coords:
            raise StoreError(f"{url}: layout coords lack '{spec.name}' {spec.dims}")
        array = zarr.AsyncArray(metadata=metadata[spec.name], store_path=StorePath(draft, spec.name))
        await array.setitem(Ellipsis, np.asarray(layout.coords[spec.name], dtype=spec.dtype))

    async def put_all() -> None:
        await asyncio.gather(*(put(spec) for spec in variables if spec.dims[0] not in per_sample))

    sync(put_all())
    return snapshot(draft)


def _compressors(spec: VariableSpec) -> tuple[zarr.codecs.ZstdCodec, ...]:
    """Zstandard for the variables the schema compresses and for one-byte types (masks, images); none for the
    rest (their chunk files hold the raw samples: :class:`~wirelessdata.shard.chunks.ChunkFiles`)."""
    if spec.compressor == "zstd" or (spec.dtype.itemsize <= 1 and spec.dtype.kind != "c"):
        return (zarr.codecs.ZstdCodec(level=3),)
    return ()


def _shape(spec: VariableSpec, layout: ShardLayout) -> tuple[int, ...]:
    sizes = {
        **layout.sizes,
        "sample": layout.num_samples,
        "block": layout.num_blocks,
        **{r.dim: r.capacity_per_sample * layout.num_samples for r in layout.ragged},
        "xyz": 3,
        "rpy": 3,
        "latlon": 2,
        "intrinsic": 4,
        "lidar_field": 4,
        "channel": 3,
    }
    try:
        return tuple(int(sizes[d]) for d in spec.dims)
    except KeyError as exc:
        raise StoreError(f"variable '{spec.name}' needs the size of dim {exc}; add it to the layout sizes") from exc


def _chunks(spec: VariableSpec, shape: tuple[int, ...], layout: ShardLayout, target: int) -> tuple[int, ...]:
    if spec.name == "block_checksum":
        return (1,)
    first = spec.dims[0] if spec.dims else None
    ragged = {r.dim: r.capacity_per_sample for r in layout.ragged}
    if first == "sample" or first in ragged:
        per = ragged.get(first, 1)
        bytes_per_sample = int(np.prod(shape[1:], dtype=np.int64)) * spec.dtype.itemsize * per
        return (_chunk_samples(layout.block_size, bytes_per_sample, target) * per, *shape[1:])
    return shape


def _chunk_samples(block_size: int, bytes_per_sample: int, target: int) -> int:
    """Largest divisor of ``block_size`` whose chunk stays within ``target`` bytes (at least 1)."""
    best = 1
    for d in range(1, block_size + 1):
        if block_size % d == 0 and d * bytes_per_sample <= target:
            best = d
    return best


def snapshot(draft: MemoryStore) -> dict[str, bytes]:
    """Every key of ``draft`` with its bytes."""
    prototype = default_buffer_prototype()

    async def read() -> dict[str, bytes]:
        keys = [key async for key in draft.list()]
        values = await asyncio.gather(*(draft.get(key, prototype) for key in keys))
        return {k: v.to_bytes() for k, v in zip(keys, values, strict=True) if v is not None}

    return sync(read())


def write_hierarchy(url: str, first: bytes, files: Mapping[str, bytes]) -> StorePath:
    """Replace whatever is at ``url`` with ``files`` (store keys, the group document among them).

    :param first: the group document written before the others (status ``creating``), replaced by
        ``files["zarr.json"]`` once every other file is written.
    :returns: the written group's place in its store (writable), to open it without reading it back.
    """
    store = FsspecStore.from_url(url) if is_url(url) else LocalStore(url)
    where = sync(StorePath.open(store, "", mode="w"))  # removes what was there
    rest = {k: v for k, v in files.items() if k != GROUP_DOCUMENT}
    if isinstance(where.store, LocalStore):
        folder = os.path.join(str(where.store.root), where.path)
        _write_file(os.path.join(folder, GROUP_DOCUMENT), first)
        for key, value in rest.items():
            _write_file(os.path.join(folder, key), value)
        final = os.path.join(folder, GROUP_DOCUMENT)
        os.replace(write_partial(final, memoryview(files[GROUP_DOCUMENT])), final)
        return where
    prototype = default_buffer_prototype()

    def buffer(value: bytes) -> Buffer:
        return prototype.buffer.from_bytes(value)

    async def put() -> None:
        await (where / GROUP_DOCUMENT).set(buffer(first))
        await asyncio.gather(*((where / k).set(buffer(v)) for k, v in rest.items()))
        await (where / GROUP_DOCUMENT).set(buffer(files[GROUP_DOCUMENT]))

    sync(put())
    return where


def _write_file(path: str, value: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(value)
