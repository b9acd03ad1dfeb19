"""``wirelessdata task ...``: list the task views, show a definition, score the classical baselines.

Library imports happen inside the commands, so registering this sub-app costs the main CLI nothing.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

task_app = typer.Typer(name="task", help="Task views: downstream tasks as reproducible views over shards.")
console = Console(width=None if sys.stdout.isatty() else 160)

Settings = Annotated[
    list[str] | None,
    typer.Option(
        "--set", "-s", help="Task parameter or impairment KEY=VALUE, repeatable: pilots=4x12, snr_db=10, cfo_hz=-50:50"
    ),
]


def parse_settings(items: list[str] | None) -> dict[str, Any]:
    """``["k=v", ...]`` -> ``{k: v}`` (values stay strings; the task parses them)."""
    from wirelessdata.errors import ConfigError

    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: want KEY=VALUE, e.g. snr_db=10")
        out[key.strip()] = value.strip()
    return out


@task_app.command("list")
def list_tasks(as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False) -> None:
    """The tasks: input, target, metric, baselines and parameters (with defaults)."""
    from wirelessdata.tasks.registry import TASKS

    rows = [
        {
            "task": t.name,
            "summary": t.summary,
            "input": t.input_desc,
            "target": t.target_desc,
            "metric": t.metric,
            "metric_definition": t.metric_desc,
            "baselines": t.baseline_desc,
            "params": {k: p.default for k, p in t.params.items()},
        }
        for t in TASKS.values()
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        return
    table = Table(title="wirelessdata tasks")
    for col in ("task", "summary", "metric", "baselines", "params"):
        table.add_column(col)
    for r in rows:
        params = ", ".join(f"{k}={v}" for k, v in r["params"].items()) or "-"
        table.add_row(r["task"], r["summary"], r["metric"], r["baselines"], params)
    console.print(table)


@task_app.command()
def show(
    name: Annotated[str, typer.Argument(help="Task name (wirelessdata task list).")],
    settings: Settings = None,
    seed: Annotated[int, typer.Option(help="Seed of the impairment draws.")] = 0,
) -> None:
    """Print a task's definition (JSON) with the given parameters and impairments."""
    from wirelessdata.tasks.impairments import IMPAIRMENTS
    from wirelessdata.tasks.registry import get, task_class

    task = get(name, seed=seed, **parse_settings(settings))
    cls = task_class(name)
    doc = task.definition() | {
        "summary": cls.summary,
        "metric_definition": cls.metric_desc,
        "baselines": cls.baseline_desc,
        "parameters": {k: p.help for k, p in cls.params.items()},
        "impairment_settings": {k: f"{desc} ({unit})" for k, (unit, desc) in IMPAIRMENTS.items()},
    }
    typer.echo(json.dumps(doc, indent=1))


@task_app.command()
def baseline(
    name: Annotated[str, typer.Argument(help="Task name (wirelessdata task list).")],
    source: Annotated[list[str], typer.Argument(help="Shards, directories of shards, or one manifest JSON.")],
    settings: Settings = None,
    seed: Annotated[int, typer.Option(help="Seed of the impairment draws and of the train/test split.")] = 0,
    test_split: Annotated[str | None, typer.Option(help="Split scored (default test; val for a manifest).")] = None,
    batch_size: Annotated[int, typer.Option(help="Samples per batch.")] = 64,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (with the definition), not a table.")] = False,
) -> None:
    """Score the task's classical baselines (fitted on the train split where they need fitting)."""
    from wirelessdata.tasks.evaluation import run_baselines
    from wirelessdata.tasks.registry import get

    task = get(name, seed=seed, **parse_settings(settings))
    src: Any = source[0] if len(source) == 1 else source
    result = run_baselines(task, src, test_split=test_split, batch_size=batch_size)
    if as_json:
        typer.echo(json.dumps(result, indent=1))
        return
    d = result["definition"]
    title = f"{name}  params {d['params'] or '-'}  impairments {d['impairments'] or 'none'}  seed {d['seed']}"
    table = Table(title=title)
    metrics = sorted({k for r in result["baselines"].values() for k in r if k != "samples"})
    for col in ("baseline", "samples", *metrics):
        table.add_column(col)
    for bname, r in result["baselines"].items():
        table.add_row(bname, str(r["samples"]), *(f"{r[m]:.4g}" for m in metrics))
    console.print(table)
