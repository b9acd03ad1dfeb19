"""Where the catalog of a dataset root lives, and how it follows a root kept in an object store.

A local root keeps ``ROOT/catalog.sqlite`` (or the file ``--catalog`` / ``$WIRELESSDATA_CATALOG`` names). A root
given as a URL (``s3://bucket/corpus``) keeps its catalog in the root too, as the object ``ROOT/catalog.sqlite``,
so that every machine pointed at the URL sees the same catalog; queries read a local copy in the cache folder
(``$WIRELESSDATA_CACHE``, else ``$XDG_CACHE_HOME/wirelessdata``, else ``~/.cache/wirelessdata``), fetched again
only when the object's ETag changed.

Writers (the driver of ``generate``, an importer, ``catalog rebuild``) change the local copy and put it back with
a conditional write: ``If-Match`` the ETag they read (``If-None-Match: *`` when there was none). When another
writer got there first the write is refused by the store, and the change is replayed on the newer catalog (every
change is idempotent: it re-reads the shards it registers), up to :data:`ATTEMPTS` times; so concurrent writers
lose no row. Conditional writes are used on S3 and S3-compatible stores. Other backends (``gs://``, ``memory://``,
...) take a writer lock instead: the object ``ROOT/catalog.sqlite.lock``, created exclusively (fsspec's
``mode="create"``); a second writer is refused in one line naming the lock and its holder.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from wirelessdata.catalog.db import CATALOG_FILE, Catalog, CatalogError, catalog_path, explicit_catalog
from wirelessdata.shard.url import exists, filesystem, is_remote, join, remote_error

ENV_CACHE = "WIRELESSDATA_CACHE"
"""Environment variable naming the cache folder (local copies of remote catalogs)."""
ATTEMPTS = 8
"""Conditional writes tried before a busy remote catalog is reported."""
T = TypeVar("T")

_CHANGING = threading.Lock()
"""One catalog change at a time in this process (the plan threads of a Dask run register shards concurrently; a
remote root's writer lock would refuse the second one)."""


def cache_dir() -> Path:
    """The cache folder: ``$WIRELESSDATA_CACHE``, else ``$XDG_CACHE_HOME/wirelessdata``, else ``~/.cache/...``."""
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wirelessdata"


def remote_root(root: str, catalog: str | None = None) -> bool:
    """True when the catalog of ``root`` is the object ``ROOT/catalog.sqlite`` of a remote root."""
    return is_remote(root) and explicit_catalog(catalog) is None


def open_root_catalog(root: str, catalog: str | None = None) -> Catalog:
    """The catalog of ``root`` for reading: the local file, or a local copy of a remote root's catalog, fetched
    again when the object changed.

    :raises CatalogError: no catalog, or an unreadable one.
    """
    if not remote_root(root, catalog):
        return Catalog(catalog_path(root, catalog))
    _, cached = _fetch(root)
    if cached is None:
        if not exists(root):
            raise CatalogError(f"{root}: nothing there (no such bucket or folder); give the dataset root of the shards")
        raise CatalogError(
            f"no catalog at {join(root, CATALOG_FILE)}; build it with `wirelessdata catalog rebuild {root}`"
        )
    return Catalog(cached, base=root)


def update_catalog(root: str, catalog: str | None, change: Callable[[Catalog], T]) -> T:
    """Apply ``change`` to the catalog of ``root`` (created when absent) and return what it returns.

    On a remote root the change is made on a private copy of the catalog and put back: on S3 with a conditional
    write, replayed when another writer changed the catalog meanwhile (``change`` must be idempotent); elsewhere
    under the writer lock ``ROOT/catalog.sqlite.lock``.

    :raises CatalogError: the remote catalog kept changing under us for :data:`ATTEMPTS` tries, or another writer
        holds the lock.
    """
    with _CHANGING:
        return _change(root, catalog, change)


def _change(root: str, catalog: str | None, change: Callable[[Catalog], T]) -> T:
    """:func:`update_catalog`, the caller holding :data:`_CHANGING`."""
    if not remote_root(root, catalog):
        with Catalog(catalog_path(root, catalog), create=True) as cat:
            return change(cat)
    if not _conditional(root):
        with _writer_lock(root):
            return _change_once(root, change)[1]
    for attempt in range(ATTEMPTS):
        done, result = _change_once(root, change)
        if done:
            return result
        time.sleep(random.uniform(0.05, 0.2) * (attempt + 1))  # another writer won: replay on its catalog
    raise CatalogError(
        f"{join(root, CATALOG_FILE)}: changed by other writers {ATTEMPTS} times while this one wrote; rerun (the "
        "shards are written; `wirelessdata catalog rebuild` registers them)"
    )


def _change_once(root: str, change: Callable[[Catalog], T]) -> tuple[bool, T]:
    """Apply ``change`` to a private copy of the current catalog and put it back: ``(written, result)``; not
    written when another writer changed the catalog meanwhile (a conditional write refused)."""
    folder = _cache_folder(root)
    etag, cached = _fetch(root)
    handle, name = tempfile.mkstemp(suffix=".sqlite", dir=folder)
    os.close(handle)
    work = Path(name)
    try:
        if cached is not None:
            shutil.copyfile(cached, work)
        with Catalog(work, create=True, base=root) as cat:
            result = change(cat)
        written = _put(root, work, etag)
        if written:  # the new version is the local copy of the ETag the store gave it
            os.replace(work, _cached(root, written))
    finally:
        work.unlink(missing_ok=True)
    return written is not None, result


def _conditional(root: str) -> bool:
    """Whether the store of ``root`` takes conditional writes (``If-Match``): S3 and S3-compatible stores."""
    return str(root).startswith(("s3://", "s3a://"))


@contextmanager
def _writer_lock(root: str) -> Iterator[None]:
    """Hold ``ROOT/catalog.sqlite.lock`` (created exclusively) while the catalog is changed; a second writer gets a
    one-line :class:`CatalogError` naming the lock and its holder."""
    lock = join(root, f"{CATALOG_FILE}.lock")
    fs, path = filesystem(lock)
    holder = f"PID {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%dT%H:%M:%S')}"
    try:
        fs.pipe_file(path, holder.encode(), mode="create")
    except FileExistsError:
        try:
            other = bytes(fs.cat_file(path)).decode(errors="replace")
        except Exception:  # gone meanwhile, or unreadable: the refusal stands
            other = "another writer"
        raise CatalogError(
            f"{lock}: the catalog is being written by {other}; wait for it to finish, or delete the lock if that "
            "writer is gone, then rerun (the shards are written; `wirelessdata catalog rebuild` registers them)"
        ) from None
    except Exception as exc:  # credentials, server, bucket
        raise remote_error(lock, "take the catalog's writer lock", exc) from exc
    try:
        yield
    finally:
        fs.rm_file(path)


def _cache_folder(root: str) -> Path:
    folder = cache_dir() / "catalogs" / hashlib.sha256(root.rstrip("/").encode()).hexdigest()[:24]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fix = f"set {ENV_CACHE} to a writable folder"
        raise CatalogError(f"{folder}: cannot create the catalog cache ({exc}); {fix}") from exc
    return folder


def _cached(root: str, etag: str) -> Path:
    """The local copy of version ``etag`` of the catalog of ``root`` (one file per version: never rewritten)."""
    return _cache_folder(root) / f"{hashlib.sha256(etag.encode()).hexdigest()[:24]}.sqlite"


def _etag(info: dict[str, Any]) -> str:
    return str(info.get("ETag") or info.get("etag") or info.get("mtime") or info.get("created") or info.get("size"))


def _fetch(root: str) -> tuple[str | None, Path | None]:
    """The current version of ``root``'s catalog: ``(etag, local copy)``, downloaded when not cached yet;
    ``(None, None)`` when there is no catalog."""
    url = join(root, CATALOG_FILE)
    fs, path = filesystem(url)
    for _ in range(ATTEMPTS):
        try:
            fs.invalidate_cache(path)
            etag = _etag(fs.info(path))
        except FileNotFoundError:
            return None, None
        except Exception as exc:  # credentials, server, bucket
            raise remote_error(url, "read the catalog", exc) from exc
        cached = _cached(root, etag)
        if cached.is_file():
            return etag, cached
        try:
            data = fs.cat_file(path)
            fs.invalidate_cache(path)
            same = _etag(fs.info(path)) == etag
        except FileNotFoundError:
            continue
        except Exception as exc:
            raise remote_error(url, "read the catalog", exc) from exc
        if same:  # not replaced while we read it
            handle, name = tempfile.mkstemp(suffix=".part", dir=cached.parent)
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(name, cached)
            _prune(cached.parent, keep=cached)
            return etag, cached
    raise CatalogError(f"{url}: kept changing while it was read; rerun")


def _prune(folder: Path, keep: Path, versions: int = 4) -> None:
    """Delete all but the newest ``versions`` local copies (the one in use is kept)."""
    copies = sorted(folder.glob("*.sqlite"), key=lambda p: p.stat().st_mtime if p.exists() else 0, reverse=True)
    for old in copies[versions:]:
        if old != keep:
            old.unlink(missing_ok=True)


def _put(root: str, work: Path, etag: str | None) -> str | None:
    """Write the catalog ``work`` to ``root``: the new ETag ("" when the store does not say), or None when another
    writer changed the catalog since ``etag`` (a conditional write on S3)."""
    url = join(root, CATALOG_FILE)
    fs, path = filesystem(url)
    conditional = _conditional(root)
    kwargs: dict[str, Any] = {}
    if conditional:
        kwargs = {"IfMatch": etag} if etag is not None else {"mode": "create"}
    try:
        response = fs.pipe_file(path, work.read_bytes(), **kwargs)
    except Exception as exc:
        if conditional and _precondition_failed(exc):
            return None
        raise remote_error(url, "write the catalog", exc) from exc
    return str(response.get("ETag", "")) if isinstance(response, dict) else ""


def _precondition_failed(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc} {exc.__cause__ or ''}"
    return "PreconditionFailed" in text or "412" in text or "ConditionalRequestConflict" in text
