"""Recipes: TOML files (``generators/*.toml``) and CLI flags parsed once into typed drop sets.

A recipe file::

    generator = "tr38901"      # the engine: tr38901 (Sionna, statistical) or raytrace (Sionna RT)
    samples = 12000            # drops per configuration (every band of a drop is one sample of its shard)
    seed = 2025
    block_size = 64            # drops per block: the unit of work, of resume and of randomness

    [defaults]                 # fields applied to every configuration (the generator's Config fields)
    num_ue_ant = 1

    [[configs]]                # one drop set; one shard per band
    name = "wifo-d01"          # shard names: "<name>-<band>"
    tags = ["wifo", "train"]   # free labels, recorded in the shard attributes and the catalog
    scenario = "UMi"
    speed_range_kmh = [3, 50]  # or speed_range_mps
    ...

Unknown keys are refused with the list of valid ones. CLI flags override the top-level values and
the defaults of every configuration.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wirelessdata import plugins
from wirelessdata.errors import ConfigError
from wirelessdata.generate.planting import PlantSpec, parse_plant
from wirelessdata.generate.space import expand
from wirelessdata.tomlfile import read_toml

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
"""A name used as one path component (a drop set's shard prefix, a bench mixture): never a separator or ``..``."""
TOP_KEYS = ("generator", "samples", "seed", "block_size", "defaults", "configs", "space")
CONFIG_EXTRA_KEYS = ("name", "tags", "speed_range_kmh")
DEFAULT_SAMPLES = 256
DEFAULT_BLOCK_SIZE = 64
DEFAULT_GENERATOR = "tr38901"


@dataclass(frozen=True)
class DropSet:
    """One configuration of a recipe: drops evaluated at each of its bands, one shard per band.

    :param name: prefix of the shard names, ``<name>-<band>``.
    :param generator: the generator's name (a plug-in of :mod:`wirelessdata.plugins`).
    :param config: the generator configuration (its ``Config``).
    :param num_samples: drops.
    :param seed: recipe seed.
    :param block_size: drops per block.
    :param tags: free labels recorded in the shard attributes.
    :param plant: defects planted into every block (:mod:`wirelessdata.generate.planting`; None: none).
    :param origin: for a configuration drawn from a recipe's ``[space]``: the space, the number of configurations,
        the seed and the draw's index (recorded in the recipe; None for a listed configuration).
    """

    name: str
    generator: str
    config: Any
    num_samples: int
    seed: int
    block_size: int
    tags: tuple[str, ...] = ()
    plant: PlantSpec | None = None
    origin: Mapping[str, Any] | None = None

    def recipe(self) -> dict[str, Any]:
        """The full recipe of the drop set as plain JSON-able data (hashed into ``recipe_hash``)."""
        planted = {} if self.plant is None else {"plant": self.plant.to_dict()}
        drawn = {} if self.origin is None else {"origin": dict(self.origin)}
        return {
            "generator": self.generator,
            "name": self.name,
            "samples": self.num_samples,
            "seed": self.seed,
            "block_size": self.block_size,
            "tags": list(self.tags),
            "config": self.config.to_dict(),
            **planted,
            **drawn,
        }


def _int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name}: {value!r} is not an integer >= {minimum}")
    return value


def _config(name: str, generator_name: str, fields: Mapping[str, Any]) -> Any:
    fields = dict(fields)
    if "speed_range_kmh" in fields:
        if "speed_range_mps" in fields:
            raise ConfigError(f"{name}: give speed_range_kmh or speed_range_mps, not both")
        kmh = fields.pop("speed_range_kmh")
        if not isinstance(kmh, list | tuple) or len(kmh) != 2:
            raise ConfigError(f"{name}.speed_range_kmh: {kmh!r} is not a pair [min, max]")
        fields["speed_range_mps"] = [float(v) / 3.6 for v in kmh]
    try:
        return plugins.load("generator", generator_name).Config.from_dict(fields)
    except ConfigError as exc:
        raise ConfigError(f"{name}: {exc}") from exc
    except TypeError as exc:  # a wrongly typed value that from_dict did not catch
        raise ConfigError(f"{name}: {exc}") from exc


def generator_name(recipe: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> str:
    """The generator of ``recipe`` (or of ``overrides``, the command line's), checked against the registry.

    :raises ConfigError: Not the name of an installed generator
    """
    gen = (overrides or {}).get("generator") or recipe.get("generator", DEFAULT_GENERATOR)
    if not isinstance(gen, str) or gen not in plugins.names("generator"):
        raise ConfigError(f"recipe.generator: unknown generator {gen!r}; allowed: {plugins.names('generator')}")
    return gen


def drop_sets(recipe: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> list[DropSet]:
    """Parse a recipe mapping into drop sets.

    :param recipe: the parsed TOML (or an empty mapping for the flags-only default corpus).
    :param overrides: top-level keys (``samples``, ``seed``, ``block_size``) and configuration fields
        from the command line; they replace the recipe's values.
    """
    overrides = dict(overrides or {})
    unknown = sorted(set(recipe) - set(TOP_KEYS))
    if unknown:
        raise ConfigError(f"recipe: unknown key(s) {unknown}; valid keys: {list(TOP_KEYS)}")
    gen = generator_name(recipe, overrides)
    overrides.pop("generator", None)
    scale = overrides.pop("scale", None)
    space = recipe.get("space")
    drawn_samples = isinstance(space, Mapping) and "samples" in space and "samples" not in overrides
    if drawn_samples and recipe.get("samples") is not None:
        raise ConfigError("samples: given at the top and in [space]; keep one (a number, or a distribution in [space])")
    if drawn_samples and not _whole_numbers(space["samples"]):
        raise ConfigError("space.samples: draw whole numbers >= 1 (int = [low, high], or choice of integers)")
    top = {k: overrides.pop(k) if k in overrides else recipe.get(k) for k in ("samples", "seed", "block_size")}
    samples = _int("samples", top["samples"] if top["samples"] is not None else DEFAULT_SAMPLES, 1)
    configs_given = recipe.get("configs")
    drawn_count = configs_given if space is not None and isinstance(configs_given, int) else None

    def scaled(count: int) -> int:
        return count if scale is None else scaled_samples(count, _scale(scale), drawn_count)

    seed = _int("seed", top["seed"] if top["seed"] is not None else 0, 0)
    block_size = _int("block_size", top["block_size"] or DEFAULT_BLOCK_SIZE, 1)
    defaults = recipe.get("defaults", {})
    if not isinstance(defaults, Mapping):
        raise ConfigError("recipe.defaults: must be a table of configuration fields")
    configs = recipe.get("configs") or [{}]
    origins: list[dict[str, Any] | None] = []
    if space is not None:
        if isinstance(configs, bool) or not isinstance(configs, int) or configs < 1:
            raise ConfigError("recipe.configs: with [space], the number of configurations to draw (an integer >= 1)")
        count = configs if scale is None else scaled_configs(configs, _scale(scale))

        def complete(table: dict[str, Any]) -> Any:  # the generator's own check refuses a draw
            fields = {k: v for k, v in {**defaults, **table, **overrides}.items() if k != "samples"}
            return _config("space", gen, fields)

        configs = expand(space, count, seed, complete)
        origins = [{"space": space, "configs": count, "seed": seed, "draw": i} for i in range(count)]
    if not isinstance(configs, list):
        raise ConfigError("recipe.configs: must be an array of tables ([[configs]]), or a count with [space]")
    sets, names = [], set()
    for i, entry in enumerate(configs):
        fields = {**defaults, **entry, **overrides}
        given_name = str(fields.pop("name", "") or "")
        tags = fields.pop("tags", [])
        plant = fields.pop("plant", None)
        drawn = fields.pop("samples", None) if space is not None else None  # --samples overrides a drawn count
        count = scaled(drawn if drawn_samples else samples)
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ConfigError(f"configs[{i}].tags: must be a list of strings")
        config = _config(f"configs[{i}] ({given_name or gen})", gen, fields)
        name = given_name or _default_name(gen, config)
        if not SAFE_NAME.fullmatch(name):
            raise ConfigError(
                f"configs[{i}].name: {name!r} is not a shard name; use letters, digits, '.', '_' and '-' "
                "(no path separators: shards are written inside --out)"
            )
        if name in names:
            raise ConfigError(f"configs[{i}].name: {name!r} is used twice; shard names must be unique")
        names.add(name)
        planted = None if plant is None else parse_plant(f"configs[{i}].plant", plant)
        origin = origins[i] if origins else None
        sets.append(DropSet(name, gen, config, count, seed, block_size, tuple(tags), planted, origin))
    return sets


def _whole_numbers(spec: Any) -> bool:
    """True when a ``[space]`` entry can only draw integers >= 1 (a constant, ``int`` or ``choice`` of them)."""
    if isinstance(spec, Mapping):
        values = spec.get("choice", spec.get("int"))
        known = set(spec) <= {"choice", "int", "weights"}
        return known and isinstance(values, list) and all(_whole_numbers(v) for v in values)
    return isinstance(spec, int) and not isinstance(spec, bool) and spec >= 1


def _scale(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ConfigError(f"--scale {value!r}: give a fraction in (0, 1], e.g. 0.001")
    return float(value)


def scaled_configs(configs: int, scale: float) -> int:
    """Configurations drawn at ``scale``: ``configs x sqrt(scale)`` (at least 1), the first ones of the full space."""
    return max(1, round(configs * math.sqrt(scale)))


def scaled_samples(samples: int, scale: float, configs: int | None) -> int:
    """Samples per configuration at ``scale``: the total shrinks by ``scale`` (at least 1 sample each).

    :param configs: the full space's configuration count, when the configurations are drawn (they shrink by
        ``sqrt(scale)``, :func:`scaled_configs`, and the samples by the rest); None for listed configurations.
    """
    share = scale if configs is None else scale * configs / scaled_configs(configs, scale)
    return max(1, round(samples * share))


def _default_name(gen: str, config: Any) -> str:
    """``<generator>-<scenario or scene>`` in lower case, e.g. ``tr38901-uma``, ``raytrace-simple_street_canyon``."""
    where = getattr(config, "scenario", None) or Path(str(getattr(config, "scene", "") or "default")).stem
    return f"{gen}-{where}".lower()


def load_recipe(path: str | Path) -> dict[str, Any]:
    """Read a recipe TOML file; a one-line error when it is missing or malformed."""
    return read_toml(path, "recipe", "see generators/ for examples", "recipe")
