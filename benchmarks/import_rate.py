"""DeepSense import rate on the generated fixture scaled up, and the share of the time spent decoding.

Writes ``scenario31`` of tests/data/deepsense/data.py with ``--rows`` rows at the dataset's sizes (960 x 540
JPEG, ``--points`` LiDAR points per ASCII PLY, (4, 256, 250) complex64 radar cubes; payloads drawn from a
pool of 16 per kind), imports it once, and prints samples/s plus the share of the import's wall time in
each reader (JPEG header checks and decoding, PLY body checks and parsing, radar reads). The rest is CSV
and small-file reading, zarr writes (compression, checksums, fsync), commit statistics and validation.

Run: .venv/bin/python benchmarks/import_rate.py [--rows 2000] [--points 16384] [--rgb-size 480x270]
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wirelessdata.importers.deepsense import DeepSenseOptions, import_deepsense, reader, scanning

TIMED = {
    "jpeg_size": "JPEG header check (scan)",
    "read_rgb": "JPEG decode",
    "ply_check": "PLY body check (scan)",
    "read_ply": "PLY parse",
    "radar_shape": "radar header check (scan)",
    "read_radar": "radar read",
}
CALLER = {"jpeg_size": scanning, "ply_check": scanning, "radar_shape": scanning}
"""The module whose calls are timed: the scan's header checks, else the block reader's decoders."""


def fixture_module() -> Any:
    path = Path(__file__).resolve().parent.parent / "tests" / "data" / "deepsense" / "data.py"
    spec = importlib.util.spec_from_file_location("deepsense_fixture", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timed(fn: Callable[..., Any], totals: dict[str, float], name: str) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            totals[name] += time.perf_counter() - t

    return wrapper


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--points", type=int, default=16384, help="LiDAR points per scan")
    ap.add_argument("--rgb-size", default=None, help="import with --rgb-size WxH (default: native 960x540)")
    ap.add_argument("--dir", default=None, help="where to write (default: a temporary folder)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(dir=args.dir))
    try:
        t = time.perf_counter()
        folder = fixture_module().make_scenario31(
            work / "src", rows=args.rows, image=(960, 540), points=args.points, radar=(4, 256, 250)
        )
        print(f"fixture: {args.rows} rows written in {time.perf_counter() - t:.1f} s")
        totals: dict[str, float] = defaultdict(float)
        for name in TIMED:
            module = CALLER.get(name, reader)
            setattr(module, name, timed(getattr(module, name), totals, name))
        size = tuple(int(v) for v in args.rgb_size.split("x")) if args.rgb_size else None
        stages: dict[str, float] = {}

        def progress(stage: str, done: int, total: int) -> None:
            stages.setdefault(stage, time.perf_counter())

        t = time.perf_counter()
        result = import_deepsense(folder, str(work / "out"), options=DeepSenseOptions(rgb_size=size), progress=progress)
        wall = time.perf_counter() - t
        scan_s = stages["write"] - t
        print(f"imported {result.num_samples} of {result.rows_total} rows, valid={result.report.ok}")
        print(f"import rate: {result.num_samples / wall:.1f} samples/s ({wall:.1f} s; scan {scan_s:.1f} s)")
        for name, label in TIMED.items():
            print(f"  {label:<28} {totals[name]:7.1f} s  {100 * totals[name] / wall:5.1f} %")
        decode = sum(totals[n] for n in ("jpeg_size", "read_rgb", "ply_check", "read_ply"))
        print(f"  {'JPEG + PLY (all)':<28} {decode:7.1f} s  {100 * decode / wall:5.1f} %")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
