"""A new shard's Zarr hierarchy, its documents made from Zarr's metadata objects, written to its store in one pass.

Zarr's local store hands every file operation to a thread of its event loop's executor: creating a group of some
twenty arrays that way, with the existence checks and the consolidation read-back, took about 45 ms and some 5,500
thread hand-overs (futex calls) per shard here, more than Sionna spends on a small configuration
(``benchmarks/space.py``). The documents serialised from Zarr's metadata objects
(:func:`wirelessdata.shard.store.create_shard`) and written file by file cost a fraction of that. The bytes are
Zarr's own; only their placement is done here.

Order, so that an interruption is recognised and redone: the group document with status ``creating`` first, then
every array document and coordinate chunk, then the final group document (its consolidated metadata, status
``incomplete``) renamed over the first.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping

from zarr.core.buffer import Buffer, default_buffer_prototype
from zarr.core.sync import sync
from zarr.storage import FsspecStore, LocalStore, MemoryStore, StorePath

from wirelessdata.shard.chunks import write_partial
from wirelessdata.shard.url import is_url

GROUP_DOCUMENT = "zarr.json"


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
