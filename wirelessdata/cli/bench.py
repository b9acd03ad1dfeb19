"""``wirelessdata bench``: train the reference model on each mixture at one recipe and budget, score, rank."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console


def bench(
    specs: Annotated[
        list[Path], typer.Argument(help="Tracks (catalog/bench/*.toml) or mixture specs (catalog/*.toml).")
    ],
    root: Annotated[str, typer.Option(help="Corpus root the mixtures resolve against (its catalog).")],
    out: Annotated[Path, typer.Option(help="Bench directory: manifests, runs, leaderboard (resumable).")],
    heldout: Annotated[
        str | None, typer.Option(help="Held-out split every mixture shares and the runs are scored on.")
    ] = None,
    budget: Annotated[int, typer.Option(help="Samples seen by each run (the compute, the same for all).")] = 4096,
    seeds: Annotated[int, typer.Option(help="Training seeds per mixture (mean and spread over them).")] = 3,
    threads: Annotated[int, typer.Option(help="torch threads (0: torch's default).")] = 0,
) -> None:
    """Train the reference model with one frozen recipe and budget on each mixture, score every run on the same
    held-out samples, and write the leaderboard (Markdown, JSON, figure) into --out. A rerun finishes only the
    runs a killed bench left unfinished."""
    from wirelessdata.bench.board import leaderboard, write_leaderboard
    from wirelessdata.bench.runner import run_bench
    from wirelessdata.bench.tracks import load_bench
    from wirelessdata.cli.models import set_threads

    set_threads(threads)
    console = Console(width=None if sys.stdout.isatty() else 160)
    spec = load_bench(specs, heldout)

    def on_run(name: str, seed: int, result: dict[str, Any]) -> None:
        console.print(f"{name} seed {seed}: score {result['score']:.3f} ({result['steps']} steps)")

    raw = run_bench(spec, root, out, budget=budget, seeds=seeds, on_run=on_run)
    board = leaderboard(spec, raw["planned"], raw["results"], raw["baselines"], budget)
    paths = write_leaderboard(board, out, raw["seconds"])
    console.print(paths["markdown"].read_text(), markup=False, highlight=False)
    t = raw["seconds"]
    console.print(
        f"leaderboard: {paths['markdown']}, {paths['json']}, {paths['figure']}; {t['total']:.0f} s, of which "
        f"training {t['train']:.0f} s and evaluation {t['evaluate']:.0f} s"
    )
