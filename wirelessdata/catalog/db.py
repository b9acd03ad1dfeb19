"""The catalog database: one SQLite file with a ``shards`` table (one row per shard, the filterable fields),
a ``documents`` table (the recipe and full distributions of each shard, JSON, kept out of ``shards`` so
that a filtered scan reads compact rows) and a ``meta`` table holding the layout version.

Writers take the write lock for the whole transaction (``BEGIN IMMEDIATE``) and wait up to
:data:`BUSY_TIMEOUT_S` for it, so several processes registering at once lose no row. The journal is
WAL on a local disk (readers never block writers) and the rollback journal on a network filesystem,
where WAL does not work.

Shard keys are paths relative to the catalog's folder (absolute for shards outside it), so a dataset
root moved or copied together with its ``catalog.sqlite`` stays valid.
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from wirelessdata.catalog.fields import FILTERABLE, JSON_FIELDS
from wirelessdata.errors import WirelessDataError
from wirelessdata.shard.url import is_url

CATALOG_FILE = "catalog.sqlite"
CATALOG_VERSION = 3
"""Version of the table layout; a catalog with a higher version is refused, an older one migrated
(:data:`MIGRATIONS`)."""

MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: ("ALTER TABLE shards RENAME COLUMN num_snapshots TO num_time_steps",),
}
"""SQL that takes a catalog from version ``v`` to ``v + 1`` (3: one name per quantity, ``num_time_steps``)."""
ENV_CATALOG = "WIRELESSDATA_CATALOG"
"""Environment variable naming the catalog file, overriding ``ROOT/catalog.sqlite`` (a shared catalog)."""
BUSY_TIMEOUT_S = 60.0
NETWORK_FS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "fuse.sshfs", "lustre", "gpfs", "beegfs", "ceph"}


class CatalogError(WirelessDataError):
    """The catalog cannot be found, opened, read or written, or a query is malformed."""


def catalog_path(root: str, catalog: str | None = None) -> Path:
    """Where the catalog of ``root`` lives: ``catalog``, else ``$WIRELESSDATA_CATALOG``, else ``ROOT/catalog.sqlite``.

    A location is a path or a ``file://`` URL; ``root`` must be a local folder unless a catalog location
    is given.
    """
    return explicit_catalog(catalog) or Path(_local(root, "dataset root")) / CATALOG_FILE


def explicit_catalog(catalog: str | None = None) -> Path | None:
    """The catalog file named by ``catalog`` or ``$WIRELESSDATA_CATALOG``; None when neither is set."""
    location = catalog or os.environ.get(ENV_CATALOG)
    return Path(_local(location, "catalog location")) if location else None


def _local(location: str, what: str) -> str:
    if location.startswith("file://"):
        return location.removeprefix("file://")
    if is_url(location):
        raise CatalogError(
            f"{what} {location} is not a local path; the catalog is a SQLite file: give --catalog PATH "
            f"or set {ENV_CATALOG} (a shared disk path works)"
        )
    return location


def _on_network_fs(path: Path) -> bool:
    """True when ``path`` lies on a filesystem listed in :data:`NETWORK_FS` (read from /proc/mounts)."""
    try:
        mounts = [line.split()[1:3] for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return False
    target = path.resolve().parent
    containing = [(len(point), fstype) for point, fstype in mounts if target.is_relative_to(point)]
    return bool(containing) and max(containing)[1] in NETWORK_FS


class Catalog:
    """An open catalog file.

    :param path: the SQLite file.
    :param create: create it (and its folder) when absent; otherwise a missing file is a :class:`CatalogError`.
    :param base: the URL of the remote dataset root whose catalog ``path`` is a local copy of
        (:mod:`wirelessdata.catalog.home`): shard keys are relative to it; None for a local catalog, whose keys are
        relative to its folder.
    """

    def __init__(self, path: Path, create: bool = False, base: str | None = None) -> None:
        self.path = Path(path)
        self.folder = self.path.resolve().parent
        self.base = None if base is None else str(base).rstrip("/")
        if not self.path.is_file():
            if not create:
                raise CatalogError(f"no catalog at {self.path}")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            self._init()
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from exc

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    # keys ---------------------------------------------------------------------------------------
    def key(self, url: str) -> str:
        """The row key of the shard at ``url``: relative to the catalog's folder (or remote root) when below it,
        else absolute."""
        if self.base is not None:
            url = str(url).rstrip("/")
            return "." if url == self.base else url.removeprefix(f"{self.base}/")
        path = Path(_local(url, "shard")).resolve()
        return path.relative_to(self.folder).as_posix() if path.is_relative_to(self.folder) else str(path)

    def resolve(self, key: str) -> str:
        """The shard path (or URL) of a row key."""
        if self.base is not None:
            return key if is_url(key) else f"{self.base}/{key}"
        return os.path.join(self.folder, key)  # an absolute key stays itself

    def scope(self, root: str) -> tuple[str, list[Any]]:
        """SQL condition (and its parameters) keeping the rows of shards under ``root``."""
        prefix = self.key(root)
        if prefix == ".":  # the catalog's own folder: the relative keys
            return "substr(shard, 1, 1) != '/' AND instr(shard, '://') = 0", []
        prefix = prefix.rstrip("/") + "/"
        return "substr(shard, 1, ?) = ?", [len(prefix), prefix]

    # reads and writes ---------------------------------------------------------------------------
    def select(
        self, where: str = "", params: Sequence[Any] = (), columns: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Rows matching the SQL condition ``where`` (built from known fields only), ordered by shard.

        :param columns: field names (default: all, the JSON fields as text).
        """
        cols = ", ".join(columns) if columns else "*"
        # the join is skipped by SQLite when no documents column is selected (unique key, LEFT JOIN)
        sql = (
            f"SELECT {cols} FROM shards LEFT JOIN documents USING (shard)"
            f"{f' WHERE {where}' if where else ''} ORDER BY shard"
        )
        try:
            cursor = self.conn.execute(sql, list(params))
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, r, strict=True)) for r in cursor]  # 3x faster than sqlite3.Row
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from exc

    def upsert(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert or replace ``rows`` (dicts of :data:`~wirelessdata.catalog.fields.FIELDS`) in one transaction."""
        if not rows:
            return
        with self.transaction():
            for table, cols in (("shards", list(FILTERABLE)), ("documents", ["shard", *(f.name for f in JSON_FIELDS)])):
                sql = (
                    f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                    f"ON CONFLICT(shard) DO UPDATE SET {', '.join(f'{c}=excluded.{c}' for c in cols[1:])}"
                )
                self.conn.executemany(sql, [[row.get(c) for c in cols] for row in rows])

    def mark_missing(self, keys: Sequence[str]) -> None:
        """Mark rows whose shard is gone from disk: status ``missing``, the rest of the row kept."""
        with self.transaction():
            self.conn.executemany(
                "UPDATE shards SET status = 'missing', problem = ? WHERE shard = ?",
                [("gone from disk (deleted or moved); `catalog rebuild` the root it moved to", k) for k in keys],
            )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction holding the database write lock from its start; rolled back on error.

        Inside another transaction it joins that one (the outer one commits).
        """
        if self.conn.in_transaction:
            yield self.conn
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from exc
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        try:
            self.conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self.conn.execute("ROLLBACK")
            raise self._error(exc) from exc

    # internals ----------------------------------------------------------------------------------
    def _init(self) -> None:
        # a local copy of a remote catalog is one file (no WAL beside it), so that it can be put back as it is
        self._set_journal_mode("DELETE" if self.base is not None or _on_network_fs(self.path) else "WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        version = self._version()
        if version is None:
            with self.transaction():
                self._create()
            version = self._version()
        while version is not None and version < CATALOG_VERSION and version in MIGRATIONS:
            with self.transaction():
                for sql in MIGRATIONS[version]:
                    self.conn.execute(sql)
                self.conn.execute("UPDATE meta SET value = ? WHERE key = 'catalog_version'", (str(version + 1),))
            version = self._version()
        if version != CATALOG_VERSION:
            fix = "upgrade wirelessdata" if (version or 0) > CATALOG_VERSION else "delete it and run `catalog rebuild`"
            raise CatalogError(
                f"{self.path}: catalog version {version}, this wirelessdata reads version {CATALOG_VERSION}; {fix}"
            )

    def _set_journal_mode(self, mode: str) -> None:
        """Switch the journal to ``mode``, retrying while other processes hold the file.

        The switch upgrades a read lock to an exclusive one; SQLite answers "locked" at once instead of waiting
        when two connections do that together (deadlock avoidance), so the busy timeout alone does not cover it.
        """
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                if self.conn.execute("PRAGMA journal_mode").fetchone()[0].upper() != mode:
                    self.conn.execute(f"PRAGMA journal_mode={mode}")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(random.uniform(0.01, 0.1))

    def _version(self) -> int | None:
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "meta" not in tables:
            if tables:
                raise CatalogError(f"{self.path}: a SQLite file but not a wirelessdata catalog; choose another path")
            return None
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'catalog_version'").fetchone()
        return int(row[0]) if row else None

    def _create(self) -> None:
        self.conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        for table, fields in (("shards", FILTERABLE.values()), ("documents", JSON_FIELDS)):
            cols = ", ".join(f"{f.name} {f.sql}" for f in fields if f.name != "shard")
            self.conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (shard TEXT PRIMARY KEY, {cols})")
        for col in ("band", "scenario", "status"):  # the collation of the filters, so they can use the index
            self.conn.execute(f"CREATE INDEX IF NOT EXISTS shards_{col} ON shards ({col} COLLATE NOCASE)")
        self.conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('catalog_version', ?)", (str(CATALOG_VERSION),)
        )

    def _error(self, exc: sqlite3.DatabaseError) -> CatalogError:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return CatalogError(f"{self.path}: busy for {BUSY_TIMEOUT_S:.0f} s (another process holds it); retry")
        if "not a database" in text or "malformed" in text:
            return CatalogError(f"{self.path}: not a readable catalog ({text}); move it away and run `catalog rebuild`")
        return CatalogError(f"{self.path}: {text}")
