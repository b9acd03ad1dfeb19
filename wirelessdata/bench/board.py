"""The leaderboard of a bench: JSON, a Markdown table and a figure, from the runs' results.

The JSON and Markdown hold no time and no path outside the bench directory: the same specs, seeds and budget on
the same stores give bit-identical files. Timings go to ``timing.json`` beside them.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from wirelessdata.bench.runner import Planned, frozen_recipe
from wirelessdata.bench.tracks import BenchSpec

SCORES = {
    "prediction": ("zero-shot NMSE (dB), mean over the held-out shards and tasks", "lower"),
    "beam": ("best-beam top-1 accuracy of a frozen-encoder head (sub-6 -> 28 GHz)", "higher"),
}


def _spread(values: Sequence[float]) -> dict[str, Any]:
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
        "values": list(values),
    }


def leaderboard(
    bench: BenchSpec,
    planned: Sequence[Planned],
    results: Mapping[str, Sequence[Mapping[str, Any]]],
    reference: Mapping[str, Mapping[str, Any]],
    budget: int,
) -> dict[str, Any]:
    """The leaderboard document: one row per mixture (mean, std, min, max over seeds of the score and of every
    cell), best first, with the manifest checksum, distinct training samples and steps; the reference scores;
    the recipe, budget, seeds, held-out split and evaluation that make the numbers comparable."""
    label, better = SCORES[bench.evaluation]
    rows = []
    for p in planned:
        runs = results[p.entry.name]
        cells = sorted(runs[0]["cells"])
        rows.append(
            {
                "mixture": p.entry.name,
                "score": _spread([r["score"] for r in runs]),
                "cells": {c: _spread([r["cells"][c] for r in runs]) for c in cells},
                "manifest_checksum": p.checksum,
                "train_samples": sum(src.available for src in p.manifest.split("train")),
                "train_shards": len({sel.shard for src in p.manifest.split("train") for sel in src.selections}),
                "steps": runs[0]["steps"],
            }
        )
    rows.sort(key=lambda r: r["score"]["mean"] * (1 if better == "lower" else -1))
    return {
        "tracks": list(bench.tracks),
        "heldout": bench.heldout,
        "evaluation": bench.evaluation,
        "score": label,
        "better": better,
        "budget_samples": budget,
        "seeds": len(next(iter(results.values()))),
        "recipe": frozen_recipe(),
        "rows": rows,
        "reference": {name: ref["score"] for name, ref in reference.items()},
    }


def markdown(board: Mapping[str, Any]) -> str:
    """The leaderboard as Markdown: the score (mean ± std over seeds, and the range), then every cell's mean."""
    train = board["recipe"]["train"]
    lines = [
        f"# Bench: {', '.join(board['tracks']) or 'mixtures'}",
        "",
        f"{board['score']} ({board['better']} is better); held-out split `{board['heldout']}`; budget "
        f"{board['budget_samples']} samples per run; {board['seeds']} seed(s); recipe: model {train['model']}, "
        f"batch {train['batch_size']}, lr {train['lr']:g}, mask ratio {train['mask_ratio']:g}.",
        "",
    ]
    cells = sorted({c for row in board["rows"] for c in row["cells"]})
    lines.append(
        "| rank | mixture | score (mean ± std) | min .. max | " + " | ".join(cells) + " | train samples | manifest |"
    )
    lines.append("|" + "---|" * (len(cells) + 6))
    for rank, row in enumerate(board["rows"], 1):
        s = row["score"]
        lines.append(
            f"| {rank} | {row['mixture']} | {s['mean']:.3f} ± {s['std']:.3f} | {s['min']:.3f} .. {s['max']:.3f} | "
            + " | ".join(f"{row['cells'][c]['mean']:.2f}" if c in row["cells"] else "-" for c in cells)
            + f" | {row['train_samples']} | {row['manifest_checksum'][:12]} |"
        )
    if board["reference"]:
        lines += [
            "",
            "Reference on the same held-out samples (no pretraining): "
            + ", ".join(f"{name} {score:.3f}" for name, score in board["reference"].items())
            + ".",
        ]
    return "\n".join(lines) + "\n"


def figure(board: Mapping[str, Any], path: Path) -> None:
    """A bar per mixture (mean over seeds, error bar: min .. max, dots: each seed), reference scores as lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = board["rows"]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(rows) + 2), 3.6), layout="constrained")
    for i, row in enumerate(rows):
        s = row["score"]
        ax.bar(i, s["mean"], color="tab:blue", alpha=0.7)
        ax.errorbar(i, s["mean"], yerr=[[s["mean"] - s["min"]], [s["max"] - s["mean"]]], color="black", capsize=4)
        ax.plot([i] * len(s["values"]), s["values"], "k.", ms=4)
    for k, (name, score) in enumerate(board["reference"].items()):
        ax.axhline(score, ls="--", lw=1, color=f"C{k + 1}", label=name)
    ax.set_xticks(range(len(rows)), [r["mixture"] for r in rows], rotation=30, ha="right")
    ax.set_ylabel(board["score"].split(",")[0])
    ax.set_title(f"{', '.join(board['tracks']) or 'bench'}: {board['budget_samples']} samples per run")
    if board["reference"]:
        ax.legend(fontsize=7)
    fig.savefig(path, dpi=120, metadata={"Software": None})
    plt.close(fig)


def write_leaderboard(board: Mapping[str, Any], out: Path, seconds: Mapping[str, float]) -> dict[str, Path]:
    """Write ``leaderboard.json``, ``leaderboard.md``, ``leaderboard.png`` and ``timing.json`` into ``out``."""
    paths = {
        "json": out / "leaderboard.json",
        "markdown": out / "leaderboard.md",
        "figure": out / "leaderboard.png",
        "timing": out / "timing.json",
    }
    paths["json"].write_text(json.dumps(board, indent=1, sort_keys=True) + "\n")
    paths["markdown"].write_text(markdown(board))
    figure(board, paths["figure"])
    busy = seconds["train"] + seconds["evaluate"]
    timing = {**seconds, "harness": seconds["total"] - busy, "harness_fraction": 1 - busy / max(seconds["total"], 1e-9)}
    paths["timing"].write_text(json.dumps(timing, indent=1) + "\n")
    return paths
