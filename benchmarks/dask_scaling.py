"""Scale-out figures of `wirelessdata generate`, printed as ratios measured in the same run.

- 2 workers / 1 worker samples/s for the default command: goal >= 1.7 on 2 cores. One worker is run as the
  command runs it (in this process, torch on every core); two workers are a Dask LocalCluster, one thread each.
- 2 workers / one process on one thread: the scale-out of the processes themselves (what the 1.7 asks of
  processes), free of the speed-up torch already gets from its threads in one process.
- Dask with 1 worker / serial execution in this process (overhead): goal <= 1.1 (as a time ratio).
- serial with torch on all cores / on 1 thread: what one worker gains from its threads already. Two
  single-thread workers cannot beat one worker by more than about 2 / this ratio on 2 cores.
- the machine's ceiling for this work: two plain processes generating blocks (no Dask, no store) / one, each
  on one thread; the scale-out above cannot exceed it.
Cluster start-up and Sionna's import are left out: the clusters are started and warmed before the clock runs.
Runs are interleaved and the best of ``--repeats`` kept, so that other load on the machine biases every
configuration alike; the load average is printed (the ratios need idle cores).

Run: .venv/bin/python benchmarks/dask_scaling.py [--samples 512] [--repeats 1]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import tempfile
import time

from wirelessdata.generate.plan import DropSetPlan
from wirelessdata.generate.recipe import drop_sets
from wirelessdata.generate.run import local_client, run_plan


def timed(root: str, samples: int, client: object | None) -> float:
    """Seconds for the default command with ``samples`` paired drops into ``root`` (shards planned beforehand)."""
    (drops,) = drop_sets({}, {"samples": samples, "bands": ["sub6", "28GHz"]})
    plan = DropSetPlan(drops, root)
    _ = plan.shards  # Sionna models built outside the clock
    start = time.perf_counter()
    run_plan(plan, client=client)
    return time.perf_counter() - start


def serial_with_threads(root: str, samples: int, threads: int) -> float:
    """:func:`timed` in this process with torch limited to ``threads`` intra-op threads."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return timed(root, samples, None)
    finally:
        torch.set_num_threads(before)


def generate_blocks(samples: int, blocks: int) -> float:
    """Seconds for one process (torch on 1 thread) to generate ``blocks`` blocks of the default command, no writes."""
    import torch

    torch.set_num_threads(1)
    (drops,) = drop_sets({}, {"samples": samples, "bands": ["sub6", "28GHz"]})
    plan = DropSetPlan(drops, "unused")
    plan.generate(0)  # Sionna models built outside the clock
    start = time.perf_counter()
    for block in range(blocks):
        plan.generate(block % plan.num_blocks)
    return time.perf_counter() - start


def plain_processes(samples: int, processes: int, blocks: int = 3) -> float:
    """Block throughput (blocks/s) of ``processes`` plain processes each running :func:`generate_blocks`."""
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        seconds = pool.starmap(generate_blocks, [(samples, blocks)] * processes)
    return processes * blocks / max(seconds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    n, cores = args.samples, os.cpu_count() or 1
    tmp = tempfile.mkdtemp()
    load = os.getloadavg()[0]
    try:
        times: dict[str, list[float]] = {"serial": [], "serial1": [], "one": [], "two": []}
        # "one" is a real one-worker LocalCluster (the command itself runs one worker serially, as "serial")
        timed(f"{tmp}/warm0", 64, None)
        with local_client(1) as one, local_client(2) as two:
            timed(f"{tmp}/warm1", 64, one)  # workers import Sionna and build their models
            timed(f"{tmp}/warm2", 128, two)
            for r in range(args.repeats):
                times["serial"].append(timed(f"{tmp}/serial{r}", n, None))
                times["serial1"].append(serial_with_threads(f"{tmp}/serial1-{r}", n, 1))
                times["one"].append(timed(f"{tmp}/one{r}", n, one))
                times["two"].append(timed(f"{tmp}/two{r}", n, two))
        best = {k: min(v) for k, v in times.items()}
        ceiling = max(plain_processes(n, 2) / plain_processes(n, 1) for _ in range(args.repeats))
        print(f"load average (1 min) {load:.2f} before, {os.getloadavg()[0]:.2f} after, on {cores} cores")
        print(
            f"default command, {n} paired drops: serial {n / best['serial']:.1f} drops/s, "
            f"serial on 1 thread {n / best['serial1']:.1f}, Dask 1 worker {n / best['one']:.1f}, "
            f"2 workers {n / best['two']:.1f}"
        )
        print(f"2 workers / 1 worker: {best['serial'] / best['two']:.2f}  (goal >= 1.7)")
        print(f"2 workers (1 thread each) / one process on 1 thread: {best['serial1'] / best['two']:.2f}  (scale-out)")
        print(f"machine ceiling, 2 plain processes / 1 generating blocks (1 thread each): {ceiling:.2f}")
        print(f"Dask 1 worker / serial time: {best['one'] / best['serial']:.2f}  (goal <= 1.1)")
        print(f"serial, torch {cores} threads / 1 thread: {best['serial1'] / best['serial']:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
