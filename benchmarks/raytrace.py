"""Ray-traced generator figures: samples/s with CSI only and with each sensor, and the share of time per stage.

Every variant runs the street-canyon recipe (generators/raytrace-street-canyon.toml: sub6 + 28 GHz, 4x8 BS panel,
T=16, K=64; 320x240 BS and UE cameras at 16 spp, 32x512 LiDAR, 256x128x4 radar) through the whole pipeline
(placement, ray tracing at both bands, CSI and labels, sensors, Zarr writes with checksums, commit statistics,
validation) after warm-up runs that compile Dr.Jit's kernels. A sample is one drop (two shards' rows).
The stage shares come from ``raytrace.stage_seconds``; "store" is the rest of the run.

Run: .venv/bin/python benchmarks/raytrace.py [--samples 16] [--block-size 8]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time

from wirelessdata.generate.plan import DropSetPlan
from wirelessdata.generate.recipe import drop_sets, load_recipe
from wirelessdata.generate.run import run_plan
from wirelessdata.generators import raytrace

RECIPE = "generators/raytrace-street-canyon.toml"
VARIANTS = {"csi only": [], "csi + rgb": ["rgb"], "csi + lidar": ["lidar"], "csi + radar": ["radar"]}
VARIANTS["csi + rgb, lidar, radar"] = ["rgb", "lidar", "radar"]


def run(sensing: list[str], samples: int, block_size: int) -> tuple[float, dict[str, float]]:
    """Seconds of one pipeline run and the generator's seconds per stage."""
    overrides = {"samples": samples, "block_size": block_size, "sensing": sensing}
    (drops,) = drop_sets(load_recipe(RECIPE), overrides)
    root = tempfile.mkdtemp()
    try:
        plan = DropSetPlan(drops, root)
        _ = plan.shards  # scene loading and layouts outside the timing
        raytrace.stage_seconds.clear()
        start = time.perf_counter()
        results = run_plan(plan)
        seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert all(r.report.ok for r in results), [r.report.findings for r in results]
    return seconds, dict(raytrace.stage_seconds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--block-size", type=int, default=8)
    args = ap.parse_args()
    # warm-up: Dr.Jit compiles the path solver's kernels (per block size) and the renderer's
    run([], args.samples, args.block_size)
    run(["rgb", "lidar", "radar"], 2, 2)
    print(f"samples/s, {args.samples} drops of the street-canyon recipe (2 bands each), whole pipeline")
    print("| variant | s | samples/s |\n|---|---:|---:|")
    stages: dict[str, float] = {}
    for name, sensing in VARIANTS.items():
        seconds, stages = run(sensing, args.samples, args.block_size)
        print(f"| {name} | {seconds:.1f} | {args.samples / seconds:.2f} |")
    total = seconds
    stages["store, statistics, validation, rest"] = total - sum(stages.values())
    print("\nshare of time per stage, all sensors\n| stage | s | share |\n|---|---:|---:|")
    for stage, value in sorted(stages.items(), key=lambda kv: -kv[1]):
        print(f"| {stage} | {value:.1f} | {value / total:.0%} |")


if __name__ == "__main__":
    main()
