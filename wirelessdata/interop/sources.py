"""What an export reads: shards (or folders of shards) or a mixture manifest, as samples per split, read in batches.

Shards given by path are split into ``train``/``val``/``test`` by a hash of ``(seed, sample_id)``
(:func:`wirelessdata.mix.split.val_mask`, the rule mixtures use), so the drops of one ``sample_id`` (the same
drop at several bands) stay in one split and the split of a sample does not depend on which other shards are
exported. A manifest keeps its own splits: ``train`` and ``val`` as they are, its held-out splits become ``test``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wirelessdata.errors import ConfigError
from wirelessdata.mix.manifest import load_manifest
from wirelessdata.mix.split import val_mask
from wirelessdata.shard.info import ShardInfo, shard_info
from wirelessdata.shard.read import ShardReader
from wirelessdata.shard.validate import shard_urls

SPLITS = ("train", "val", "test")
BATCH_BYTES = 32 * 2**20
"""Bytes of the requested variables read per batch: exports never hold more than a few batches in memory."""


@dataclass(frozen=True)
class Part:
    """Samples ``indices`` (sorted int64) of one shard."""

    shard: ShardInfo
    indices: np.ndarray

    @property
    def whole(self) -> bool:
        """True when the part is every sample of its shard, in order."""
        n = int(self.shard.attrs["num_samples"])
        return self.indices.size == n and bool(np.array_equal(self.indices, np.arange(n)))


@dataclass(frozen=True)
class ExportPlan:
    """Samples per split (``train``, ``val``, ``test`` or ``all``) and how they were chosen (for the README)."""

    splits: dict[str, tuple[Part, ...]]
    rule: str
    source: dict[str, Any] = field(default_factory=dict)

    def count(self, split: str) -> int:
        """Samples of ``split``."""
        return sum(int(p.indices.size) for p in self.splits.get(split, ()))

    @property
    def shards(self) -> list[ShardInfo]:
        """Every shard the plan reads, each once, in first-use order."""
        seen: dict[str, ShardInfo] = {}
        for parts in self.splits.values():
            for p in parts:
                seen.setdefault(p.shard.url, p.shard)
        return list(seen.values())


def split_codes(sample_ids: np.ndarray, val_fraction: float, test_fraction: float, seed: int) -> np.ndarray:
    """Split of every sample: 0 train, 1 val, 2 test, by a hash of ``(seed, sample_id)``.

    A sample is ``test`` when its hash ``u`` in [0, 1) is below ``test_fraction``, ``val`` when below
    ``test_fraction + val_fraction``, else ``train``.
    """
    if not (0 <= val_fraction <= 1 and 0 <= test_fraction <= 1 and val_fraction + test_fraction <= 1):
        raise ConfigError(
            f"--val-fraction {val_fraction} and --test-fraction {test_fraction}: give fractions in [0, 1] summing "
            "to at most 1"
        )
    test = val_mask(sample_ids, test_fraction, seed)
    val = val_mask(sample_ids, test_fraction + val_fraction, seed) & ~test
    return np.where(test, 2, np.where(val, 1, 0)).astype(np.int8)


def plan_from_shards(
    paths: Sequence[str],
    val_fraction: float,
    test_fraction: float,
    seed: int = 0,
    keep_flagged: bool = False,
    need_csi: bool = True,
) -> ExportPlan:
    """Every (unflagged, unless ``keep_flagged``) sample of the shards, split by :func:`split_codes`."""
    infos = [shard_info(u, need_csi=need_csi) for u in shard_urls(paths)]
    splits: dict[str, list[Part]] = {s: [] for s in SPLITS}
    for info in infos:
        labels = ShardReader(info.url, ("sample_id", "quality_flags"))
        data = labels.read_range(0, len(labels))
        codes = split_codes(data["sample_id"], val_fraction, test_fraction, seed)
        ok = np.ones(len(labels), bool) if keep_flagged else data["quality_flags"] == 0
        for code, split in enumerate(SPLITS):
            idx = np.flatnonzero(ok & (codes == code)).astype(np.int64)
            if idx.size:
                splits[split].append(Part(info, idx))
    rule = (
        f"by a hash of (seed {seed}, sample_id): test if below {test_fraction:g}, val if below "
        f"{test_fraction + val_fraction:g}, else train; "
        + ("flagged samples kept" if keep_flagged else "samples with curation quality flags left out")
    )
    return ExportPlan(
        {k: tuple(v) for k, v in splits.items()},
        rule,
        {"seed": seed, "val_fraction": val_fraction, "test_fraction": test_fraction, "keep_flagged": keep_flagged},
    )


def plan_whole(paths: Sequence[str]) -> ExportPlan:
    """Every sample of every shard, in one split ``all`` (NumPy / HDF5 exports)."""
    infos = [shard_info(u) for u in shard_urls(paths)]
    parts = tuple(Part(i, np.arange(int(i.attrs["num_samples"]), dtype=np.int64)) for i in infos)
    return ExportPlan({"all": parts}, "every sample of every shard")


def plan_from_manifest(path: str | Path, need_csi: bool = True, only: str | None = None) -> ExportPlan:
    """The samples of a mixture manifest: its ``train`` and ``val`` splits, held-out splits merged into ``test``.

    :param only: keep one manifest split (``train``, ``val`` or a held-out name) under the split name ``all``.
    Each sample is exported once (a manifest's per-epoch repetition is a training-time choice).
    """

    manifest = load_manifest(path)
    manifest.verify()
    infos = {i: shard_info(s.url, need_csi=need_csi) for i, s in enumerate(manifest.shards)}
    if only is not None:
        mapping = {only: "all"}
        manifest.split(only)  # one-line error naming the splits
    else:
        mapping = {name: name if name in ("train", "val") else "test" for name in manifest.splits}
    picked: dict[str, dict[int, list[np.ndarray]]] = {}
    for name, target in mapping.items():
        for src in manifest.split(name):
            for sel in src.selections:
                picked.setdefault(target, {}).setdefault(sel.shard, []).append(sel.indices)
    splits = {
        target: tuple(
            Part(infos[s], np.unique(np.concatenate(chunks)).astype(np.int64)) for s, chunks in sorted(per.items())
        )
        for target, per in picked.items()
    }
    held = [n for n in manifest.splits if n not in ("train", "val")]
    rule = (
        f"manifest {Path(path).name}: split '{only}'"
        if only
        else f"manifest {Path(path).name}: train and val as in the manifest; test = held-out splits {held or 'none'}"
    )
    return ExportPlan(splits, rule, {"manifest": str(path), "seed": manifest.seed})


def batches(part: Part, variables: Sequence[str], max_bytes: int = BATCH_BYTES) -> Iterator[dict[str, np.ndarray]]:
    """The samples of ``part`` in order, ``variables`` read a batch at a time (at most about ``max_bytes``).

    Contiguous runs are read as ranges (one request per variable); each yielded dict holds ``[b, ...]`` arrays.
    """
    reader = ShardReader(part.shard.url, tuple(variables))
    per_sample = sum(int(np.prod(a.shape[1:], dtype=np.int64)) * a.dtype.itemsize for a in reader.arrays.values())
    step = max(1, max_bytes // max(per_sample, 1))
    idx = part.indices
    for i in range(0, idx.size, step):
        chunk = idx[i : i + step]
        if chunk[-1] - chunk[0] + 1 == chunk.size:
            yield reader.read_range(int(chunk[0]), int(chunk[-1]) + 1)
        else:
            yield reader.read(chunk)
