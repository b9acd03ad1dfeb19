"""Reading the TOML files users write (recipes, mixture specs, bench tracks): one answer to "missing or not TOML"."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from wirelessdata.errors import ConfigError
from wirelessdata.shipped import find, shipped


def read_toml(path: str | Path, what: str, examples: str, kind: str | None = None) -> dict[str, Any]:
    """The parsed TOML document at ``path``, or the shipped file of ``kind`` called ``path`` (``wifo``).

    :param what: what the file is, for the error (``recipe``, ``mixture spec``, ...).
    :param examples: where working examples are, for the error's fix (``see generators/ for examples``).
    :param kind: a kind of shipped file (:mod:`wirelessdata.shipped`) that ``path`` may name instead.
    :raises ConfigError: one line when the file is missing, not UTF-8 text or not valid TOML.
    """
    p = Path(path)
    if not p.is_file() and kind is not None and (found := find(kind, path)) is not None:
        p = found
    if not p.is_file():
        names = ", ".join(shipped(kind)) if kind else ""
        ships = f"; or a shipped one by name: {names} (wirelessdata examples)" if names else ""
        raise ConfigError(f"{what} {p}: no such file; {examples}{ships}")
    try:
        return tomllib.loads(p.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} {p}: not valid TOML ({exc})") from None
