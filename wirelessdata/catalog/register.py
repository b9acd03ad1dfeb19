"""Registration: a shard's catalog row, read from its store alone; register one shard; rebuild a root.

The catalog is derived data: :func:`rebuild` recreates it from the shards under a root (a deleted
catalog comes back with the same rows), re-reads shards whose checksum or status changed and marks
rows whose shard is gone from disk as ``missing``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wirelessdata.catalog.db import CATALOG_FILE, Catalog, CatalogError
from wirelessdata.catalog.fields import ATTR_FIELDS
from wirelessdata.catalog.home import update_catalog
from wirelessdata.errors import StoreError
from wirelessdata.shard.schema import load_schema
from wirelessdata.shard.stats import METRICS, STATS_VERSION, SUMMARY_STATS, shard_stats
from wirelessdata.shard.store import STATUS_COMPLETE, open_group, shard_checksum
from wirelessdata.shard.url import exists, find_shards, join, stored_bytes

STATUS_INVALID = "invalid"
STATUS_INCOMPLETE = "incomplete"
STATUS_MISSING = "missing"


def register_shard(root: str, url: str, catalog: str | None = None) -> dict[str, Any]:
    """Register (insert or update) the shard at ``url`` in the catalog of ``root``; creates the catalog if needed.

    :param root: the dataset root; the catalog is ``ROOT/catalog.sqlite`` unless ``catalog`` or
        ``$WIRELESSDATA_CATALOG`` names another file.
    :param url: the shard path.
    :returns: the row written.
    """

    def change(cat: Catalog) -> dict[str, Any]:
        row = shard_row(cat, url)
        cat.upsert([row])
        return row

    return update_catalog(root, catalog, change)


@dataclass
class RebuildReport:
    """Shard keys by what :func:`rebuild` did to their rows."""

    catalog: str
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def rebuild(root: str, catalog: str | None = None) -> RebuildReport:
    """Bring the catalog of ``root`` in line with the shards under it (create it when absent).

    Every shard is re-read (attributes and block checksums; the data only when its stats are absent or
    outdated); a row that differs, e.g. by checksum or status, is ``changed``; a row under ``root``
    whose shard is gone is marked ``missing``. All of it is written in one transaction.
    """
    if not exists(root):
        raise CatalogError(f"{root}: no such folder; give the dataset root holding the *.zarr shards")
    if exists(join(root, "zarr.json")):
        raise CatalogError(f"{root} is a shard; give the folder holding it")

    def change(cat: Catalog) -> RebuildReport:
        report = RebuildReport(cat.base and join(cat.base, CATALOG_FILE) or str(cat.path))
        scope, params = cat.scope(root)
        old = {r["shard"]: r for r in cat.select(scope, params)}
        rows = [shard_row(cat, url) for url in find_shards(root)]
        for row in rows:
            before = old.get(row["shard"])
            kind = "added" if before is None else "unchanged" if before == row else "changed"
            getattr(report, kind).append(row["shard"])
        found = {r["shard"] for r in rows}
        report.missing = [k for k, r in old.items() if k not in found and r["status"] != STATUS_MISSING]
        with cat.transaction():
            cat.upsert([r for r in rows if old.get(r["shard"]) != r])
            cat.mark_missing(report.missing)
        return report

    return update_catalog(root, catalog, change)


def shard_row(cat: Catalog, url: str) -> dict[str, Any]:
    """The catalog row of the shard at ``url``, from its store alone.

    Distributions come from the shard's ``stats`` attribute when it has the current layout, else a
    streaming pass (:func:`~wirelessdata.shard.stats.shard_stats`) measures them (complete shards only). A
    store that cannot be opened gives an ``invalid`` row.
    """
    key = cat.key(url)
    if not exists(url):
        raise CatalogError(f"{url}: no shard there (moved or deleted?); give its current path")
    try:
        group = open_group(url)
        attrs = group.attrs.asdict()
        arrays = dict(group.arrays())
    except StoreError as exc:
        return row_from_attrs(key, {}, status=STATUS_INVALID, problem=str(exc))
    status, problem = _status(attrs, arrays)
    stats = attrs.get("stats") or {}
    if stats.get("version") != STATS_VERSION:
        stats = None
        if status == STATUS_COMPLETE:
            try:
                stats = shard_stats(group)
            except Exception as exc:  # an unreadable or truncated chunk: the row says so instead of failing
                status, problem = STATUS_INVALID, f"cannot read its data ({type(exc).__name__}: {exc})"
    csi = arrays.get("csi")
    return row_from_attrs(
        key,
        attrs,
        stats=stats,
        status=status,
        problem=problem,
        nbytes=stored_bytes(url),
        csi_shape=tuple(csi.shape[1:]) if csi is not None else None,
    )


def row_from_attrs(
    key: str,
    attrs: Mapping[str, Any],
    stats: Mapping[str, Any] | None = None,
    status: str = STATUS_COMPLETE,
    problem: str | None = None,
    nbytes: int | None = None,
    csi_shape: tuple[int, ...] | None = None,
) -> dict[str, Any]:
    """A catalog row from a shard's group attributes and distributions (no store access).

    :param key: the row key (see :meth:`Catalog.key`).
    :param attrs: the shard's group attributes (schema ``attrs``).
    :param stats: the result of :func:`~wirelessdata.shard.stats.shard_stats`, or None.
    :param csi_shape: ``(T, K, N_bs, N_ue)`` of the ``csi`` variable, None without CSI.
    """
    recipe = attrs.get("recipe") or {}
    counts = (attrs.get("curation") or {}).get("counts", {})
    t, k, nbs, nue = csi_shape or (None, None, attrs.get("num_bs_ant"), attrs.get("num_ue_ant"))
    row: dict[str, Any] = {
        "shard": key,
        "status": status,
        "problem": problem,
        **{name: attrs.get(name) for name in ATTR_FIELDS},
        "recipe_name": recipe.get("name"),
        "tags": ",".join(attrs.get("tags", [])) or None,
        "flagged": counts.get("any"),
        **{f"flag_{name}": counts.get(name) for name in load_schema().quality_flags},
        "num_bs_ant": nbs,
        "num_ue_ant": nue,
        "num_time_steps": t,
        "num_subcarriers": k,
        "modalities": ",".join(attrs.get("modalities", [])) if attrs else None,
        "bytes": nbytes,
        "recipe": json.dumps(recipe, sort_keys=True) if recipe else None,
        "stats": json.dumps(stats, sort_keys=True) if stats else None,
    }
    metrics = (stats or {}).get("metrics", {})
    for m in METRICS:
        summary = metrics.get(m.name, {})
        row.update({f"{m.name}_{s}": summary.get(s) for s in SUMMARY_STATS})
    return row


def _status(attrs: Mapping[str, Any], arrays: Mapping[str, Any]) -> tuple[str, str | None]:
    """``(status, problem)`` from the attributes and the block checksums (no data read)."""
    schema = load_schema()
    if attrs.get("schema") != schema.name:
        return STATUS_INVALID, f"not a wirelessdata shard (attribute schema={attrs.get('schema')!r})"
    if str(attrs.get("schema_version", "0")).split(".")[0] != str(schema.major):
        return STATUS_INVALID, f"schema_version {attrs.get('schema_version')}, this reads schema {schema.version}"
    try:
        blocks = np.asarray(arrays["block_checksum"][:])
    except Exception as exc:  # a missing array or an unreadable chunk: both make the shard invalid
        return STATUS_INVALID, f"cannot read block_checksum ({type(exc).__name__}: {exc})"
    if attrs.get("status") != STATUS_COMPLETE:
        return STATUS_INCOMPLETE, f"{int((blocks == 0).sum())} of {blocks.size} blocks unwritten or never committed"
    if attrs.get("checksum") != shard_checksum(blocks):
        return STATUS_INVALID, "block checksums differ from the committed shard checksum (changed after commit)"
    return STATUS_COMPLETE, None
