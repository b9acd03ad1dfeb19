"""Write docs/cli/: one Markdown page per `wirelessdata` command and subcommand, from its --help, plus an index.

Run: .venv/bin/python docs/make_cli_pages.py            (rewrites docs/cli/)
     .venv/bin/python docs/make_cli_pages.py --check    (exit 1 listing the pages that are out of date)

The help is click's plain text (Typer's rich boxes off, 100 columns), so the pages do not depend on the terminal.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.update(TYPER_USE_RICH="0", NO_COLOR="1", TERM="dumb", COLUMNS="100")  # before typer is imported

from typing import Any  # noqa: E402

import typer  # noqa: E402

from wirelessdata.cli import app  # noqa: E402

HERE = Path(__file__).resolve().parent
CLI_DIR = HERE / "cli"
WIDTH = 100


def _page_name(path: list[str]) -> str:
    return "-".join(path[1:]) + ".md"


def _walk(cmd: Any, path: list[str], parent: Any, out: list) -> None:
    """Collect ``(path, command, context)`` of ``cmd`` and its subcommands (Typer ships its own click)."""
    ctx = cmd.context_class(cmd, info_name=path[-1], parent=parent, terminal_width=WIDTH, max_content_width=WIDTH)
    out.append((path, cmd, ctx))
    if hasattr(cmd, "list_commands"):
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                _walk(sub, [*path, name], ctx, out)


def pages() -> dict[str, str]:
    """File name in docs/cli/ → Markdown text, for every command, subcommand and the index."""
    commands: list = []
    _walk(typer.main.get_command(app), ["wirelessdata"], None, commands)
    out: dict[str, str] = {}
    index = [
        "# Command reference",
        "",
        "Generated from `--help` by `docs/make_cli_pages.py`; do not edit by hand.",
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    (_, root, root_ctx), subcommands = commands[0], commands[1:]
    for path, cmd, ctx in subcommands:
        full = " ".join(path)
        text = cmd.get_help(ctx).rstrip()
        summary = cmd.get_short_help_str(limit=90)
        index.append(f"| [`{full}`]({_page_name(path)}) | {summary} |")
        lines = [
            f"# `{full}`",
            "",
            f"Generated from `{full} --help` by `docs/make_cli_pages.py`; do not edit by hand. "
            "[All commands](index.md).",
            "",
            "```text",
            text,
            "```",
        ]
        if hasattr(cmd, "list_commands"):
            subs = [p for p, _, _ in commands if len(p) == len(path) + 1 and p[: len(path)] == path]
            lines += ["", "Subcommands: " + ", ".join(f"[`{p[-1]}`]({_page_name(p)})" for p in subs) + "."]
        out[_page_name(path)] = "\n".join(lines) + "\n"
    index += ["", "## `wirelessdata`", "", "```text", root.get_help(root_ctx).rstrip(), "```"]
    out["index.md"] = "\n".join(index) + "\n"
    return out


def main() -> int:
    wanted = pages()
    if "--check" in sys.argv[1:]:
        present = {p.name for p in CLI_DIR.glob("*.md")} if CLI_DIR.is_dir() else set()
        stale = sorted(
            n for n, text in wanted.items() if not (CLI_DIR / n).is_file() or (CLI_DIR / n).read_text() != text
        )
        stale += sorted(present - set(wanted))
        if stale:
            print(f"docs/cli is out of date ({', '.join(stale)}); run: .venv/bin/python docs/make_cli_pages.py")
            return 1
        return 0
    CLI_DIR.mkdir(exist_ok=True)
    for old in CLI_DIR.glob("*.md"):
        if old.name not in wanted:
            old.unlink()
    for name, text in wanted.items():
        (CLI_DIR / name).write_text(text)
    print(f"wrote {len(wanted)} pages to {CLI_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
