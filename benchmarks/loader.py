"""Loader figures, printed as ratios against numpy memmap measured in the same run.

- loader samples/s (a full epoch of shuffled batches of 64, buffer 256, from Zarr) / numpy memmap gathering
  random batches of 64 of the same samples. Goal >= 0.5.
- with 2 DataLoader workers as well.
Divide the loader's samples/s by the reference model's training samples/s (benchmarks/train_throughput.py)
for the "loader / training" figure (goal >= 5).

Run: .venv/bin/python benchmarks/loader.py [--samples 1024]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time

import numpy as np
from torch.utils.data import DataLoader

from wirelessdata.mix.loader import MixtureDataset
from wirelessdata.mix.manifest import Manifest, ManifestShard, Selection, Source
from wirelessdata.store import create_shard
from wirelessdata.synthetic import synthetic_block, synthetic_layout

BATCH = 64


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=1024)
    args = ap.parse_args()
    n = args.samples
    root = tempfile.mkdtemp()
    try:
        layout = synthetic_layout(num_samples=n, block_size=64, sizes={"time": 24, "subcarrier": 64, "bs_ant": 32})
        shard = create_shard(f"{root}/s.zarr", layout)
        blocks = [synthetic_block(layout, b) for b in range(layout.num_blocks)]
        for b, data in enumerate(blocks):
            shard.write_block(b, data)
        checksum = shard.commit({})
        csi = np.concatenate([blk["csi"] for blk in blocks])
        np.save(f"{root}/ref.npy", csi)
        mm = np.load(f"{root}/ref.npy", mmap_mode="r")
        manifest = Manifest(
            seed=0,
            shards=(ManifestShard("s", f"{root}/s.zarr", checksum, n, (24, 64, 32, 1)),),
            splits={"train": (Source("all", (Selection(0, np.arange(n)),), per_epoch=n),)},
        )
        rng = np.random.default_rng(0)
        order = rng.permutation(n)
        t = time.perf_counter()
        for k in range(0, n, BATCH):
            np.array(mm[np.sort(order[k : k + BATCH])])
        t_mm = time.perf_counter() - t
        print(f"{n} samples of CSI (24, 64, 32, 1) complex64, batches of {BATCH}")
        print(f"numpy memmap random batches: {n / t_mm:8.0f} samples/s")
        for workers in (0, 2):
            ds = MixtureDataset(manifest, batch_size=BATCH, buffer=256)
            loader = DataLoader(ds, batch_size=None, num_workers=workers)
            list(loader)  # warm: worker start-up and the page cache, as for memmap's file
            t = time.perf_counter()
            seen = sum(int(b["csi"].shape[0]) for b in loader)
            t_ld = time.perf_counter() - t
            print(
                f"loader, {workers} workers: {seen / t_ld:8.0f} samples/s   ratio to memmap {t_mm / t_ld:.2f}"
                "  (goal >= 0.5)"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
