"""What gets the reference model off the all-zero plateau early: per-mask learning curves of recipe variants.

Each variant trains on the training split of a manifest (default: the default corpus through catalog/default.toml)
for ``--steps`` steps of ``--batch-size`` (32) with the same data order, and is checked every ``--every`` steps on
up to 128 samples of the manifest's val split: the masked loss of each mask as a fraction of the all-zero
prediction's (1.00 = on the plateau; below 1 = learned something). Variants:

- ``wifo``: the former default: WiFo's tiny shape (``wifo-tiny``: 8 heads of width 8, decoder 4 blocks), patch
  (4, 4, 4), random mask ratio 0.85, lr 1e-3, no gradient clipping, no locality bias;
- ``default``: TrainConfig() (little, patch (4, 4, 8), ratio 0.5, lr 3e-3, clipping 1.0, locality bias);
- ``no-locality``: the default without the locality bias;
- ``ratio-0.85``: the default with WiFo's random mask ratio.

(The zero-initialised output head is part of every variant.)

Run: .venv/bin/python benchmarks/plateau_ablation.py --manifest manifest.json [--steps 120] [--every 20]
     [--variants wifo,default,no-locality,ratio-0.85] [--threads 2] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from wirelessdata.mix.loader import MixtureDataset
from wirelessdata.mix.manifest import load_manifest
from wirelessdata.models import TrainConfig, train
from wirelessdata.models.data import split_batches, training_stream
from wirelessdata.models.objective import masked_losses

VARIANTS: dict[str, dict] = {
    "wifo": dict(model="wifo-tiny", patch=(4, 4, 4), mask_ratio=0.85, lr=1e-3, grad_clip=0.0, locality=False),
    "default": {},
    "no-locality": dict(locality=False),
    "ratio-0.85": dict(mask_ratio=0.85),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--every", type=int, default=20)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    m = load_manifest(args.manifest)
    held = split_batches(m, "val", 128, 32)
    samples = sum(len(b["csi"]) for b in held)
    print(f"{args.steps} steps of {args.batch_size}, checks every {args.every} on {samples} val samples")
    print("masked loss / all-zero loss per mask (random, temporal, frequency) at each check")
    for name in args.variants.split(","):
        cfg = TrainConfig(**{"steps": args.steps, "warmup_steps": min(30, args.steps // 4), **VARIANTS[name]})
        cfg = TrainConfig.from_dict(cfg.to_dict() | {"eval_every": args.every})

        def validate(model, cfg=cfg):
            return masked_losses(model, held, cfg.masks, mask_ratio=cfg.mask_ratio, snr_db=cfg.snr_db, seed=0)

        began = time.perf_counter()
        with tempfile.TemporaryDirectory() as out:
            stream = training_stream(MixtureDataset(m, "train", batch_size=args.batch_size))
            result = train(stream, cfg, Path(out), checkpoint_every=10**9, validate=validate)
        seconds = time.perf_counter() - began
        curve = "  ".join(
            f"{v['step']}: " + "/".join(f"{v['losses'][k]['model'] / v['losses'][k]['zeros']:.2f}" for k in cfg.masks)
            for v in result.validation
        )
        print(f"{name:<12} {result.samples / seconds:5.1f} samples/s  {curve}", flush=True)


if __name__ == "__main__":
    main()
