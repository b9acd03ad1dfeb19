"""The fields of a catalog row: one place for the table columns, the filterable names and their docs.

A row is one shard: its configuration (:data:`CONFIG_FIELDS`), the scalar part of each distribution
flattened to ``<metric>_<stat>`` (:data:`DIST_FIELDS`, e.g. ``delay_spread_p50``), and two JSON
columns (:data:`JSON_FIELDS`: the recipe, and the full distributions with their histograms).
"""

from __future__ import annotations

from dataclasses import dataclass

from wirelessdata.shard.schema import load_schema
from wirelessdata.shard.stats import METRICS, SUMMARY_STATS


@dataclass(frozen=True)
class Field:
    """One column: name, SQLite type (``TEXT``, ``REAL`` or ``INTEGER``) and meaning with units."""

    name: str
    sql: str
    description: str

    @property
    def numeric(self) -> bool:
        """True for ``REAL`` and ``INTEGER`` columns (compared as numbers in filters)."""
        return self.sql != "TEXT"


_SQL = {"string": "TEXT", "number": "REAL", "integer": "INTEGER"}

ATTR_FIELDS: tuple[str, ...] = (
    "generator",
    "generator_version",
    "engine_version",
    "recipe_hash",
    "band",
    "scenario",
    "los_policy",
    "link",
    "carrier_frequency_hz",
    "bandwidth_hz",
    "subcarrier_spacing_hz",
    "bs_array",
    "num_samples",
    "schema_version",
    "created",
    "committed",
    "checksum",
)
"""Columns copied from the shard's group attributes; their type and meaning come from the schema file."""


def _attr(name: str) -> Field:
    """The column of the group attribute ``name``, typed and described by the schema."""
    spec = load_schema().attrs[name]
    return Field(name, _SQL[spec["type"]], spec["description"])


CONFIG_FIELDS: tuple[Field, ...] = (
    Field("shard", "TEXT", "shard path relative to the catalog's folder (absolute when outside it)"),
    Field("status", "TEXT", "complete, incomplete, invalid or missing (gone from disk)"),
    Field("problem", "TEXT", "why a shard is incomplete, invalid or missing"),
    *map(_attr, ATTR_FIELDS[:3]),
    Field("recipe_name", "TEXT", "name of the recipe entry (drop set)"),
    Field("tags", "TEXT", "free labels of the recipe entry, comma separated (filter with tag=LABEL)"),
    *map(_attr, ATTR_FIELDS[3:12]),
    Field("num_bs_ant", "INTEGER", "BS antennas N_bs"),
    Field("num_ue_ant", "INTEGER", "UE antennas N_ue"),
    Field("num_time_steps", "INTEGER", "CSI time steps (snapshots) per sample T"),
    Field("num_subcarriers", "INTEGER", "CSI subcarriers K"),
    Field("modalities", "TEXT", "modalities present, comma separated (filter with has=MODALITY)"),
    _attr("num_samples"),
    Field("bytes", "INTEGER", "bytes on disk"),
    *map(_attr, ATTR_FIELDS[13:]),
    Field("flagged", "INTEGER", "samples with any curation quality flag (set by wirelessdata curate)"),
    *(
        Field(f"flag_{name}", "INTEGER", f"samples flagged {name}: {flag['description']}")
        for name, flag in load_schema().quality_flags.items()
    ),
)
"""The configuration columns, in table order: the shard's attributes (:data:`ATTR_FIELDS`) and what the catalog
derives (status, recipe entry, CSI shape, size, curation counts)."""

DIST_FIELDS: tuple[Field, ...] = tuple(
    Field(f"{m.name}_{s}", "INTEGER" if s == "count" else "REAL", f"{s} of {m.description} ({m.units})")
    for m in METRICS
    for s in SUMMARY_STATS
)

JSON_FIELDS: tuple[Field, ...] = (
    Field("recipe", "TEXT", "the full recipe, JSON"),
    Field("stats", "TEXT", "the full distributions with histograms (the shard's stats attribute), JSON"),
)

FIELDS: dict[str, Field] = {f.name: f for f in (*CONFIG_FIELDS, *DIST_FIELDS, *JSON_FIELDS)}
FILTERABLE: dict[str, Field] = {f.name: f for f in (*CONFIG_FIELDS, *DIST_FIELDS)}
RENAMED: dict[str, str] = {"num_snapshots": "num_time_steps"}
"""Old field name -> its name now; filters still accept the old one, with a warning (catalog version 3)."""
HAS = "has"
"""Pseudo-field of filters: ``has=lidar`` keeps shards whose modalities include lidar."""
TAG = "tag"
"""Pseudo-field of filters: ``tag=zero-shot`` keeps shards whose recipe entry carries that label."""
