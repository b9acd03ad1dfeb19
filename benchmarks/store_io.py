"""Shard store figures, printed as ratios against numpy references measured in the same run.

- write: shard write MB/s (checksums, fsync and done markers included) / np.save + fsync of the same bytes, each
  started with no writeback pending (``os.sync`` outside the timing), and the CPU seconds each takes (what a write
  takes from a generator computing beside it).
- read: one random sample and a random batch of 64 through ShardReader / numpy memmap of the same CSI,
  with the zarr-python and the zarrs codec pipelines, and a batch read as 4 contiguous runs of 16.

Run: .venv/bin/python benchmarks/store_io.py [--samples 512] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time

import numpy as np
from timing import median_time

from wirelessdata._testing import synthetic_block, synthetic_layout
from wirelessdata.shard.read import ShardReader, fast_pipeline_available
from wirelessdata.shard.store import create_shard


def fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--dir", default=None, help="where to write (default: a temporary folder)")
    args = ap.parse_args()
    sizes = {"time": 24, "subcarrier": 64, "bs_ant": 32, "ue_ant": 1}
    layout = synthetic_layout(num_samples=args.samples, block_size=64, sizes=sizes)
    blocks = [synthetic_block(layout, b) for b in range(layout.num_blocks)]
    nbytes = sum(a.nbytes for blk in blocks for a in blk.values())
    root = tempfile.mkdtemp(dir=args.dir)
    try:
        counter = iter(range(10**6))
        written: list[str] = []

        def write_shard() -> None:
            written.append(f"{root}/w{next(counter)}.zarr")
            shard = create_shard(written[-1], layout)
            for b, data in enumerate(blocks):
                shard.write_block(b, data)
            shard.commit({})

        def write_numpy() -> None:
            i = next(counter)
            for b, data in enumerate(blocks):
                for name, arr in data.items():
                    path = f"{root}/n{i}_{b}_{name}.npy"
                    np.save(path, arr)
                    fsync(path)

        # interleave the two so that drifting disk speed hits both alike; each starts with nothing left to flush
        # (os.sync outside the timing), else one pays for the other's pending writeback
        t_shard, t_np, cpu_shard, cpu_np = [], [], [], []
        for _ in range(args.repeats):
            os.sync()
            began = time.process_time()
            t_np.append(median_time(write_numpy, 1))
            cpu_np.append(time.process_time() - began)
            os.sync()
            began = time.process_time()
            t_shard.append(median_time(write_shard, 1))
            cpu_shard.append(time.process_time() - began)
        ws, wn = statistics.median(t_shard), statistics.median(t_np)
        pairs = sorted(n / s for n, s in zip(t_np, t_shard, strict=True))
        print(f"data: {args.samples} samples of CSI {tuple(sizes.values())} complex64 + labels, {nbytes / 1e6:.0f} MB")
        print(
            f"write  shard {nbytes / ws / 1e6:7.0f} MB/s   np.save+fsync {nbytes / wn / 1e6:7.0f} MB/s   "
            f"ratio {wn / ws:.2f}  (goal >= 0.8); ratio of each interleaved pair {pairs[0]:.2f}..{pairs[-1]:.2f} "
            "(this disk's speed swings between runs: compare pairs)"
        )
        print(
            f"CPU seconds of a write (all threads): shard {statistics.median(cpu_shard):.3f}, np.save+fsync "
            f"{statistics.median(cpu_np):.3f} (a new page of the page cache costs CPU; the shard's raw chunk "
            "files go around it with O_DIRECT where the filesystem allows)"
        )

        url = written[-1]
        csi = np.concatenate([blk["csi"] for blk in blocks])
        np.save(f"{root}/ref.npy", csi)
        mm = np.load(f"{root}/ref.npy", mmap_mode="r")
        rng = np.random.default_rng(0)
        n = args.samples
        reps = 20 * args.repeats
        one_mm = median_time(lambda: np.array(mm[rng.integers(0, n, 1)]), reps)
        batch_mm = median_time(lambda: np.array(mm[np.sort(rng.choice(n, 64, replace=False))]), reps)
        pipelines = [False, True] if fast_pipeline_available() else [False]
        for fast in pipelines:
            reader = ShardReader(url, ("csi",), fast=fast)
            chunk = reader.arrays["csi"].chunks[0]
            one = median_time(lambda r=reader: r.read(rng.integers(0, n, 1)), reps)
            batch = median_time(lambda r=reader: r.read(rng.choice(n, 64, replace=False)), reps)

            def runs(r: ShardReader = reader) -> None:
                for s in rng.choice(n // 16, 4, replace=False) * 16:
                    r.read_range(int(s), int(s) + 16)

            run4 = median_time(runs, reps)
            print(
                f"read [{reader.pipeline}, chunk={chunk} sample(s)]  "
                f"one sample {one * 1e3:6.2f} ms (memmap {one_mm * 1e3:5.2f}, ratio {one_mm / one:.2f})  "
                f"batch 64 {batch * 1e3:6.1f} ms (memmap {batch_mm * 1e3:5.1f}, ratio {batch_mm / batch:.2f})  "
                f"4 runs x 16 {run4 * 1e3:6.1f} ms (ratio {batch_mm / run4:.2f})"
            )
        print("ratios are reference time / our time: 1.0 means as fast as the numpy reference")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
