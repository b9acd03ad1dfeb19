"""Catalog figures, printed as ratios to their goals.

- query: `catalog ls` with three filters (band, delay-spread median, has=lidar) over 10,000 registered
  shards (rows fabricated through the registration API with synthetic distributions; no stores are
  written), in process: the API call, and the CLI command with --json and with the rich table. Goal < 100 ms.
  The cost of a fresh `catalog ls` process (interpreter and imports included) is printed besides.
- stats: the commit-time statistics pass (`shard_stats`) over a real-size shard (512 samples of CSI
  24 x 64 x 32 x 1 complex64) / writing that shard (blocks, checksums, fsync, commit), interleaved, medians.
  Goal <= 0.1.

Run: .venv/bin/python benchmarks/catalog_query.py [--shards 10000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import typer
from timing import median_time
from typer.testing import CliRunner

from wirelessdata._testing import synthetic_block, synthetic_layout
from wirelessdata.catalog import CATALOG_FILE, Catalog, ls, row_from_attrs
from wirelessdata.cli.catalog import catalog_app
from wirelessdata.shard.stats import METRICS, STATS_VERSION, shard_stats, summarize
from wirelessdata.shard.store import create_shard

FILTERS = ["band=28GHz", "delay_spread_p50>3e-7", "has=lidar"]
BANDS = ("sub6", "28GHz", "39GHz", "60GHz", "3.5GHz")
SCENARIOS = ("UMa", "UMi", "RMa", "InH")


def fabricated_stats(rng: np.random.Generator, samples: int = 64) -> dict:
    """Distributions of a made-up shard: each metric's values drawn around a random centre."""
    centres = {
        "path_gain": rng.uniform(-150, -80),
        "csi_power": rng.uniform(-150, -80),
        "delay_spread": 10 ** rng.uniform(-8, -6),
        "k_factor": rng.uniform(0, 15),
        "los": rng.uniform(0, 1),
        "indoor": rng.uniform(0, 1),
        "distance": 10 ** rng.uniform(1, 3),
        "ue_speed": rng.uniform(0, 30),
        "doppler": 10 ** rng.uniform(1, 3.5),
        "angular_spread": rng.uniform(0.1, 0.8),
    }
    metrics = {}
    for m in METRICS:
        c = centres[m.name]
        values = rng.random(samples) < c if m.edges.bins == 2 else c * rng.lognormal(0, 0.3, samples)
        metrics[m.name] = summarize(m, values)
    return {"version": STATS_VERSION, "num_samples": samples, "csi_chunk_stride": 1, "metrics": metrics}


def fill_catalog(path: Path, shards: int) -> float:
    """Register ``shards`` fabricated rows; returns the seconds the registration took."""
    rng = np.random.default_rng(0)
    pool = [fabricated_stats(rng) for _ in range(500)]
    attrs = dict(synthetic_layout().attrs)
    rows = []
    for i in range(shards):
        a = {
            **attrs,
            "band": BANDS[i % len(BANDS)],
            "scenario": SCENARIOS[(i // len(BANDS)) % len(SCENARIOS)],
            "modalities": ["csi", "lidar"] if i % 3 == 0 else ["csi"],
            "num_samples": 64,
            "checksum": f"{i:064x}",
        }
        rows.append(
            row_from_attrs(f"fab/s{i:05d}.zarr", a, pool[int(rng.integers(len(pool)))], csi_shape=(24, 64, 32, 1))
        )
    t = time.perf_counter()
    with Catalog(path, create=True) as cat:
        cat.upsert(rows)
    return time.perf_counter() - t


def query_figures(shards: int, repeats: int, folder: str) -> None:
    root = Path(folder) / "root"
    root.mkdir()
    t_fill = fill_catalog(root / CATALOG_FILE, shards)
    hits = len(ls(str(root), FILTERS))
    app = typer.Typer()
    app.add_typer(catalog_app, name="catalog")
    app.callback()(lambda: None)
    runner = CliRunner()
    args = ["catalog", "ls", str(root), *(x for f in FILTERS for x in ("--where", f))]
    t_api = median_time(lambda: ls(str(root), FILTERS), repeats)
    t_json = median_time(lambda: runner.invoke(app, [*args, "--json"]), repeats)
    t_table = median_time(lambda: runner.invoke(app, args), repeats)
    code = "from wirelessdata.cli.catalog import catalog_app; catalog_app()"
    cmd = [sys.executable, "-c", code, "ls", str(root), *args[3:], "--json"]
    t_proc = median_time(lambda: subprocess.run(cmd, check=True, capture_output=True), repeats)
    print(f"catalog: {shards} shards registered in {t_fill:.2f} s ({shards / t_fill:,.0f} rows/s, one transaction)")
    print(f"query  ls {' '.join(FILTERS)} -> {hits} shards")
    for name, t in (("API ls()", t_api), ("CLI ls --json", t_json), ("CLI ls (table)", t_table)):
        print(f"  {name:16s} {t * 1e3:7.1f} ms   ratio to the 100 ms goal {t / 0.1:5.2f}  (goal < 1)")
    print(f"  {'fresh process':16s} {t_proc * 1e3:7.1f} ms   (interpreter start and imports included; no goal)")


def stats_figures(repeats: int, folder: str) -> None:
    sizes = {"time": 24, "subcarrier": 64, "bs_ant": 32, "ue_ant": 1}
    layout = synthetic_layout(num_samples=512, block_size=64, sizes=sizes)
    blocks = [synthetic_block(layout, b) for b in range(layout.num_blocks)]
    t_write, t_stats = [], []
    for i in range(repeats):  # interleaved, so drifting disk speed or load hits both alike
        t = time.perf_counter()
        shard = create_shard(f"{folder}/s{i}.zarr", layout)
        for b, data in enumerate(blocks):
            shard.write_block(b, data)
        shard.commit({})
        t_write.append(time.perf_counter() - t)
        t = time.perf_counter()
        stats = shard_stats(shard.group)
        t_stats.append(time.perf_counter() - t)
    w, s = statistics.median(t_write), statistics.median(t_stats)
    nbytes = sum(a.nbytes for blk in blocks for a in blk.values())
    csi = stats["metrics"]["csi_power"]["count"]
    print(f"stats  shard of 512 samples, CSI {tuple(sizes.values())} complex64, {nbytes / 1e6:.0f} MB")
    print(f"  write {w * 1e3:7.1f} ms   stats pass {s * 1e3:6.1f} ms (CSI metrics on {csi} samples)")
    print(f"  stats / write = {s / w:.3f}   ratio to the 0.1 goal {s / w / 0.1:5.2f}  (goal <= 1)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shards", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--dir", default=None, help="where to write (default: a temporary folder)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        query_figures(args.shards, args.repeats, folder)
        stats_figures(args.repeats, folder)


if __name__ == "__main__":
    main()
