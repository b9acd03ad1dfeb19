"""``wirelessdata catalog ...``: list, show, aggregate, plot, rebuild and export the catalog of a dataset root.

Human output is rich tables; ``--json`` gives machines the same rows. Errors are one-line
:class:`~wirelessdata.catalog.db.CatalogError` messages (the main CLI prints ``error: ...``, exit 2).
Library imports happen inside the commands, so registering this sub-app costs the main CLI nothing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

catalog_app = typer.Typer(
    name="catalog",
    help="Query the catalog of shards: configurations and measured distributions (SQLite in the dataset root).",
    no_args_is_help=True,
)
console = Console(width=None if sys.stdout.isatty() else 160)

Root = Annotated[str, typer.Argument(help="Dataset root (the folder holding the *.zarr shards and catalog.sqlite).")]
Where = Annotated[
    list[str] | None,
    typer.Option(
        "--where", "-w", help="Filter FIELD OP VALUE, repeatable, ANDed: band=28GHz, 'delay_spread_p50>3e-7', has=lidar"
    ),
]
CatalogOpt = Annotated[
    str | None,
    typer.Option("--catalog", help="Catalog file (default: $WIRELESSDATA_CATALOG, else ROOT/catalog.sqlite)."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
By = Annotated[str | None, typer.Option("--by", help="Fields to group on, comma separated, e.g. band,scenario.")]

SUMMARY_COLUMNS = ("count", "mean", "std", "min", "p05", "p50", "p95", "max")


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=1))


def _csi_shape(row: dict[str, Any]) -> str:
    dims = [row.get(k) for k in ("num_time_steps", "num_subcarriers", "num_bs_ant", "num_ue_ant")]
    return "x".join(_fmt(d) for d in dims) if dims[0] is not None else "-"


def _field(name: str) -> Callable[[dict[str, Any]], str]:
    return lambda row: _fmt(row[name])


def _megabytes(row: dict[str, Any]) -> str:
    return _fmt(row["bytes"] / 1e6 if row["bytes"] is not None else None)


LS_COLUMNS: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("shard", _field("shard")),
    ("status", _field("status")),
    ("band", _field("band")),
    ("scenario", _field("scenario")),
    ("samples", _field("num_samples")),
    ("CSI TxKxNbsxNue", _csi_shape),
    ("MB", _megabytes),
    ("modalities", _field("modalities")),
    ("path gain p50 dB", _field("path_gain_p50")),
    ("delay spread p50 s", _field("delay_spread_p50")),
    ("LoS share", _field("los_mean")),
    ("Doppler p50 Hz", _field("doppler_p50")),
)


@catalog_app.command("ls")
def ls_command(root: Root, where: Where = None, as_json: AsJson = False, catalog: CatalogOpt = None) -> None:
    """List the shards under ROOT with their configuration and distributions, filtered by --where."""
    from wirelessdata.catalog.query import dumps_rows, ls

    rows = ls(root, where or [], catalog)
    if as_json:
        typer.echo(dumps_rows(rows), nl=False)
        return
    table = Table(title=f"catalog {root}: {len(rows)} shards")
    for title, _ in LS_COLUMNS:
        table.add_column(title, overflow="fold")
    for r in rows:
        table.add_row(*(cell(r) for _, cell in LS_COLUMNS))
    console.print(table)


@catalog_app.command()
def show(
    shard: Annotated[str, typer.Argument(help="Shard path.")], as_json: AsJson = False, catalog: CatalogOpt = None
) -> None:
    """Show every recorded field of one shard and its distributions."""
    from wirelessdata.catalog.fields import CONFIG_FIELDS
    from wirelessdata.catalog.query import show as show_row
    from wirelessdata.shard.stats import METRICS

    row = show_row(shard, catalog)
    if as_json:
        _echo_json(row)
        return
    config = Table(title=f"shard {row['path']}")
    config.add_column("field")
    config.add_column("value", overflow="fold")
    for f in CONFIG_FIELDS:
        config.add_row(f.name, _fmt(row[f.name]))
    config.add_row("recipe", json.dumps(row["recipe"], sort_keys=True) if row["recipe"] else "-")
    console.print(config)
    metrics = (row["stats"] or {}).get("metrics", {})
    _summary_table("distributions", [({}, {m.name: metrics[m.name]}) for m in METRICS if m.name in metrics])


def _summary_table(title: str, groups: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """One row per (group, metric): the group's field values, the metric, its units and its summary."""
    from wirelessdata.shard.stats import METRIC_BY_NAME

    table = Table(title=title)
    keys = list(groups[0][0]) if groups else []
    for col in (*keys, "metric", "units", *SUMMARY_COLUMNS):
        table.add_column(col, justify="right" if col in SUMMARY_COLUMNS else "left")
    for group, metrics in groups:
        for name, s in metrics.items():
            table.add_row(
                *(_fmt(v) for v in group.values()),
                name,
                METRIC_BY_NAME[name].units,
                *(_fmt(s[c]) for c in SUMMARY_COLUMNS),
            )
    console.print(table)


@catalog_app.command()
def stats(
    root: Root,
    by: By = None,
    where: Where = None,
    metric: Annotated[list[str] | None, typer.Option("--metric", "-m", help="Metric to show, repeatable.")] = None,
    as_json: AsJson = False,
    catalog: CatalogOpt = None,
) -> None:
    """Distributions of the complete shards, merged per group of --by (histograms summed)."""
    from wirelessdata.catalog.aggregate import group_stats

    groups = group_stats(root, _csv(by), where or [], metric or None, catalog)
    if as_json:
        _echo_json(groups)
        return
    _summary_table(
        f"catalog {root}: {sum(g['shards'] for g in groups)} complete shards in {len(groups)} groups",
        [({**g["group"], "shards": g["shards"]}, g["metrics"]) for g in groups],
    )


@catalog_app.command()
def plot(
    root: Root,
    metric: Annotated[str, typer.Option("--metric", "-m", help="Metric to plot, e.g. delay_spread.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Image file (.png, .pdf, .svg).")],
    by: By = None,
    where: Where = None,
    catalog: CatalogOpt = None,
) -> None:
    """Plot the histogram of one metric per group of --by, overlaid."""
    from wirelessdata.catalog.figure import plot as plot_figure

    path = plot_figure(root, metric, str(output), _csv(by), where or [], catalog)
    console.print(f"wrote {path}")


@catalog_app.command()
def coverage(
    root: Root,
    output: Annotated[Path, typer.Option("--output", "-o", help="Image file (.png, .pdf, .svg).")],
    where: Where = None,
    catalog: CatalogOpt = None,
) -> None:
    """Plot what a corpus drawn from a recipe's [space] covers: one panel per drawn parameter."""
    from wirelessdata.catalog.coverage import plot_coverage

    path, values = plot_coverage(root, str(output), where or [], catalog)
    count = len(next(iter(values.values())))
    console.print(f"wrote {path}: {count} drawn configurations, {len(values)} parameters")


@catalog_app.command()
def rebuild(root: Root, as_json: AsJson = False, catalog: CatalogOpt = None) -> None:
    """Rebuild the catalog from the shards under ROOT: add new, update changed, mark missing ones."""
    from dataclasses import asdict

    from wirelessdata.catalog.register import rebuild as rebuild_catalog

    report = rebuild_catalog(root, catalog)
    if as_json:
        _echo_json(asdict(report))
        return
    table = Table(title=f"catalog rebuild -> {report.catalog}")
    table.add_column("rows")
    table.add_column("count", justify="right")
    table.add_column("shards", overflow="fold")
    for kind in ("added", "changed", "unchanged", "missing"):
        keys = getattr(report, kind)
        table.add_row(kind, str(len(keys)), ", ".join(keys[:5]) + (", ..." if len(keys) > 5 else ""))
    console.print(table)


@catalog_app.command()
def export(
    root: Root,
    fmt: Annotated[str, typer.Option("--format", "-f", help="json (every field) or csv (flat fields).")] = "json",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file (default stdout).")] = None,
    where: Where = None,
    catalog: CatalogOpt = None,
) -> None:
    """Export the rows of the shards under ROOT as JSON or CSV."""
    from wirelessdata.catalog.query import export as export_rows

    text = export_rows(root, fmt, where or [], catalog)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
