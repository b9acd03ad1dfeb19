"""What the two Fréchet distances of curation share: the distance itself and the samples it is measured on.

Both the feature distance (:mod:`wirelessdata.curate.distance`) and the embedding distance
(:mod:`wirelessdata.curate.embedding`) read a shard as the same whole blocks, evenly spaced over it
(:func:`sample_blocks`), and compare two sets of per-sample vectors by the Fréchet distance between the
Gaussians fitted to them (:func:`frechet_distance`, as FID does for images).
"""

from __future__ import annotations

import numpy as np

from wirelessdata.curate.blocks import ShardInfo


def sample_blocks(info: ShardInfo, max_samples: int | None) -> list[int]:
    """Indices of whole blocks, evenly spaced over the shard, holding about ``max_samples`` samples (None: all)."""
    nblocks = -(-info.num_samples // info.block_size)
    want = nblocks if max_samples is None else max(1, min(nblocks, -(-max_samples // info.block_size)))
    return np.unique(np.linspace(0, nblocks - 1, want).round().astype(int)).tolist()


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)`` between Gaussians fitted
    to ``a`` [n, F] and ``b`` [m, F] (n, m >= 2); in the squared units of the vectors."""
    mu = a.mean(axis=0) - b.mean(axis=0)
    sa, sb = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    w, v = np.linalg.eigh(sa)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.linalg.eigvalsh(root_a @ sb @ root_a)
    return float(mu @ mu + np.trace(sa) + np.trace(sb) - 2 * np.sqrt(np.clip(cross, 0, None)).sum())
