"""Reading the TOML files users write (recipes, mixture specs, bench tracks): one answer to "missing or not TOML"."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from wirelessdata.errors import ConfigError


def read_toml(path: str | Path, what: str, examples: str) -> dict[str, Any]:
    """The parsed TOML document at ``path``.

    :param what: what the file is, for the error (``recipe``, ``mixture spec``, ...).
    :param examples: where working examples are, for the error's fix (``see generators/ for examples``).
    :raises ConfigError: one line when the file is missing, not UTF-8 text or not valid TOML.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{what} {p}: no such file; {examples}")
    try:
        return tomllib.loads(p.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} {p}: not valid TOML ({exc})") from None
