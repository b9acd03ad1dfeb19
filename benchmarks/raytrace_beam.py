"""Cross-band beam on ray-traced pairs (issue 23): the sub-6 -> 28 GHz best-direction predictor of
benchmarks/multiband.py (part 3) on ray-traced sub6 + 28GHz drops of the street canyon, beside the statistical
(TR 38.901 UMa, correlated pairs; and UMi, 38.901's street canyon) figures measured in the same run on the same
number of drops.

Ray-traced pairs: the street-canyon recipe (generators/raytrace-street-canyon.toml: ``simple_street_canyon``, BS
4x8 at [-45, 0, 10] m looking east, UEs on the main street) with CSI only, T = 2 snapshots and K = 16 subcarriers
over each band's largest bandwidth (the bands of benchmarks/multiband.py's angular figures), through the whole
pipeline (one shard per band); the two shards' ``sample_id``, ``recipe_hash`` and UE tracks are checked to pair
drop for drop. Statistical pairs: ``multiband.draw(scenario, "correlated", n)``.

Both go through the same functions of benchmarks/multiband.py: each band's angular power spectrum on its common
grid (21 azimuths x 5 zenith angles, array frame), the 28 GHz label = its strongest grid direction, logistic
regression on the sub-6 spectrum (dB re its peak) and on the UE position (train on the first 3/4 of the drops, test
on the last 1/4), the untrained "take the sub-6 peak" and "most frequent training label" predictors; plus the
best-direction agreement between the bands (fraction of drops whose strongest direction is the same at both bands)
over all drops and over the LoS, NLoS and outdoor ones, with the share of the disagreeing drops whose two directions
are neighbouring grid cells.

Run: .venv/bin/python benchmarks/raytrace_beam.py [--samples 4096] [--block-size 64]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time

import numpy as np
import xarray as xr
from multiband import ANGLE_BANDS, GRID, MMW, SUB6, TRAIN_FRACTION, band_agreement, draw, pair_rows

from wirelessdata.generate.plan import DropSetPlan
from wirelessdata.generate.recipe import drop_sets, load_recipe
from wirelessdata.generate.run import run_plan
from wirelessdata.generators.angular import angular_power_spectrum, strongest_direction

RECIPE = "generators/raytrace-street-canyon.toml"
OVERRIDES = {"bands": ANGLE_BANDS, "num_time_steps": 2, "sensing": []}
"""The recipe's street canyon with the angular figures' grid (T = 2, K = 16 per band) and no sensors."""
PAIR_KEYS = ("aps", "ue_pos", "bs_pos", "los", "indoor")
STATISTICAL = ("UMa", "UMi")
"""Statistical scenarios beside the ray-traced pairs: UMa (the issue's reference) and UMi (38.901's street canyon),
both at their defaults (80 % indoor UEs)."""

Pair = dict[str, dict[str, np.ndarray]]
"""``{band: {"aps" [n, G], "ue_pos" [n, T, 3] m, "bs_pos" [n, 3] m, "los", "indoor" [n] bool}}`` of paired drops."""


def raytraced_pair(samples: int, block_size: int, root: str) -> Pair:
    """Ray-traced sub6 + 28GHz drops written under ``root``, read back, checked to pair, with their spectra.

    :raises AssertionError: A shard fails validation, or the two shards do not hold the same drops
    """
    (drops,) = drop_sets(load_recipe(RECIPE), {**OVERRIDES, "samples": samples, "block_size": block_size})
    results = run_plan(DropSetPlan(drops, root))
    assert all(r.report.ok for r in results), [r.report.findings for r in results]
    shards = {r.band: xr.open_zarr(r.url) for r in results}
    sub6, mmw = shards[SUB6], shards[MMW]
    assert sub6.attrs["recipe_hash"] == mmw.attrs["recipe_hash"]
    np.testing.assert_array_equal(sub6.sample_id.values, mmw.sample_id.values)
    np.testing.assert_array_equal(sub6.ue_pos.values, mmw.ue_pos.values)
    pair = {}
    for band, ds in shards.items():
        aps = angular_power_spectrum(ds.csi.values, ds.bs_ant_pos.values, ds.attrs["carrier_frequency_hz"], GRID)
        pair[band] = {"aps": aps, **{k: ds[k].values for k in PAIR_KEYS if k != "aps"}}
    return pair


def statistical_pair(scenario: str, samples: int) -> Pair:
    """TR 38.901 correlated pairs of benchmarks/multiband.py (its configuration and block seed), with spectra."""
    blocks = draw(scenario, "correlated", samples)
    return {band: {k: blocks[band][k] for k in PAIR_KEYS} for band in (SUB6, MMW)}


def adjacent_share(pair: Pair) -> float:
    """Of the drops whose strongest direction differs between the bands, the fraction where the two directions are
    neighbours on the grid (one step in azimuth and/or zenith)."""
    (zen_6, az_6), (zen_28, az_28) = (
        np.divmod(strongest_direction(pair[b]["aps"]), GRID.shape[1]) for b in (SUB6, MMW)
    )
    differ = (zen_6 != zen_28) | (az_6 != az_28)
    near = (np.abs(zen_6 - zen_28) <= 1) & (np.abs(az_6 - az_28) <= 1)
    return float(near[differ].mean()) if differ.any() else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--samples", type=int, default=4096, help="drops of each kind (ray-traced, each statistical scenario)"
    )
    ap.add_argument("--block-size", type=int, default=64, help="drops per ray-traced block")
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="raytrace_beam-")
    try:
        start = time.perf_counter()
        pairs = {"ray-traced street canyon": raytraced_pair(args.samples, args.block_size, root)}
        traced_s = time.perf_counter() - start
        for scenario in STATISTICAL:
            pairs[f"statistical {scenario}, correlated"] = statistical_pair(scenario, args.samples)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    split = int(TRAIN_FRACTION * args.samples)
    print(
        f"sub6 + 28GHz, BS 4x8, T = 2, K = 16, {args.samples} drops each (ray tracing {traced_s:.0f} s); "
        f"best direction on the common grid ({GRID.size} classes), train {split} / test {args.samples - split}\n"
    )
    print("| pairs | input | top-1 | top-3 |\n|---|---|---:|---:|")
    for name, pair in pairs.items():
        for label, top1, top3 in pair_rows(pair):
            print(f"| {name} | {label} | {100 * top1:.1f} % | {100 * top3:.1f} % |")
    print("\nbest-direction agreement between the bands (drops in brackets), distinct 28 GHz labels")
    print("| pairs | all | LoS | NLoS | outdoor | labels | disagreements in an adjacent cell |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, pair in pairs.items():
        cells = " | ".join(f"{100 * a:.1f} % ({n})" if n else "n/a (0)" for a, n in band_agreement(pair).values())
        labels = len(np.unique(strongest_direction(pair[MMW]["aps"])))
        print(f"| {name} | {cells} | {labels} | {100 * adjacent_share(pair):.1f} % |")
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
