"""Does the reference model leave the all-zero plateau on one shard? The diagnosis table of docs/model.md.

Trains WiFo on the first 80 % of one shard's samples (one mask kind, an in-memory stream of shuffled batches)
and prints, on both sides of the cut: the masked loss of the model and of predicting zeros
(``reconstruction_losses``), then the zero-shot style NMSE of the time and frequency tasks on the last 20 %
against zero-order hold and AR (``evaluate``, AWGN at 20 dB through the task views).

Run: .venv/bin/python benchmarks/model_plateau.py SHARD [--masks temporal] [--model tiny] [--lr 1e-3]
     [--steps 400] [--batch-size 16] [--threads 1] [--out DIR]
(docs/model.md used refrun/corpus/wifo-d01-1.5GHz.zarr with 400 steps of 16.)
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch

from wirelessdata.models import BASELINES, TrainConfig, evaluate, load_checkpoint, model_predictor, train
from wirelessdata.models import reconstruction_losses as losses
from wirelessdata.shard.read import ShardReader
from wirelessdata.tasks.source import shard_info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("shard")
    ap.add_argument("--masks", default="temporal", help="comma-separated mask kinds trained on")
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", help="run directory (default: a temporary one)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    reader = ShardReader(args.shard, ("csi",))
    n = len(reader)
    cut = int(0.8 * n)
    train_side, held = shard_info(args.shard, np.arange(cut)), shard_info(args.shard, np.arange(cut, n))
    csi = torch.from_numpy(np.ascontiguousarray(reader.read_range(0, cut)["csi"]))
    batches = [{"csi": csi[i : i + args.batch_size]} for i in range(0, cut - args.batch_size + 1, args.batch_size)]
    order = np.random.default_rng(0)

    def stream(_step: int):
        while True:
            for i in order.permutation(len(batches)):
                yield batches[i]

    masks = tuple(args.masks.split(","))
    cfg = TrainConfig(
        model=args.model,
        steps=args.steps,
        lr=args.lr,
        warmup_steps=min(50, args.steps),
        masks=masks,
        mask_schedule="sample",
    )
    out = args.out or tempfile.mkdtemp()
    start = time.perf_counter()
    result = train(stream, cfg, out)
    print(
        f"{args.steps} steps in {time.perf_counter() - start:.0f} s, mean loss of the last 50 steps "
        f"{np.mean(result.losses[-50:]):.3f}"
    )
    model = load_checkpoint(out).model
    for side, info in (("training side", train_side), ("held-out side", held)):
        for mask, v in losses(model, [info], masks=masks)[info.name].items():
            print(f"{side}, {mask} mask: model {v['model']:.3f}, zeros {v['zeros']:.3f}")
    report = evaluate({"wifo": model_predictor(model), **BASELINES}, [held])
    for task in ("time", "frequency"):
        print(
            f"{task} NMSE on the held-out side: "
            + ", ".join(f"{k} {v['nmse']:.3f}" for k, v in report["shards"][held.name][task].items())
        )


if __name__ == "__main__":
    main()
