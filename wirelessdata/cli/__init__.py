"""The ``wirelessdata`` command: a thin layer over the library.

Errors reach the user as one line, ``error: <what> ; <fix>``, with a non-zero exit and no traceback
(``WIRELESSDATA_DEBUG=1`` shows the traceback of an unexpected error).
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from wirelessdata import __version__
from wirelessdata.cli.bench import bench as bench_command
from wirelessdata.cli.catalog import catalog_app
from wirelessdata.cli.curate import curate_app
from wirelessdata.cli.importers import import_app
from wirelessdata.cli.interop import card_command, export_app, plot_command
from wirelessdata.cli.mix import mix_app
from wirelessdata.cli.models import evaluate as evaluate_command
from wirelessdata.cli.models import finetune as finetune_command
from wirelessdata.cli.models import probe as probe_command
from wirelessdata.cli.models import train as train_command
from wirelessdata.cli.tasks import task_app
from wirelessdata.errors import ConfigError, WirelessDataError
from wirelessdata.generators.bands import DEFAULT_BANDS

app = typer.Typer(
    name="wirelessdata",
    help="Build validated, catalogued pretraining corpora for wireless foundation models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# wide enough for shard paths when the output is a file or a pipe (rich's default there is 80 columns)
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"wirelessdata {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Build validated, catalogued pretraining corpora for wireless foundation models."""


@app.command()
def validate(
    paths: Annotated[list[str], typer.Argument(help="Shards, or directories holding *.zarr shards.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON report instead of a table.")] = False,
) -> None:
    """Check shards against the schema; exit 0 only when every rule passes for every shard."""
    from wirelessdata.shard.validate import validate_path

    reports = [r for p in paths for r in validate_path(p)]
    ok = all(r.ok for r in reports)
    if as_json:
        typer.echo(json.dumps({"ok": ok, "shards": [r.to_dict() for r in reports]}, indent=2))
    else:
        table = Table(title="wirelessdata validate")
        for col in ("shard", "samples", "status", "result"):
            table.add_column(col)
        for r in reports:
            table.add_row(
                r.shard,
                str(r.num_samples or "-"),
                str(r.status or "-"),
                "[green]PASS[/green]" if r.ok else f"[red]FAIL ({len(r.findings)})[/red]",
            )
        console.print(table)
        failures = [f for r in reports for f in r.findings]
        if failures:
            ft = Table(title="failures")
            for col in ("shard", "rule", "variable", "message"):
                ft.add_column(col, overflow="fold")
            for f in failures:
                ft.add_row(f.shard, f.rule, f.variable or "-", f.message)
            console.print(ft)
    if not ok:
        raise typer.Exit(1)


@app.command()
def examples(as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False) -> None:
    """The recipes, mixture specs and bench tracks that ship with wirelessdata, usable by name
    (``generate --recipe wifo``, ``mix build pretrain-small``, ``bench diversity``)."""
    from wirelessdata.shipped import KINDS, shipped, summary

    use = {"recipe": "generate --recipe {}", "mixture": "mix build {}", "track": "bench {}"}
    rows = [
        {"kind": kind, "name": name, "use": use[kind].format(name), "what": summary(path), "path": str(path)}
        for kind in KINDS
        for name, path in shipped(kind).items()
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        return
    table = Table(title="shipped with wirelessdata")
    for col in ("kind", "name", "use", "what"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["kind"], r["name"], f"wirelessdata {r['use']}", r["what"])
    console.print(table)


def _csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _renamed(old: str, old_value: Any, new: str, new_value: Any) -> Any:
    """The value of option ``new``, or of its old name ``old`` (with a warning on stderr); both: a ConfigError."""
    if old_value is None:
        return new_value
    if new_value is not None:
        raise ConfigError(f"{old} and {new} are one option ({old} is its old name); give {new} only")
    err_console.print(f"warning: {old} is now called {new}; the old name will go", markup=False)
    return old_value


def _pair(name: str, value: str | None) -> list[float] | None:
    if value is None:
        return None
    try:
        lo, hi = (float(v) for v in value.split(","))
    except ValueError:
        raise WirelessDataError(f"{name}: {value!r} is not 'MIN,MAX'") from None
    return [lo, hi]


@app.command()
def generate(
    bands: Annotated[
        str | None,
        typer.Option(help=f"Comma list of band presets, e.g. sub6,28GHz (default {','.join(DEFAULT_BANDS)})."),
    ] = None,
    scenario: Annotated[str | None, typer.Option(help="Comma list of UMa, UMi, RMa, InH (default UMa).")] = None,
    recipe: Annotated[Path | None, typer.Option(help="Recipe TOML, e.g. generators/wifo.toml.")] = None,
    generator: Annotated[
        str | None, typer.Option(help="tr38901 (statistical, default) or raytrace (Sionna RT).")
    ] = None,
    scene: Annotated[str | None, typer.Option(help="raytrace: built-in Sionna RT scene or a Mitsuba XML.")] = None,
    sensing: Annotated[str | None, typer.Option(help="raytrace: comma list of rgb, depth, lidar, radar.")] = None,
    radio_map: Annotated[
        bool,
        typer.Option(
            "--radio-map", help="raytrace: store per shard the BS's path-gain map with a height map and a top view."
        ),
    ] = False,
    scatterers: Annotated[
        bool,
        typer.Option(
            "--scatterers",
            help="raytrace: store per sample the traced paths' interaction points with their kind, path and bounce.",
        ),
    ] = False,
    out: Annotated[str, typer.Option(help="Dataset root (a folder or a Zarr store URL).")] = "wirelessdata-out",
    samples: Annotated[int | None, typer.Option(help="Drops per configuration (default 256).")] = None,
    scale: Annotated[
        float | None,
        typer.Option(
            help="Shrink the recipe's total size by this fraction, e.g. 0.001 (a [space] draws fewer configs)."
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Recipe seed (default 0).")] = None,
    block_size: Annotated[int | None, typer.Option(help="Drops per block (default 64); part of the recipe.")] = None,
    multiband: Annotated[
        str | None, typer.Option(help="correlated (TR 38.901 7.6.5, default for 2+ bands) or independent.")
    ] = None,
    los: Annotated[str | None, typer.Option(help="LoS policy: random, los or nlos.")] = None,
    time_steps: Annotated[int | None, typer.Option(help="Time steps (snapshots) T per drop (default 24).")] = None,
    snapshots: Annotated[int | None, typer.Option(hidden=True, help="Old name of --time-steps.")] = None,
    snapshot_interval: Annotated[float | None, typer.Option(help="Snapshot spacing, s (default 1e-3).")] = None,
    subcarriers: Annotated[int | None, typer.Option(help="Subcarriers K per band (default 64).")] = None,
    bs_array: Annotated[str | None, typer.Option(help="BS panel rows x columns, e.g. 4x8.")] = None,
    ue_antennas: Annotated[int | None, typer.Option(help="UE antennas (default 1).")] = None,
    speed_kmh: Annotated[str | None, typer.Option(help="UE speed range 'MIN,MAX' in km/h.")] = None,
    link: Annotated[str | None, typer.Option(help="downlink or uplink.")] = None,
    save_clusters: Annotated[
        bool, typer.Option("--save-clusters", help="Store per-drop cluster delays, powers and angles.")
    ] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace shards that exist with another recipe.")] = False,
    workers: Annotated[int, typer.Option(help="Local Dask worker processes (1: run in this process).")] = 1,
    scheduler: Annotated[
        str | None, typer.Option(help="Address of a Dask scheduler (tcp://host:8786) to run the blocks on.")
    ] = None,
) -> None:
    """Generate CSI shards: statistical TR 38.901 (Sionna) or ray traced (Sionna RT) with aligned sensing.

    One shard per (configuration, band); the bands of a configuration share their drops (sample_id).

    Without --recipe: one configuration per --scenario with the given --bands. With --recipe, every
    [[configs]] entry of the file; flags given here override the file for every configuration.
    A rerun of the same command resumes an interrupted run; each finished shard is validated.
    """
    import dataclasses

    from wirelessdata import plugins
    from wirelessdata.generate.plan import DropSetPlan
    from wirelessdata.generate.recipe import drop_sets, generator_name, load_recipe
    from wirelessdata.generate.run import executor, run_plans
    from wirelessdata.progress import progress_bars
    from wirelessdata.shard.store import check_writable

    spec = load_recipe(recipe) if recipe else {}
    if not recipe:
        spec = {"configs": [{"scenario": s} for s in _csv(scenario)] if scenario else [{}]}
        bands = bands or ",".join(DEFAULT_BANDS)
    overrides = {
        "samples": samples,
        "scale": scale,
        "seed": seed,
        "block_size": block_size,
        "bands": _csv(bands),
        "scenario": scenario if recipe else None,
        "multiband": multiband,
        "los_policy": los,
        "num_time_steps": _renamed("--snapshots", snapshots, "--time-steps", time_steps),
        "snapshot_interval_s": snapshot_interval,
        "num_subcarriers": subcarriers,
        "bs_array": bs_array,
        "num_ue_ant": ue_antennas,
        "speed_range_kmh": _pair("--speed-kmh", speed_kmh),
        "link": link,
        "save_clusters": save_clusters or None,
        "generator": generator,
        "scene": scene,
        "sensing": _csv(sensing),
        "radio_map": radio_map or None,
        "scatterers": scatterers or None,
    }
    overrides = {k: v for k, v in overrides.items() if v is not None}
    engine = plugins.load("generator", generator_name(spec, overrides))
    correlates = "multiband" in {f.name for f in dataclasses.fields(engine.Config)}
    if correlates and "bands" in overrides and len(overrides["bands"]) == 1 and "multiband" not in overrides:
        overrides["multiband"] = "independent"  # one band: nothing to correlate
    plans = [DropSetPlan(d, out) for d in drop_sets(spec, overrides)]
    check_writable(out)  # before a cluster is started for nothing

    with (
        executor(workers, scheduler) as client,
        progress_bars() as progress,
    ):
        tasks = {  # a plan's bar is shown from its first block on (several plans run at once on Dask)
            id(plan): progress.add_task(
                f"{plan.drops.name} [{','.join(plan.shards)}]", total=plan.num_blocks, visible=False
            )
            for plan in plans
        }
        results = run_plans(
            plans, overwrite, lambda plan, _b: progress.update(tasks[id(plan)], advance=1, visible=True), client
        )
    table = Table(title=f"wirelessdata generate -> {out}")
    for col in ("shard", "samples", "blocks written", "blocks kept", "checksum", "valid"):
        table.add_column(col)
    for r in results:
        table.add_row(
            r.url.rsplit("/", 1)[-1],
            str(r.num_samples),
            str(r.blocks_written),
            str(r.blocks_skipped),
            r.checksum[:12],
            "[green]yes[/green]" if r.report.ok else "[red]no[/red]",
        )
    console.print(table)
    bad = [f for r in results for f in r.report.findings]
    for f in bad:
        err_console.print(f"invalid: {f.shard}: {f.rule}: {f.message}", markup=False)
    if bad:
        failed = [r for r in results if not r.report.ok]
        if all(r.blocks_written == 0 for r in failed):  # finished by an earlier run: damaged since
            fix = (
                "their blocks were kept from an earlier run, so they were damaged since; restore them, or remove them "
                "and rerun the same command to generate them again (the other shards are kept)"
            )
        else:
            fix = "blocks written by this run do not validate; report it with the lines above"
        err_console.print(f"error: {len(failed)} shard(s) failed validation: {fix}", markup=False)
        raise typer.Exit(1)


@app.command()
def schema(
    markdown: Annotated[bool, typer.Option("--markdown", help="Render the schema reference page.")] = False,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to this file.")] = None,
) -> None:
    """Print the shard schema (JSON, or the Markdown reference page with --markdown)."""
    from wirelessdata.shard.schema import SCHEMA_FILE, render_markdown, schema_dir

    text = render_markdown() if markdown else (schema_dir() / SCHEMA_FILE).read_text()
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)


app.add_typer(catalog_app, name="catalog")
app.add_typer(mix_app, name="mix")
app.command("train")(train_command)
app.command("evaluate")(evaluate_command)
app.command("finetune")(finetune_command)
app.command("probe")(probe_command)
app.command("bench")(bench_command)
app.add_typer(import_app, name="import")
app.add_typer(curate_app, name="curate")
app.add_typer(export_app, name="export")
app.command("card")(card_command)
app.command("plot")(plot_command)
app.add_typer(task_app, name="task")


def _warning_line(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
    """Warnings as one line on stderr (``warning: ...``), e.g. an old option or field name."""
    err_console.print(f"warning: {message}", markup=False, highlight=False, soft_wrap=True)


def main() -> None:
    """Console entry point: run the app, turn errors and warnings into one line."""
    warnings.showwarning = _warning_line
    try:
        app()
    except WirelessDataError as exc:
        err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print(
            "error: interrupted; finished blocks are kept, rerun the same command to resume",
            markup=False,
            highlight=False,
        )
        sys.exit(130)
    except OSError as exc:
        if os.environ.get("WIRELESSDATA_DEBUG"):
            raise
        where = f" {exc.filename}" if exc.filename else ""
        err_console.print(f"error:{where}: {exc.strerror or exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except Exception as exc:  # last resort: one line, the traceback on request
        if os.environ.get("WIRELESSDATA_DEBUG"):
            raise
        err_console.print(
            f"error: internal {type(exc).__name__}: {exc} (rerun with WIRELESSDATA_DEBUG=1 for the traceback "
            "and report it)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(3)
