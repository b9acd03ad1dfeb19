"""Read the catalog: list shards with filters, show one shard, export rows as JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wirelessdata.catalog.db import CATALOG_FILE, Catalog, CatalogError, catalog_path, explicit_catalog
from wirelessdata.catalog.fields import CONFIG_FIELDS, DIST_FIELDS, JSON_FIELDS
from wirelessdata.catalog.home import open_root_catalog, remote_root
from wirelessdata.catalog.where import where_sql
from wirelessdata.shard.url import exists, is_remote, join

LIST_COLUMNS = tuple(f.name for f in (*CONFIG_FIELDS, *DIST_FIELDS))
"""Columns of :func:`ls` rows (besides ``path``): everything except the recipe and the histograms."""


def open_catalog(root: str, catalog: str | None = None) -> Catalog:
    """The existing catalog of ``root`` (see :func:`~wirelessdata.catalog.db.catalog_path`; a remote root's is a
    local copy of ``ROOT/catalog.sqlite``, :mod:`wirelessdata.catalog.home`)."""
    if remote_root(root, catalog):
        return open_root_catalog(root, catalog)
    path = catalog_path(root, catalog)
    if not path.is_file():
        if not Path(root).is_dir():
            raise CatalogError(f"{root}: no such folder; give the dataset root holding the shards")
        raise CatalogError(f"no catalog at {path}; build it from the shards with `wirelessdata catalog rebuild {root}`")
    return Catalog(path)


def ls(
    root: str, where: Sequence[str] = (), catalog: str | None = None, columns: Sequence[str] | None = LIST_COLUMNS
) -> list[dict[str, Any]]:
    """Rows of the shards under ``root`` matching every filter of ``where``, ordered by shard.

    :param where: filter expressions (:mod:`wirelessdata.catalog.where`), e.g. ``["band=28GHz"]``.
    :param columns: columns to return (None: all, with the JSON columns as text); ``path`` (absolute) is added.
    """
    condition, params = where_sql(where)  # a malformed filter fails before any file is touched
    with open_catalog(root, catalog) as cat:
        scope, scope_params = cat.scope(root)
        sql = " AND ".join(c for c in (scope, condition) if c)
        rows = cat.select(sql, scope_params + params, columns=("shard", *columns) if columns else None)
        for row in rows:
            row["path"] = cat.resolve(row["shard"])
    return rows


def show(shard: str, catalog: str | None = None) -> dict[str, Any]:
    """Every field of one shard's row, ``recipe`` and ``stats`` decoded.

    The catalog is ``catalog``, else ``$WIRELESSDATA_CATALOG``, else the nearest ``catalog.sqlite`` in a
    folder above the shard.
    """
    if explicit_catalog(catalog) is None and is_remote(shard):
        root = _remote_root_of(shard)
        where = join(root, CATALOG_FILE)
        opened = open_root_catalog(root)
    else:
        path = explicit_catalog(catalog) or _find_catalog(Path(shard))
        root, where, opened = str(path.parent), str(path), Catalog(path)
    with opened as cat:
        rows = cat.select("shard = ?", [cat.key(shard)])
        if not rows:
            raise CatalogError(
                f"{shard}: not in the catalog {where}; register it with `wirelessdata catalog rebuild ROOT`"
            )
        row = _decoded(rows[0])
        row["path"] = cat.resolve(row["shard"])
    if row["status"] != "missing" and not exists(row["path"]):
        raise CatalogError(
            f"{shard}: gone from disk but listed as {row['status']} in {where}; run `wirelessdata catalog rebuild "
            f"{root}` to mark it missing (and to register it where it moved, if under that root)"
        )
    return row


def export(root: str, fmt: str = "json", where: Sequence[str] = (), catalog: str | None = None) -> str:
    """The matching rows as text: ``json`` (every field, recipe and histograms decoded) or ``csv`` (flat fields)."""
    if fmt == "json":
        return dumps_rows([_decoded(r) for r in ls(root, where, catalog, columns=None)])
    if fmt == "csv":
        rows = ls(root, where, catalog)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=["path", *LIST_COLUMNS], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()
    raise CatalogError(f"export format {fmt!r} is unknown; choose json or csv")


def dumps_rows(rows: Sequence[dict[str, Any]]) -> str:
    """A JSON array with one row per line (the C encoder: several times faster than ``indent``)."""
    return "[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n" if rows else "[]\n"


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, **{f.name: json.loads(row[f.name]) if row.get(f.name) else None for f in JSON_FIELDS}}


def _remote_root_of(shard: str) -> str:
    """The nearest URL above a remote shard holding a ``catalog.sqlite`` object."""
    scheme, rest = shard.rstrip("/").split("://", 1)
    parts = rest.split("/")[:-1]
    while parts:
        root = f"{scheme}://{'/'.join(parts)}"
        if exists(join(root, CATALOG_FILE)):
            return root
        parts.pop()
    raise CatalogError(
        f"no {CATALOG_FILE} above {shard}; run `wirelessdata catalog rebuild ROOT` on its dataset root "
        "or pass --catalog"
    )


def _find_catalog(shard: Path) -> Path:
    for folder in shard.resolve().parents:
        if (folder / CATALOG_FILE).is_file():
            return folder / CATALOG_FILE
    raise CatalogError(
        f"no {CATALOG_FILE} in any folder above {shard}; run `wirelessdata catalog rebuild ROOT` on its dataset root "
        "or pass --catalog"
    )
