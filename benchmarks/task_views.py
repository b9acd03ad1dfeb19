"""Task-view figures (issue 11): view throughput as a ratio to the raw loader, and the classical baselines' table.

1. Throughput: for every task with its default parameters, one pass of the view (samples/s) / one pass of the
   raw loader (:class:`~wirelessdata.mix.loader.MixtureDataset`, complex CSI, no labels) over the same shards and
   samples with the same batch size; the two alternate, ``--rounds`` times, and the median ratio is printed.
   Three impairment settings: none, AWGN (``snr_db=10``), and all six impairments. Goal >= 0.8. Timings are CPU
   wall clock of one process (no DataLoader workers). Then the bound AWGN sets: drawing the noise alone.
2. Baselines: the metric of each classical baseline on the test side (25 % of the drops by a sample_id hash) per
   band, at 0, 10 and 20 dB SNR; the fitted baselines (k-NN, LoS threshold) are fitted on the other 75 %, at the
   same SNR. Printed as a Markdown table (docs/tasks.md).
3. Workers: three views through a DataLoader with 2 persistent workers against the same view without workers,
   with the pairs handed over in reused shared memory and by PyTorch's own hand-over.

The corpus is the default one, ``wirelessdata generate --bands sub6,28GHz --samples N`` (UMa, T = 24, K = 64,
4x8 BS panel), written to a temporary folder unless ``--root`` names one.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/task_views.py [--samples 256] [--root DIR] [--rounds 3]
[--no-table]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from torch.utils.data import DataLoader
from typer.testing import CliRunner

from wirelessdata.cli import app
from wirelessdata.mix.loader import MixtureDataset
from wirelessdata.tasks import TASKS, get, run_baselines
from wirelessdata.tasks.noise import unit_noise
from wirelessdata.tasks.view import SPLIT

BATCH = 64
IMPAIRMENTS = {
    "none": {},
    "awgn": {"snr_db": 10},
    "all": {
        "snr_db": "0:20",
        "timing_offset_ns": "-50:50",
        "cfo_hz": "-100:100",
        "phase_noise_deg": 1.0,
        "quant_bits": 6,
        "erase_prob": 0.1,
    },
}
SNRS = (0, 10, 20)


def _pass(iterable) -> tuple[int, float]:
    t = time.perf_counter()
    n = sum(int(b["csi"].shape[0]) if isinstance(b, dict) else int(b[0].shape[0]) for b in iterable)  # pairs: lists too
    return n, time.perf_counter() - t


def throughput(root: str, rounds: int) -> None:
    print(f"\nview samples/s / raw loader samples/s (same shards and samples, batches of {BATCH}, median of {rounds})")
    print(f"{'task':22s} " + " ".join(f"{k:>8s}" for k in IMPAIRMENTS) + "   raw samples/s")
    for name in TASKS:
        ratios, raw_rates = [], []
        for settings in IMPAIRMENTS.values():
            view = get(name, root, batch_size=BATCH, **settings)
            raw = MixtureDataset(view.stream.manifest, SPLIT, batch_size=BATCH, buffer=1)
            _pass(raw), _pass(view)  # warm: page cache, lazy imports
            per_round = []
            for _ in range(rounds):
                n_raw, t_raw = _pass(raw)
                n_view, t_view = _pass(view)
                per_round.append((n_view / t_view) / (n_raw / t_raw))
                raw_rates.append(n_raw / t_raw)
            ratios.append(statistics.median(per_round))
        print(f"{name:22s} " + " ".join(f"{r:8.2f}" for r in ratios) + f"   {statistics.median(raw_rates):8.0f}")
    print("goal >= 0.8")
    noise_floor(root, statistics.median(raw_rates), rounds)


def workers(root: str, rounds: int) -> None:
    """Views through a DataLoader with 2 persistent workers against the same view without workers: the pairs made
    in the workers handed over in reused shared memory (``wirelessdata.mix.handover``), and by PyTorch's own
    hand-over (``shared_memory = False``)."""
    print(f"\nviews through 2 DataLoader workers (no impairments, batches of {BATCH}, best of {rounds}), samples/s")
    print(f"{'task':22s} {'0 workers':>10s} {'2, slots':>10s} {'2, PyTorch':>10s}   ratio to 0 workers")
    for name in ("time-prediction", "channel-estimation", "compression"):
        view = get(name, root, batch_size=BATCH)
        rates = []
        for count, shared in ((0, True), (2, True), (2, False)):
            view.shared_memory = shared
            loader = DataLoader(view, batch_size=None, num_workers=count, persistent_workers=count > 0)
            _pass(loader)  # warm: worker start-up, the page cache
            rates.append(max(n / t for n, t in (_pass(loader) for _ in range(rounds))))
        print(
            f"{name:22s} " + " ".join(f"{r:10.0f}" for r in rates) + f"   {rates[1] / rates[0]:.2f}, "
            f"{rates[2] / rates[0]:.2f}"
        )


def noise_floor(root: str, raw_rate: float, rounds: int) -> None:
    """The bound that AWGN puts on a view: drawing one sample's noise (its own seeded generator, as the views
    do) alone, in samples/s, against the raw loader's samples/s."""
    view = get("compression", root)
    shape = view.shards[0].shape
    seeds = np.arange(BATCH, dtype=np.int64)
    rates = []
    for _ in range(rounds):
        t = time.perf_counter()
        unit_noise(shape, seeds)
        rates.append(BATCH / (time.perf_counter() - t))
    r = statistics.median(rates) / raw_rate
    print(
        f"AWGN draws alone ({int(np.prod(shape)) * 2} normals per sample): {r:.2f} x the raw loader's samples/s, "
        f"so a view with AWGN on the whole sample is bounded by 1 / (1 + 1 / {r:.2f}) = {1 / (1 + 1 / r):.2f}"
    )


def table(root: str) -> None:
    print("\n| task | band | baseline | metric | 0 dB | 10 dB | 20 dB |")
    print("|---|---|---|---|---|---|---|")
    shards = {b: str(Path(root) / f"tr38901-uma-{b}.zarr") for b in ("sub6", "28GHz")}
    for name in TASKS:
        bands = {"sub6 -> 28GHz": root} if name == "beam-prediction" else shards
        for band, source in bands.items():
            rows: dict[tuple[str, str], list[str]] = {}
            for snr in SNRS:
                result = run_baselines(get(name, snr_db=snr), source)
                for base, metrics in result["baselines"].items():
                    for metric, value in metrics.items():
                        if metric in ("samples", "nmse", "accuracy"):
                            continue
                        rows.setdefault((base, metric), []).append(f"{value:.3g}")
            for (base, metric), values in rows.items():
                print(f"| {name} | {band} | {base} | {metric} | " + " | ".join(values) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--root", help="an existing default corpus (skips generation)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-table", action="store_true")
    args = ap.parse_args()
    tmp = None
    root = args.root
    try:
        if root is None:
            tmp = tempfile.mkdtemp()
            root = tmp
            res = CliRunner().invoke(
                app, ["generate", "--out", root, "--bands", "sub6,28GHz", "--samples", str(args.samples)]
            )
            if res.exit_code:
                raise SystemExit(res.output)
        print(f"corpus {root}: UMa sub6 + 28GHz, T = 24, K = 64, 4x8 BS panel")
        throughput(root, args.rounds)
        workers(root, args.rounds)
        if not args.no_table:
            table(root)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
