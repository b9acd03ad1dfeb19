"""``wirelessdata import ...``: DeepSense 6G and DeepMIMO v4 folders into validated shards, with a defect report.

Register with ``app.add_typer(import_app, name="import")``. Progress bars go to stderr (on a terminal, or
with ``WIRELESSDATA_PROGRESS=1``); the result and the defect report are rich tables, or JSON with
``--json``. Bad input raises one-line :class:`~wirelessdata.errors.WirelessDataError` messages (the main
CLI prints ``error: ...``, exit 2); a shard that fails validation exits 1.
"""

from __future__ import annotations

import json
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from wirelessdata import plugins
from wirelessdata.errors import ConfigError

if TYPE_CHECKING:
    from wirelessdata.importers.common import ImportResult, Progress

import_app = typer.Typer(
    name="import",
    help="Import third-party datasets (DeepSense 6G, DeepMIMO v4) into validated shards, reporting every defect.",
    no_args_is_help=True,
)
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

MAX_DEFECT_ROWS = 100
"""Defects listed in the table; ``--json`` lists all."""

Out = Annotated[
    str, typer.Option("--out", help="Dataset root (a folder); the shard is ROOT/<importer>-<scenario>.zarr.")
]
Strict = Annotated[bool, typer.Option("--strict", help="Fail on any defect, before writing anything.")]
Overwrite = Annotated[bool, typer.Option(help="Replace a shard of the same name imported with other options.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result and every defect as JSON.")]


def _pair(flag: str, value: str) -> tuple[int, int]:
    try:
        a, b = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise ConfigError(f"{flag} {value!r}: want AxB with whole numbers, e.g. 1x8") from None
    return a, b


@contextmanager
def _progress(label: str) -> Iterator[Progress]:
    """A rich progress display with one bar per stage (``scan``, ``write``); yields the callback."""
    from wirelessdata.progress import progress_bars

    with progress_bars() as bars:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                unit = "rows" if stage == "scan" else "blocks"
                tasks[stage] = bars.add_task(f"{label} {stage} ({unit})", total=total)
            bars.update(tasks[stage], completed=done, total=total)

        yield update


def _report(result: ImportResult, as_json: bool) -> None:
    """Print the result and the defects; exit 1 when the shard fails validation."""
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        table = Table(title="wirelessdata import")
        for col in ("shard", "rows", "imported", "flagged", "skipped", "blocks written", "blocks kept", "valid"):
            table.add_column(col)
        table.add_row(
            escape(result.url),
            str(result.rows_total),
            str(result.num_samples),
            str(result.rows_flagged),
            str(result.rows_total - result.num_samples),
            str(result.blocks_written),
            str(result.blocks_skipped),
            "[green]yes[/green]" if result.report.ok else "[red]no[/red]",
        )
        console.print(table)
        if result.defects:
            dt = Table(title=f"defects ({len(result.defects)})")
            for col in ("row", "source", "defect", "action", "detail"):
                dt.add_column(col, overflow="fold")
            for d in result.defects[:MAX_DEFECT_ROWS]:
                cells = ("-" if d.row is None else str(d.row), d.source, d.code, d.action, d.detail)
                dt.add_row(*(escape(c) for c in cells))
            console.print(dt)
            if len(result.defects) > MAX_DEFECT_ROWS:
                console.print(f"{len(result.defects) - MAX_DEFECT_ROWS} more defects: see --json")
    for f in result.report.findings:
        err_console.print(f"invalid: {f.shard}: {f.rule}: {f.message}", markup=False)
    if not result.report.ok:
        raise typer.Exit(1)


@import_app.command()
def deepsense(
    path: Annotated[Path, typer.Argument(help="DeepSense 6G scenario folder (holding scenarioN.csv, unit1/, unit2/).")],
    out: Out,
    strict: Strict = False,
    overwrite: Overwrite = False,
    rgb_size: Annotated[
        str | None, typer.Option(help="Resize every image to WIDTHxHEIGHT, e.g. 480x270 (default: native size).")
    ] = None,
    date: Annotated[str | None, typer.Option(help="Recording date YYYY-MM-DD, for timestamps without one.")] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA time zone of the timestamps, e.g. America/Phoenix, when not UTC.")
    ] = None,
    block_size: Annotated[int, typer.Option(help="Rows per block (the resume unit).")] = 32,
    as_json: AsJson = False,
) -> None:
    """Import a DeepSense 6G scenario: beam power, camera, LiDAR, radar and GPS; every bad row reported."""
    from wirelessdata.importers.deepsense import DeepSenseOptions, import_deepsense

    options = DeepSenseOptions(
        rgb_size=_pair("--rgb-size", rgb_size) if rgb_size else None,
        date=date,
        timezone=timezone,
        block_size=block_size,
    )
    with _progress(path.name) as progress:
        result = import_deepsense(path, out, strict, options, overwrite, progress)
    _report(result, as_json)


@import_app.command()
def deepmimo(
    path: Annotated[Path, typer.Argument(help="DeepMIMO v4 scenario folder (params.json and *.npz matrices).")],
    out: Out,
    strict: Strict = False,
    overwrite: Overwrite = False,
    bs_array: Annotated[str, typer.Option(help="BS panel rows x columns (vertical x horizontal elements).")] = "1x8",
    ue_array: Annotated[str, typer.Option(help="UE panel rows x columns.")] = "1x1",
    spacing: Annotated[float, typer.Option(help="Element spacing, wavelengths.")] = 0.5,
    subcarriers: Annotated[int, typer.Option(help="Subcarriers K.")] = 64,
    subcarrier_spacing: Annotated[float, typer.Option(help="Subcarrier spacing, Hz (bandwidth = K x spacing).")] = 30e3,
    block_size: Annotated[int, typer.Option(help="Receivers per block (the resume unit).")] = 256,
    as_json: AsJson = False,
) -> None:
    """Import a DeepMIMO v4 scenario: CSI for the chosen arrays and numerology; receivers without paths reported."""
    from wirelessdata.importers.deepmimo import ChannelConfig, import_deepmimo

    config = ChannelConfig(
        bs_array=_pair("--bs-array", bs_array),
        ue_array=_pair("--ue-array", ue_array),
        spacing=spacing,
        num_subcarriers=subcarriers,
        subcarrier_spacing_hz=subcarrier_spacing,
        block_size=block_size,
    )
    with _progress(path.name) as progress:
        result = import_deepmimo(path, out, strict, config, overwrite, progress)
    _report(result, as_json)


def _option_value(text: str) -> Any:
    """A ``--option`` value as TOML reads it (numbers, booleans, arrays), else the string itself."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _plugin_command(name: str) -> None:
    """Register ``wirelessdata import NAME`` for an importer installed as a plug-in (:mod:`wirelessdata.plugins`)."""

    def command(
        path: Annotated[Path, typer.Argument(help="The source folder.")],
        out: Out,
        strict: Strict = False,
        overwrite: Overwrite = False,
        option: Annotated[
            list[str] | None, typer.Option("--option", help="An importer option KEY=VALUE (repeatable).")
        ] = None,
        as_json: AsJson = False,
    ) -> None:
        from wirelessdata.importers.common import run_import
        from wirelessdata.source.contract import config_from_dict

        importer = plugins.load("importer", name)
        pairs = [o.split("=", 1) for o in option or []]
        if bad := [o for o, p in zip(option or [], pairs, strict=True) if len(p) != 2]:
            raise ConfigError(f"--option {bad[0]!r}: want KEY=VALUE, e.g. block_size=64")
        options = config_from_dict(importer.Options, {k.strip(): _option_value(v.strip()) for k, v in pairs}, name)
        with _progress(path.name) as progress:
            result = run_import(importer, path, out, options, strict, overwrite, progress)
        _report(result, as_json)

    command.__doc__ = f"Import with the plug-in importer {name!r}; its options as --option KEY=VALUE."
    import_app.command(name)(command)


_OWN = {c.name or c.callback.__name__ for c in import_app.registered_commands if c.callback is not None}
"""wirelessdata's own importers: commands with typed options, above."""
for _name in plugins.names("importer"):
    if _name not in _OWN:
        _plugin_command(_name)
