"""Check shards against the schema: structure, values, completeness and checksums.

Every failure is a :class:`Finding` naming the shard, the rule and the variable. Rules:

- ``path.missing``, ``path.no_shards``, ``store.open``: nothing readable at the path.
- ``store.metadata``: an array's own ``zarr.json`` is unreadable or differs from the consolidated metadata.
- ``schema.name``, ``schema.version``: not a wirelessdata shard, or written by a newer schema.
- ``attrs.required``, ``attrs.modalities``: group attributes missing or wrong.
- ``var.missing``, ``var.dims``, ``var.dtype``, ``var.units``, ``var.shape``: a variable is absent or malformed.
- ``coord.monotonic``: ``time`` / ``subcarrier`` not strictly increasing.
- ``blocks.complete``: blocks unwritten or the shard never committed (an interrupted run).
- ``chunk.readable``: a chunk cannot be read or decoded (corruption, truncation).
- ``blocks.checksum``, ``shard.checksum``: stored bytes differ from what was written.
- ``values.finite``: NaN or infinity in a variable that must be finite.
- ``sample_id.unique``: a sample id appears twice.
- ``ragged.offsets``: ``*_start`` / ``*_count`` inconsistent with the ragged array.
- ``sensing.aligned``: a modality timestamp lies further than the tolerance from every CSI snapshot time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.abc.store import Store
from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync

from wirelessdata.errors import ConfigError, StoreError
from wirelessdata.shard.read import read_ahead, read_whole
from wirelessdata.shard.schema import Schema, load_schema
from wirelessdata.shard.stats import StatsPass
from wirelessdata.shard.store import (
    STATUS_COMPLETE,
    block_checksum,
    checksummed,
    open_group,
    shard_checksum,
)
from wirelessdata.shard.url import exists, find_shards


@dataclass(frozen=True)
class Finding:
    """One failed rule."""

    shard: str
    rule: str
    variable: str | None
    message: str


@dataclass
class ShardReport:
    """The result of validating one shard."""

    shard: str
    num_samples: int | None = None
    status: str | None = None
    findings: list[Finding] = field(default_factory=list)
    stats: dict[str, Any] | None = None
    """The shard's statistics measured by the pass over its blocks (``validate_shard(measure=True)``, every block
    read); None otherwise. Not part of :meth:`to_dict`."""

    @property
    def ok(self) -> bool:
        """True when no rule failed."""
        return not self.findings

    def fail(self, rule: str, variable: str | None, message: str) -> None:
        """Record a failed rule."""
        self.findings.append(Finding(self.shard, rule, variable, message))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "shard": self.shard,
            "ok": self.ok,
            "num_samples": self.num_samples,
            "status": self.status,
            "findings": [asdict(f) for f in self.findings],
        }


def validate_path(path: str) -> list[ShardReport]:
    """Validate a shard, or every shard under a folder (a local path or a URL: ``s3://bucket/root``)."""
    if not exists(path):
        report = ShardReport(path)
        report.fail("path.missing", None, f"{path} does not exist; give a shard or a directory of shards")
        return [report]
    shards = find_shards(path)
    if not shards:
        report = ShardReport(path)
        report.fail("path.no_shards", None, f"no shard (*.zarr group with zarr.json) under {path}")
        return [report]
    return [validate_shard(s) for s in shards]


def validate_shard(
    url: str, schema: Schema | None = None, *, data: bool = True, metadata: bool = True, measure: bool = False
) -> ShardReport:
    """Validate one shard; never raises for a broken shard, every problem becomes a finding.

    The writer splits the checks around a new shard's commit, so that the shard is read once: before it, the pass
    over the blocks (``metadata=False, measure=True``), which also measures the statistics the commit records;
    after it, the rest (``data=False``). Both check the header and the structure they rely on.

    :param data: read every block (checksums, values, ids, offsets, timestamps; every block written).
    :param metadata: check the arrays' own documents, the coordinates and the commit (status ``complete``, the
        shard checksum over the block checksums).
    :param measure: with ``data``, measure the shard's statistics in the same pass (:attr:`ShardReport.stats`;
        left None when a block is unwritten or unreadable).
    """
    schema = schema or load_schema()
    report = ShardReport(url)
    try:
        group = open_group(url, mode="r")
    except StoreError as exc:
        report.fail("store.open", None, str(exc))
        return report
    try:
        attrs = group.attrs.asdict()
    except (TypeError, ValueError) as exc:  # zarr does not check what the metadata document holds
        report.fail("store.metadata", None, f"the group's attributes are malformed ({type(exc).__name__}: {exc})")
        return report
    if not _check_header(report, attrs, schema):
        return report
    if metadata:
        _check_own_metadata(report, group)
    arrays = _check_structure(report, group, attrs, schema)
    if report.findings and any(f.rule in ("var.dims", "var.shape") for f in report.findings):
        return report  # block-wise checks need a sound structure
    if metadata:
        _check_coords(report, arrays)
    stored = _check_commit(report, arrays, attrs, metadata)
    if data and stored is not None:
        csi = arrays.get("csi")
        stats = StatsPass(attrs, None if csi is None else int(csi.chunks[0])) if measure else None
        if _check_data(report, arrays, attrs, schema, stored, stats) and stats is not None:
            report.stats = stats.result()
    return report


def _check_header(report: ShardReport, attrs: dict[str, Any], schema: Schema) -> bool:
    if attrs.get("schema") != schema.name:
        report.fail("schema.name", None, f"attribute schema={attrs.get('schema')!r}, want {schema.name!r}: not a shard")
        return False
    version = str(attrs.get("schema_version", "0"))
    try:
        major = int(version.split(".")[0])
    except ValueError:
        major = -1
    if major != schema.major:
        report.fail(
            "schema.version",
            None,
            f"schema_version {version} cannot be read by this wirelessdata (schema {schema.version}); "
            + ("upgrade wirelessdata" if major > schema.major else "regenerate the shard"),
        )
        return False
    missing = [k for k, a in schema.attrs.items() if a["required"] and k not in attrs]
    if missing:
        report.fail("attrs.required", None, f"missing group attributes: {', '.join(missing)}")
    mods = attrs.get("modalities", [])
    unknown = [m for m in mods if m not in schema.modalities]
    if not isinstance(mods, list) or unknown:
        report.fail("attrs.modalities", None, f"unknown modalities {unknown}; valid: {', '.join(schema.modalities)}")
    report.num_samples = attrs.get("num_samples")
    report.status = attrs.get("status")
    return True


def _check_own_metadata(report: ShardReport, group: zarr.Group) -> None:
    """Every array's own ``zarr.json`` must be readable and equal to its entry in the group's consolidated metadata
    (readers that open the group use the latter; an array opened alone, e.g. ``zarr.open_array``, the former).

    The documents are compared as JSON, as stored (all read at once, one round trip): what a reader of either gets.
    """
    consolidated = group.metadata.consolidated_metadata
    names = sorted(consolidated.metadata if consolidated else {})
    prefix = f"{group.path}/" if group.path else ""
    docs = sync(_documents(group.store, [f"{prefix}zarr.json", *(f"{prefix}{n}/zarr.json" for n in names)]))
    entries = docs[0].get("consolidated_metadata", {}).get("metadata", {}) if isinstance(docs[0], dict) else {}
    for name, own in zip(names, docs[1:], strict=True):
        if not isinstance(own, dict):  # missing, not JSON, not a JSON object
            why = type(own).__name__ if isinstance(own, BaseException) else "not a JSON object"
            report.fail(
                "store.metadata",
                name,
                f"its zarr.json is unreadable ({why}); the shard was "
                "damaged after it was written: restore it or generate it again",
            )
            continue
        if own != entries.get(name):  # entries: the same group document the consolidated metadata was read from
            report.fail(
                "store.metadata",
                name,
                "its zarr.json differs from the group's consolidated metadata; the "
                "shard was damaged after it was written: restore it or generate it again",
            )


async def _documents(store: Store, keys: list[str]) -> list[Any]:
    """The JSON documents at ``keys`` of ``store`` (or the exception reading one raised), all requests in flight."""
    prototype = default_buffer_prototype()

    async def one(key: str) -> Any:
        buffer = await store.get(key, prototype=prototype)
        if buffer is None:
            raise FileNotFoundError(key)
        return json.loads(buffer.to_bytes())

    return list(await asyncio.gather(*(one(k) for k in keys), return_exceptions=True))


def _check_structure(
    report: ShardReport, group: zarr.Group, attrs: dict[str, Any], schema: Schema
) -> dict[str, zarr.Array]:
    mods = [m for m in attrs.get("modalities", []) if m in schema.modalities]
    try:
        present = dict(group.arrays())
    except Exception as exc:
        report.fail("store.open", None, f"cannot list arrays ({type(exc).__name__}: {exc})")
        return {}
    for spec in schema.required_variables(mods):
        if spec.name not in present:
            report.fail("var.missing", spec.name, f"required by modality '{spec.modality}' but absent")
    n = attrs.get("num_samples")
    nblocks = -(-int(n) // int(attrs["block_size"])) if n and attrs.get("block_size") else None
    arrays: dict[str, zarr.Array] = {}
    for name, arr in present.items():
        spec = schema.variables.get(name)
        if spec is None:
            continue  # extra variables are allowed; they are not checked
        try:
            dims = tuple(arr.metadata.dimension_names or ())
            a = arr.attrs.asdict()
        except (TypeError, ValueError) as exc:  # zarr does not check what the metadata document holds
            report.fail("store.metadata", name, f"its metadata is malformed ({type(exc).__name__}: {exc})")
            continue
        if dims != spec.dims:
            report.fail("var.dims", name, f"dims {dims}, want {spec.dims}")
            continue
        if arr.dtype != spec.dtype:
            report.fail("var.dtype", name, f"dtype {arr.dtype}, want {spec.dtype}")
        if a.get("units") != spec.units or not a.get("long_name"):
            report.fail(
                "var.units",
                name,
                f"units={a.get('units')!r} long_name={a.get('long_name')!r}, want units={spec.units!r}",
            )
        if spec.per_sample and n is not None and arr.shape[0] != int(n):
            report.fail("var.shape", name, f"{arr.shape[0]} samples, attribute num_samples says {n}")
            continue
        if "block" in dims and nblocks is not None and arr.shape[0] != nblocks:
            report.fail("var.shape", name, f"{arr.shape[0]} blocks, want {nblocks}")
            continue
        arrays[name] = arr
    return arrays


def _check_coords(report: ShardReport, arrays: dict[str, zarr.Array]) -> None:
    schema = load_schema()
    names = [n for n in arrays if not schema.variables[n].per_sample and n != "block_checksum"]
    for name, values in zip(names, read_whole([arrays[n] for n in names]), strict=True):
        spec = schema.variables[name]
        if isinstance(values, BaseException):
            report.fail("chunk.readable", name, f"cannot read ({type(values).__name__}: {values})")
            continue
        if spec.finite and not np.isfinite(values).all():
            report.fail("values.finite", name, "non-finite values")
        if spec.monotonic and values.size > 1 and not (np.diff(values) > 0).all():
            report.fail("coord.monotonic", name, "not strictly increasing")


def _blocks(attrs: dict[str, Any]) -> Iterator[tuple[int, int, int]]:
    n, size = int(attrs["num_samples"]), int(attrs["block_size"])
    for b in range(-(-n // size)):
        yield b, b * size, min((b + 1) * size, n)


def _check_commit(
    report: ShardReport, arrays: dict[str, zarr.Array], attrs: dict[str, Any], commit: bool
) -> np.ndarray | None:
    """Every block written and, with ``commit``, the shard committed with the checksum of its block checksums.

    :returns: the stored block checksums (0: unwritten), None when there are none to read.
    """
    if "block_checksum" not in arrays or "num_samples" not in attrs or "block_size" not in attrs:
        return None
    try:
        stored = np.asarray(arrays["block_checksum"][:])
    except Exception as exc:
        report.fail("chunk.readable", "block_checksum", f"cannot read ({type(exc).__name__}: {exc})")
        return None
    unwritten = int((stored == 0).sum())
    if unwritten:
        report.fail(
            "blocks.complete",
            None,
            f"{unwritten} of {stored.size} blocks unwritten (interrupted run); rerun the same command to resume",
        )
    elif commit and attrs.get("status") != STATUS_COMPLETE:
        report.fail("blocks.complete", None, f"status {attrs.get('status')!r}: never committed; rerun the same command")
    elif commit and attrs.get("checksum") != shard_checksum(stored):
        report.fail("shard.checksum", "block_checksum", "block checksums differ from the committed shard checksum")
    return stored


def _check_data(
    report: ShardReport,
    arrays: dict[str, zarr.Array],
    attrs: dict[str, Any],
    schema: Schema,
    stored: np.ndarray,
    stats: StatsPass | None,
) -> bool:
    """Read every written block: its checksum, finite values, sensing timestamps; ids and ragged offsets over all.
    Each block read whole is given to ``stats``.

    :returns: True when every block was written and read.
    """
    whole = not (stored == 0).any()
    ragged = {r["dim"]: r for r in attrs.get("ragged", [])}
    sample_arrays = {k: a for k, a in arrays.items() if schema.variables[k].dims[0] in ("sample", *ragged)}
    times = np.asarray(arrays["time"][:]) if "time" in arrays else None
    tol = float(attrs.get("sensing_time_tolerance_s", schema.defaults["sensing_time_tolerance_s"]))
    ids: list[np.ndarray] = []
    offsets: dict[str, list[np.ndarray]] = {}
    bad_finite: dict[str, int] = {}
    bad_time: dict[str, int] = {}
    caps = {  # rows per sample
        name: int(ragged[dim]["capacity_per_sample"]) if (dim := schema.variables[name].dims[0]) in ragged else 1
        for name in sample_arrays
    }
    names = list(sample_arrays)
    written = [(b, start, stop) for b, start, stop in _blocks(attrs) if stored[b] != 0]  # unwritten ones reported
    requests = ([(sample_arrays[n], start * caps[n], stop * caps[n]) for n in names] for _, start, stop in written)
    for (b, start, stop), got in zip(written, read_ahead(requests, report.shard), strict=True):
        data: dict[str, np.ndarray] = {}
        for name, values in zip(names, got, strict=True):
            if isinstance(values, BaseException):
                report.fail("chunk.readable", name, f"block {b}: cannot read ({type(values).__name__}: {values})")
            else:
                data[name] = values
        if len(data) < len(sample_arrays):
            whole = False
            continue
        if stats is not None:
            stats.add(data, [data["csi"][lo - start : hi - start] for lo, hi in stats.csi_ranges(start, stop)])
        if block_checksum(checksummed(data, schema)) != int(stored[b]):
            report.fail("blocks.checksum", None, f"block {b} (samples {start}..{stop - 1}): bytes differ from checksum")
        for name, values in data.items():
            spec = schema.variables[name]
            if spec.finite:
                with np.errstate(over="ignore", invalid="ignore"):  # a finite sum has no NaN or inf in it
                    total = values.sum()  # (2.7x faster than counting them); else they are counted
                bad = 0 if np.isfinite(total) else int((~np.isfinite(values)).sum())
                if bad:
                    bad_finite[name] = bad_finite.get(name, 0) + bad
            if spec.timestamp and times is not None:
                dist = np.abs(values[..., None] - times).min(axis=-1)
                n_bad = int((~(dist <= tol)).sum())
                if n_bad:
                    bad_time[name] = bad_time.get(name, 0) + n_bad
        if "sample_id" in data:
            ids.append(data["sample_id"])
        for r in ragged.values():
            for part in ("start", "count"):
                offsets.setdefault(f"{r['prefix']}_{part}", []).append(data[f"{r['prefix']}_{part}"])
    for name, bad in bad_finite.items():
        report.fail("values.finite", name, f"{bad} non-finite values")
    for name, bad in bad_time.items():
        report.fail("sensing.aligned", name, f"{bad} timestamps further than {tol} s from every CSI snapshot time")
    for r in ragged.values():
        p = r["prefix"]
        if offsets.get(f"{p}_start"):
            rows = int(r["capacity_per_sample"]) * int(attrs["num_samples"])
            _check_ragged(report, p, np.concatenate(offsets[f"{p}_start"]), np.concatenate(offsets[f"{p}_count"]), rows)
    if ids:
        all_ids = np.concatenate(ids)
        dup = all_ids.size - np.unique(all_ids).size
        if dup:
            report.fail("sample_id.unique", "sample_id", f"{dup} repeated sample ids")
    return whole


def _check_ragged(report: ShardReport, prefix: str, start: np.ndarray, count: np.ndarray, rows: int) -> None:
    """Each sample's rows ``[start, start + count)`` lie inside the ragged array and do not overlap."""
    end = start + count
    order = np.argsort(start, kind="stable")
    overlap = (start[order][1:] < end[order][:-1]).any()
    if (count < 0).any() or (start < 0).any() or (end > rows).any() or overlap:
        report.fail(
            "ragged.offsets",
            f"{prefix}_start",
            f"{prefix}_start/{prefix}_count give negative, overlapping or out-of-range rows (array has {rows})",
        )


def shard_urls(paths: Sequence[str | Path]) -> list[str]:
    """Shards named by ``paths``: a shard itself, or every ``*.zarr`` shard under a folder (sorted)."""
    urls: list[str] = []
    for p in map(str, paths):
        if not exists(p):
            raise StoreError(f"{p}: no such shard or folder; give shards (*.zarr) or a folder holding them")
        found = find_shards(p)
        if not found:
            raise StoreError(f"{p}: no shard (*.zarr group with zarr.json) there; give shards or a folder of shards")
        urls += found
    if len(set(urls)) != len(urls):
        raise ConfigError("a shard is given twice (directly and through its folder?); give each shard once")
    return urls
