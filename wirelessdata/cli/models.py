"""``wirelessdata train``, ``evaluate``, ``finetune`` and ``probe``: the reference model on a mixture manifest."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

Manifest_ = Annotated[
    str, typer.Option("--manifest", help="Mixture manifest JSON, a path or a URL (wirelessdata mix build).")
]


def _console() -> Console:
    return Console(width=None if sys.stdout.isatty() else 160)


def set_threads(threads: int) -> None:
    """torch threads for a command (0: leave torch's default)."""
    import torch

    if threads > 0:
        torch.set_num_threads(threads)


def train(
    out: Annotated[Path, typer.Option(help="Run directory (checkpoint, model card).")],
    manifest: Manifest_,
    model: Annotated[str, typer.Option(help="Architecture of models/sizes.toml: tiny, little, small, base, ...")] = (
        "little"
    ),
    steps: Annotated[int, typer.Option(help="Optimiser steps.")] = 600,
    batch_size: Annotated[int, typer.Option(help="Samples per batch.")] = 32,
    lr: Annotated[float, typer.Option(help="Peak learning rate.")] = 3e-3,
    warmup_steps: Annotated[
        int | None, typer.Option(help="Linear warm-up steps before the cosine decay (default min(30, steps/10)).")
    ] = None,
    mask_schedule: Annotated[str, typer.Option(help="sample (one mask per step) or mean (all three each step).")] = (
        "sample"
    ),
    mask_ratio: Annotated[float, typer.Option(help="Hidden share of the random mask.")] = 0.5,
    snr_db: Annotated[float, typer.Option(help="Noise injected into the input, dB (WiFo: 20).")] = 20.0,
    eval_every: Annotated[
        int, typer.Option(help="Held-out masked loss per mask every N steps (learning curves; 0: only at the end).")
    ] = 50,
    eval_samples: Annotated[int, typer.Option(help="Samples of the manifest's val split used for the checks.")] = 256,
    seed: Annotated[int, typer.Option(help="Training seed.")] = 0,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out from its checkpoint.")] = False,
    keep_every: Annotated[
        int, typer.Option(help="Keep a copy of the checkpoint every N steps in RUN/snapshots/step-N (0: none).")
    ] = 0,
    threads: Annotated[int, typer.Option(help="torch threads (0: torch's default).")] = 0,
) -> None:
    """Pretrain the WiFo-style masked autoencoder on a manifest's training split (CPU or GPU); prints the held-out
    masked loss of every mask next to the all-zero prediction's."""
    from contextlib import nullcontext

    from wirelessdata.models.config import TrainConfig
    from wirelessdata.models.distributed import launched
    from wirelessdata.models.train import train_on_manifest
    from wirelessdata.progress import progress_bars

    set_threads(threads)
    warmup = min(30, steps // 10) if warmup_steps is None else warmup_steps
    cfg = TrainConfig(
        model=model,
        steps=steps,
        lr=lr,
        warmup_steps=warmup,
        mask_schedule=mask_schedule,
        mask_ratio=mask_ratio,
        snr_db=snr_db,
        eval_every=eval_every if eval_every > 0 else steps,
        seed=seed,
    )
    console = _console()
    main = launched().main
    with progress_bars() if main else nullcontext() as progress:
        task = progress.add_task(f"train {model}", total=steps) if main else None

        def on_step(info: Any) -> None:
            progress.update(task, completed=info.step, description=f"train {model} loss {info.loss:.4f}")

        result, samples = train_on_manifest(
            manifest,
            cfg,
            out,
            batch_size=batch_size,
            eval_samples=eval_samples,
            resume=resume,
            keep_every=keep_every,
            on_step=on_step,
        )
    if not main:
        return
    console.print(
        f"trained {result.step} steps, {result.samples} samples in {result.seconds:.0f} s "
        f"({result.samples / max(result.seconds, 1e-9):.1f} samples/s), final loss {result.losses[-1]:.4f}; "
        f"checkpoint {result.checkpoint}"
    )
    if result.validation:
        last = result.validation[-1]
        shown = ", ".join(f"{k} {v['model']:.3f} / {v['zeros']:.3f}" for k, v in last["losses"].items())
        console.print(f"held-out masked loss (val split, {samples} samples), model / all-zero prediction: {shown}")
    else:
        console.print("the manifest has no val split: no held-out check (build it with val_fraction > 0)")


def evaluate(
    run: Annotated[Path, typer.Argument(help="Run directory of wirelessdata train.")],
    manifest: Manifest_,
    split: Annotated[str, typer.Option(help="Manifest split to evaluate on (a held-out split).")] = "zero-shot",
    eval_fraction: Annotated[
        float,
        typer.Option(
            help="Share of each shard's samples (by sample_id hash) evaluated; the rest is the shard's training "
            "split (few-shot, full-shot, Wiener)."
        ),
    ] = 0.5,
    few_shot: Annotated[
        int, typer.Option(help="Fine-tune the run on N target training samples per shard (0: skip).")
    ] = 0,
    full_shot: Annotated[
        bool, typer.Option(help="Train the full-shot baseline per shard on its whole training split.")
    ] = False,
    tune_steps: Annotated[int, typer.Option(help="Most steps of each few-shot / full-shot model.")] = 400,
    patience: Annotated[int, typer.Option(help="Early stopping: checks (every 20 steps) without a new best.")] = 4,
    batch_size: Annotated[int, typer.Option(help="Samples per batch.")] = 32,
    snr_db: Annotated[float, typer.Option(help="Noise on the given CSI, dB.")] = 20.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    figure: Annotated[Path | None, typer.Option("-o", "--figure", help="Bar chart of NMSE (PNG).")] = None,
    threads: Annotated[int, typer.Option(help="torch threads (0: torch's default).")] = 0,
) -> None:
    """Time- and frequency-domain prediction NMSE per held-out shard: the model zero-shot (and, when asked,
    few-shot fine-tuned and full-shot), the classical predictors (zoh, ar, ar-auto, wiener)."""
    from wirelessdata.models.evaluate import evaluate_run
    from wirelessdata.models.finetune import TuneSettings

    set_threads(threads)
    metrics = evaluate_run(
        run,
        manifest,
        split=split,
        eval_fraction=eval_fraction,
        few_shot=few_shot,
        full_shot=full_shot,
        settings=TuneSettings(steps=tune_steps, patience=patience, batch_size=batch_size),
        snr_db=snr_db,
    )
    if as_json:
        typer.echo(json.dumps(metrics, indent=2))
    else:
        _console().print(_table(metrics))
        _console().print(_reconstruction_table(metrics["reconstruction"]))
        if metrics["tuning"]:
            _console().print(_tuning_table(metrics["tuning"]))
    if figure is not None:
        _plot(metrics, figure)


def finetune(
    run: Annotated[Path, typer.Argument(help="Pretrained run directory (wirelessdata train).")],
    manifest: Manifest_,
    shard: Annotated[str, typer.Option(help="Target shard (name) of the held-out split.")],
    out: Annotated[Path, typer.Option(help="Run directory of the fine-tuned model (new).")],
    samples: Annotated[int, typer.Option(help="Target training samples to tune on (few-shot N).")] = 512,
    split: Annotated[str, typer.Option(help="Manifest split holding the shard.")] = "zero-shot",
    eval_fraction: Annotated[
        float, typer.Option(help="Share of the shard kept for evaluation (as wirelessdata evaluate); never tuned on.")
    ] = 0.5,
    steps: Annotated[int, typer.Option(help="Most optimiser steps (early stopping may end sooner).")] = 400,
    patience: Annotated[int, typer.Option(help="Early stopping: checks (every 20 steps) without a new best.")] = 4,
    batch_size: Annotated[int, typer.Option(help="Samples per batch.")] = 32,
    threads: Annotated[int, typer.Option(help="torch threads (0: torch's default).")] = 0,
) -> None:
    """Fine-tune a pretrained run on N samples of a held-out shard (few-shot), with early stopping; prints the
    masked loss on the shard's evaluated samples before and after."""
    from wirelessdata.models.finetune import TUNE_MASKS, TuneSettings, finetune_run

    set_threads(threads)
    result = finetune_run(
        run,
        manifest,
        shard,
        out,
        samples=samples,
        split=split,
        eval_fraction=eval_fraction,
        settings=TuneSettings(steps=steps, patience=patience, batch_size=batch_size),
    )
    before, after = result.before, result.after
    d = result.tuned.describe()
    _console().print(
        f"fine-tuned on {d['train_samples']} samples of {shard} (+{d['validation_samples']} for early stopping): "
        f"{d['steps']} steps, best at step {d['best_step']}{' (stopped early)' if d['stopped_early'] else ''}; "
        f"model {out}"
    )
    for kind in TUNE_MASKS:
        _console().print(
            f"{kind} mask on the {result.evaluated} evaluated samples: {before[kind]['model']:.4f} -> "
            f"{after[kind]['model']:.4f} (all-zero {after[kind]['zeros']:.4f})"
        )


def _tuning_table(tuning: dict[str, Any]) -> Table:
    table = Table(title="target models: early stopping (steps run, best step, samples)")
    for col in ("shard", "model", "steps", "best step", "stopped early", "train / val samples", "samples seen"):
        table.add_column(col)
    for shard, models in tuning.items():
        for name, d in models.items():
            table.add_row(
                shard,
                name,
                str(d["steps"]),
                str(d["best_step"]),
                "yes" if d["stopped_early"] else "no",
                f"{d['train_samples']} / {d['validation_samples']}",
                str(d["samples_seen"]),
            )
    return table


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
    seeds: Annotated[
        int,
        typer.Option(
            min=1, help="Head seeds 0..N-1 (labelled subset, head initialisation, random encoder): mean ± std."
        ),
    ] = 3,
    split_seed: Annotated[
        int, typer.Option("--split-seed", "--seed", help="Seed of the train/test split and the impairments.")
    ] = 0,
    pooling: Annotated[
        str,
        typer.Option(
            help="How the heads' features treat a sample's global phase: attentive (as given), phase-invariant "
            "(canonical phase), rotation-mean (mean over 4 quarter turns)."
        ),
    ] = "attentive",
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    threads: Annotated[int, typer.Option(help="torch threads (0: torch's default).")] = 0,
) -> None:
    """Frozen-encoder task heads (LoS F1, localisation MAE, best beam top-1/top-3) against a random encoder and
    baselines, as mean ± std over --seeds seeds."""
    from wirelessdata.models.probing import probe_run

    set_threads(threads)
    sources = {name.strip(): source for name in tasks.split(",") if name.strip()}
    report = probe_run(
        run,
        sources,
        label_fraction=label_fraction,
        steps=steps,
        snr_db=snr_db,
        seeds=seeds,
        split_seed=split_seed,
        pooling=pooling,
    )
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
        return
    _console().print(_probe_table(report, label_fraction, snr_db, seeds, pooling))


def _probe_table(report: dict[str, Any], label_fraction: float, snr_db: float, seeds: int, pooling: str) -> Table:
    """The report of ``probe_tasks`` as a table: every metric as mean ± std over the seeds (one value for the
    deterministic classical baselines)."""
    table = Table(
        title=f"frozen-encoder heads, {label_fraction:.0%} of the training labels, SNR {snr_db} dB, "
        f"{seeds} seed(s), {pooling} features: mean ± std"
    )
    for col in ("task", "labelled", "predictor", "metrics", "test samples"):
        table.add_column(col)
    for name, res in report.items():
        labelled = f"{min(res['labelled'])}-{max(res['labelled'])}" if len(set(res["labelled"])) > 1 else ""
        labelled = labelled or str(res["labelled"][0])
        for pname, metrics in res["results"].items():
            shown = ", ".join(f"{k} {_mean_std(v)}" for k, v in metrics.items() if k != "samples")
            table.add_row(name, labelled, pname, shown, str(metrics["samples"]))
    return table


def _mean_std(metric: dict[str, Any]) -> str:
    """``{"mean", "std", "values"}`` → ``"0.512 ± 0.031"`` (the value alone for a single run)."""
    if len(metric["values"]) == 1:
        return f"{metric['mean']:.3f}"
    return f"{metric['mean']:.3f} ± {metric['std']:.3f}"
