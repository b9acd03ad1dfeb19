"""Scale-out figures of `wirelessdata generate`, printed as ratios measured in the same run.

- 2 workers / 1 worker samples/s (both on a Dask LocalCluster) for the default command: goal >= 1.7 on 2 cores.
- Dask with 1 worker / serial execution in this process (overhead): goal <= 1.1 (as a time ratio).
Cluster start-up is left out: the clusters are started before the clock runs.

Run: .venv/bin/python benchmarks/dask_scaling.py [--samples 512]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time

from wirelessdata.plan import DropSetPlan
from wirelessdata.recipe import drop_sets
from wirelessdata.run import executor, run_plan


def timed(root: str, samples: int, client: object | None) -> float:
    (drops,) = drop_sets({}, {"samples": samples, "bands": ["sub6", "28GHz"]})
    plan = DropSetPlan(drops, root)
    _ = plan.shards  # Sionna models built outside the clock
    start = time.perf_counter()
    run_plan(plan, client=client)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=512)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    try:
        serial = timed(f"{tmp}/serial", args.samples, None)
        with executor(workers=1) as one:
            timed(f"{tmp}/warm1", 64, one)  # workers import Sionna and build their models
            t1 = timed(f"{tmp}/one", args.samples, one)
        with executor(workers=2) as two:
            timed(f"{tmp}/warm2", 128, two)
            t2 = timed(f"{tmp}/two", args.samples, two)
        n = args.samples
        print(
            f"default command, {n} paired drops: serial {n / serial:.1f} drops/s, 1 worker {n / t1:.1f}, "
            f"2 workers {n / t2:.1f}"
        )
        print(f"2 workers / 1 worker: {t1 / t2:.2f}  (goal >= 1.7)")
        print(f"Dask 1 worker / serial time: {t1 / serial:.2f}  (goal <= 1.1)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
