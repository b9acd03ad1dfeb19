"""Distances between two sets of samples (shards, roots): kernel MMD and Fréchet distance on per-sample features.

The feature set (:data:`FEATURES`) is fixed and measured from the CSI alone, with one definition for
every source, so a simulated shard and a measured import are compared on equal terms (labels such
as ``delay_spread_s`` are generator-specific and absent from imports). Spreads enter in log10.

Before either distance, every feature is standardised with the mean and std of the two sets pooled,
so both distances are unitless and no feature dominates by its units:

- **MMD**: unbiased squared maximum mean discrepancy with a Gaussian kernel whose bandwidth is the
  median pairwise distance of the pooled samples (the median heuristic), on at most
  :data:`MMD_MAX_SAMPLES` seeded samples per set. About 0 for sets from one distribution.
- **Fréchet**: ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)`` between the Gaussians
  fitted to each set (as FID does for images; :mod:`wirelessdata.curate.frechet`).

With a reference-model checkpoint, the Fréchet distance is also taken between the two sets' encoder
embeddings (:mod:`wirelessdata.curate.embedding`, as FID does for images).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from wirelessdata.curate.blocks import ShardInfo, iter_blocks, shard_info
from wirelessdata.curate.embedding import check_shape, embedding_frechet, load_embeddings, load_encoder
from wirelessdata.curate.frechet import frechet_distance, sample_blocks
from wirelessdata.errors import WirelessDataError
from wirelessdata.shard.stats import angular_spread, csi_power_db
from wirelessdata.shard.validate import shard_urls


@dataclass(frozen=True)
class Feature:
    """One per-sample feature: name, units (after the log10 where ``floor`` is set) and definition."""

    name: str
    units: str
    description: str
    floor: float | None = None
    """When set, the feature is ``log10(max(value, floor))``."""


FEATURES: tuple[Feature, ...] = (
    Feature("power", "dB", "10 log10 of the mean |H|^2 over time, subcarriers and antennas"),
    Feature(
        "delay_spread",
        "log10 s",
        "RMS delay spread from the correlation of neighbouring subcarriers (lag_spread)",
        floor=1e-10,
    ),
    Feature(
        "angular_spread",
        "1",
        "angular-spread proxy 1 - sum(l^2)/sum(l)^2 of the eigenvalues l of the BS spatial covariance "
        "(wirelessdata.shard.stats.angular_spread)",
    ),
    Feature(
        "doppler_spread",
        "log10 Hz",
        "RMS Doppler spread from the correlation of neighbouring snapshots (lag_spread); undefined with one snapshot",
        floor=0.1,
    ),
    Feature(
        "k_factor",
        "dB",
        "K-factor proxy: power of the strongest angle-delay bin over the power of all others "
        "(angle-delay power averaged over time and UE antennas)",
    ),
)
FEATURE_NAMES = tuple(f.name for f in FEATURES)

MMD_MAX_SAMPLES = 2000
"""MMD uses at most this many samples of each set (seeded subsample): its cost is quadratic."""
MIN_SHARE = 0.5
"""A feature is compared when at least this share of each set's samples has a finite value of it."""


def lag_spread(csi: np.ndarray, axis: int, step: float) -> np.ndarray:
    """float64 [n]: RMS spread (1/units of ``step``) of each sample from the lag-1 correlation along ``axis``.

    With ``rho = |<a, b>| / (|a| |b|)`` the normalised correlation of ``csi`` [n, ...] with itself shifted by one
    step (a subcarrier: delay spread; a snapshot: Doppler spread), ``sqrt(1 - rho^2) / (2 pi step)``: the
    second-moment estimate, exact for small ``step * spread`` and saturating at ``1 / (2 pi step)``; it
    resolves spreads far below the ``1 / (size * step)`` resolution of a DFT. NaN with one point on ``axis``.
    """
    size = csi.shape[axis]
    if size < 2 or not np.isfinite(step) or step <= 0:
        return np.full(csi.shape[0], np.nan)
    lead = np.moveaxis(csi, axis, 1).reshape(csi.shape[0], size, -1).astype(np.complex128)  # 1 - rho^2 ~ 1e-6
    a, b = lead[:, 1:], lead[:, :-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        cross = np.abs(np.einsum("nkv,nkv->n", a, b.conj()))
        rho2 = np.clip(cross**2 / ((np.abs(a) ** 2).sum(axis=(1, 2)) * (np.abs(b) ** 2).sum(axis=(1, 2))), 0.0, 1.0)
    return np.sqrt(1.0 - rho2) / (2 * np.pi * step)


def csi_features(csi: np.ndarray, times: np.ndarray, subcarriers: np.ndarray) -> np.ndarray:
    """float64 [n, F] the :data:`FEATURES` of ``csi`` complex [n, T, K, N_bs, N_ue] (NaN where undefined).

    :param times: snapshot times [T], s.
    :param subcarriers: subcarrier offsets [K], Hz.
    """
    n = csi.shape[0]
    interval = float(np.mean(np.diff(times))) if len(times) > 1 else np.nan
    spacing = float(np.mean(np.diff(subcarriers))) if len(subcarriers) > 1 else np.nan
    ad = np.fft.fft2(csi, axes=(2, 3), norm="ortho")
    ad = (ad.real**2 + ad.imag**2).mean(axis=(1, 4)).reshape(n, -1)  # angle-delay power [n, K * N_bs]
    with np.errstate(divide="ignore", invalid="ignore"):
        peak = ad.max(axis=1)
        k_proxy = 10 * np.log10(peak / (ad.sum(axis=1) - peak))
    raw = np.stack(
        [csi_power_db(csi), lag_spread(csi, 2, spacing), angular_spread(csi), lag_spread(csi, 1, interval), k_proxy],
        axis=1,
    )
    for i, f in enumerate(FEATURES):
        if f.floor is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                raw[:, i] = np.log10(np.maximum(raw[:, i], f.floor))  # NaN stays NaN
    return raw


def shard_features(url: str, max_samples: int | None = None) -> np.ndarray:
    """float64 [m, F] features of the samples of a shard, read block by block.

    :param max_samples: read about this many samples at most: whole blocks evenly spaced over the shard.
    """
    info: ShardInfo = shard_info(url)
    if info.csi_shape is None:
        raise WirelessDataError(f"{url}: has no CSI; curate compare measures its features on the CSI")
    times, subcarriers = info.coords.get("time", np.zeros(1)), info.coords.get("subcarrier", np.zeros(1))
    blocks = sample_blocks(info, max_samples)
    return np.concatenate([csi_features(b["csi"], times, subcarriers) for _s, b in iter_blocks(info, ["csi"], blocks)])


def mmd2(a: np.ndarray, b: np.ndarray, seed: int = 0) -> float:
    """Unbiased squared MMD between ``a`` [n, F] and ``b`` [m, F] with a median-heuristic Gaussian kernel."""
    rng = np.random.default_rng(seed)
    a = a[rng.choice(len(a), min(len(a), MMD_MAX_SAMPLES), replace=False)]
    b = b[rng.choice(len(b), min(len(b), MMD_MAX_SAMPLES), replace=False)]
    pooled = np.concatenate([a, b])
    d2 = ((pooled[:, None, :] - pooled[None, :, :]) ** 2).sum(-1)
    bandwidth2 = np.median(d2[np.triu_indices(len(pooled), 1)]) or 1.0
    kernel = np.exp(-d2 / bandwidth2)
    n, m = len(a), len(b)
    kaa, kbb, kab = kernel[:n, :n], kernel[n:, n:], kernel[:n, n:]
    return float(
        (kaa.sum() - np.trace(kaa)) / (n * (n - 1)) + (kbb.sum() - np.trace(kbb)) / (m * (m - 1)) - 2 * kab.mean()
    )


@dataclass(frozen=True)
class Comparison:
    """How far two sets of samples are apart.

    :param features: the features compared (measured in both sets).
    :param num_a: samples of A used (with every compared feature finite).
    :param num_b: samples of B used.
    :param mmd2: unbiased squared MMD (standardised features).
    :param frechet: Fréchet distance (standardised features).
    :param mean_a: mean of each compared feature over A, in its units.
    :param mean_b: mean over B.
    :param embedding_frechet: Fréchet distance of the encoder embeddings (with a checkpoint; else None).
    :param embedding_dim: their width ``D``.
    :param checkpoint: the checkpoint they come from.
    """

    features: tuple[str, ...]
    num_a: int
    num_b: int
    mmd2: float
    frechet: float
    mean_a: dict[str, float]
    mean_b: dict[str, float]
    embedding_frechet: float | None = None
    embedding_dim: int | None = None
    checkpoint: str | None = None


def measured_features(x: np.ndarray) -> set[int]:
    """Columns of :data:`FEATURES` with a finite value for at least :data:`MIN_SHARE` of the samples of ``x``."""
    share = np.isfinite(x).mean(axis=0) if len(x) else np.zeros(len(FEATURES))
    return {i for i in range(len(FEATURES)) if share[i] >= MIN_SHARE}


def _standardised(sets: Sequence[np.ndarray]) -> tuple[list[np.ndarray], tuple[str, ...]]:
    """The features measured in every set, samples with all of them finite, standardised over all sets pooled."""
    cols = sorted(set.intersection(*(measured_features(s) for s in sets)))
    if not cols:
        raise WirelessDataError("the sets have no feature measured in all of them; compare shards that hold CSI")
    kept = [s[:, cols][np.isfinite(s[:, cols]).all(axis=1)] for s in sets]
    if min(len(k) for k in kept) < 2:
        raise WirelessDataError(f"too few samples with every feature finite ({[len(k) for k in kept]}); need 2 each")
    pooled = np.concatenate(kept)
    mu, sd = pooled.mean(axis=0), pooled.std(axis=0)
    sd[sd == 0] = 1.0
    return [(k - mu) / sd for k in kept], tuple(FEATURE_NAMES[i] for i in cols)


def feature_distance(a: np.ndarray, b: np.ndarray) -> Comparison:
    """MMD and Fréchet distance between feature sets ``a`` [n, F] and ``b`` [m, F] (:data:`FEATURES` columns)."""
    (za, zb), names = _standardised([a, b])
    cols = [FEATURE_NAMES.index(n) for n in names]

    def means(x: np.ndarray) -> dict[str, float]:
        x = x[:, cols]
        return dict(zip(names, x[np.isfinite(x).all(axis=1)].mean(axis=0).tolist(), strict=True))

    return Comparison(names, len(za), len(zb), mmd2(za, zb), frechet_distance(za, zb), means(a), means(b))


def distance_matrix(sets: Sequence[np.ndarray], standardise: bool = True) -> np.ndarray:
    """float64 [s, s] Fréchet distances between every two sets.

    :param sets: feature sets [m_i, F] (:data:`FEATURES` columns) or embeddings [m_i, D].
    :param standardise: features: standardised over all sets pooled (False: as given, for embeddings).
    """
    z = _standardised(sets)[0] if standardise else list(sets)
    out = np.zeros((len(z), len(z)))
    for i in range(len(z)):
        for j in range(i + 1, len(z)):
            out[i, j] = out[j, i] = frechet_distance(z[i], z[j])
    return out


def load_features(paths: Sequence[str], max_samples: int | None = 2048) -> dict[str, np.ndarray]:
    """Features of every shard of ``paths`` (shards or folders of shards), by shard path."""
    return {u: shard_features(u, max_samples) for u in shard_urls(paths)}


def compare(
    a: Sequence[str],
    b: Sequence[str],
    max_samples: int | None = 2048,
    checkpoint: str | Path | None = None,
    device: str | None = None,
) -> Comparison:
    """Distance between the samples of shards (or folders of shards) ``a`` and ``b``.

    :param max_samples: at most about this many samples read per shard (None: all).
    :param checkpoint: a ``wirelessdata train`` run directory or checkpoint file: also the Fréchet distance of
        its encoder's embeddings (:mod:`wirelessdata.curate.embedding`).
    :param device: torch device for the encoder (default: CUDA when present).
    """
    urls_a, urls_b = shard_urls(a), shard_urls(b)
    fa, fb = (np.concatenate([shard_features(u, max_samples) for u in urls]) for urls in (urls_a, urls_b))
    result = feature_distance(fa, fb)
    if checkpoint is None:
        return result
    return with_embeddings(result, checkpoint, urls_a, urls_b, max_samples, device)[0]


def with_embeddings(
    result: Comparison,
    checkpoint: str | Path,
    urls_a: Sequence[str],
    urls_b: Sequence[str],
    max_samples: int | None,
    device: str | None = None,
) -> tuple[Comparison, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``result`` with the embedding Fréchet distance of the shards ``urls_a`` and ``urls_b`` added, and the
    embeddings [m, D] of every shard of each side (by shard path)."""
    encoder = load_encoder(checkpoint, device)
    for url in [*urls_a, *urls_b]:  # refuse a shape before embedding anything
        check_shape(url, shard_info(url).csi_shape, encoder.patch)
    ea, eb = (load_embeddings(list(urls), encoder, max_samples) for urls in (urls_a, urls_b))
    distance = embedding_frechet(np.concatenate(list(ea.values())), np.concatenate(list(eb.values())))
    return replace(result, embedding_frechet=distance, embedding_dim=encoder.dim, checkpoint=str(checkpoint)), ea, eb
