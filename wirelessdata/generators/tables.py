"""Parameter tables of the generators: TOML files shipped next to this module (data, not code).

``bands.toml`` holds the band presets and the default bands (:mod:`wirelessdata.generators.bands`),
``scenarios.toml`` the TR 38.901 scenario defaults (:mod:`wirelessdata.generators.tr38901_config`).
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any


@cache
def load_table(name: str) -> dict[str, Any]:
    """Parsed TOML file ``name`` (e.g. ``"bands.toml"``) of this package, read once per process.

    The result is shared between callers: read it, do not modify it.
    """
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    return tomllib.loads(text)
