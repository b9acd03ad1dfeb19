"""Figures of recipes that sample a space of configurations (generators/wifo2-scale.toml), measured in one run.

- planning: seconds to draw and check 10,000 configurations of the wifo2-scale space (goal < 10 s, no Sionna call);
- size: configurations, drops and complex CSI points of the full space (goal >= 11.6e9, WiFo-2's corpus);
- rate: the first ``--configs`` configurations of the full space generated at full size (their 125 drops each,
  shards written, committed and validated) on this machine: CSI points/s, and the full space's wall time
  extrapolated from it, on this machine and per core (assumption: the rate scales with cores, as the Dask runs of
  docs/cluster.md do on one host; the configurations are drawn i.i.d., so the first ones are a fair sample).

Run: .venv/bin/python benchmarks/space.py [--configs 8]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import numpy as np

from wirelessdata.generate.plan import DropSetPlan
from wirelessdata.generate.recipe import DropSet, drop_sets, load_recipe
from wirelessdata.generate.run import run_plan


def points(d: DropSet) -> int:
    """Complex CSI points of a drop set: drops x T x K x N_bs x N_ue, summed over its bands."""
    per_band = d.config.num_time_steps * int(np.prod(d.config.bs_array)) * d.config.num_ue_ant
    return d.num_samples * per_band * sum(b.num_subcarriers for b in d.config.bands)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", type=int, default=8)
    args = ap.parse_args()
    recipe = load_recipe("wifo2-scale")
    start = time.perf_counter()
    planned = drop_sets({**recipe, "configs": 10_000})
    plan_s = time.perf_counter() - start
    print(f"planning: {len(planned)} configurations in {plan_s:.2f} s  (goal < 10 s; ratio {10 / plan_s:.1f})")
    full = drop_sets(recipe)
    total = sum(points(d) for d in full)
    drops = sum(d.num_samples for d in full)
    print(f"size: {len(full)} configurations, {drops} drops, {total:.3g} CSI points  (goal >= 11.6e9)")
    root = tempfile.mkdtemp()
    try:
        chosen = full[: args.configs]
        start = time.perf_counter()
        for d in chosen:
            run_plan(DropSetPlan(d, root))
        seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(root, ignore_errors=True)
    done = sum(points(d) for d in chosen)
    rate = done / seconds
    cores = os.cpu_count() or 1
    print(
        f"rate: the first {len(chosen)} configurations at full size, {done:.3g} points in {seconds:.1f} s = "
        f"{rate / 1e6:.2f} M points/s on {cores} cores"
    )
    full_s = total / rate
    print(
        f"full space: {full_s / 3600:.2f} h here, {full_s * cores / 3600:.1f} core-hours, "
        f"{full_s * cores / 16 / 60:.0f} min on 16 cores (rate proportional to cores, an assumption)"
    )


if __name__ == "__main__":
    main()
