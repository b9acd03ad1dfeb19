"""GPU check of the reference model (docs/model.md, "On a GPU"): a larger model trained in bf16 for a fixed wall
time, with the zero-shot table on the held-out split written every minute, and the loader's rate next to the
model's.

    python benchmarks/gpu_model.py MANIFEST RUN REPORT [--model base] [--minutes 4] [--batch-size 128]

Writes into REPORT: ``zeroshot.md`` (one table a minute: NMSE dB of the model and of zoh, ar, ar-auto and the
Wiener predictor per held-out shard and task, with step, samples and samples/s) and ``zeroshot.jsonl`` (the same
as JSON lines), ``rates.json`` (loader samples/s with 0 and N workers, model samples/s, device). The baselines are
scored once; the model after every slice of about a minute (train resumes from its checkpoint between slices).
Needs CUDA for bf16 (runs on CPU too, for a dry run at tiny sizes).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from wirelessdata.errors import WirelessDataError
from wirelessdata.mix.loader import MixtureDataset
from wirelessdata.mix.manifest import load_manifest
from wirelessdata.models import BASELINES, TrainConfig, evaluate, load_checkpoint, model_predictor, train
from wirelessdata.models.data import target_shards
from wirelessdata.models.evaluate import prediction_task
from wirelessdata.tasks.source import shard_info
from wirelessdata.tasks.wiener import fit_wiener


def loader_rate(ds: MixtureDataset, workers: int, seconds: float) -> float:
    """Samples/s of the mixture's batches through a DataLoader with ``workers`` processes (after its first batch)."""
    it = batches_forever(ds, workers)
    next(it)
    n, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        n += int(next(it)["csi"].shape[0])
    it.close()
    return n / (time.perf_counter() - began)


def batches_forever(ds: MixtureDataset, workers: int) -> Any:
    """The mixture's training batches, epoch after epoch, through a DataLoader (pinned memory on CUDA)."""
    epoch = 0
    while True:
        ds.set_epoch(epoch)
        pin = torch.cuda.is_available()
        yield from DataLoader(
            ds, batch_size=None, num_workers=workers, pin_memory=pin, prefetch_factor=4 if workers else None
        )
        epoch += 1


def table(metrics: dict[str, Any], header: str) -> str:
    names = ["wifo", "zoh", "ar", "ar-auto", "wiener"]
    lines = [f"### {header}", "", "| shard | task | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 2)]
    for shard, res in metrics["shards"].items():
        for task in metrics["tasks"]:
            best = min(v["nmse"] for v in res[task].values())
            cells = [("**%.2f**" if res[task][n]["nmse"] == best else "%.2f") % res[task][n]["nmse_db"] for n in names]
            lines.append(f"| {shard} | {task} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("manifest", type=Path)
    p.add_argument("run", type=Path)
    p.add_argument("report", type=Path)
    p.add_argument("--model", default="base")
    p.add_argument("--minutes", type=float, default=4.0)
    p.add_argument("--slice", type=float, default=60.0, help="seconds of training between two tables")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1))
    a = p.parse_args()
    a.report.mkdir(parents=True, exist_ok=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    m = load_manifest(a.manifest)
    ds = MixtureDataset(m, "train", batch_size=a.batch_size)

    rates: dict[str, Any] = {"device": torch.cuda.get_device_name() if device == "cuda" else "cpu"}
    rates["loader_0_workers"] = loader_rate(ds, 0, 10.0)
    rates[f"loader_{a.workers}_workers"] = loader_rate(ds, a.workers, 15.0)
    print(json.dumps(rates), flush=True)

    began = time.perf_counter()
    test, per_shard = [], {}
    for target in target_shards(m, "zero-shot", 0.5):
        info = shard_info(target.url, target.evaluated, target.name)
        test.append(info)
        tasks = [prediction_task(t, info.shape, 20.0, m.seed) for t in ("time", "frequency")]
        per_shard[target.name] = {"wiener": fit_wiener(tasks, [shard_info(target.url, target.training, target.name)])}
    baselines = evaluate(BASELINES, test, per_shard=per_shard, seed=m.seed, batch_size=a.batch_size)
    rates["baseline_seconds"] = time.perf_counter() - began
    print(f"baselines scored in {rates['baseline_seconds']:.0f} s", flush=True)

    # steps for the wall-time budget, from the rate after warm-up of a short run of the same model (own directory)
    marks: dict[int, float] = {}
    probe_cfg = TrainConfig(model=a.model, steps=60, lr=a.lr, warmup_steps=5, eval_every=60)
    stream = batches_forever(ds, a.workers)
    train(
        stream,
        probe_cfg,
        a.run.with_name(a.run.name + "-probe"),
        device=device,
        on_step=lambda info: marks.setdefault(info.step, info.seconds),
    )
    steps_per_s = 40 / (marks[60] - marks[20])
    total = max(100, int(steps_per_s * a.minutes * 60))
    rates["probe_samples_per_s"] = steps_per_s * a.batch_size
    cfg = TrainConfig(model=a.model, steps=total, lr=a.lr, warmup_steps=min(200, total // 10), eval_every=total)
    rates["planned_steps"] = total
    print(f"probe: {rates['probe_samples_per_s']:.0f} samples/s; planned {total} steps of {a.model}", flush=True)

    report, jsonl = a.report / "zeroshot.md", a.report / "zeroshot.jsonl"
    report.write_text(f"# {a.model} on {rates['device']}, batch {a.batch_size}, lr {a.lr}, {total} steps planned\n\n")
    step, samples, seconds, curve = 0, 0, 0.0, []
    while step < total:
        deadline = time.perf_counter() + a.slice

        def until_deadline(_: int, deadline: float = deadline) -> Any:
            for batch in stream:
                yield batch
                if time.perf_counter() > deadline:
                    return

        try:
            result = train(
                until_deadline,
                cfg,
                a.run,
                resume=step > 0,
                device=device,
                checkpoint_every=10**9,
                on_step=lambda info: curve.append((info.step, info.loss)) if info.step % 25 == 0 else None,
            )
        except WirelessDataError as exc:
            with report.open("a") as f:
                f.write(f"training stopped: {exc}\n\nloss every 25 steps: {curve}\n")
            print(f"training stopped: {exc}", flush=True)
            break
        step, samples, seconds = result.step, samples + result.samples, seconds + result.seconds
        ckpt = load_checkpoint(a.run, device)
        metrics = evaluate({"wifo": model_predictor(ckpt.model)}, test, seed=m.seed, batch_size=a.batch_size)
        for shard, res in metrics["shards"].items():
            for task in metrics["tasks"]:
                res[task] |= baselines["shards"][shard][task]
        header = (
            f"step {step}/{total}, {samples} samples, {samples / seconds:.0f} samples/s, "
            f"loss {result.losses[-1]:.4f}, {time.perf_counter() - began:.0f} s"
        )
        with report.open("a") as f:
            f.write(table(metrics, header))
        with jsonl.open("a") as f:
            f.write(json.dumps({"step": step, "samples": samples, "seconds": seconds, "shards": metrics["shards"]}))
            f.write("\n")
        print(header, flush=True)
    with report.open("a") as f:
        f.write(f"loss every 25 steps: {curve}\n")
    rates["model_samples_per_s"] = samples / max(seconds, 1e-9)
    rates["loader_over_model"] = rates[f"loader_{a.workers}_workers"] / max(rates["model_samples_per_s"], 1e-9)
    rates["max_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None
    (a.report / "rates.json").write_text(json.dumps(rates, indent=2))
    print(json.dumps(rates), flush=True)


if __name__ == "__main__":
    main()
