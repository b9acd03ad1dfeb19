"""``wirelessdata curate``: ``curate ROOT`` runs the curation pass, ``curate compare A B`` measures corpus distances.

Register with ``app.add_typer(curate_app, name="curate")``. ``run`` is the default command: a first
argument that is not a command name is taken as its ROOT, so ``wirelessdata curate ROOT`` and
``wirelessdata curate run ROOT`` are the same.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from wirelessdata.shard.url import shard_name

DEFAULT_COMMAND = "run"
GROUPS_SHOWN = 10
"""Duplicate groups listed after the counts."""


class _DefaultCommandGroup(TyperGroup):
    """A group whose first argument, when it is not a command name or an option, goes to :data:`DEFAULT_COMMAND`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = [DEFAULT_COMMAND, *args]
        return super().parse_args(ctx, args)


curate_app = typer.Typer(
    cls=_DefaultCommandGroup,
    help="Corpus curation: quality flags, duplicates, leakage, corpus distances. `curate ROOT` runs the pass.",
    no_args_is_help=True,
)


def _console() -> Console:
    return Console(width=None if sys.stdout.isatty() else 160)


def _short(url: str) -> str:
    return shard_name(url)


@curate_app.command(DEFAULT_COMMAND)
def run(
    root: Annotated[str, typer.Argument(help="Dataset root with its catalog.")],
    catalog: Annotated[str | None, typer.Option(help="Catalog file (default ROOT/catalog.sqlite).")] = None,
    threshold: Annotated[
        float | None,
        typer.Option(help="Near-duplicate distance for every shard (default: each shard's, docs/curation.md)."),
    ] = None,
    workers: Annotated[int, typer.Option(help="Local Dask worker processes (1: this process).")] = 1,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address to scan the shards on.")] = None,
) -> None:
    """Flag every sample of ROOT's complete shards (quality_flags only) and print counts per flag and duplicates."""
    from wirelessdata.curate.pipeline import curate
    from wirelessdata.shard.schema import load_schema

    report = curate(root, catalog, threshold, workers, scheduler)
    schema = load_schema()
    totals = report.totals()
    per_flag = Table(title=f"wirelessdata curate {root}: samples per flag")
    for col in ("bit", "flag", "samples", "meaning"):
        per_flag.add_column(col)
    for name, spec in schema.quality_flags.items():
        per_flag.add_row(str(spec["bit"]), name, str(totals.get(name, 0)), spec["description"])
    per_flag.add_row("", "any", str(totals.get("any", 0)), "samples with at least one flag (mix build leaves them out)")
    shards = Table(title="per shard")
    for col in ("shard", "samples", "flagged", "changed", "near-dup threshold", "flags"):
        shards.add_column(col)
    for s in report.shards:
        named = ", ".join(f"{k} {v}" for k, v in s.counts.items() if v and k != "any")
        row = (str(s.num_samples), str(s.flagged), str(s.changed), f"{s.threshold:.3f}")
        shards.add_row(_short(s.url), *row, named or "-")
    console = _console()
    console.print(per_flag)
    console.print(shards)
    console.print(f"{len(report.groups)} duplicate groups (first sample kept, the others flagged)")
    for group in report.groups[:GROUPS_SHOWN]:
        console.print("  " + " = ".join(f"{_short(u)}[{i}]" for u, i in group), markup=False)
    if len(report.groups) > GROUPS_SHOWN:
        console.print(f"  ... {len(report.groups) - GROUPS_SHOWN} more")
    for s in report.skipped:
        console.print(f"skipped: {s}", markup=False)


@curate_app.command()
def compare(
    a: Annotated[str, typer.Argument(help="A: a shard or a folder of shards.")],
    b: Annotated[str, typer.Argument(help="B: a shard or a folder of shards.")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write the figure here (PNG/PDF/SVG).")] = None,
    max_samples: Annotated[int, typer.Option(help="At most about this many samples read per shard.")] = 2048,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    checkpoint: Annotated[
        str | None,
        typer.Option(help="A 'wirelessdata train' run directory or checkpoint: also the embedding Fréchet distance."),
    ] = None,
    device: Annotated[
        str | None, typer.Option(help="Torch device of the encoder (default: CUDA when present).")
    ] = None,
) -> None:
    """How far A and B are apart: MMD and Fréchet distance of per-sample CSI features, and of a reference model's
    encoder embeddings with --checkpoint (docs/curation.md)."""
    import json
    from dataclasses import asdict

    import numpy as np

    from wirelessdata.curate.distance import feature_distance, load_features, with_embeddings
    from wirelessdata.errors import ConfigError

    if max_samples < 2:
        raise ConfigError(f"--max-samples {max_samples}: give at least 2")
    side_a, side_b = load_features([a], max_samples), load_features([b], max_samples)
    result = feature_distance(*(np.concatenate(list(s.values())) for s in (side_a, side_b)))
    emb_a = emb_b = None
    if checkpoint is not None:
        result, emb_a, emb_b = with_embeddings(result, checkpoint, list(side_a), list(side_b), max_samples, device)
    doc: dict[str, Any] = asdict(result)
    if output is not None:
        from wirelessdata.curate.figure import plot_comparison

        def short(side: dict[str, np.ndarray] | None) -> dict[str, np.ndarray] | None:
            return None if side is None else {_short(k): v for k, v in side.items()}

        embeddings = None if emb_a is None else (short(emb_a), short(emb_b))
        doc["figure"] = str(plot_comparison(short(side_a), short(side_b), result, output, embeddings))
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    table = Table(title=f"curate compare: A={a} ({result.num_a} samples), B={b} ({result.num_b} samples)")
    for col in ("feature", "mean A", "mean B"):
        table.add_column(col)
    for name in result.features:
        table.add_row(name, f"{result.mean_a[name]:.4g}", f"{result.mean_b[name]:.4g}")
    console = _console()
    console.print(table)
    console.print(f"MMD² {result.mmd2:.4g}   Fréchet distance {result.frechet:.4g}")
    if result.embedding_frechet is not None:
        console.print(
            f"embedding Fréchet distance {result.embedding_frechet:.4g} "
            f"({result.embedding_dim}-dim encoder features of {result.checkpoint}, mean over tokens)",
            markup=False,
        )
    if output is not None:
        console.print(f"figure: {doc['figure']}", markup=False)
