"""The ``wirelessdata`` command: a thin layer over the library.

Errors reach the user as one line, ``error: <what> ; <fix>``, with a non-zero exit and no traceback
(``WIRELESSDATA_DEBUG=1`` shows the traceback of an unexpected error).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from wirelessdata import __version__
from wirelessdata.errors import WirelessDataError

app = typer.Typer(
    name="wirelessdata",
    help="Build validated, catalogued pretraining corpora for wireless foundation models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)


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
    from wirelessdata.validate import validate_path

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
def schema(
    markdown: Annotated[bool, typer.Option("--markdown", help="Render the schema reference page.")] = False,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to this file.")] = None,
) -> None:
    """Print the shard schema (JSON, or the Markdown reference page with --markdown)."""
    from wirelessdata.schema import SCHEMA_FILE, render_markdown, schema_dir

    text = render_markdown() if markdown else (schema_dir() / SCHEMA_FILE).read_text()
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)


def main() -> None:
    """Console entry point: run the app, turn errors into one line."""
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


if __name__ == "__main__":
    main()
