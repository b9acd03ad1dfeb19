"""Distributions of a shard measured at commit, from its per-sample labels (never the whole CSI).

Each numeric label gets count, mean, std, min, max and the 5/25/50/75/95 % quantiles over its
finite values; booleans get their share of true. The catalog stores and queries these.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import zarr

QUANTILES = (5, 25, 50, 75, 95)
LABELS = ("path_gain_db", "delay_spread_s", "k_factor_db", "distance_m", "los", "indoor")


def describe(values: np.ndarray) -> dict[str, Any]:
    """Summary of the finite values of a 1-D array (booleans: share of true)."""
    v = np.asarray(values)
    if v.dtype == bool:
        return {"count": int(v.size), "share": float(v.mean()) if v.size else None}
    f = v[np.isfinite(v)].astype(np.float64)
    if not f.size:
        return {"count": 0}
    q = np.percentile(f, QUANTILES)
    return {
        "count": int(f.size),
        "mean": float(f.mean()),
        "std": float(f.std()),
        "min": float(f.min()),
        "max": float(f.max()),
        **{f"p{p:02d}": float(x) for p, x in zip(QUANTILES, q, strict=True)},
    }


def shard_stats(group: zarr.Group) -> dict[str, Any]:
    """Distributions of the labels present in a shard, plus UE speed from ``ue_vel``."""
    present = {name for name, _ in group.arrays()}
    out = {name: describe(group[name][:]) for name in LABELS if name in present}
    if "ue_vel" in present:
        out["ue_speed_mps"] = describe(np.linalg.norm(group["ue_vel"][:], axis=-1))
    return out
