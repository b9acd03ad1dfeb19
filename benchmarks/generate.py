"""Generator figures, printed as ratios against bare Sionna measured in the same run.

- pipeline / bare Sionna: samples/s of `wirelessdata generate` (topology, Sionna, labels, best beam,
  Zarr writes with checksums and fsync, the read pass, commit, validation) for one band, against the
  plain Sionna calls a researcher writes (gen_single_sector_topology, set_topology, the channel model,
  cir_to_ofdm_channel) for the same configuration and batch. Goal >= 0.90. Beside it the same bare loop keeping
  its CSI (np.save and fsync of each batch, the least any tool that writes its output pays on this disk), and the
  pipeline against that.
- where the rest goes, each stage timed alone in the same run (the pipeline overlaps writing block b with
  generating block b+1): the generator's blocks (Sionna plus labels, best beam, topology bookkeeping), the shard
  writes (checksums, fsync, done markers), the read pass before the commit (every block checked, the statistics
  measured in the same pass) and the checks after it (metadata, status, checksum), each as a fraction of bare
  Sionna's time; the pipeline's time against their sum (below 1 by what writing block b beside block b+1 hid);
  and three bounds of the ratio: the blocks alone, the blocks with the read pass and the checks (the work that
  follows the last block: the bound were the writes hidden completely), and every stage in turn (the bound where
  nothing is hidden: on a machine whose cores the generator keeps busy, overlapping takes CPU from the next block).
- samples/s and MB/s of the default command (sub6 + 28 GHz, correlated) and of one WiFo configuration.

Each figure is the best of ``--repeats`` rounds, the runs interleaved in every round (the round least disturbed
by other processes: one run alone moved by 10-20 % between runs on this machine).

Run: .venv/bin/python benchmarks/generate.py [--samples 256] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sionna.phy.channel import cir_to_ofdm_channel, gen_single_sector_topology, subcarrier_frequencies
from sionna.phy.channel.tr38901 import PanelArray, UMa

from wirelessdata.generate.plan import DropSetPlan
from wirelessdata.generate.recipe import drop_sets, load_recipe
from wirelessdata.generate.run import run_plan, write_block
from wirelessdata.shard.store import create_shard
from wirelessdata.source.writer import check_commit, measure_blocks

BATCH, T, K, SNAPSHOT_S = 64, 24, 64, 1e-3


def bare_sionna(samples: int, carrier_hz: float, scs_hz: float, save: str | None = None) -> float:
    """Seconds for ``samples`` UMa drops, BS 4x8 panel, 1 UE antenna, T=24, K=64, batch 64, plain Sionna.

    :param save: a folder: each batch's CSI is also kept there (``np.save`` and fsync), as any tool that keeps its
        output pays.
    """
    bs = PanelArray(
        num_rows_per_panel=4,
        num_cols_per_panel=8,
        polarization="single",
        polarization_type="V",
        antenna_pattern="38.901",
        carrier_frequency=carrier_hz,
    )
    ue = PanelArray(
        num_rows_per_panel=1,
        num_cols_per_panel=1,
        polarization="single",
        polarization_type="V",
        antenna_pattern="omni",
        carrier_frequency=carrier_hz,
    )
    model = UMa(carrier_hz, o2i_model="low", ut_array=ue, bs_array=bs, direction="downlink")
    freqs = subcarrier_frequencies(K, scs_hz)
    start = time.perf_counter()
    for _ in range(-(-samples // BATCH)):
        model.set_topology(*gen_single_sector_topology(BATCH, 1, "uma", max_ut_velocity=10.0))
        a, tau = model(T, 1 / SNAPSHOT_S)
        h = cir_to_ofdm_channel(freqs, a, tau, normalize=False).cpu().numpy()
        if save is not None:
            path = f"{save}/{time.perf_counter_ns()}.npy"
            np.save(path, h)
            fd = os.open(path, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
    return time.perf_counter() - start


def pipeline(recipe: dict, overrides: dict, root: str) -> tuple[float, int, int]:
    """Seconds, drops and bytes written for the drop sets of a recipe."""
    sets = drop_sets(recipe, overrides)
    plans = [DropSetPlan(d, root) for d in sets]
    for p in plans:
        _ = p.shards  # build the Sionna models outside the timing, as bare_sionna does
    start = time.perf_counter()
    for p in plans:
        run_plan(p)
    seconds = time.perf_counter() - start
    nbytes = sum(f.stat().st_size for f in Path(root).rglob("*") if f.is_file())
    return seconds, sum(d.num_samples for d in sets), nbytes


def stages(overrides: dict, root: str) -> dict[str, float]:
    """Seconds of each stage of the pipeline for one band, run one after the other (no overlap)."""
    (drops,) = drop_sets({}, overrides)
    plan = DropSetPlan(drops, root)
    (band, target), *_ = plan.shards.items()
    shard = create_shard(target.url, target.layout)
    seconds = dict.fromkeys(("blocks", "writes", "read pass", "commit checks"), 0.0)
    for block in range(plan.num_blocks):
        start = time.perf_counter()
        data = plan.generate(block)
        seconds["blocks"] += time.perf_counter() - start
        start = time.perf_counter()
        write_block(plan, block, (band,), data)
        seconds["writes"] += time.perf_counter() - start
    start = time.perf_counter()
    shard.commit(measure_blocks(target.url).stats)
    seconds["read pass"] = time.perf_counter() - start
    start = time.perf_counter()
    check_commit(target.url)
    seconds["commit checks"] = time.perf_counter() - start
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3, help="rounds; each figure is the best of them")
    args = ap.parse_args()
    n = args.samples
    tmp = tempfile.mkdtemp()
    try:
        print(
            f"torch threads {torch.get_num_threads()}, {n} drops per measurement, batch/block {BATCH}, "
            f"best of {args.repeats} interleaved rounds; load average {os.getloadavg()[0]:.2f}"
        )
        for band, fc, scs in (("sub6", 3.5e9, 30e3), ("28GHz", 28e9, 120e3)):
            bare_sionna(BATCH, fc, scs)  # warm-up
            one_band = {
                "bands": [band],
                "samples": n,
                "block_size": BATCH,
                "multiband": "independent",
                "num_time_steps": T,
                "num_subcarriers": K,
                "speed_range_mps": [0.0, 10.0],
            }
            runs: dict[str, list[float]] = {"bare": [], "saved": [], "pipeline": []}
            parts: dict[str, list[float]] = {}
            for r in range(args.repeats):  # interleaved: a change of load hits every run alike
                runs["bare"].append(bare_sionna(n, fc, scs))
                os.makedirs(f"{tmp}/{band}-saved-{r}")
                os.sync()
                runs["saved"].append(bare_sionna(n, fc, scs, save=f"{tmp}/{band}-saved-{r}"))
                os.sync()
                t_pipe, drops, nbytes = pipeline({}, one_band, f"{tmp}/{band}-{r}")
                runs["pipeline"].append(t_pipe)
                for name, t in stages(one_band, f"{tmp}/{band}-stages-{r}").items():
                    parts.setdefault(name, []).append(t)
            t_bare, t_saved, t_pipe = (min(runs[k]) for k in ("bare", "saved", "pipeline"))
            stage = {name: min(t) for name, t in parts.items()}
            print(
                f"{band:6s} bare Sionna {n / t_bare:6.1f} samples/s   pipeline {drops / t_pipe:6.1f} samples/s "
                f"({nbytes / t_pipe / 1e6:5.1f} MB/s)   ratio {t_bare / t_pipe:.2f}  (goal >= 0.90); "
                f"bare Sionna saving its CSI (np.save + fsync) / bare {t_bare / t_saved:.2f}, pipeline / that "
                f"{t_saved / t_pipe:.2f}"
            )
            print(
                "       stages alone, in bare-Sionna times: "
                + ", ".join(f"{name} {t / t_bare:.2f}" for name, t in stage.items())
                + f"; sum {sum(stage.values()) / t_bare:.2f}, the pipeline {t_pipe / sum(stage.values()):.2f} of it"
                + " (the rest is what writing beside the next block hid); bounds of the ratio: the blocks alone "
                + f"{t_bare / stage['blocks']:.2f}, with the read pass and the checks after the last block (the "
                + f"writes all hidden) {t_bare / (sum(stage.values()) - stage['writes']):.2f}, every stage in turn "
                + f"{t_bare / sum(stage.values()):.2f}"
            )
        t, drops, nbytes = pipeline({}, {"bands": ["sub6", "28GHz"], "samples": n}, f"{tmp}/default")
        print(
            f"default command (sub6+28GHz correlated, UMa): {drops / t:6.1f} drops/s = {2 * drops / t:6.1f} "
            f"samples/s, {nbytes / t / 1e6:5.1f} MB/s"
        )
        wifo = load_recipe(Path(__file__).resolve().parents[1] / "generators" / "wifo.toml")
        wifo["configs"] = wifo["configs"][:1]
        t, drops, nbytes = pipeline(wifo, {"samples": n}, f"{tmp}/wifo")
        print(f"WiFo D1 (1.5 GHz UMi NLoS, K=128, T=24, 1x4): {drops / t:6.1f} samples/s, {nbytes / t / 1e6:5.1f} MB/s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
