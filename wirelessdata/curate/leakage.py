"""Leakage: training samples of a manifest that duplicate, exactly or nearly, a validation or held-out sample.

The same keys and pair search as root curation (:mod:`wirelessdata.curate.duplicates`) run over the
samples a manifest selects, split by split; a pair with one training sample and one sample of another
split is a leak. Paired samples (the same drop at another band) are not duplicates, as in curation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wirelessdata.curate.duplicates import SampleKeys, duplicate_pairs
from wirelessdata.curate.scan import shard_keys
from wirelessdata.errors import ConfigError
from wirelessdata.mix.manifest import Manifest

TRAIN = "train"


@dataclass(frozen=True)
class SampleRef:
    """One sample of a manifest: its shard's name, its index in the shard and its ``sample_id``."""

    shard: str
    index: int
    sample_id: int

    def __str__(self) -> str:
        return f"{self.shard}[{self.index}]"


@dataclass(frozen=True)
class Leak:
    """A training sample that duplicates a sample of split ``split``.

    :param split: the other split (``val`` or a held-out split).
    :param train: the training sample.
    :param other: the sample of ``split``.
    :param kind: ``exact`` (bit-identical payload) or ``near`` (fingerprints within the threshold).
    :param distance: fingerprint distance (0 for exact copies; NaN without fingerprints).
    """

    split: str
    train: SampleRef
    other: SampleRef
    kind: str
    distance: float

    def __str__(self) -> str:
        return f"train {self.train} duplicates {self.split} {self.other} ({self.kind}, distance {self.distance:.3f})"


def find_leaks(manifest: Manifest, threshold: float | None = None) -> list[Leak]:
    """Every (training sample, validation or held-out sample) pair of ``manifest`` that are duplicates.

    Reads the selected shards block by block (``sample_id`` and CSI only).

    :param manifest: a built or loaded manifest.
    :param threshold: near-duplicate fingerprint distance for every pair (default: each shard's, as curation).
    :returns: the leaks, ordered by split, then training shard and index; empty when the manifest is clean.
    """
    used: dict[int, dict[str, list[np.ndarray]]] = {}
    for split, sources in manifest.splits.items():
        for src in sources:
            for sel in src.selections:
                used.setdefault(sel.shard, {}).setdefault(split, []).append(sel.indices)
    if not any(TRAIN in s for s in used.values()) or not any(set(s) - {TRAIN} for s in used.values()):
        return []
    parts: list[SampleKeys] = []
    refs: list[tuple[str, int, np.ndarray]] = []  # (split, shard number, indices) of each part
    for shard, splits in sorted(used.items()):
        keys = shard_keys(manifest.shards[shard].url)
        for split, chunks in splits.items():
            indices = np.unique(np.concatenate(chunks))
            parts.append(keys.take(indices))
            refs.append((split, shard, indices))
    pairs = duplicate_pairs(parts, threshold)
    part_of = np.repeat(np.arange(len(parts)), [len(p.sample_id) for p in parts])
    offsets = np.cumsum([0, *(len(p.sample_id) for p in parts)])

    def ref(x: int) -> tuple[str, SampleRef]:
        split, shard, indices = refs[part_of[x]]
        k = x - offsets[part_of[x]]
        return split, SampleRef(manifest.shards[shard].name, int(indices[k]), int(parts[part_of[x]].sample_id[k]))

    leaks = []
    for a, b, dist, exact in zip(pairs.a, pairs.b, pairs.distance, pairs.exact, strict=True):
        (split_a, ref_a), (split_b, ref_b) = ref(int(a)), ref(int(b))
        if (split_a == TRAIN) == (split_b == TRAIN):
            continue
        train, (split, other) = (ref_a, (split_b, ref_b)) if split_a == TRAIN else (ref_b, (split_a, ref_a))
        leaks.append(Leak(split, train, other, "exact" if exact else "near", 0.0 if exact else float(dist)))
    return sorted(leaks, key=lambda x: (x.split, x.train.shard, x.train.index, x.other.shard, x.other.index))


def refuse_leaks(manifest: Manifest) -> None:
    """A one-line error when a training sample duplicates (exactly or nearly) a validation or held-out one."""
    leaks = find_leaks(manifest)
    if leaks:
        raise ConfigError(
            f"the mixture leaks: {len(leaks)} training sample(s) duplicate validation or held-out ones, first: "
            f"{leaks[0]}; run 'wirelessdata curate ROOT' (flagged duplicates are left out) and build again"
        )
