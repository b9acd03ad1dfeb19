"""Frozen mixtures: which samples of which shards, per split and source, pinned by shard checksums.

A manifest is a self-describing JSON file written by ``wirelessdata mix build`` and read by the loader.
It names every shard by URL and checksum, and lists for every split (``train``, ``val`` and one per
held-out rule) and every source the sample indices it uses, plus how many samples a source
contributes to one training epoch. A source balanced on a statistic (:mod:`wirelessdata.mix.balance`)
also carries the histogram bin of each of its samples and the samples per bin of one epoch.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wirelessdata.errors import WirelessDataError
from wirelessdata.shard.store import open_group
from wirelessdata.shard.url import read_bytes, write_bytes

MANIFEST_VERSION = 2
"""2: optional per-sample ``bins`` and per-source ``quota`` (distribution balancing)."""


class ManifestError(WirelessDataError):
    """A manifest is missing, malformed, from a newer version, or its shards moved or changed."""


@dataclass(frozen=True)
class ManifestShard:
    """A shard used by the manifest.

    :param name: shard name (file name without ``.zarr``).
    :param url: where it lives.
    :param checksum: its committed checksum when the manifest was built.
    :param num_samples: its sample count.
    :param shape: CSI shape of one sample ``(T, K, Nbs, Nue)``.
    :param attrs: configuration fields copied for reports (band, scenario, ...).
    """

    name: str
    url: str
    checksum: str
    num_samples: int
    shape: tuple[int, int, int, int]
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Selection:
    """Samples ``indices`` (sorted, int64) of shard number ``shard`` of the manifest.

    :param bins: for a balanced source, the histogram bin (int64, 0-based) of each sample of ``indices``.
    """

    shard: int
    indices: np.ndarray
    bins: np.ndarray | None = None


@dataclass(frozen=True)
class Source:
    """A source of a split: its selections and the samples it contributes to one epoch.

    :param name: source name from the spec.
    :param selections: the samples it may draw from.
    :param per_epoch: samples drawn from it in one epoch (may exceed the available count: repetition).
    :param info: requested/realised proportions and the query, for reports.
    :param quota: for a balanced source, samples per histogram bin in one epoch (they sum to ``per_epoch``).
    """

    name: str
    selections: tuple[Selection, ...]
    per_epoch: int
    info: dict[str, Any] = field(default_factory=dict)
    quota: tuple[int, ...] = ()

    @property
    def available(self) -> int:
        """Distinct samples the source can draw from."""
        return sum(int(s.indices.size) for s in self.selections)


@dataclass(frozen=True)
class Manifest:
    """A frozen mixture: shards, and per split its sources."""

    seed: int
    shards: tuple[ManifestShard, ...]
    splits: dict[str, tuple[Source, ...]]
    spec: dict[str, Any] = field(default_factory=dict)
    created: str = ""

    def split(self, name: str) -> tuple[Source, ...]:
        """The sources of split ``name``."""
        if name not in self.splits:
            raise ManifestError(f"manifest has no split '{name}'; splits: {', '.join(self.splits)}")
        return self.splits[name]

    def to_json(self) -> dict[str, Any]:
        """The JSON document."""
        return {
            "manifest_version": MANIFEST_VERSION,
            "seed": self.seed,
            "created": self.created,
            "spec": self.spec,
            "shards": [{**asdict(s), "shape": list(s.shape)} for s in self.shards],
            "splits": {
                name: [
                    {
                        "name": src.name,
                        "per_epoch": src.per_epoch,
                        "info": src.info,
                        **({"quota": list(src.quota)} if src.quota else {}),
                        "selections": [_selection_json(sel) for sel in src.selections],
                    }
                    for src in sources
                ]
                for name, sources in self.splits.items()
            },
        }

    def checksum(self) -> str:
        """SHA-256 (hex) of the manifest's content, everything but its creation time: the same specs resolved
        against the same stores give the same checksum."""
        doc = {k: v for k, v in self.to_json().items() if k != "created"}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()

    def save(self, path: str | Path) -> None:
        """Write the manifest whole or not at all (a local path or a URL: ``s3://bucket/root/manifest.json``)."""
        write_bytes(str(path), json.dumps(self.to_json(), indent=1).encode(), "manifest")

    def verify(self) -> None:
        """Check that every shard is still where the manifest says, complete, with the same checksum."""
        for s in self.shards:
            try:
                attrs = open_group(s.url).attrs.asdict()
            except WirelessDataError as exc:
                raise ManifestError(f"manifest shard {s.name}: {exc}; rebuild the manifest (mix build)") from exc
            if attrs.get("checksum") != s.checksum:
                raise ManifestError(
                    f"manifest shard {s.name} at {s.url} changed (checksum {str(attrs.get('checksum'))[:12]} vs "
                    f"{s.checksum[:12]}); rebuild the manifest (mix build)"
                )


def _selection_json(sel: Selection) -> dict[str, Any]:
    out: dict[str, Any] = {"shard": sel.shard, "indices": sel.indices.tolist()}
    if sel.bins is not None:
        out["bins"] = sel.bins.tolist()
    return out


def load_manifest(path: str | Path) -> Manifest:
    """Read a manifest file; one-line errors for a missing, malformed or newer one."""
    p = str(path)
    try:
        text = read_bytes(p, "manifest")
    except (FileNotFoundError, IsADirectoryError):
        raise ManifestError(f"manifest {p}: no such file; build one with 'wirelessdata mix build'") from None
    try:
        doc = json.loads(text)
        version = int(doc["manifest_version"])
        if version > MANIFEST_VERSION:
            raise ManifestError(f"manifest {p}: version {version} is newer than this wirelessdata reads; upgrade it")
        shards = tuple(ManifestShard(**{**s, "shape": tuple(s["shape"])}) for s in doc["shards"])
        splits = {
            name: tuple(
                Source(
                    name=src["name"],
                    per_epoch=int(src["per_epoch"]),
                    info=src.get("info", {}),
                    quota=tuple(int(q) for q in src.get("quota", ())),
                    selections=tuple(
                        Selection(
                            int(sel["shard"]),
                            np.asarray(sel["indices"], dtype=np.int64),
                            None if sel.get("bins") is None else np.asarray(sel["bins"], dtype=np.int64),
                        )
                        for sel in src["selections"]
                    ),
                )
                for src in sources
            )
            for name, sources in doc["splits"].items()
        }
    except ManifestError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise ManifestError(f"manifest {p}: malformed ({type(exc).__name__}: {exc})") from exc
    return Manifest(
        seed=int(doc["seed"]), shards=shards, splits=splits, spec=doc.get("spec", {}), created=doc.get("created", "")
    )
