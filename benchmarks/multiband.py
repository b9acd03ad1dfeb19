"""Cross-band figures of multi-band drops (issue 13), correlated and independent modes in one run.

For UMa and UMi (scenario defaults: 80 % indoor UEs), sub6 (3.5 GHz) + 28GHz, BS 4x8 panel, 1 UE antenna:

1. LoS agreement between the bands (all drops; outdoor drops, where LoS is possible).
2. Best-direction agreement on a common angular grid (azimuth x zenith; each band's steering vectors from
   its own ``bs_ant_pos`` and wavelength, see ``wirelessdata.generators.angular``), and the correlation
   between the bands of the strongest cluster's departure angles (saved clusters; circular correlation for
   the azimuth AoD, Pearson for the zenith ZoD), of the angles and of their offsets from the BS-UE
   direction (38.901 draws cluster angles around it, so the angles themselves correlate in both modes).
3. A sub-6 -> 28 GHz best-direction predictor: multinomial logistic regression on the sub-6 angular power
   spectrum (dB re its peak, on the grid) trained on the first 3/4 of the paired drops, top-1/top-3 on the
   last 1/4; inputs from correlated pairs, from independent pairs, and a position-only baseline (the same
   classifier on the UE position relative to the BS: x, y, z, azimuth, zenith, log distance).
4. Cost: ``(t_sub6 alone + t_28GHz alone) / t_correlated pair`` for the same drops, i.e. band-samples/s of
   the correlated pair / band-samples/s of the two single-band runs together (goal >= 0.9), with the
   default shard configuration (T = 24, K = 64 at the presets' spacings); the configurations are run in
   turn (rotating order) and the median of the per-round ratios is reported (wall clock; CPU time beside).

The angular figures use T = 2 snapshots and K = 16 subcarriers spread over each band's largest bandwidth
(6.25 MHz apart at sub6 = 100 MHz, 25 MHz apart at 28GHz = 400 MHz): the spectrum is a wideband one, as for
beam selection on a whole carrier, so clusters at different delays do not interfere in it. Both modes use
the same block seeds, hence the same topology (positions, indoor states) drop for drop.

Run: .venv/bin/python benchmarks/multiband.py [--samples 4096] [--cost-samples 128] [--cost-rounds 6]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from wirelessdata.generators.angular import AngularGrid, angular_power_spectrum, strongest_direction
from wirelessdata.generators.tr38901 import Tr38901Config, generate_block, shard_layouts

SCENARIOS = ("UMa", "UMi")
MODES = ("correlated", "independent")
SUB6, MMW = "sub6", "28GHz"
GRID = AngularGrid(azimuth_deg=np.arange(-75.0, 75.1, 7.5), zenith_deg=np.arange(85.0, 125.1, 10.0))
"""Common grid: 21 azimuths x 5 zenith angles = 105 directions (the sector is +-60 deg around +x)."""
ANGLE_BANDS = [
    {"band": SUB6, "num_subcarriers": 16, "subcarrier_spacing_hz": 6.25e6},
    {"band": MMW, "num_subcarriers": 16, "subcarrier_spacing_hz": 25e6},
]
ANGLE_CONFIG = {"bands": ANGLE_BANDS, "bs_array": [4, 8], "num_time_steps": 2, "save_clusters": True}
SEED = 13
"""Block seed of the angular figures (both modes, both scenarios)."""
APS_FLOOR_DB = -40.0
"""Floor of the predictor's input spectrum, dB below its peak."""
TRAIN_FRACTION = 0.75
C_VALUES = (0.1, 1.0, 10.0)
"""Inverse regularisation strengths of the logistic regression, chosen per input on validation drops."""


def draw(scenario: str, mode: str, samples: int) -> dict[str, dict[str, np.ndarray]]:
    """Paired drops of one scenario and mode, with each band's angular power spectrum under ``"aps"`` [n, G]."""
    cfg = Tr38901Config.from_dict({**ANGLE_CONFIG, "scenario": scenario, "multiband": mode})
    blocks = generate_block(cfg, samples, SEED)
    for band, layout in shard_layouts(cfg).items():
        blocks[band]["aps"] = angular_power_spectrum(
            blocks[band]["csi"], layout.coords["bs_ant_pos"], layout.attrs["carrier_frequency_hz"], GRID
        )
    return blocks


def line_of_sight_angles(block: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """:output azimuth, zenith: [n] each [rad], direction from the BS to the UE at t = 0."""
    rel = block["ue_pos"][:, 0].astype(np.float64) - block["bs_pos"]
    return np.arctan2(rel[:, 1], rel[:, 0]), np.arctan2(np.hypot(rel[:, 0], rel[:, 1]), rel[:, 2])


def strongest_cluster_angles(block: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """:output aod, zod: [n] each [rad], departure angles of each drop's strongest cluster."""
    strongest = np.nanargmax(block["cluster_power"], axis=1)
    rows = np.arange(len(strongest))
    return block["cluster_aod_rad"][rows, strongest], block["cluster_zod_rad"][rows, strongest]


def circular_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Jammalamadaka-SenGupta circular correlation of two angle samples [rad], in [-1, 1]."""
    da = np.sin(a - np.angle(np.mean(np.exp(1j * a))))
    db = np.sin(b - np.angle(np.mean(np.exp(1j * b))))
    return float(np.sum(da * db) / np.sqrt(np.sum(da**2) * np.sum(db**2)))


def agreement(pair: dict[str, dict[str, np.ndarray]]) -> dict[str, float]:
    """LoS and best-direction agreement (all drops, outdoor drops) and strongest-cluster angle correlations.

    The angle correlations are given for the angles themselves and for their offsets from the BS-UE
    direction: the former are dominated by the shared geometry (38.901 draws cluster angles around the
    LoS direction), the latter show what the bands share beyond it.
    """
    sub6, mmw = pair[SUB6], pair[MMW]
    outdoor = ~sub6["indoor"]
    same_los = sub6["los"] == mmw["los"]
    beams = band_agreement(pair)
    los_az, los_zen = line_of_sight_angles(sub6)
    (aod_6, zod_6), (aod_28, zod_28) = strongest_cluster_angles(sub6), strongest_cluster_angles(mmw)
    return {
        "los": same_los.mean(),
        "los_outdoor": same_los[outdoor].mean(),
        "beam": beams["all"][0],
        "beam_outdoor": beams["outdoor"][0],
        "aod": circular_correlation(aod_6, aod_28),
        "aod_offset": circular_correlation(aod_6 - los_az, aod_28 - los_az),
        "zod": float(np.corrcoef(zod_6, zod_28)[0, 1]),
        "zod_offset": float(np.corrcoef(zod_6 - los_zen, zod_28 - los_zen)[0, 1]),
    }


def aps_features(aps: np.ndarray) -> np.ndarray:
    """:output x: [n, G], angular power spectrum in dB re its peak, floored at :data:`APS_FLOOR_DB`."""
    return np.maximum(10 * np.log10(aps / aps.max(axis=1, keepdims=True)), APS_FLOOR_DB)


def position_features(block: dict[str, np.ndarray]) -> np.ndarray:
    """:output x: [n, 6], UE position re the BS at t = 0: x, y, z [m], azimuth, zenith [rad], log10 2D distance."""
    rel = block["ue_pos"][:, 0].astype(np.float64) - block["bs_pos"]
    return np.column_stack([rel, *line_of_sight_angles(block), np.log10(np.hypot(rel[:, 0], rel[:, 1]))])


def top_k(scores: np.ndarray, classes: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Top-1 and top-3 accuracy of class scores ``[n, len(classes)]`` against labels ``y`` [n]."""
    hits = classes[np.argsort(scores, axis=1)[:, ::-1][:, :3]] == y[:, None]
    return float(hits[:, 0].mean()), float(hits.any(axis=1).mean())


def logistic_regression(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Test top-1/top-3 of logistic regression trained on the first :data:`TRAIN_FRACTION` of the rows.

    The inverse regularisation ``C`` (one of :data:`C_VALUES`) is chosen by top-1 accuracy on the last
    quarter of the training rows, then the model is refitted on all training rows.
    """
    split = int(TRAIN_FRACTION * len(y))
    fit = int(TRAIN_FRACTION * split)

    def model(c: float, rows: slice) -> Any:
        return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000)).fit(x[rows], y[rows])

    def scores(m: Any, rows: slice) -> tuple[float, float]:
        return top_k(m.predict_proba(x[rows]), m[-1].classes_, y[rows])

    best = max(C_VALUES, key=lambda c: scores(model(c, slice(0, fit)), slice(fit, split))[0])
    return scores(model(best, slice(0, split)), slice(split, None))


def pair_rows(pair: dict[str, dict[str, np.ndarray]]) -> list[tuple[str, float, float]]:
    """(input, top-1, top-3) on the test drops of one pair of shards (statistical or ray-traced): the sub-6 -> 28 GHz
    predictor on the sub-6 APS, the same on the UE position alone, and two untrained baselines (the sub-6 peak,
    the most frequent training direction)."""
    y = strongest_direction(pair[MMW]["aps"])
    split = int(TRAIN_FRACTION * len(y))
    directions = np.arange(GRID.size)
    counts = np.bincount(y[:split], minlength=GRID.size).astype(float)
    return [
        ("sub-6 spectrum", *logistic_regression(aps_features(pair[SUB6]["aps"]), y)),
        ("UE position only", *logistic_regression(position_features(pair[SUB6]), y)),
        ("sub-6 peak (untrained)", *top_k(pair[SUB6]["aps"][split:], directions, y[split:])),
        ("most frequent (untrained)", *top_k(np.tile(counts, (len(y) - split, 1)), directions, y[split:])),
    ]


def predictor_rows(pairs: dict[str, dict[str, dict[str, np.ndarray]]]) -> list[tuple[str, float, float]]:
    """(input, top-1, top-3) on the test drops of the sub-6 -> 28 GHz predictors and two untrained baselines:
    :func:`pair_rows` of the correlated pairs, with the APS predictor of the independent pairs beside it."""
    (aps, *rest), independent = pair_rows(pairs["correlated"]), pair_rows(pairs["independent"])[0]
    return [("sub-6 APS, correlated pairs", *aps[1:]), ("sub-6 APS, independent pairs", *independent[1:]), *rest]


def band_agreement(pair: dict[str, dict[str, np.ndarray]]) -> dict[str, tuple[float, int]]:
    """Best-direction agreement between the bands: the fraction of drops whose strongest grid direction is the
    same at both bands (= the untrained sub-6 peak predictor's top-1), with the number of drops, over all drops
    and over the LoS, NLoS and outdoor drops (NaN where a subset is empty)."""
    same = strongest_direction(pair[SUB6]["aps"]) == strongest_direction(pair[MMW]["aps"])
    los, outdoor = pair[SUB6]["los"], ~pair[SUB6]["indoor"]
    subsets = {"all": np.ones_like(los), "LoS": los, "NLoS": ~los, "outdoor": outdoor}
    return {k: (float(same[m].mean()) if m.any() else float("nan"), int(m.sum())) for k, m in subsets.items()}


def cost(scenario: str, samples: int, rounds: int) -> dict[str, Any]:
    """Interleaved timing of the correlated pair, each band alone and the independent pair (default shards).

    :output figures: median samples/s per configuration (a pair's drop counts once) and, for both pair modes,
        the median over rounds of ``(t_sub6 + t_28GHz) / t_pair`` in wall-clock time (``"ratio"``) and in the
        process's CPU time (``"cpu_ratio"``, less sensitive to other processes on a shared machine)
    """
    configs = {
        "correlated": Tr38901Config.from_dict({"scenario": scenario, "bands": [SUB6, MMW], "multiband": "correlated"}),
        SUB6: Tr38901Config.from_dict({"scenario": scenario, "bands": [SUB6], "multiband": "independent"}),
        MMW: Tr38901Config.from_dict({"scenario": scenario, "bands": [MMW], "multiband": "independent"}),
        "independent": Tr38901Config.from_dict(
            {"scenario": scenario, "bands": [SUB6, MMW], "multiband": "independent"}
        ),
    }
    for cfg in configs.values():
        generate_block(cfg, 8, 0)  # build the Sionna models outside the timing
    wall, cpu = np.zeros((2, rounds, len(configs)))
    names = list(configs)
    for r in range(rounds):
        for i in np.roll(np.arange(len(names)), -r):  # rotate the order from round to round
            start, start_cpu = time.perf_counter(), time.process_time()
            generate_block(configs[names[i]], samples, SEED + r)
            wall[r, i], cpu[r, i] = time.perf_counter() - start, time.process_time() - start_cpu
    col = {name: i for i, name in enumerate(names)}

    def ratio(t: np.ndarray, mode: str) -> float:
        return float(np.median((t[:, col[SUB6]] + t[:, col[MMW]]) / t[:, col[mode]]))

    return {
        "rate": {name: float(np.median(samples / wall[:, i])) for name, i in col.items()},
        "ratio": {mode: ratio(wall, mode) for mode in MODES},
        "cpu_ratio": {mode: ratio(cpu, mode) for mode in MODES},
        "num_time_steps": configs["correlated"].num_time_steps,
        "num_subcarriers": configs["correlated"].bands[0].num_subcarriers,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=4096, help="drops per scenario and mode (>= 1000)")
    ap.add_argument("--cost-samples", type=int, default=128, help="drops per timed run")
    ap.add_argument("--cost-rounds", type=int, default=6, help="interleaved rounds of timed runs")
    args = ap.parse_args()
    start = time.perf_counter()
    print(
        f"sub6 + 28GHz, BS 4x8, 1 UE antenna, {args.samples} drops per scenario and mode, seed {SEED}, "
        f"torch threads {torch.get_num_threads()}\n"
        f"common grid: azimuth {GRID.azimuth_deg[0]:g}..{GRID.azimuth_deg[-1]:g} deg step 7.5 x zenith "
        f"{GRID.zenith_deg[0]:g}..{GRID.zenith_deg[-1]:g} deg step 10 = {GRID.size} directions; "
        "T = 2, K = 16 over 100 MHz (sub6) / 400 MHz (28GHz)\n"
    )
    pairs = {s: {m: draw(s, m, args.samples) for m in MODES} for s in SCENARIOS}
    print(
        "cross-band agreement (outdoor drops in brackets) and correlation of the strongest cluster's departure\n"
        "angles (in brackets: of their offsets from the BS-UE direction)"
    )
    print(
        f"{'scenario':8s} {'mode':12s} {'LoS agree':>17s} {'best-dir agree':>17s} {'AoD corr':>15s} {'ZoD corr':>15s}"
    )
    for s in SCENARIOS:
        for m in MODES:
            a = agreement(pairs[s][m])
            print(
                f"{s:8s} {m:12s} {100 * a['los']:7.1f} % ({100 * a['los_outdoor']:5.1f} %) "
                f"{100 * a['beam']:7.1f} % ({100 * a['beam_outdoor']:5.1f} %) "
                f"{a['aod']:6.3f} ({a['aod_offset']:6.3f}) {a['zod']:6.3f} ({a['zod_offset']:6.3f})"
            )
    split = int(TRAIN_FRACTION * args.samples)
    print(
        f"\nsub-6 -> 28GHz best direction ({GRID.size} classes), logistic regression, "
        f"train {split} / test {args.samples - split} drops"
    )
    print(f"{'scenario':8s} {'input':31s} {'top-1':>7s} {'top-3':>7s}")
    for s in SCENARIOS:
        for name, top1, top3 in predictor_rows(pairs[s]):
            print(f"{s:8s} {name:31s} {100 * top1:5.1f} % {100 * top3:5.1f} %")
    print(
        f"\ncost: drops/s, {args.cost_samples} drops per run, medians over {args.cost_rounds} interleaved rounds; "
        "ratio = (t_sub6 + t_28GHz) / t_pair\n(in brackets: the same ratio in CPU time)"
    )
    print(
        f"{'scenario':8s} {'T':>3s} {'K':>3s} {'sub6':>7s} {'28GHz':>7s} {'corr pair':>10s} {'indep pair':>10s} "
        f"{'ratio corr':>14s} {'ratio indep':>14s}"
    )
    for s in SCENARIOS:
        c = cost(s, args.cost_samples, args.cost_rounds)
        r = c["rate"]
        print(
            f"{s:8s} {c['num_time_steps']:3d} {c['num_subcarriers']:3d} {r[SUB6]:7.1f} {r[MMW]:7.1f} "
            f"{r['correlated']:10.1f} {r['independent']:10.1f} "
            + "".join(f"{c['ratio'][m]:7.2f} ({c['cpu_ratio'][m]:4.2f})" for m in MODES)
        )
    print("goal: ratio >= 0.90 for the correlated pair")
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
