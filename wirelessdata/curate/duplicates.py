"""Exact and near duplicates across the shards of a root: content hashes, fingerprints, similarity search, groups.

- **Exact**: a 128-bit hash (SHA-256, truncated) per sample of its payload (the ``csi`` bytes; for a shard without CSI,
  every per-sample variable outside ``core``). Identity (``sample_id``) and curation metadata
  (``quality_flags``) are not payload, so a copied row with a new id is caught.
- **Near**: a fingerprint per sample that is invariant to a common phase and to the scale: the angle-delay
  transform (orthonormal DFT over subcarriers and over the BS antenna index) of a few snapshots, rotated
  to a reference phase (two variants with two references) and normalised, then reduced to
  :data:`FINGERPRINT_DIM` dimensions by a seeded fast random projection (:func:`fingerprints`). Two samples
  are near duplicates when the fingerprints of either variant lie within
  :data:`NEAR_DUPLICATE_DISTANCE` (L2). Pairs are found with a faiss range search (an inverted-file
  index above :data:`IVF_MIN_SAMPLES` samples, exact below), among samples of the same CSI shape.
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

import numpy as np

from wirelessdata.errors import ConfigError, WirelessDataError
from wirelessdata.schema import load_schema

FINGERPRINT_DIM = 64
"""Dimensions of a fingerprint after the random projection."""
FINGERPRINT_SNAPSHOTS = 4
"""Snapshots (evenly spaced over ``time``) that enter a fingerprint."""
FINGERPRINT_SEED = 14
"""Seed of the random projection (with the input size): fingerprints of one shape are comparable across runs."""
NEAR_DUPLICATE_DISTANCE = 0.1
"""L2 distance between unit fingerprints below which two samples are near duplicates (calibration: docs/curation.md).

On 3,072 TR 38.901 samples (UMa, UMi, InH at sub6 and 28GHz): copies with 30 dB AWGN and a random common
phase lie at 0.031 (median), 0.059 at most; 25 dB copies at 0.104 at most (99.9 % below); 20 dB copies
straddle it (55 % below); the nearest distinct drop lies at 0.23 or more (median 0.91)."""
IVF_MIN_SAMPLES = 4096
"""From this many fingerprints of one shape on, the range search uses an inverted-file index; exact below."""
IVF_LISTS_PER_SQRT_N = 8.0
"""Inverted lists: this times sqrt(n); centroids are a seeded sample of the fingerprints (no training)."""
IVF_PROBES = 4
"""Lists searched per query: a near duplicate sits a few hundredths from its original, so in one of them."""


@dataclass(frozen=True)
class SampleKeys:
    """Duplicate keys of samples of one shard.

    :param hashes: uint64 [n, 2], the 128-bit payload hash.
    :param fingerprints: float32 [n, 2, D] unit vectors (two variants, :func:`fingerprints`); NaN for samples
        without a fingerprint (non-finite or zero CSI).
    :param sample_id: uint64 [n].
    :param band: band label of the shard (paired samples share ``sample_id`` across bands).
    :param shape: CSI shape ``(T, K, N_bs, N_ue)``; only samples of one shape are compared for near duplicates.
    """

    hashes: np.ndarray
    fingerprints: np.ndarray
    sample_id: np.ndarray
    band: str
    shape: tuple[int, ...] | None

    def take(self, indices: np.ndarray) -> SampleKeys:
        """The keys of samples ``indices`` (int [m])."""
        return SampleKeys(
            self.hashes[indices], self.fingerprints[indices], self.sample_id[indices], self.band, self.shape
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
    2. common phase removed, twice: ``z * conj(r) / |r|`` with two references, ``r = sum(z |z|^2)`` (the
       power-weighted sum) and ``r = z[argmax |z|]`` (the strongest bin). Any reference is unstable
       somewhere (the first where the strong bins' phases cancel, the second where two bins tie), but not
       both at once: on 20,000 planted 30 dB copies, 13 and 327 fingerprints moved beyond the threshold, none
       in both. A pair matches when either variant does;
    3. fast random projection (random signs, orthonormal DFT, :data:`FINGERPRINT_DIM` / 2 seeded bins kept as
       real and imaginary parts): distances kept within about 1/sqrt(D/2) relative, at a DFT's cost;
    4. normalised to unit norm.

    Rows are NaN for samples with non-finite or all-zero CSI.
    """
    n, t = csi.shape[:2]
    snaps = np.unique(np.linspace(0, t - 1, min(t, FINGERPRINT_SNAPSHOTS)).round().astype(int))
    z = np.fft.fft2(csi[:, snaps], axes=(2, 3), norm="ortho").reshape(n, -1)  # [n, S*K(delay)*N_bs(angle)*N_ue]
    power = z.real**2 + z.imag**2
    refs = np.stack([np.einsum("nd,nd->n", z, power.astype(z.dtype)), z[np.arange(n), power.argmax(axis=1)]], 1)
    signs, bins = _mixing(z.shape[1])
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        rotated = (z * signs)[:, None, :] * (refs.conj() / np.abs(refs))[:, :, None]  # [n, 2, d]
        y = np.fft.fft(rotated, axis=2, norm="ortho")[:, :, bins]
        out = np.concatenate([y.real, y.imag], axis=2).astype(np.float32)
        out /= np.linalg.norm(out, axis=2, keepdims=True)
    out[~np.isfinite(out).all(axis=(1, 2))] = np.nan
    return out


def _range_pairs(x: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``(i, j)``, ``i < j``, of rows of ``x`` (float32 [m, D]) within L2 distance ``radius``, and distances."""
    try:
        import faiss
    except ImportError as exc:
        raise WirelessDataError("near-duplicate search needs faiss; install it with `pip install faiss-cpu`") from exc
    m, dim = x.shape
    if m < IVF_MIN_SAMPLES:
        index = faiss.IndexFlatL2(dim)
    else:
        nlist = int(IVF_LISTS_PER_SQRT_N * np.sqrt(m))
        quantizer = faiss.IndexFlatL2(dim)
        quantizer.add(x[np.random.default_rng(FINGERPRINT_SEED).choice(m, nlist, replace=False)])
        index = faiss.IndexIVFFlat(quantizer, dim, nlist)
        index.is_trained = True  # the centroids are data points: nothing to train
        index.nprobe = IVF_PROBES
    index.add(x)
    lims, dist2, ids = index.range_search(x, radius**2)
    rows = np.repeat(np.arange(m), np.diff(lims).astype(np.int64))
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


def duplicate_pairs(keys: Sequence[SampleKeys], threshold: float = NEAR_DUPLICATE_DISTANCE) -> Pairs:
    """Exact and near duplicate pairs among the samples of ``keys``, numbered by concatenation order.

    Paired samples (same ``sample_id``, different bands) are left out.
    """
    if not 0 < threshold < 2:
        raise ConfigError(f"near-duplicate threshold {threshold}: give a distance in (0, 2) between unit fingerprints")
    n = sum(len(k.sample_id) for k in keys)
    if not n:
        empty = np.zeros(0, np.int64)
        return Pairs(empty, empty, np.zeros(0, np.float32), np.zeros(0, bool))
    sample_id = np.concatenate([k.sample_id for k in keys])
    fps = np.concatenate([k.fingerprints for k in keys])
    hashes = _hash_view(keys)
    bands = np.concatenate([np.full(len(k.sample_id), i) for i, k in enumerate(keys)])
    band_code = np.unique([k.band for k in keys], return_inverse=True)[1][bands]
    shape_code = np.unique([str(k.shape) for k in keys], return_inverse=True)[1][bands]
    _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    later = np.flatnonzero(first[inverse] != np.arange(n))
    a, b = [first[inverse[later]]], [later]
    valid = np.isfinite(fps).all(axis=(1, 2))
    for code in np.unique(shape_code):
        rows = np.flatnonzero(valid & (shape_code == code))
        for variant in range(fps.shape[1]):
            i, j, _ = _range_pairs(fps[rows, variant], threshold)
            a.append(rows[i])
            b.append(rows[j])
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


def find_duplicates(keys: Sequence[SampleKeys], threshold: float = NEAR_DUPLICATE_DISTANCE) -> Duplicates:
    """Group the samples of ``keys`` (concatenated in root order) into duplicate groups and flag all but the first."""
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
