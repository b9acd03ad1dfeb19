"""Where shards live: a local path or an fsspec URL (``s3://bucket/root``, ``memory://x``), and shard names.

The one place that tells a URL from a local path and turns a dataset root and a shard name into the shard's
location, so that every command treats ``ROOT/name.zarr`` the same way on disk and in an object store.
"""

from __future__ import annotations

SHARD_SUFFIX = ".zarr"
"""A shard is the Zarr group ``<root>/<name>.zarr``."""


def is_url(location: str) -> bool:
    """True for an fsspec URL (``scheme://...``, ``file://`` included), False for a local path."""
    return "://" in str(location)


def shard_url(root: str, name: str) -> str:
    """Location of shard ``name`` (without ``.zarr``) under the dataset root ``root`` (path or URL)."""
    return f"{str(root).rstrip('/')}/{name}{SHARD_SUFFIX}"


def shard_name(url: str) -> str:
    """The shard's name: the last part of its location without ``.zarr`` (``root/a-sub6.zarr`` -> ``a-sub6``)."""
    return str(url).rstrip("/").rsplit("/", 1)[-1].removesuffix(SHARD_SUFFIX)
