"""Data-parallel training on this machine: samples/s of ``wirelessdata.models.train`` under ``torchrun`` with 2 gloo
processes (1 torch thread each) against 1 process, for the same global batch, measured in the same run.

Every run trains the same model on the same in-memory global batches of the default corpus's shape
(T, K, N) = (24, 64, 32) (each rank holds its rows, as ``RankRows`` gives them), with checkpoints off; the rate is
taken over the steps after ``--warmup`` (the first steps allocate), up to the one before the last (the last writes
the checkpoint).

The bound: 2-process / 1-process(1 thread) <= 2.0, the second core (DDP adds the gradient all-reduce, gloo over
loopback, and each process's own Python and optimiser work). 2-process / 1-process(2 threads) compares two ways of
using the same 2 cores: 1.0 when DDP costs nothing and threads scale perfectly; above 1 because one process's 2
threads use the cores less well (the small matmuls of a small model thread badly, and Python runs on one core).

Run: .venv/bin/python benchmarks/ddp.py [--model little] [--batch 32] [--steps 14] [--warmup 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from wirelessdata.models import StepInfo, TrainConfig, train

SHAPE = (24, 64, 32)  # (T, K, N) of the default corpus: UMa, BS 4x8, one UE antenna


def global_batches(batch: int, count: int) -> list[torch.Tensor]:
    """``count`` global batches of complex CSI ``[batch, T, K, N, 1]`` (seeded: the same in every process)."""
    generator = torch.Generator().manual_seed(0)
    t, k, n = SHAPE
    return [torch.randn(batch, t, k, n, 1, dtype=torch.complex64, generator=generator) for _ in range(count)]


def rate(args: argparse.Namespace, rank: int, world: int, out: Path) -> float | None:
    """Samples/s of ``train`` in this process (one of ``world``): the global samples per second on rank 0."""
    times: dict[int, tuple[float, int]] = {}
    batches = []
    for csi in global_batches(args.batch, args.steps):
        lo, hi = args.batch * rank // world, args.batch * (rank + 1) // world
        batches.append({"csi": csi[lo:hi], "sample_id": torch.arange(lo, hi), "shard": "synthetic"})
        if world > 1:
            batches[-1]["rows"] = (lo, hi, args.batch)

    def on_step(info: StepInfo) -> None:
        times[info.step] = (info.seconds, info.samples)

    cfg = TrainConfig(model=args.model, steps=args.steps, warmup_steps=1)
    train(batches, cfg, out, on_step=on_step, checkpoint_every=10**9, device="cpu")
    if rank:
        return None
    (t0, s0), (t1, s1) = times[args.warmup], times[args.steps - 1]
    return (s1 - s0) / (t1 - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="little")
    parser.add_argument("--batch", type=int, default=32, help="global batch")
    parser.add_argument("--steps", type=int, default=14)
    parser.add_argument("--warmup", type=int, default=3, help="steps left out of the rate")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)  # a torchrun process: JSON result here
    args = parser.parse_args()
    if args.worker:
        torch.set_num_threads(1)
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        result = rate(args, rank, world, args.worker.parent / "run")
        if result is not None:
            args.worker.write_text(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as tmp:
        rates = {}
        for threads in (1, 2):
            torch.set_num_threads(threads)
            rates[f"1 process, {threads} thread(s)"] = rate(args, 0, 1, Path(tmp) / f"one-{threads}")
        worker = Path(tmp) / "ddp" / "rate.json"
        worker.parent.mkdir()
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", __file__]
        options = ["--model", args.model, "--batch", str(args.batch), "--steps", str(args.steps)]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        subprocess.run([*command, *options, "--warmup", str(args.warmup), "--worker", str(worker)], check=True, env=env)
        rates["2 processes (DDP, gloo), 1 thread each"] = json.loads(worker.read_text())
    print(f"model {args.model}, global batch {args.batch}, shape (T, K, N) = {SHAPE}, {os.cpu_count()} CPU cores")
    for name, value in rates.items():
        print(f"  {name:42s} {value:7.1f} samples/s")
    ddp = rates["2 processes (DDP, gloo), 1 thread each"]
    print(f"DDP 2 processes / 1 process (1 thread):  {ddp / rates['1 process, 1 thread(s)']:.2f} (bound 2.0: 2 cores)")
    print(
        f"DDP 2 processes / 1 process (2 threads): {ddp / rates['1 process, 2 thread(s)']:.2f} "
        "(the same 2 cores; above 1.0: processes use them better than threads)"
    )


if __name__ == "__main__":
    main()
