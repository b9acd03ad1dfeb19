"""Known defects planted into generated blocks, so that what curation removes, and what that is worth, can be
measured (the bench's curation track): exact duplicates, near duplicates and dead samples.

A recipe configuration (or its ``[defaults]``) with::

    plant = { exact = 0.1, near = 0.1, dead = 0.05, near_snr_db = 30.0, dead_db = -120.0 }

has, in every block, those shares of its drops replaced, the same drops in every band's shard:

- ``exact``: a bit-identical copy of another drop of the block (CSI and every per-sample label);
- ``near``: a copy of another drop with complex AWGN ``near_snr_db`` below its power and a random common phase
  per sample (labels copied);
- ``dead``: CSI replaced by complex white noise ``dead_db`` below the block's median CSI power (beyond
  curation's zero-power floor, 100 dB below a shard's median), labels kept
  (a receiver that recorded nothing but noise).

The copies are of drops that are themselves left intact. Planting is a pure function of the block and its seed,
and is part of the recipe (and its hash): a planted shard never passes for a clean one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from wirelessdata.errors import ConfigError

PLANT_KEY = 7919
"""numpy seed-sequence key of the planting draws of a block (apart from the generator's own keys)."""


@dataclass(frozen=True)
class PlantSpec:
    """Shares of a block's drops replaced by each defect (their sum at most 0.5), and the defects' levels (dB)."""

    exact: float = 0.0
    near: float = 0.0
    dead: float = 0.0
    near_snr_db: float = 30.0
    dead_db: float = -120.0

    def to_dict(self) -> dict[str, float]:
        """Plain data for the recipe."""
        return asdict(self)


def parse_plant(where: str, raw: Any) -> PlantSpec:
    """A ``plant`` table as a :class:`PlantSpec`; one-line errors naming ``where``."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: give a table, e.g. plant = {{ exact = 0.1, near = 0.1, dead = 0.05 }}")
    fields = PlantSpec.__dataclass_fields__
    if unknown := sorted(set(raw) - set(fields)):
        raise ConfigError(f"{where}: unknown key(s) {unknown}; valid keys: {list(fields)}")
    values = {}
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}.{key}: {value!r} is not a number")
        values[key] = float(value)
    spec = PlantSpec(**values)
    shares = (spec.exact, spec.near, spec.dead)
    if min(shares) < 0 or sum(shares) > 0.5:
        raise ConfigError(f"{where}: the shares exact, near and dead must be >= 0 and sum to at most 0.5")
    return spec


def near_copy(csi: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Copies of ``csi`` [n, ...] with complex AWGN at ``snr_db`` below each sample's mean power and a random
    common phase per sample."""
    axes = tuple(range(1, csi.ndim))
    power = (np.abs(csi) ** 2).mean(axis=axes, keepdims=True)
    scale = np.sqrt(power * 10 ** (-snr_db / 10) / 2)
    noise = (rng.standard_normal(csi.shape) + 1j * rng.standard_normal(csi.shape)) * scale
    phase = np.exp(2j * np.pi * rng.random((csi.shape[0],) + (1,) * (csi.ndim - 1)))
    return ((csi + noise) * phase).astype(np.complex64)


def plant_block(
    per_band: Mapping[str, Mapping[str, np.ndarray]], spec: PlantSpec, seed: int
) -> dict[str, dict[str, np.ndarray]]:
    """The block's arrays (band -> name -> array, first axis the ``n`` drops) with the defects of ``spec`` planted.

    Per-sample arrays (first axis ``n``) are copied with the CSI; other arrays are left as they are.
    """
    n = len(next(iter(per_band.values()))["csi"])
    counts = [int(round(share * n)) for share in (spec.exact, spec.near, spec.dead)]
    if not sum(counts):
        return {band: dict(arrays) for band, arrays in per_band.items()}
    rng = np.random.default_rng([seed, PLANT_KEY])
    order = rng.permutation(n)
    planted = order[: sum(counts)]
    intact = np.sort(order[sum(counts) :])
    exact, near, dead = np.split(planted, np.cumsum(counts)[:2])
    sources = {"exact": rng.choice(intact, exact.size), "near": rng.choice(intact, near.size)}
    out = {}
    for band, arrays in per_band.items():
        band_rng = np.random.default_rng([seed, PLANT_KEY, len(out) + 1])
        new = {name: np.array(a, copy=True) for name, a in arrays.items()}
        for a in new.values():
            if a.ndim and a.shape[0] == n:
                a[exact] = a[sources["exact"]]
                a[near] = a[sources["near"]]
        csi = new["csi"]
        csi[near] = near_copy(csi[near], spec.near_snr_db, band_rng)
        median = float(np.median((np.abs(csi[intact]) ** 2).reshape(intact.size, -1).mean(1)))
        scale = np.sqrt(median * 10 ** (spec.dead_db / 10) / 2)
        shape = (dead.size, *csi.shape[1:])
        csi[dead] = ((band_rng.standard_normal(shape) + 1j * band_rng.standard_normal(shape)) * scale).astype(csi.dtype)
        out[band] = new
    return out
