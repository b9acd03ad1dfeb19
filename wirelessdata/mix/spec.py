"""Mixture specs (``catalog/*.toml``) resolved against a catalog into a frozen manifest.

A spec::

    seed = 0
    val_fraction = 0.1        # by a hash of sample_id: the drops of one sample_id (paired bands) stay together
    temperature = 1.0         # sources without weight or count: p_i ∝ n_i^(1/T)
    epoch_samples = 0         # samples per training epoch from weighted sources (0: their available total)
    keep_flagged = false      # keep samples with curation quality flags

    [[sources]]
    name = "uma"
    where = ["scenario=UMa", "band=sub6,28GHz"]   # catalog filters (wirelessdata catalog ls --where ...)
    weight = 2.0              # or: count = 5000 (fixed samples per epoch)
    max_epochs = 1.0          # repetition cap: at most this many passes over the source per epoch
    max_fraction = 1.0        # use at most this fraction of the source's samples (a seeded subset)
    keep_flagged = false      # this source only (default: the spec's keep_flagged)

    [[holdout]]               # held out of every source, each its own split (zero-shot tests)
    name = "zero-shot"
    where = ["recipe_name=wifo-d17,wifo-d18,wifo-d19"]

    [balance]                 # optional: every source's samples follow a target histogram of a statistic
    statistic = "delay_spread"
    edges = [1e-9, 3e-8, 1e-7, 3e-7, 1e-5]
    target = "uniform"        # or one weight per bin; a source may have its own [sources.balance] or balance = false

Balancing (:mod:`wirelessdata.mix.balance`) applies to the training split only; validation and
held-out splits keep their natural distributions.

Requested proportions that cannot be met (a source too small for its share) are an error, not a shortfall.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wirelessdata.catalog.query import ls
from wirelessdata.errors import ConfigError
from wirelessdata.mix.balance import (
    BalanceSpec,
    check_reachable,
    keep_targeted,
    parse_balance,
    plan_quota,
    read_bins,
)
from wirelessdata.mix.manifest import Manifest, ManifestShard, Selection, Source
from wirelessdata.mix.split import val_mask
from wirelessdata.shard.read import ShardReader
from wirelessdata.shard.url import shard_name
from wirelessdata.tomlfile import read_toml

TOP_KEYS = ("seed", "val_fraction", "temperature", "epoch_samples", "keep_flagged", "sources", "holdout", "balance")
SOURCE_KEYS = ("name", "where", "weight", "count", "max_epochs", "max_fraction", "balance", "keep_flagged")
HOLDOUT_KEYS = ("name", "where")


@dataclass(frozen=True)
class SourceSpec:
    """One ``[[sources]]`` entry."""

    name: str
    where: tuple[str, ...]
    weight: float | None = None
    count: int | None = None
    max_epochs: float = 1.0
    max_fraction: float = 1.0
    balance: BalanceSpec | None = None
    keep_flagged: bool | None = None  # None: the spec's


@dataclass(frozen=True)
class MixSpec:
    """A parsed spec."""

    sources: tuple[SourceSpec, ...]
    holdout: tuple[tuple[str, tuple[str, ...]], ...] = ()
    seed: int = 0
    val_fraction: float = 0.1
    temperature: float = 1.0
    epoch_samples: int = 0
    keep_flagged: bool = False
    raw: Mapping[str, Any] | None = None


def _keys(where: str, entry: Mapping[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(set(entry) - set(allowed))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; valid keys: {list(allowed)}")


def _filters(where: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}.where: give a list of filters, e.g. ['band=28GHz', 'scenario=UMa']")
    return tuple(value)


def _number(where: str, value: Any, low: float, high: float = float("inf")) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(f"{where}: {value!r} is not a number in [{low}, {high}]")
    return float(value)


def _flag(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: {value!r} is not true or false")
    return value


def parse_spec(raw: Mapping[str, Any]) -> MixSpec:
    """Validate a spec mapping; one-line errors naming the entry and field."""
    _keys("spec", raw, TOP_KEYS)
    balance = parse_balance("balance", raw["balance"]) if "balance" in raw else None
    sources = []
    for i, entry in enumerate(raw.get("sources", [])):
        where = f"sources[{i}]"
        _keys(where, entry, SOURCE_KEYS)
        name = str(entry.get("name") or f"source{i}")
        if "weight" in entry and "count" in entry:
            raise ConfigError(f"{where} ({name}): give weight or count, not both")
        weight = _number(f"{where}.weight", entry["weight"], 0.0) if "weight" in entry else None
        count = int(_number(f"{where}.count", entry["count"], 1)) if "count" in entry else None
        sources.append(
            SourceSpec(
                name=name,
                where=_filters(where, entry.get("where")),
                weight=weight,
                count=count,
                max_epochs=_number(f"{where}.max_epochs", entry.get("max_epochs", 1.0), 1e-9),
                max_fraction=_number(f"{where}.max_fraction", entry.get("max_fraction", 1.0), 1e-9, 1.0),
                balance=parse_balance(f"{where}.balance", entry["balance"]) if "balance" in entry else balance,
                keep_flagged=_flag(f"{where}.keep_flagged", entry["keep_flagged"]) if "keep_flagged" in entry else None,
            )
        )
    if not sources:
        raise ConfigError("spec: no [[sources]]; add at least one source with a where filter")
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise ConfigError(f"spec: source names must be unique, got {names}")
    holdout = []
    for i, entry in enumerate(raw.get("holdout", [])):
        _keys(f"holdout[{i}]", entry, HOLDOUT_KEYS)
        holdout.append((str(entry.get("name") or f"holdout{i}"), _filters(f"holdout[{i}]", entry.get("where"))))
    return MixSpec(
        sources=tuple(sources),
        holdout=tuple(holdout),
        seed=int(_number("seed", raw.get("seed", 0), 0)),
        val_fraction=_number("val_fraction", raw.get("val_fraction", 0.1), 0.0, 0.9),
        temperature=_number("temperature", raw.get("temperature", 1.0), 1e-6),
        epoch_samples=int(_number("epoch_samples", raw.get("epoch_samples", 0), 0)),
        keep_flagged=_flag("keep_flagged", raw.get("keep_flagged", False)),
        raw=dict(raw),
    )


def load_spec(path: str | Path) -> MixSpec:
    """Read and validate a spec TOML file."""
    return parse_spec(read_toml(path, "mixture spec", "see catalog/ for examples", "mixture"))


def _complete(root: str, where: Sequence[str]) -> list[dict[str, Any]]:
    return ls(root, [*where, "status=complete"])


def _usable(url: str, keep_flagged: bool) -> tuple[np.ndarray, np.ndarray]:
    """Sample ids and the mask of samples without quality flags (all True with ``keep_flagged``)."""
    labels = ShardReader(url, ("sample_id", "quality_flags"))
    data = labels.read_range(0, len(labels))
    ok = np.ones(len(labels), bool) if keep_flagged else data["quality_flags"] == 0
    return data["sample_id"], ok


def build_manifest(spec: MixSpec, root: str) -> Manifest:
    """Resolve ``spec`` against the catalog of ``root`` into a manifest.

    Whether its training samples duplicate validation or held-out ones is curation's question
    (:func:`wirelessdata.curate.refuse_leaks`), asked by ``wirelessdata mix build`` and the benchmark.
    """
    held: dict[str, list[dict[str, Any]]] = {name: _complete(root, where) for name, where in spec.holdout}
    held_paths = {r["path"] for rows in held.values() for r in rows}
    for name, rows in held.items():
        if not rows:
            raise ConfigError(f"holdout '{name}': its filters match no complete shard under {root}")
    shards: list[ManifestShard] = []
    index: dict[str, int] = {}
    owner: dict[str, str] = {}

    def shard_index(row: dict[str, Any]) -> int:
        if row["path"] not in index:
            index[row["path"]] = len(shards)
            shards.append(
                ManifestShard(
                    name=shard_name(row["path"]),
                    url=row["path"],
                    checksum=row["checksum"],
                    num_samples=int(row["num_samples"]),
                    shape=(
                        int(row["num_time_steps"]),
                        int(row["num_subcarriers"]),
                        int(row["num_bs_ant"]),
                        int(row["num_ue_ant"]),
                    ),
                    attrs={k: row.get(k) for k in ("band", "scenario", "recipe_name", "los_mean", "delay_spread_p50")},
                )
            )
        return index[row["path"]]

    train_sel: dict[str, list[Selection]] = {}
    val_sel: dict[str, list[Selection]] = {}
    natural: dict[str, dict[str, Any]] = {}
    for src in spec.sources:
        rows = [r for r in _complete(root, src.where) if r["path"] not in held_paths]
        if not rows:
            raise ConfigError(f"source '{src.name}': filters {list(src.where)} match no complete, non-held-out shard")
        train_sel[src.name], val_sel[src.name] = [], []
        for row in rows:
            if row["path"] in owner:
                raise ConfigError(
                    f"shard {row['path']} matches sources '{owner[row['path']]}' and '{src.name}'; make them disjoint"
                )
            owner[row["path"]] = src.name
            i = shard_index(row)
            ids, ok = _usable(row["path"], spec.keep_flagged if src.keep_flagged is None else src.keep_flagged)
            is_val = val_mask(ids, spec.val_fraction, spec.seed)
            train = np.flatnonzero(ok & ~is_val)
            if src.max_fraction < 1.0:
                rng = np.random.default_rng([spec.seed, i])
                train = np.sort(rng.choice(train, int(round(train.size * src.max_fraction)), replace=False))
            bins = None if src.balance is None else read_bins(src.balance, src.name, shards[i].name, row["path"], train)
            train_sel[src.name].append(Selection(i, train, bins))
            val_sel[src.name].append(Selection(i, np.flatnonzero(ok & is_val)))
        if src.balance is not None:
            kept, natural[src.name] = keep_targeted(src.balance, train_sel[src.name])
            check_reachable(src.balance, src.name, natural[src.name]["natural"])
            train_sel[src.name] = list(kept)
    per_epoch, requested = _per_epoch(spec, {n: sum(s.indices.size for s in sel) for n, sel in train_sel.items()})
    train_sources = []
    for src in spec.sources:
        info, quota = _info(src, per_epoch, requested), ()
        if src.balance is not None:
            hist = natural[src.name]
            quota, balanced = plan_quota(src.balance, src.name, per_epoch[src.name], hist["natural"], src.max_epochs)
            info["balance"] = {**balanced, **hist}
        train_sources.append(Source(src.name, tuple(train_sel[src.name]), per_epoch[src.name], info, quota))
    splits: dict[str, tuple[Source, ...]] = {
        "train": tuple(train_sources),
        "val": tuple(
            Source(src.name, tuple(val_sel[src.name]), sum(s.indices.size for s in val_sel[src.name]))
            for src in spec.sources
        ),
    }
    for name, rows in held.items():
        sels = []
        for row in rows:
            ids, ok = _usable(row["path"], spec.keep_flagged)
            sels.append(Selection(shard_index(row), np.flatnonzero(ok)))
        splits[name] = (Source(name, tuple(sels), sum(s.indices.size for s in sels)),)
    manifest = Manifest(
        seed=spec.seed,
        shards=tuple(shards),
        splits=splits,
        spec={**(spec.raw or {}), "root": str(root)},
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    )
    return manifest


def _per_epoch(spec: MixSpec, available: dict[str, int]) -> tuple[dict[str, int], dict[str, float]]:
    """Samples per epoch of every source, and the share of the epoch each was asked for.

    Weighted sources share ``epoch_samples`` (default: their usable total) by weight, or by temperature
    sampling when none has a weight; counted sources take their count. A share that the source cannot
    meet within ``max_epochs`` passes is a one-line error.
    """
    intended = {s.name: float(s.count) for s in spec.sources if s.count is not None}
    weighted = [s for s in spec.sources if s.count is None]
    if weighted:
        if all(s.weight is None for s in weighted):
            w = np.array([available[s.name] ** (1.0 / spec.temperature) for s in weighted], dtype=float)
        elif any(s.weight is None for s in weighted):
            raise ConfigError("spec: give every weighted source a weight, or none (temperature sampling)")
        else:
            w = np.array([s.weight for s in weighted], dtype=float)
        if w.sum() <= 0:
            raise ConfigError("spec: the source weights sum to 0")
        size = spec.epoch_samples or sum(available[s.name] for s in weighted)
        intended |= {s.name: float(p * size) for s, p in zip(weighted, w / w.sum(), strict=True)}
    out = {name: int(round(v)) for name, v in intended.items()}
    for s in spec.sources:
        if available[s.name] == 0:
            raise ConfigError(f"source '{s.name}': no usable training sample (all flagged, held out or validation)")
        cap = int(np.floor(available[s.name] * s.max_epochs))
        if out[s.name] > cap:
            raise ConfigError(
                f"source '{s.name}': needs {out[s.name]} samples an epoch but has {available[s.name]} usable "
                f"(max_epochs {s.max_epochs:g} allows {cap}); lower its weight or count, or raise max_epochs"
            )
    total = sum(intended.values())
    return out, {name: v / total for name, v in intended.items()}


def _info(src: SourceSpec, per_epoch: dict[str, int], requested: dict[str, float]) -> dict[str, Any]:
    total = sum(per_epoch.values())
    return {
        "where": list(src.where),
        "weight": src.weight,
        "count": src.count,
        "requested_fraction": requested[src.name],
        "realised_fraction": per_epoch[src.name] / total if total else 0.0,
    }
