"""``curate(root)``: one streaming pass over the catalogued shards of a root, flags written back, catalog updated.

1. Every complete shard of the root's catalog is scanned block by block (:func:`scan_shard`), in this
   process or as one Dask task per shard (the executor of generation).
2. ``zero_power`` is set per shard from its power distribution, duplicates across the whole root.
3. Each shard's ``quality_flags`` is rewritten block by block where it changed: the bits curation owns
   are recomputed, any other bit is kept. Nothing else is written but the group attribute
   ``curation`` (counts per flag, thresholds, time); ``quality_flags`` is outside the block
   checksums, so the shard stays valid and its checksum does not change.
4. The shard is registered again in the catalog.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from wirelessdata.catalog import ls, register_shard
from wirelessdata.curate import duplicates, flags
from wirelessdata.curate.duplicates import find_duplicates
from wirelessdata.curate.scan import ShardScan, scan_shard
from wirelessdata.shard.schema import load_schema
from wirelessdata.shard.store import consolidate, open_group

CURATION_VERSION = 1
"""Version of the ``curation`` attribute and of the rules; bumped when either changes."""


@dataclass(frozen=True)
class ShardCuration:
    """What curation found in one shard.

    :param url: the shard.
    :param num_samples: its samples.
    :param counts: samples carrying each flag, by flag name (schema order).
    :param changed: samples whose ``quality_flags`` changed in this run.
    :param threshold: the near-duplicate distance applied to its samples.
    """

    url: str
    num_samples: int
    counts: dict[str, int]
    changed: int
    threshold: float = float("nan")

    @property
    def flagged(self) -> int:
        """Samples with any curation flag (a sample may carry several)."""
        return self.counts.get("any", 0)


@dataclass(frozen=True)
class CurationReport:
    """The result of :func:`curate`.

    :param root: the dataset root.
    :param shards: per curated shard, in root order.
    :param groups: duplicate groups, each a list of ``(shard url, sample index)`` in root order (the first is kept).
    :param skipped: catalogued shards not curated (not complete), with the reason.
    """

    root: str
    shards: list[ShardCuration]
    groups: list[list[tuple[str, int]]]
    skipped: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        """Samples carrying each flag over the root (and ``any``)."""
        keys = self.shards[0].counts if self.shards else {}
        return {k: sum(s.counts[k] for s in self.shards) for k in keys}


def _thresholds(threshold: float) -> dict[str, float]:
    """The thresholds in force for one shard (``threshold``: its near-duplicate distance)."""
    return {
        "zero_power_margin_db": flags.ZERO_POWER_MARGIN_DB,
        "path_gain_min_db": flags.PATH_GAIN_MIN_DB,
        "free_space_excess_db": flags.FREE_SPACE_EXCESS_DB,
        "outlier_sigmas": flags.OUTLIER_SIGMAS,
        "near_duplicate_distance": threshold,
        "fingerprint_dim": duplicates.FINGERPRINT_DIM,
        "fingerprint_snapshots": duplicates.FINGERPRINT_SNAPSHOTS,
        "fingerprint_floor": duplicates.FINGERPRINT_FLOOR,
    }


def _scan_all(urls: Sequence[str], workers: int, scheduler: str | None) -> list[ShardScan]:
    """Scan every shard, here or one Dask task per shard."""
    if workers <= 1 and scheduler is None:
        return [scan_shard(u) for u in urls]
    from wirelessdata.generate.run import executor

    with executor(workers, scheduler) as client:
        return client.gather(client.map(scan_shard, list(urls), pure=False))


def write_flags(url: str, new: np.ndarray, block_size: int) -> int:
    """Write ``new`` (uint32 [n]) into the shard's ``quality_flags``, block by block where it differs.

    :returns: the number of samples whose flags changed.
    """
    arr = open_group(url, mode="r+")["quality_flags"]
    changed = 0
    for start in range(0, new.size, block_size):
        stop = min(start + block_size, new.size)
        old = np.asarray(arr[start:stop])
        diff = int((old != new[start:stop]).sum())
        if diff:
            arr[start:stop] = new[start:stop]
            changed += diff
    return changed


def _record(url: str, counts: dict[str, int], thresholds: dict[str, float], floor_db: float) -> None:
    """Set the shard's ``curation`` attribute and refresh its consolidated metadata."""
    group = open_group(url, mode="r+")
    group.attrs["curation"] = {
        "version": CURATION_VERSION,
        "curated": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "counts": counts,
        "power_floor_db": floor_db if np.isfinite(floor_db) else None,
        "thresholds": thresholds,
    }
    consolidate(group)


def curate(
    root: str,
    catalog: str | None = None,
    threshold: float | None = None,
    workers: int = 1,
    scheduler: str | None = None,
) -> CurationReport:
    """Flag every sample of the complete shards in the catalog of ``root``; rewrite only ``quality_flags``.

    :param root: dataset root holding a catalog (``wirelessdata catalog rebuild ROOT`` makes one).
    :param catalog: another catalog file (see :func:`~wirelessdata.catalog.catalog_path`).
    :param threshold: near-duplicate fingerprint distance (L2 between unit vectors) for every shard; None: each
        shard's from its configuration (:func:`~wirelessdata.curate.duplicates.near_threshold`).
    :param workers: local Dask worker processes for the scans (1: this process).
    :param scheduler: address of a Dask scheduler to scan on.
    :returns: counts per shard and flag, and the duplicate groups.
    """
    rows = ls(root, (), catalog, columns=("status", "num_samples"))
    urls = [r["path"] for r in rows if r["status"] == "complete"]
    skipped = [f"{r['path']} ({r['status']})" for r in rows if r["status"] != "complete"]
    scans = _scan_all(urls, workers, scheduler)
    dup = find_duplicates([s.keys for s in scans], threshold)
    offsets = np.cumsum([0, *(s.info.num_samples for s in scans)])
    schema = load_schema()
    owned = np.uint32(flags.curated_mask())
    curated = []
    for i, scan in enumerate(scans):
        lo, hi = offsets[i], offsets[i + 1]
        new = scan.flags.copy()
        new[flags.zero_power(scan.power_db)] |= np.uint32(schema.flag_bit("zero_power"))
        new[dup.exact[lo:hi]] |= np.uint32(schema.flag_bit("exact_duplicate"))
        new[dup.near[lo:hi]] |= np.uint32(schema.flag_bit("near_duplicate"))
        new |= scan.stored_flags & ~owned
        changed = write_flags(scan.info.url, new, scan.info.block_size)
        counts = {**flags.counts(new), "any": int((new & owned != 0).sum())}
        near = scan.keys.threshold if threshold is None else threshold
        _record(scan.info.url, counts, _thresholds(near), flags.power_floor_db(scan.power_db))
        register_shard(root, scan.info.url, catalog)
        curated.append(ShardCuration(scan.info.url, scan.info.num_samples, counts, changed, near))
    where = np.searchsorted(offsets, np.arange(offsets[-1]), side="right") - 1
    groups = [[(scans[where[x]].info.url, int(x - offsets[where[x]])) for x in g] for g in dup.groups]
    return CurationReport(root, curated, groups, skipped)
