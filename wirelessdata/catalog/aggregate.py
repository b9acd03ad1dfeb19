"""Distributions of groups of shards (``catalog stats --by band,scenario``): summaries merged, histograms summed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from wirelessdata.catalog.db import CatalogError
from wirelessdata.catalog.fields import CONFIG_FIELDS
from wirelessdata.catalog.query import ls
from wirelessdata.shard.stats import METRIC_BY_NAME, merge_summaries

GROUP_FIELDS = tuple(f.name for f in CONFIG_FIELDS)


def check_metrics(metrics: Sequence[str]) -> None:
    """Raise a one-line :class:`CatalogError` for a name that is not a metric."""
    unknown = [m for m in metrics if m not in METRIC_BY_NAME]
    if unknown:
        raise CatalogError(f"unknown metric {unknown[0]!r}; choose one of {', '.join(METRIC_BY_NAME)}")


def group_stats(
    root: str,
    by: Sequence[str] = (),
    where: Sequence[str] = (),
    metrics: Sequence[str] | None = None,
    catalog: str | None = None,
) -> list[dict[str, Any]]:
    """Merged distributions of the complete shards under ``root`` matching ``where``, grouped by fields ``by``.

    :param by: configuration fields to group on, e.g. ``("band", "scenario")``; none: one group.
    :param metrics: metric names (default: all of :data:`~wirelessdata.shard.stats.METRICS`).
    :returns: per group, sorted by its values: ``{"group": {field: value}, "shards": n, "samples": n,
        "metrics": {name: merged summary}}`` (see :func:`~wirelessdata.shard.stats.merge_summaries`).
    """
    unknown = [b for b in by if b not in GROUP_FIELDS]
    if unknown:
        raise CatalogError(f"cannot group by {unknown[0]!r}; choose from {', '.join(GROUP_FIELDS)}")
    names = list(metrics or METRIC_BY_NAME)
    check_metrics(names)
    rows = ls(root, [*where, "status=complete"], catalog, columns=(*by, "num_samples", "stats"))
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[b] for b in by), []).append(row)
    out = []
    for key in sorted(groups, key=lambda k: [(v is None, str(v)) for v in k]):
        members = groups[key]
        decoded = [json.loads(r["stats"])["metrics"] if r["stats"] else {} for r in members]
        merged = {}
        for name in names:
            parts = [d[name] for d in decoded if name in d]
            if parts:
                try:
                    merged[name] = merge_summaries(parts)
                except ValueError as exc:
                    raise CatalogError(f"metric {name}: {exc}") from exc
        out.append(
            {
                "group": dict(zip(by, key, strict=True)),
                "shards": len(members),
                "samples": sum(r["num_samples"] or 0 for r in members),
                "metrics": merged,
            }
        )
    return out
