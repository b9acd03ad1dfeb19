"""Exact and near duplicates across the shards of a root: content hashes, fingerprints, similarity search, groups.

- **Exact**: a 128-bit hash (SHA-256, truncated) per sample of its payload (the ``csi`` bytes; for a shard without CSI,
  every per-sample variable outside ``core``). Identity (``sample_id``) and curation metadata
  (``quality_flags``) are not payload, so a copied row with a new id is caught.
- **Near**: a fingerprint per sample that is invariant to a common phase and to the scale: the angle-delay
  transform (orthonormal DFT over subcarriers and over the BS antenna index) of a few snapshots, with bins
  below the noise floor shrunk, rotated to a reference phase (two variants with two references) and
  normalised, then reduced to :data:`FINGERPRINT_DIM` dimensions by a seeded fast random projection
  (:func:`fingerprints`). Two samples are near duplicates when the fingerprints of either variant lie within
  the threshold (L2) of their configurations: :func:`near_threshold`, which grows with the number of
  angle-delay bins the configuration resolves (:func:`resolvable_bins`). Pairs are found with a faiss range
  search (:func:`range_pairs`: exact below :data:`IVF_MIN_SAMPLES` samples, an inverted-file index with an
  HNSW coarse quantizer above), among samples of the same CSI shape.
- Samples sharing a ``sample_id`` in shards of different bands are one drop at several bands (paired),
  never duplicates. The same ``sample_id`` twice in one band is a copied shard and is a duplicate.

Samples linked by duplicate pairs form groups (connected components); in each group the first sample in
root order (shards in catalog order, then sample index) is kept and every other one is flagged:
``exact_duplicate`` when it is bit-identical to an earlier member, else ``near_duplicate``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from wirelessdata.errors import ConfigError, WirelessDataError
from wirelessdata.shard.schema import load_schema

FINGERPRINT_DIM = 64
"""Dimensions of a fingerprint after the random projection."""
FINGERPRINT_SNAPSHOTS = 4
"""Snapshots (evenly spaced over ``time``) that enter a fingerprint."""
FINGERPRINT_SEED = 14
"""Seed of the random projection (with the input size): fingerprints of one shape are comparable across runs."""
FINGERPRINT_FLOOR = 0.01
"""Noise floor of a fingerprint, relative to the sample's mean angle-delay bin power: each bin is weighted by
``p / (p + floor * mean(p))`` (a Wiener weight), so bins far below it (where only noise would be, 20 dB below
the mean bin) drop out and the noise of a noisy copy enters only through the bins that carry the channel."""

NEAR_DUPLICATE_DISTANCE = 0.1
"""Threshold at and above :data:`RESOLVED_BINS` resolvable bins (the default configuration; docs/curation.md).

On 3,072 TR 38.901 samples (UMa, UMi, InH at sub6 and 28GHz; T=24, K=64, BS 4x8): copies with 30 dB AWGN and
a random common phase lie at 0.033 at most, 25 dB copies at 0.067 at most; the nearest distinct drop at 0.22."""
NARROW_DUPLICATE_DISTANCE = 0.045
"""Threshold at and below :data:`NARROW_BINS` resolvable bins (the tiny narrow-band configuration).

On 2,048 TR 38.901 samples (RMa, UMa, UMi, InH at 1.5 GHz; T=4, K=16 at 15 kHz, BS 2x2): 30 dB copies lie at
0.036 at most; distinct drops are as close as 0.022 (the channels differ by less than the 30 dB noise there),
0.5 % of them within 0.045 of another drop."""
RESOLVED_BINS = 64
"""Resolvable bins of the default configuration (BS 4x8, one UE antenna, 64 x 30 kHz: 2 delay bins per us)."""
NARROW_BINS = 4
"""Resolvable bins of the tiny narrow-band configuration (BS 2x2, one UE antenna, 16 x 15 kHz: one delay bin)."""
REFERENCE_EXCESS_DELAY_S = 1e-6
"""Delay span a channel occupies, s, for counting resolvable delay bins: TR 38.901 median delay spreads are
20-400 ns and cluster delays reach a few delay spreads."""

IVF_MIN_SAMPLES = 5_000
"""From this many fingerprints of one shape on, the range search uses an inverted-file index; exact below (where
the exact search's ``m^2`` costs no more than the index)."""
IVF_LIST_SIZE = 100
"""Mean fingerprints per inverted list: the lists grow with n, so a query scans a fixed number of vectors."""
IVF_PROBES = 4
"""Lists searched per query: every pair of the exact search found on 31,000 fingerprints (1,224 pairs at radius
0.059 and 0.1, both variants; 2 probes missed 1, 1 probe 14) and on 101,000 (995 pairs at 0.059): docs/curation.md."""
HNSW_NEIGHBOURS = 32
"""Links per node of the HNSW graph over the list centroids (the coarse quantizer): log-time list assignment."""


def resolvable_bins(shape: tuple[int, ...] | None, subcarrier_spacing_hz: float | None) -> int:
    """Angle-delay bins a channel of this configuration can occupy: ``N_bs * N_ue * delay bins``.

    Delay bins: ``ceil(K * df * REFERENCE_EXCESS_DELAY_S)`` within ``[1, K]`` (the delay resolution is
    ``1 / (K df)``); one without a subcarrier spacing. Snapshots are not counted (4 enter a fingerprint and a
    drop changes little over them).

    :param shape: CSI shape ``(T, K, N_bs, N_ue)``.
    :param subcarrier_spacing_hz: Hz.
    """
    if shape is None:
        return 1
    _t, k, nbs, nue = shape
    span = k * (subcarrier_spacing_hz or 0.0) * REFERENCE_EXCESS_DELAY_S
    delay = int(min(k, max(1, np.ceil(span - 1e-9)))) if np.isfinite(span) else 1
    return int(nbs * nue * delay)


def near_threshold(bins: int) -> float:
    """Near-duplicate distance for a configuration resolving ``bins`` angle-delay bins.

    Distinct drops of a configuration with few resolvable bins are alike (their energy sits in the same few
    bins), while a noisy copy's distance depends on the SNR alone, so the threshold falls with the
    resolution: linear in ``log(bins)`` between the two calibrated configurations,
    :data:`NARROW_DUPLICATE_DISTANCE` at :data:`NARROW_BINS` bins or fewer and
    :data:`NEAR_DUPLICATE_DISTANCE` at :data:`RESOLVED_BINS` or more.
    """
    share = np.clip(np.log(max(bins, 1) / NARROW_BINS) / np.log(RESOLVED_BINS / NARROW_BINS), 0.0, 1.0)
    return float(NARROW_DUPLICATE_DISTANCE + share * (NEAR_DUPLICATE_DISTANCE - NARROW_DUPLICATE_DISTANCE))


def spacing_hz(subcarriers: np.ndarray | None) -> float | None:
    """Subcarrier spacing (Hz) from the ``subcarrier`` offsets [K]; None with fewer than two."""
    if subcarriers is None or len(subcarriers) < 2:
        return None
    return float(np.mean(np.abs(np.diff(subcarriers))))


@dataclass(frozen=True)
class SampleKeys:
    """Duplicate keys of samples of one shard.

    :param hashes: uint64 [n, 2], the 128-bit payload hash.
    :param fingerprints: float32 [n, 2, D] unit vectors (two variants, :func:`fingerprints`); NaN for samples
        without a fingerprint (non-finite or zero CSI).
    :param sample_id: uint64 [n].
    :param band: band label of the shard (paired samples share ``sample_id`` across bands).
    :param shape: CSI shape ``(T, K, N_bs, N_ue)``; only samples of one shape are compared for near duplicates.
    :param threshold: near-duplicate distance of the shard's configuration (:func:`near_threshold`).
    """

    hashes: np.ndarray
    fingerprints: np.ndarray
    sample_id: np.ndarray
    band: str
    shape: tuple[int, ...] | None
    threshold: float = NEAR_DUPLICATE_DISTANCE

    def take(self, indices: np.ndarray) -> SampleKeys:
        """The keys of samples ``indices`` (int [m])."""
        return SampleKeys(
            self.hashes[indices],
            self.fingerprints[indices],
            self.sample_id[indices],
            self.band,
            self.shape,
            self.threshold,
        )

    @classmethod
    def concat(cls, parts: Sequence[SampleKeys]) -> SampleKeys:
        """Keys of consecutive blocks of one shard, joined in order."""
        first = parts[0]
        return cls(
            np.concatenate([p.hashes for p in parts]),
            np.concatenate([p.fingerprints for p in parts]),
            np.concatenate([p.sample_id for p in parts]),
            first.band,
            first.shape,
            first.threshold,
        )


def payload_variables(variables: Sequence[str]) -> tuple[str, ...]:
    """The per-sample variables a content hash covers: ``csi`` when present, else everything outside ``core``."""
    if "csi" in variables:
        return ("csi",)
    schema = load_schema()
    return tuple(sorted(v for v in variables if schema.variables[v].modality != "core"))


def content_hashes(block: Mapping[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    """uint64 [n, 2]: SHA-256 (first 128 bits) of each sample's bytes of the variables ``names`` (in that order).

    SHA-256, not BLAKE2b: with the CPU's SHA extensions it hashes about 3x faster here.
    """
    n = len(block["sample_id"])
    arrays = [np.ascontiguousarray(block[name]) for name in names]
    out = np.empty(n, dtype="V16")
    for i in range(n):
        h = hashlib.sha256()
        for arr in arrays:
            h.update(memoryview(arr[i]).cast("B"))
        out[i] = h.digest()[:16]
    return out.view(np.uint64).reshape(n, 2)


@lru_cache(maxsize=8)
def _mixing(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded fast random projection of ``size`` complex values: random signs [size] and kept DFT bins [D / 2]."""
    rng = np.random.default_rng([FINGERPRINT_SEED, size])
    signs = rng.choice(np.array([-1.0, 1.0], np.float32), size)
    bins = np.sort(rng.choice(size, min(size, FINGERPRINT_DIM // 2), replace=False))
    return signs, bins


def fingerprints(csi: np.ndarray) -> np.ndarray:
    """float32 [n, 2, D] unit fingerprints of ``csi`` complex [n, T, K, N_bs, N_ue]; common phase and scale drop out.

    1. angle-delay transform of :data:`FINGERPRINT_SNAPSHOTS` evenly spaced snapshots: ``z`` [n, S*K*N_bs*N_ue];
    2. noise floor: each bin weighted by ``p / (p + FINGERPRINT_FLOOR * mean(p))`` with ``p = |z|^2``, so the
       bins without channel energy, where a noisy copy differs by noise alone, drop out (a 30 dB copy moves
       about half as far as without it);
    3. common phase removed, twice: ``z * conj(r) / |r|`` with two references, ``r = sum(z |z|^2)`` (the
       power-weighted sum) and ``r = z[argmax |z|]`` (the strongest bin). Any reference is unstable
       somewhere (the first where the strong bins' phases cancel, the second where two bins tie), but not
       both at once. A pair matches when either variant does;
    4. fast random projection (random signs, orthonormal DFT, :data:`FINGERPRINT_DIM` / 2 seeded bins kept as
       real and imaginary parts): distances kept within about 1/sqrt(D/2) relative, at a DFT's cost;
    5. normalised to unit norm.

    Rows are NaN for samples with non-finite or all-zero CSI.
    """
    n, t = csi.shape[:2]
    snaps = np.unique(np.linspace(0, t - 1, min(t, FINGERPRINT_SNAPSHOTS)).round().astype(int))
    z = np.fft.fft2(csi[:, snaps], axes=(2, 3), norm="ortho").reshape(n, -1)  # [n, S*K(delay)*N_bs(angle)*N_ue]
    power = z.real**2 + z.imag**2
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        weight = power / (power + FINGERPRINT_FLOOR * power.mean(axis=1, keepdims=True))
        z *= weight.astype(power.dtype)
        power *= weight**2
        refs = np.stack([np.einsum("nd,nd->n", z, power.astype(z.dtype)), z[np.arange(n), power.argmax(axis=1)]], 1)
        signs, bins = _mixing(z.shape[1])
        rotated = (z * signs)[:, None, :] * (refs.conj() / np.abs(refs))[:, :, None]  # [n, 2, d]
        y = np.fft.fft(rotated, axis=2, norm="ortho")[:, :, bins]
        out = np.concatenate([y.real, y.imag], axis=2).astype(np.float32)
        out /= np.linalg.norm(out, axis=2, keepdims=True)
    out[~np.isfinite(out).all(axis=(1, 2))] = np.nan
    return out


def _index(x: np.ndarray) -> Any:
    """A faiss index holding ``x`` (float32 [m, D]): exact below :data:`IVF_MIN_SAMPLES` rows, else IVF over HNSW.

    The inverted file has ``m / IVF_LIST_SIZE`` lists whose centroids are a seeded sample of the rows (no
    training: a near duplicate lies a few hundredths from its original, so any partition fine enough will do);
    the list of a vector is found through an HNSW graph over the centroids, so adding and querying cost
    ``log(lists)`` each and the whole search grows as ``m log m``.
    """
    import faiss

    m, dim = x.shape
    if m < IVF_MIN_SAMPLES:
        index = faiss.IndexFlatL2(dim)
    else:
        nlist = max(1, m // IVF_LIST_SIZE)
        quantizer = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS)
        quantizer.hnsw.efSearch = max(quantizer.hnsw.efSearch, 2 * IVF_PROBES)
        quantizer.add(x[np.random.default_rng(FINGERPRINT_SEED).choice(m, nlist, replace=False)])
        index = faiss.IndexIVFFlat(quantizer, dim, nlist)
        index.is_trained = True  # the centroids are data points: nothing to train
        index.nprobe = IVF_PROBES
    index.add(x)
    return index


def range_pairs(x: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``(i, j)``, ``i < j``, of rows of ``x`` (float32 [m, D]) within L2 distance ``radius``, and distances."""
    try:
        import faiss  # noqa: F401
    except ImportError as exc:
        raise WirelessDataError("near-duplicate search needs faiss; install it with `pip install faiss-cpu`") from exc
    x = np.ascontiguousarray(x, dtype=np.float32)
    lims, dist2, ids = _index(x).range_search(x, radius**2)
    rows = np.repeat(np.arange(len(x)), np.diff(lims).astype(np.int64))
    keep = rows < ids
    return rows[keep], ids[keep].astype(np.int64), np.sqrt(np.maximum(dist2[keep], 0))


@dataclass(frozen=True)
class Pairs:
    """Duplicate pairs over samples numbered in root order (``a < b``).

    :param a: int64 [m] the earlier sample.
    :param b: int64 [m] the later sample.
    :param distance: float32 [m] fingerprint distance, the smaller of the two variants' (NaN without fingerprints).
    :param exact: bool [m] bit-identical payloads.
    """

    a: np.ndarray
    b: np.ndarray
    distance: np.ndarray
    exact: np.ndarray


def _hash_view(keys: Sequence[SampleKeys]) -> np.ndarray:
    """The hashes of ``keys`` concatenated, one 16-byte void scalar per sample ([n], comparable with ==)."""
    return np.concatenate([np.ascontiguousarray(k.hashes).view("V16").ravel() for k in keys])


def duplicate_pairs(keys: Sequence[SampleKeys], threshold: float | None = None) -> Pairs:
    """Exact and near duplicate pairs among the samples of ``keys``, numbered by concatenation order.

    :param threshold: one near-duplicate distance for every pair; None: each pair's is the smaller of its two
        shards' ``SampleKeys.threshold`` (derived from their configurations).

    Paired samples (same ``sample_id``, different bands) are left out.
    """
    if threshold is not None and not 0 < threshold < 2:
        raise ConfigError(f"near-duplicate threshold {threshold}: give a distance in (0, 2) between unit fingerprints")
    n = sum(len(k.sample_id) for k in keys)
    if not n:
        empty = np.zeros(0, np.int64)
        return Pairs(empty, empty, np.zeros(0, np.float32), np.zeros(0, bool))
    sample_id = np.concatenate([k.sample_id for k in keys])
    fps = np.concatenate([k.fingerprints for k in keys])
    hashes = _hash_view(keys)
    sizes = [len(k.sample_id) for k in keys]
    bands = np.repeat(np.arange(len(keys)), sizes)
    radius = np.repeat([k.threshold if threshold is None else threshold for k in keys], sizes)
    band_code = np.unique([k.band for k in keys], return_inverse=True)[1][bands]
    shape_code = np.unique([str(k.shape) for k in keys], return_inverse=True)[1][bands]
    _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    later = np.flatnonzero(first[inverse] != np.arange(n))
    a, b = [first[inverse[later]]], [later]
    valid = np.isfinite(fps).all(axis=(1, 2))
    for code in np.unique(shape_code):
        rows = np.flatnonzero(valid & (shape_code == code))
        if rows.size < 2:
            continue
        for variant in range(fps.shape[1]):
            i, j, dist = range_pairs(fps[rows, variant], float(radius[rows].max()))
            near = dist < np.minimum(radius[rows[i]], radius[rows[j]])
            a.append(rows[i[near]])
            b.append(rows[j[near]])
    a_, b_ = np.concatenate(a).astype(np.int64), np.concatenate(b).astype(np.int64)
    lo, hi = np.minimum(a_, b_), np.maximum(a_, b_)
    paired = (sample_id[lo] == sample_id[hi]) & (band_code[lo] != band_code[hi])
    code = np.unique(lo[~paired] * n + hi[~paired])
    lo, hi = code // n, code % n
    distance = np.linalg.norm(fps[lo] - fps[hi], axis=2).min(axis=1).astype(np.float32)
    return Pairs(lo, hi, distance, hashes[lo] == hashes[hi])


def _components(pairs: Pairs, n: int) -> np.ndarray:
    """int64 [n]: the smallest sample number of each sample's group (union-find over the pairs)."""
    parent = np.arange(n)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for x, y in zip(pairs.a.tolist(), pairs.b.tolist(), strict=True):
        rx, ry = find(x), find(y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)
    return np.array([find(x) for x in range(n)]) if pairs.a.size else parent


@dataclass(frozen=True)
class Duplicates:
    """Duplicate flags over samples numbered in root order.

    :param exact: bool [n] bit-identical to an earlier sample of its group.
    :param near: bool [n] in a group, not its first sample, not an exact copy of an earlier member.
    :param groups: the groups of two samples or more, each int64 [k] in root order (the first is kept).
    """

    exact: np.ndarray
    near: np.ndarray
    groups: list[np.ndarray]


def find_duplicates(keys: Sequence[SampleKeys], threshold: float | None = None) -> Duplicates:
    """Group the samples of ``keys`` (concatenated in root order) into duplicate groups and flag all but the first.

    :param threshold: near-duplicate distance for every pair; None: derived per shard (:func:`duplicate_pairs`).
    """
    n = sum(len(k.sample_id) for k in keys)
    if not n:
        return Duplicates(np.zeros(0, bool), np.zeros(0, bool), [])
    pairs = duplicate_pairs(keys, threshold)
    root = _components(pairs, n)
    exact, near = np.zeros(n, bool), np.zeros(n, bool)
    hashes = _hash_view(keys)
    members = np.unique(np.concatenate([pairs.a, pairs.b]))
    groups: dict[int, list[int]] = {}
    for x in members.tolist():
        groups.setdefault(int(root[x]), []).append(x)
    for group in groups.values():
        seen = {hashes[group[0]].tobytes()}
        for x in group[1:]:
            h = hashes[x].tobytes()
            exact[x], near[x] = h in seen, h not in seen
            seen.add(h)
    return Duplicates(exact, near, [np.array(g, np.int64) for g in groups.values()])
