"""Training throughput of the reference model: samples/s through ``wirelessdata.models.train``.

One step = one batch through the three masks (random, temporal, frequency: three forward/backward passes;
``--schedule sample``: one of them per batch),
AdamW, noise injection and per-sample normalisation, exactly as in pretraining; checkpoints are off. The
first ``--warmup`` steps are not timed. Inputs are in-memory synthetic CSI of WiFo-like shapes, so this is
the model's side of "loader samples/s / training samples/s".

Run: .venv/bin/python benchmarks/train_throughput.py [--models tiny,little] [--batch 32] [--steps 8] [--threads 1,2]
     [--schedule mean|sample]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from wirelessdata.models import StepInfo, TrainConfig, train
from wirelessdata.models.train import default_device

SHAPES = ((24, 64, 32), (16, 32, 32))  # (T, K, N) of WiFo D1-D16-like configurations: N = 32 BS antennas


def synthetic_batches(shape: tuple[int, int, int], batch: int, count: int) -> list[dict]:
    t, k, n = shape
    csi = torch.randn(batch, t, k, n, 1, dtype=torch.complex64)
    return [{"csi": csi, "sample_id": torch.arange(batch), "shard": "synthetic"}] * count


def samples_per_second(
    model: str, shape: tuple[int, int, int], batch: int, steps: int, warmup: int, schedule: str
) -> float:
    """Samples/s over the steps after ``warmup``."""
    cfg = TrainConfig(model=model, steps=warmup + steps, warmup_steps=1, mask_schedule=schedule)
    marks: dict[int, float] = {}

    def mark(info: StepInfo) -> None:
        marks[info.step] = time.perf_counter()

    with tempfile.TemporaryDirectory() as out:
        train(synthetic_batches(shape, batch, warmup + steps), cfg, out, on_step=mark, checkpoint_every=10**9)
    return steps * batch / (marks[warmup + steps] - marks[warmup])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tiny,little")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=8, help="timed steps")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--schedule", default="mean", choices=("mean", "sample"), help="TrainConfig.mask_schedule")
    parser.add_argument("--threads", default=str(torch.get_num_threads()), help="comma-separated torch thread counts")
    args = parser.parse_args()
    print(
        f"device {default_device()}, torch {torch.__version__}, batch {args.batch}, {args.steps} timed steps, "
        f"mask schedule {args.schedule}"
    )
    print(f"{'model':<8} {'T':>3} {'K':>4} {'N':>3} {'threads':>7} {'samples/s':>10}")
    for model in args.models.split(","):
        for shape in SHAPES:
            for threads in (int(t) for t in args.threads.split(",")):
                torch.set_num_threads(threads)
                rate = samples_per_second(model, shape, args.batch, args.steps, args.warmup, args.schedule)
                print(f"{model:<8} {shape[0]:>3} {shape[1]:>4} {shape[2]:>3} {threads:>7} {rate:>10.1f}", flush=True)


if __name__ == "__main__":
    main()
