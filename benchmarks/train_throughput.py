"""Training efficiency of the reference model: samples/s and achieved GFLOP/s against the fp32 matmul rate of
the same machine, measured in the same run.

FLOPs per sample are counted by ``torch.utils.flop_counter.FlopCounterMode`` over one forward and backward pass
of each mask of the configuration (random, temporal, frequency; the default ``sample`` schedule draws one per
step uniformly, so the expected cost is their mean; ``mean`` runs all three). The rate is timed through
``wirelessdata.models.train`` exactly as in pretraining (noise, normalisation, AdamW, gradient clipping;
checkpoints off), on in-memory batches of the default corpus's shape (T, K, N) = (24, 64, 32), or with
``--manifest`` on the manifest's training stream (loader included). The reference is a square fp32 matmul
(``--matmul 2048``) with the same thread count, timed just before and just after.

Goals (issue "reference model that learns"): >= 30 samples/s and >= 0.35 of the matmul rate on 2 CPU cores.

Run: .venv/bin/python benchmarks/train_throughput.py [--models little] [--batch 32] [--steps 20] [--threads 2]
     [--schedule sample|mean] [--manifest manifest.json]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch
from timing import median_time
from torch.utils import flop_counter
from torch.utils.flop_counter import FlopCounterMode

from wirelessdata.models import StepInfo, TrainConfig, WiFo, train
from wirelessdata.models.config import default_device
from wirelessdata.models.masking import make_mask
from wirelessdata.models.objective import objective_inputs
from wirelessdata.models.wifo import masked_mse

SHAPE = (24, 64, 32)  # (T, K, N) of the default corpus: UMa, BS 4x8, one UE antenna


def synthetic_batches(shape: tuple[int, int, int], batch: int, count: int) -> list[dict]:
    t, k, n = shape
    csi = torch.randn(batch, t, k, n, 1, dtype=torch.complex64)
    return [{"csi": csi, "sample_id": torch.arange(batch), "shard": "synthetic"}] * count


def matmul_gflops(size: int) -> float:
    """fp32 GFLOP/s of a ``size`` x ``size`` matmul (median of 5)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    seconds = median_time(lambda: a @ b, 5)
    return 2 * size**3 / seconds / 1e9


def count_cpu_attention() -> None:
    """Count the CPU kernels of ``scaled_dot_product_attention`` as torch counts the CUDA ones.

    ``FlopCounterMode`` has formulas for the CUDA flash / efficient / cuDNN attention kernels but none for
    ``aten._scaled_dot_product_flash_attention_for_cpu`` (and its backward), so on the CPU it counted the linear
    layers only and left out about a third of the model's work. The same formulas as torch's (forward: the two
    attention matmuls; backward: five, the score recompute included) are registered for the CPU kernels.
    """
    aten, registry = torch.ops.aten, flop_counter.flop_registry
    registry[aten._scaled_dot_product_flash_attention_for_cpu] = registry[aten._scaled_dot_product_flash_attention]
    registry[aten._scaled_dot_product_flash_attention_for_cpu_backward] = registry[
        aten._scaled_dot_product_flash_attention_backward
    ]


def flops_per_sample(cfg: TrainConfig, shape: tuple[int, int, int], batch: int) -> float:
    """Expected training FLOPs (forward + backward) per sample of one step under ``cfg``'s mask schedule."""
    count_cpu_attention()
    model = WiFo(cfg.model_config())
    csi = synthetic_batches(shape, batch, 1)[0]["csi"]
    generator = torch.Generator().manual_seed(0)
    noisy, target, grid = objective_inputs(csi, cfg.patch, cfg.snr_db, generator, torch.device("cpu"))
    per_mask = []
    for kind in cfg.masks:
        mask = make_mask(kind, batch, grid, cfg.mask_ratio, generator)
        with FlopCounterMode(display=False) as counter:
            masked_mse(model(noisy, mask), target, mask).backward()
        per_mask.append(counter.get_total_flops() / batch)
    mean = sum(per_mask) / len(per_mask)
    return mean * (len(per_mask) if cfg.mask_schedule == "mean" else 1)


def samples_per_second(cfg: TrainConfig, batches, warmup: int) -> float:
    marks: dict[int, tuple[float, int]] = {}

    def mark(info: StepInfo) -> None:
        marks[info.step] = (time.perf_counter(), info.samples)

    with tempfile.TemporaryDirectory() as out:
        train(batches, cfg, out, on_step=mark, checkpoint_every=10**9)
    (t0, s0), (t1, s1) = marks[warmup], marks[cfg.steps]
    return (s1 - s0) / (t1 - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="little", help="comma-separated sizes of models/sizes.toml")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--schedule", default="sample", choices=("mean", "sample"), help="TrainConfig.mask_schedule")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--matmul", type=int, default=2048, help="size of the reference matmul")
    parser.add_argument("--manifest", help="time the manifest's training stream (loader included) instead")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"device {default_device()}, torch {torch.__version__}, {args.threads} threads, batch {args.batch}, "
        f"{args.steps} timed steps, mask schedule {args.schedule}, data {args.manifest or 'in memory'}"
    )
    print(f"{'model':<8} {'GFLOP/sample':>12} {'samples/s':>10} {'GFLOP/s':>8} {'matmul GFLOP/s':>14} {'ratio':>6}")
    for size in args.models.split(","):
        cfg = TrainConfig(model=size, steps=args.warmup + args.steps, warmup_steps=1, mask_schedule=args.schedule)
        if args.manifest:
            from wirelessdata.mix.loader import MixtureDataset
            from wirelessdata.mix.manifest import load_manifest
            from wirelessdata.models.data import training_stream

            data = training_stream(MixtureDataset(load_manifest(args.manifest), "train", batch_size=args.batch))
        else:
            data = synthetic_batches(SHAPE, args.batch, cfg.steps)
        flops = flops_per_sample(cfg, SHAPE, args.batch)
        before = matmul_gflops(args.matmul)
        rate = samples_per_second(cfg, data, args.warmup)
        reference = (before + matmul_gflops(args.matmul)) / 2
        achieved = rate * flops / 1e9
        print(
            f"{size:<8} {flops / 1e9:>12.2f} {rate:>10.1f} {achieved:>8.1f} {reference:>14.1f} "
            f"{achieved / reference:>6.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
