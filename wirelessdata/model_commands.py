"""``wirelessdata train`` and ``wirelessdata evaluate``: the reference model on a mixture manifest."""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

Manifest_ = Annotated[Path, typer.Option("--manifest", help="Mixture manifest JSON (wirelessdata mix build).")]


def _console() -> Console:
    return Console(width=None if sys.stdout.isatty() else 160)


def _threads(threads: int) -> None:
    import torch

    if threads > 0:
        torch.set_num_threads(threads)


def training_stream(dataset: Any) -> Callable[[int], Iterator[dict[str, Any]]]:
    """A callable for :func:`wirelessdata.models.train`: the dataset's batches from step ``k`` on, epoch after
    epoch (seeking by the index-space plans, without reading the skipped batches)."""

    def from_step(step: int) -> Iterator[dict[str, Any]]:
        epoch = 0
        while step >= (n := len(dataset.plan(epoch)[1])):
            step, epoch = step - n, epoch + 1
        dataset.load_state_dict({"epoch": epoch, "batch": step})
        while True:
            yield from dataset  # a finished epoch moves the dataset to the next

    return from_step


def train(
    out: Annotated[Path, typer.Option(help="Run directory (checkpoint, model card).")],
    manifest: Manifest_,
    model: Annotated[str, typer.Option(help="tiny, little, small or base.")] = "tiny",
    steps: Annotated[int, typer.Option(help="Optimiser steps.")] = 1000,
    batch_size: Annotated[int, typer.Option(help="Samples per batch.")] = 32,
    lr: Annotated[float, typer.Option(help="Peak learning rate.")] = 1e-3,
    warmup_steps: Annotated[
        int | None, typer.Option(help="Linear warm-up steps before the cosine decay (default min(50, steps/10)).")
    ] = None,
    mask_schedule: Annotated[str, typer.Option(help="mean (all three masks each step) or sample (one per step).")] = (
        "mean"
    ),
    snr_db: Annotated[float, typer.Option(help="Noise injected into the input, dB (WiFo: 20).")] = 20.0,
    seed: Annotated[int, typer.Option(help="Training seed.")] = 0,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out from its checkpoint.")] = False,
    keep_every: Annotated[
        int, typer.Option(help="Keep a copy of the checkpoint every N steps in RUN/snapshots/step-N (0: none).")
    ] = 0,
    threads: Annotated[int, typer.Option(help="torch threads (0: torch's default).")] = 0,
) -> None:
    """Pretrain the WiFo-style masked autoencoder on a manifest's training split (CPU or GPU)."""
    from wirelessdata.mix.loader import MixtureDataset
    from wirelessdata.mix.manifest import load_manifest
    from wirelessdata.models import TrainConfig
    from wirelessdata.models import train as train_model
    from wirelessdata.progress import progress_bars

    _threads(threads)
    m = load_manifest(manifest)
    ds = MixtureDataset(m, "train", batch_size=batch_size)
    warmup = min(50, steps // 10) if warmup_steps is None else warmup_steps
    cfg = TrainConfig(
        model=model, steps=steps, lr=lr, warmup_steps=warmup, mask_schedule=mask_schedule, snr_db=snr_db, seed=seed
    )
    console = _console()
    with progress_bars() as progress:
        task = progress.add_task(f"train {model}", total=steps)

        def on_step(info: Any) -> None:
            progress.update(task, completed=info.step, description=f"train {model} loss {info.loss:.4f}")

        result = train_model(
            training_stream(ds), cfg, out, resume, on_step, keep_every=keep_every, data={"manifest": str(manifest)}
        )
    console.print(
        f"trained {result.step} steps, {result.samples} samples in {result.seconds:.0f} s "
        f"({result.samples / max(result.seconds, 1e-9):.1f} samples/s), final loss {result.losses[-1]:.4f}; "
        f"checkpoint {result.checkpoint}"
    )


def _shard_batches(url: str, indices: np.ndarray, batch_size: int, shard: str) -> list[dict[str, Any]]:
    import torch

    from wirelessdata.read import ShardReader

    reader = ShardReader(url, ("csi",))
    out = []
    for k in range(0, indices.size, batch_size):
        csi = reader.read(indices[k : k + batch_size])["csi"]
        out.append({"csi": torch.from_numpy(np.ascontiguousarray(csi)), "shard": shard})
    return out


def evaluate(
    run: Annotated[Path, typer.Argument(help="Run directory of wirelessdata train.")],
    manifest: Manifest_,
    split: Annotated[str, typer.Option(help="Manifest split to evaluate on (a held-out split).")] = "zero-shot",
    eval_fraction: Annotated[
        float,
        typer.Option(
            help="Share of each shard's samples (by sample_id hash) evaluated; the rest trains the full-shot baseline."
        ),
    ] = 0.5,
    full_shot_steps: Annotated[int, typer.Option(help="Steps of the full-shot baseline per shard (0: skip).")] = 0,
    batch_size: Annotated[int, typer.Option(help="Samples per batch.")] = 32,
    snr_db: Annotated[float, typer.Option(help="Noise on the given CSI, dB.")] = 20.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    figure: Annotated[Path | None, typer.Option("-o", "--figure", help="Bar chart of NMSE (PNG).")] = None,
    threads: Annotated[int, typer.Option(help="torch threads (0: torch's default).")] = 0,
) -> None:
    """Zero-shot time- and frequency-domain prediction NMSE per held-out shard, against baselines."""
    from wirelessdata.mix.manifest import load_manifest
    from wirelessdata.mix.spec import val_mask
    from wirelessdata.models import (
        BASELINES,
        TrainConfig,
        load_checkpoint,
        model_predictor,
        reconstruction_losses,
        train_full_shot,
        update_model_card,
    )
    from wirelessdata.models import evaluate as evaluate_models
    from wirelessdata.read import ShardReader
    from wirelessdata.tasks.source import shard_info

    _threads(threads)
    m = load_manifest(manifest)
    m.verify()
    ckpt = load_checkpoint(run)
    chosen: dict[int, list[np.ndarray]] = {}
    for source in m.split(split):
        for sel in source.selections:
            chosen.setdefault(sel.shard, []).append(sel.indices)
    test, per_shard = [], {}
    for index, parts in chosen.items():
        shard, indices = m.shards[index], np.unique(np.concatenate(parts))
        ids = ShardReader(shard.url, ("sample_id",)).read(indices)["sample_id"]
        held = val_mask(ids, eval_fraction, m.seed)
        test.append(shard_info(shard.url, indices[held], shard.name))
        if full_shot_steps > 0:
            train_batches = _shard_batches(shard.url, indices[~held], batch_size, shard.name)
            cfg = TrainConfig.from_dict({**ckpt.config.to_dict(), "steps": full_shot_steps})
            out = run / "full-shot" / shard.name
            fs = train_full_shot(itertools.cycle(train_batches), cfg, out, resume=(out / "checkpoint.pt").exists())
            per_shard[shard.name] = {"full-shot": model_predictor(fs)}
    metrics = evaluate_models(
        {"wifo": model_predictor(ckpt.model), **BASELINES},
        test,
        per_shard=per_shard,
        snr_db=snr_db,
        seed=m.seed,
        batch_size=batch_size,
    )
    metrics["reconstruction"] = reconstruction_losses(
        ckpt.model, test, snr_db=snr_db, seed=m.seed, batch_size=batch_size
    )
    metrics |= {
        "split": split,
        "manifest": str(manifest),
        "eval_fraction": eval_fraction,
        "full_shot_steps": full_shot_steps,
    }
    update_model_card(run, {"evaluation": metrics})
    if as_json:
        typer.echo(json.dumps(metrics, indent=2))
    else:
        _console().print(_table(metrics))
        _console().print(_reconstruction_table(metrics["reconstruction"]))
    if figure is not None:
        _plot(metrics, figure)


def _table(metrics: dict[str, Any]) -> Table:
    table = Table(title=f"zero-shot NMSE (dB), SNR {metrics['snr_db']} dB")
    names = sorted({n for s in metrics["shards"].values() for t in metrics["tasks"] for n in s[t]})
    for col in ("shard", "samples", "task", *names):
        table.add_column(col)
    for shard, res in metrics["shards"].items():
        for task in metrics["tasks"]:
            best = min(res[task].values(), key=lambda v: v["nmse"])["nmse"]
            cells = [
                ("[bold]" if res[task][n]["nmse"] == best else "") + f"{res[task][n]['nmse_db']:.2f}"
                if n in res[task]
                else "-"
                for n in names
            ]
            table.add_row(shard, str(res["samples"]), task, *cells)
    return table


def _reconstruction_table(losses: dict[str, Any]) -> Table:
    table = Table(title="masked loss on the evaluated samples: model / all-zero prediction (equal: nothing learned)")
    masks = sorted({k for per in losses.values() for k in per})
    for col in ("shard", *masks):
        table.add_column(col)
    for shard, per in losses.items():
        table.add_row(shard, *(f"{per[k]['model']:.3f} / {per[k]['zeros']:.3f}" if k in per else "-" for k in masks))
    return table


def _plot(metrics: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shards, tasks = list(metrics["shards"]), metrics["tasks"]
    names = sorted({n for s in metrics["shards"].values() for t in tasks for n in s[t]})
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.5), constrained_layout=True, squeeze=False)
    width = 0.8 / len(names)
    for ax, task in zip(axes[0], tasks, strict=True):
        for j, name in enumerate(names):
            vals = [metrics["shards"][s][task].get(name, {}).get("nmse_db", np.nan) for s in shards]
            ax.bar(np.arange(len(shards)) + j * width, vals, width, label=name)
        ax.set_xticks(np.arange(len(shards)) + 0.4 - width / 2, shards, rotation=20)
        ax.set(title=f"{task}-domain prediction", ylabel="NMSE (dB)")
    axes[0][0].legend()
    fig.savefig(path, dpi=110)


def probe(
    run: Annotated[Path, typer.Argument(help="Run directory of wirelessdata train.")],
    source: Annotated[
        list[str], typer.Argument(help="Labelled shards or folders of them (paired bands for beam prediction).")
    ],
    tasks: Annotated[
        str, typer.Option(help="Comma-separated: los-classification, localisation, beam-prediction.")
    ] = "los-classification,localisation,beam-prediction",
    label_fraction: Annotated[float, typer.Option(help="Share of the training split whose labels the heads see.")] = (
        0.25
    ),
    steps: Annotated[int, typer.Option(help="Optimiser steps of each head.")] = 200,
    snr_db: Annotated[float, typer.Option(help="Noise on the input CSI, dB.")] = 20.0,
    seed: Annotated[int, typer.Option(help="Seed of the split, the labelled subset, the heads and the control.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    threads: Annotated[int, typer.Option(help="torch threads (0: torch's default).")] = 0,
) -> None:
    """Frozen-encoder task heads (LoS F1, localisation MAE, best beam top-1) against a random encoder and baselines."""
    from wirelessdata.models import load_checkpoint, update_model_card
    from wirelessdata.models.probing import probe_tasks

    _threads(threads)
    model = load_checkpoint(run).model
    sources = {name.strip(): source for name in tasks.split(",") if name.strip()}
    report = probe_tasks(model, sources, label_fraction=label_fraction, steps=steps, snr_db=snr_db, seed=seed)
    update_model_card(run, {"frozen_encoder_heads": report})
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
        return
    table = Table(title=f"frozen-encoder heads, {label_fraction:.0%} of the training labels, SNR {snr_db} dB")
    for col in ("task", "labelled", "predictor", "metrics", "test samples"):
        table.add_column(col)
    for name, res in report.items():
        for pname, metrics in res["results"].items():
            shown = ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if k != "samples")
            table.add_row(name, str(res["labelled"]), pname, shown, str(metrics["samples"]))
    _console().print(table)
