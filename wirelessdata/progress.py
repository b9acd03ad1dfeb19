"""Progress bars of the long commands: on standard error, drawn on a terminal or with WIRELESSDATA_PROGRESS=1."""

from __future__ import annotations

import os

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


def progress_bars() -> Progress:
    """A rich ``Progress`` (description, bar, done/total, time left) on standard error."""
    console = Console(stderr=True)
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal and not os.environ.get("WIRELESSDATA_PROGRESS"),
    )
