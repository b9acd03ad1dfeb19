"""Where shards live: a local path or an fsspec URL (``s3://bucket/root``, ``gs://...``, ``memory://x``).

The one place that tells a URL from a local path, turns a dataset root and a shard name into the shard's
location, finds the shards under a root (by listing, on disk or in an object store) and turns a storage
failure into one line naming the URL and the fix, so that every command treats ``ROOT/name.zarr`` the same way
on disk and in an object store.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from wirelessdata.errors import StoreError

SHARD_SUFFIX = ".zarr"
"""A shard is the Zarr group ``<root>/<name>.zarr``."""


def is_url(location: str) -> bool:
    """True for an fsspec URL (``scheme://...``, ``file://`` included), False for a local path."""
    return "://" in str(location)


def is_remote(location: str) -> bool:
    """True for an fsspec URL that is not a local file (``file://``)."""
    return is_url(location) and not str(location).startswith("file://")


def local_path(location: str) -> Path:
    """The local path of a path or a ``file://`` URL."""
    return Path(str(location).removeprefix("file://"))


def shard_url(root: str, name: str) -> str:
    """Location of shard ``name`` (without ``.zarr``) under the dataset root ``root`` (path or URL)."""
    return join(root, f"{name}{SHARD_SUFFIX}")


def join(root: str, name: str) -> str:
    """``root/name`` for a path or a URL (``s3://b/c1`` + ``catalog.sqlite``)."""
    return f"{str(root).rstrip('/')}/{name}"


def shard_name(url: str) -> str:
    """The shard's name: the last part of its location without ``.zarr`` (``root/a-sub6.zarr`` -> ``a-sub6``)."""
    return str(url).rstrip("/").rsplit("/", 1)[-1].removesuffix(SHARD_SUFFIX)


def relative(location: str, base: str) -> str:
    """``location`` as seen from the folder ``base`` (``../a.zarr``, ``a.zarr``); a URL outside ``base`` stays whole."""
    if not is_remote(location) and not is_remote(base):
        return Path(os.path.relpath(local_path(location), local_path(base))).as_posix()
    prefix = f"{str(base).rstrip('/')}/"
    return str(location)[len(prefix) :] if str(location).startswith(prefix) else str(location)


def filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem of ``url`` and the path inside it; a one-line :class:`StoreError` when the URL's
    backend is not installed (``s3://`` needs ``s3fs``, ``gs://`` ``gcsfs``)."""
    import fsspec.core

    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise StoreError(f"{url}: no fsspec backend for this URL ({exc}); install it, e.g. pip install s3fs") from exc


CREDENTIAL_ERRORS = ("NoCredentialsError", "PartialCredentialsError")
"""Names of the exceptions (botocore) of a store that has no usable credentials."""
CONNECTION_ERRORS = (
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ClientConnectorError",
    "ServerDisconnectedError",
    "ConnectionError",
)
"""Names of the exceptions (botocore, aiohttp) of a store that cannot be reached."""


def store_failed(exc: BaseException) -> bool:
    """True when ``exc`` says the store itself failed (server, network, credentials), not the data in it."""
    return type(exc).__name__ in (*CREDENTIAL_ERRORS, *CONNECTION_ERRORS) or isinstance(exc, PermissionError)


def remote_error(url: str, action: str, exc: BaseException) -> StoreError:
    """One line for a failed object-store call: the URL, what failed, and the fix (credentials, bucket, server)."""
    name, text = type(exc).__name__, str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if name in CREDENTIAL_ERRORS or "credentials" in text.lower():
        fix = "no credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or AWS_PROFILE (or the backend's own)"
    elif "bucket does not exist" in text or name == "NoSuchBucket":
        fix = "the bucket does not exist; create it or fix the URL"
    elif name in CONNECTION_ERRORS:
        fix = f"cannot reach the server ({text}); check the endpoint (AWS_ENDPOINT_URL) and that it is up, then rerun"
    elif isinstance(exc, PermissionError) or "AccessDenied" in text or "Forbidden" in text:
        fix = "access denied; use credentials allowed to read and write it"
    elif isinstance(exc, FileNotFoundError):
        fix = "nothing there; check the URL"
    else:
        fix = f"{name}: {text}; check the storage, then rerun"
    return StoreError(f"{url}: cannot {action}: {fix}")


def exists(location: str) -> bool:
    """Whether anything (a file, a folder, a prefix) is at ``location``."""
    if not is_remote(location):
        return local_path(location).exists()
    fs, path = filesystem(location)
    try:
        return bool(fs.exists(path))
    except Exception as exc:  # the backend's own errors (credentials, server, bucket)
        raise remote_error(location, "look it up", exc) from exc


def read_bytes(location: str, what: str) -> bytes:
    """The content of the file (object) at ``location``.

    :param what: what it is, for the error (``"manifest"``).
    :raises FileNotFoundError: nothing there (the caller says what to do).
    :raises StoreError: the store failed (credentials, server, bucket), in one line.
    """
    if not is_remote(location):
        return local_path(location).read_bytes()
    fs, path = filesystem(location)
    try:
        return bytes(fs.cat_file(path))
    except FileNotFoundError:
        raise
    except Exception as exc:  # the backend's own errors
        raise remote_error(location, f"read the {what}", exc) from exc


def write_bytes(location: str, data: bytes, what: str) -> None:
    """Write ``data`` to the file (object) at ``location`` whole or not at all: a local file through a temporary
    file renamed into place (folders created), an object in one put (object stores replace objects atomically).

    :raises StoreError: it cannot be written, in one line naming the location and the fix.
    """
    if not is_remote(location):
        target = local_path(location)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.tmp")
            partial.write_bytes(data)
            os.replace(partial, target)
        except OSError as exc:
            raise StoreError(
                f"{location}: cannot write the {what} ({exc.strerror or exc}); choose another path"
            ) from exc
        return
    fs, path = filesystem(location)
    try:
        fs.pipe_file(path, data)
    except Exception as exc:  # the backend's own errors
        raise remote_error(location, f"write the {what}", exc) from exc


def stored_bytes(location: str) -> int:
    """Bytes of the files (objects) under ``location``."""
    if not is_remote(location):
        top = local_path(location)
        return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(top) for f in files)
    fs, path = filesystem(location)
    try:
        return int(fs.du(path, total=True))
    except Exception as exc:  # the backend's own errors (credentials, server, bucket)
        raise remote_error(location, "measure its size", exc) from exc


def find_shards(root: str) -> list[str]:
    """Shards under ``root`` (a path or a URL): the root itself if it is a shard, else every ``*.zarr`` group below
    it, found by listing (in an object store, folders inside a shard are not listed), sorted."""
    if not is_remote(root):
        p = local_path(root)
        if (p / "zarr.json").is_file():
            return [str(root)]
        return sorted(str(q.parent) for q in p.rglob(f"*{SHARD_SUFFIX}/zarr.json"))
    fs, path = filesystem(root)
    top = path.rstrip("/")
    try:
        if fs.isfile(f"{top}/zarr.json"):
            return [str(root)]
        found: list[str] = []
        todo = [top]
        while todo:
            for entry in fs.ls(todo.pop(), detail=True):
                name = entry["name"].rstrip("/")
                if entry["type"] != "directory":
                    continue
                if name.endswith(SHARD_SUFFIX) and fs.isfile(f"{name}/zarr.json"):
                    found.append(join(root, name.removeprefix(f"{top}/")))  # spelt as the root was given
                elif not name.endswith(SHARD_SUFFIX):
                    todo.append(name)
    except FileNotFoundError:
        return []
    except Exception as exc:  # the backend's own errors (credentials, server, bucket)
        raise remote_error(root, "list its shards", exc) from exc
    return sorted(found)
