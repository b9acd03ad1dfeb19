"""The one split rule: which side of a split a sample falls on, by a hash of ``(seed, sample_id)``.

Mixtures (validation), task views and the model's evaluation (test sides) and exports (train / val / test) all
split with it, so a sample's side never depends on which other shards are in play, and the samples of one drop
at several bands (one ``sample_id``) always land on the same side.
"""

from __future__ import annotations

import hashlib

import numpy as np


def val_mask(sample_ids: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """True for the samples on the held side: a hash of ``(seed, sample_id)`` in [0, 1) below ``fraction``.

    :param sample_ids: ``[n]`` uint64 (or int64) sample ids.
    :returns: ``[n]`` bool.
    """
    out = np.empty(sample_ids.size, dtype=bool)
    for i, sid in enumerate(np.asarray(sample_ids, dtype=np.uint64)):
        digest = hashlib.blake2b(f"{seed}:{int(sid)}".encode(), digest_size=8).digest()
        out[i] = int.from_bytes(digest, "little") / 2.0**64 < fraction
    return out
