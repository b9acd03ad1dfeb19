"""Loader figures, printed as ratios against numpy memmap measured in the same run.

- loader samples/s (a full epoch of shuffled batches of 64, buffer 256, from Zarr) / numpy memmap gathering
  random batches of 64 of the same samples (``np.asarray(mm[sorted indices])``: one copy from the page
  cache). Goal >= 0.5. Before 2026-11-23 the reference was ``np.array(mm[...])``, which copies every batch
  twice and halves the reference's speed; that figure is printed too, for comparison with older numbers.
- with 2 DataLoader workers as well.
- the same ratio in process CPU time (all threads; without workers only), which load disturbs less than wall time.

Each figure is the best of ``--repeats`` rounds (the round least disturbed by other processes), the loader and
the references interleaved in every round, so that a change of load hits them alike; the load average is
printed before and after.
Divide the loader's samples/s by the reference model's training samples/s (benchmarks/train_throughput.py)
for the "loader / training" figure (goal >= 5).

Run: .venv/bin/python benchmarks/loader.py [--samples 1024] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator

import numpy as np
from torch.utils.data import DataLoader

from wirelessdata._testing import synthetic_block, synthetic_layout
from wirelessdata.mix.loader import MixtureDataset
from wirelessdata.mix.manifest import Manifest, ManifestShard, Selection, Source
from wirelessdata.shard.store import create_shard

BATCH = 64
SHAPE = {"time": 24, "subcarrier": 64, "bs_ant": 32}


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall, process CPU) seconds of one call of ``fn``."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def consume(batches: Iterator[object]) -> None:
    """Take every batch and drop it, as a training step would (keeping them all would time page faults)."""
    for _ in batches:
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    n = args.samples
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    root = tempfile.mkdtemp()
    try:
        layout = synthetic_layout(num_samples=n, block_size=64, sizes=SHAPE)
        shard = create_shard(f"{root}/s.zarr", layout)
        blocks = [synthetic_block(layout, b) for b in range(layout.num_blocks)]
        for b, data in enumerate(blocks):
            shard.write_block(b, data)
        checksum = shard.commit({})
        np.save(f"{root}/ref.npy", np.concatenate([blk["csi"] for blk in blocks]))
        mm = np.load(f"{root}/ref.npy", mmap_mode="r")
        manifest = Manifest(
            seed=0,
            shards=(ManifestShard("s", f"{root}/s.zarr", checksum, n, (24, 64, 32, 1)),),
            splits={"train": (Source("all", (Selection(0, np.arange(n)),), per_epoch=n),)},
        )
        batches = [np.sort(b) for b in np.array_split(np.random.default_rng(0).permutation(n), n // BATCH)]
        loaders = {
            w: DataLoader(
                MixtureDataset(manifest, batch_size=BATCH, buffer=256), None, num_workers=w, persistent_workers=False
            )
            for w in (0, 2)
        }
        runs: dict[str, Callable[[], object]] = {
            "numpy memmap random batches (one copy)": lambda: consume(np.asarray(mm[b]) for b in batches),
            "numpy memmap, np.array (two copies, old ref)": lambda: consume(np.array(mm[b]) for b in batches),
            **{f"loader, {w} workers": (lambda ld=ld: consume(x["csi"] for x in ld)) for w, ld in loaders.items()},
        }
        for fn in runs.values():  # warm: worker start-up and the page cache
            fn()
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in runs}
        for _ in range(args.repeats):
            for name, fn in runs.items():
                times[name].append(timed(fn))
        wall = {k: min(t[0] for t in v) for k, v in times.items()}
        cpu = {k: min(t[1] for t in v) for k, v in times.items()}
        ref, old = "numpy memmap random batches (one copy)", "numpy memmap, np.array (two copies, old ref)"
        print(f"{n} samples of CSI (24, 64, 32, 1) complex64, batches of {BATCH}, best of {args.repeats} rounds")
        for name in runs:
            line = f"{name:46s} {n / wall[name]:8.0f} samples/s"
            if name.startswith("loader"):
                ratio, to_old = wall[ref] / wall[name], wall[old] / wall[name]
                line += f"   ratio to memmap {ratio:.2f} (goal >= 0.5; to the old ref {to_old:.2f})"
            if name == "loader, 0 workers":  # the process CPU time of workers is not this process's
                line += f"   CPU-time ratio {cpu[ref] / cpu[name]:.2f}"
            print(line)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
