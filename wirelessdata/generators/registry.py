"""Generators by name. A generator is a module with:

- ``GENERATOR``: its name, recorded in the shards;
- ``Config``: a frozen configuration class with ``from_dict(mapping)`` (rejecting unknown keys with a
  one-line :class:`~wirelessdata.errors.ConfigError`) and ``to_dict()``;
- ``shard_layouts(cfg) -> {shard key: {"attrs", "sizes", "coords"[, "modalities", "optional", "ragged"]}}``:
  one shard per key (a band), known before any sample is generated;
- ``generate_block(cfg, num_samples, seed) -> {shard key: {variable: array [n, ...]}}``: a pure function.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from wirelessdata.errors import ConfigError

MODULES = {
    "tr38901": "wirelessdata.generators.tr38901",
    "raytrace": "wirelessdata.generators.raytrace",
}


def generator(name: str) -> ModuleType:
    """The generator module called ``name``."""
    if name not in MODULES:
        raise ConfigError(f"generator: unknown generator {name!r}; allowed: {list(MODULES)}")
    try:
        return importlib.import_module(MODULES[name])
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"generator {name!r} is not available ({exc}); reinstall wirelessdata with its extras"
        ) from exc
