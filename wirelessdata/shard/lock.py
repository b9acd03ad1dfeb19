"""Exclusive locks on dataset shards, so that two commands never write one shard at once.

A lock is an ``flock`` on the file ``<shard>.lock`` beside a local shard; the kernel releases it when the
holder exits, also on ``kill -9``, so a lock is never stale. The file records who holds it, for the error
message of the next comer. Shards behind URLs (object stores) are not locked. Taking the locks is the first
write of a run, so an output directory that cannot be written (permission denied, read-only, full) is
reported here, in one line, before any block is generated.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator, Sequence

from wirelessdata.errors import StoreError
from wirelessdata.shard.store import storage_error
from wirelessdata.shard.url import is_url


@contextlib.contextmanager
def shard_locks(urls: Sequence[str]) -> Iterator[None]:
    """Hold the locks of ``urls`` (local shards) for the duration of the block; a one-line error when one is taken."""
    with contextlib.ExitStack() as stack:
        for url in urls:
            if not is_url(url):
                stack.enter_context(_lock(f"{url.rstrip('/')}.lock", url))
        yield


@contextlib.contextmanager
def _lock(path: str, url: str) -> Iterator[None]:
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise storage_error(url, f"create its lock file {path}", exc) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise StoreError(
                f"{url}: locked by {holder} (another generate or import is writing it); wait for it to finish or "
                "stop it, then rerun to resume"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"PID {os.getpid()} on {socket.gethostname()}".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the flock
