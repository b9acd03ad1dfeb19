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


CONFIG_FIELDS: tuple[Field, ...] = (
    Field("shard", "TEXT", "shard path relative to the catalog's folder (absolute when outside it)"),
    Field("status", "TEXT", "complete, incomplete, invalid or missing (gone from disk)"),
    Field("problem", "TEXT", "why a shard is incomplete, invalid or missing"),
    Field("generator", "TEXT", "generator or importer name"),
    Field("generator_version", "TEXT", "wirelessdata version that wrote the shard"),
    Field("engine_version", "TEXT", "version of the simulation engine or source dataset"),
    Field("recipe_name", "TEXT", "name of the recipe entry (drop set)"),
    Field("tags", "TEXT", "free labels of the recipe entry, comma separated (filter with tag=LABEL)"),
    Field("recipe_hash", "TEXT", "sha256 of the canonical JSON of the recipe"),
    Field("band", "TEXT", "band label, e.g. sub6, 28GHz"),
    Field("scenario", "TEXT", "propagation scenario, e.g. UMa"),
    Field("los_policy", "TEXT", "LoS policy of the generator: random, los or nlos"),
    Field("link", "TEXT", "uplink or downlink"),
    Field("carrier_frequency_hz", "REAL", "carrier frequency, Hz"),
    Field("bandwidth_hz", "REAL", "occupied bandwidth, Hz"),
    Field("subcarrier_spacing_hz", "REAL", "subcarrier spacing, Hz"),
    Field("bs_array", "TEXT", "BS panel rows x columns, e.g. 4x8"),
    Field("num_bs_ant", "INTEGER", "BS antennas N_bs"),
    Field("num_ue_ant", "INTEGER", "UE antennas N_ue"),
    Field("num_snapshots", "INTEGER", "CSI snapshots per sample T"),
    Field("num_subcarriers", "INTEGER", "CSI subcarriers K"),
    Field("modalities", "TEXT", "modalities present, comma separated (filter with has=MODALITY)"),
    Field("num_samples", "INTEGER", "samples in the shard"),
    Field("bytes", "INTEGER", "bytes on disk"),
    Field("schema_version", "TEXT", "schema version the shard follows"),
    Field("created", "TEXT", "ISO 8601 UTC time the shard was created"),
    Field("committed", "TEXT", "ISO 8601 UTC time the shard was committed"),
    Field("checksum", "TEXT", "shard checksum over its block checksums"),
    Field("flagged", "INTEGER", "samples with any curation quality flag (set by wirelessdata curate)"),
    *(
        Field(f"flag_{name}", "INTEGER", f"samples flagged {name}: {flag['description']}")
        for name, flag in load_schema().quality_flags.items()
    ),
)

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
HAS = "has"
"""Pseudo-field of filters: ``has=lidar`` keeps shards whose modalities include lidar."""
TAG = "tag"
"""Pseudo-field of filters: ``tag=zero-shot`` keeps shards whose recipe entry carries that label."""
