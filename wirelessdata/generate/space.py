"""Recipes that sample a space of configurations instead of listing them (``[space]`` with ``configs = N``).

Every key of ``[space]`` is a configuration field (``scenario``, ``bands``, ``num_subcarriers``, ``bs_array``, ...)
with a distribution; ``[space.constraints]`` bounds what a drawn configuration may be::

    configs = 200                      # configurations drawn
    seed = 7

    [space]
    scenario = { choice = ["UMa", "UMi", "RMa", "InH"] }
    bands = { choice = [["1.5GHz"], ["3.5GHz"], ["sub6", "28GHz"]], weights = [1, 1, 2] }
    num_subcarriers = { choice = [32, 64, 128] }
    snapshot_interval_s = { loguniform = [5e-4, 2e-3] }
    num_ue_ant = { int = [1, 2] }
    los_policy = "random"              # a plain value is a constant

    [space.constraints]
    max_csi_points = 200_000           # T x K x N_bs x N_ue of one sample
    max_doppler_cycles = 0.5           # largest Doppler shift x snapshot interval

Distributions: ``choice`` (with optional ``weights``), ``uniform`` and ``loguniform`` over ``[low, high]``, ``int``
(uniform integers, both ends included); a value inside a choice, list or table may be a distribution itself, e.g. a
band whose carrier is drawn inside its 3GPP frequency range::

    bands = { choice = [[{ band = "sub6", carrier_frequency_hz = { loguniform = [0.7e9, 6e9] } }], ["28GHz"]] }

``samples`` in ``[space]`` (``int`` or ``choice`` of whole numbers) draws the drops of each configuration.

A draw the generator's configuration refuses (a carrier outside a scenario's validity, an InH indoor ratio below 1,
...) or that breaks a constraint is drawn again, so the drawn marginals are the declared ones conditioned on a valid
configuration; the draws are a pure function of the seed: the same recipe gives the same configurations and bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from wirelessdata.constants import SPEED_OF_LIGHT
from wirelessdata.errors import ConfigError

DISTRIBUTIONS = ("choice", "uniform", "loguniform", "int")
CONSTRAINTS = ("max_csi_points", "max_doppler_cycles")
TRIES_PER_CONFIG = 200
"""Draws tried per configuration before the space is called empty."""

Sampler = Callable[[np.random.Generator], Any]


def sampler(name: str, spec: Any) -> Sampler:
    """The sampler of parameter ``name``: a distribution table, or a plain value (a constant).

    Values inside a choice, a list or a table may be distributions themselves (a band drawn with its own carrier:
    ``{ band = "sub6", carrier_frequency_hz = { uniform = [2e9, 6e9] } }``); they are drawn after the value that
    holds them, so a space without them draws exactly as before.
    """
    if isinstance(spec, Mapping) and "." not in name and not set(spec) & {*DISTRIBUTIONS, "weights"}:
        raise ConfigError(f"space.{name}: {dict(spec)} is not one distribution; use one of {list(DISTRIBUTIONS)}")
    drawn = _template(name, spec)
    return drawn if drawn is not None else lambda rng: spec


def _template(name: str, spec: Any) -> Sampler | None:
    """The sampler of a value that may hold distributions (drawn depth first, in order); None when it holds none
    (a constant)."""
    if isinstance(spec, Mapping) and set(spec) & {*DISTRIBUTIONS, "weights"}:
        return _distribution(name, spec)
    if isinstance(spec, Mapping):
        parts = {key: _template(f"{name}.{key}", value) for key, value in spec.items()}
    elif isinstance(spec, list):
        parts = {i: _template(f"{name}[{i}]", value) for i, value in enumerate(spec)}
    else:
        return None
    if all(part is None for part in parts.values()):
        return None
    values = dict(spec.items()) if isinstance(spec, Mapping) else dict(enumerate(spec))

    def draw(rng: np.random.Generator) -> Any:
        out = {key: values[key] if part is None else part(rng) for key, part in parts.items()}
        return out if isinstance(spec, Mapping) else list(out.values())

    return draw


def _distribution(name: str, spec: Mapping[str, Any]) -> Sampler:
    kinds = [k for k in spec if k in DISTRIBUTIONS]
    extra = sorted(set(spec) - set(DISTRIBUTIONS) - {"weights"})
    if len(kinds) != 1 or extra:
        raise ConfigError(f"space.{name}: {dict(spec)} is not one distribution; use one of {list(DISTRIBUTIONS)}")
    kind, args = kinds[0], spec[kinds[0]]
    if kind == "choice":
        if not isinstance(args, list) or not args:
            raise ConfigError(f"space.{name}.choice: give a non-empty list of values")
        weights = np.asarray(spec.get("weights", [1.0] * len(args)), dtype=float)
        if weights.shape != (len(args),) or not np.all(np.isfinite(weights)) or weights.min() < 0 or weights.sum() <= 0:
            raise ConfigError(f"space.{name}.weights: give {len(args)} non-negative weights, not all 0")
        cdf = np.cumsum(weights / weights.sum())
        cdf /= cdf[-1]
        options = [_template(f"{name}.choice[{i}]", value) for i, value in enumerate(args)]

        def choose(rng: np.random.Generator) -> Any:
            # what rng.choice(len(args), p=p) draws (one uniform against the normalised cumulative weights),
            # without its per-call checks of p: they were most of the time of planning 10,000 configurations
            i = int(cdf.searchsorted(rng.random(), side="right"))
            return args[i] if options[i] is None else options[i](rng)

        return choose
    if "weights" in spec:
        raise ConfigError(f"space.{name}: weights go with choice only")
    if not (isinstance(args, list) and len(args) == 2 and all(_number(v) for v in args) and args[0] <= args[1]):
        raise ConfigError(f"space.{name}.{kind}: give [low, high] with low <= high")
    low, high = args
    if kind == "uniform":
        return lambda rng: float(rng.uniform(low, high))
    if kind == "loguniform":
        if low <= 0:
            raise ConfigError(f"space.{name}.loguniform: low must be > 0")
        return lambda rng: float(math.exp(rng.uniform(math.log(low), math.log(high))))
    if not all(float(v).is_integer() for v in args):
        raise ConfigError(f"space.{name}.int: give whole numbers")
    return lambda rng: int(rng.integers(int(low), int(high) + 1))


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def constraint_check(constraints: Mapping[str, Any]) -> Callable[[Any], str | None]:
    """A check of a drawn configuration (the generator's ``Config``) against ``constraints``: None when it passes,
    else why not. ``max_csi_points`` bounds T x K x N_bs x N_ue of one sample (the widest band's K);
    ``max_doppler_cycles`` bounds the largest speed x the highest carrier / c x the snapshot interval."""
    if unknown := sorted(set(constraints) - set(CONSTRAINTS)):
        raise ConfigError(f"space.constraints: unknown {unknown}; allowed: {list(CONSTRAINTS)}")
    for key, value in constraints.items():
        if not _number(value) or value <= 0:
            raise ConfigError(f"space.constraints.{key}: {value!r} is not a positive number")

    def check(config: Any) -> str | None:
        if "max_csi_points" in constraints:
            rows, cols = config.bs_array
            widest = max(b.num_subcarriers for b in config.bands)
            if config.num_time_steps * widest * rows * cols * config.num_ue_ant > constraints["max_csi_points"]:
                return f"more CSI points than max_csi_points {constraints['max_csi_points']}"
        if "max_doppler_cycles" in constraints:
            highest = max(b.carrier_frequency_hz for b in config.bands)
            cycles = max(config.speed_range_mps) * highest / SPEED_OF_LIGHT * config.snapshot_interval_s
            if cycles > constraints["max_doppler_cycles"]:
                return f"Doppler shift x snapshot interval above max_doppler_cycles {constraints['max_doppler_cycles']}"
        return None

    return check


def expand(
    space: Mapping[str, Any], count: int, seed: int, complete: Callable[[dict[str, Any]], Any]
) -> list[dict[str, Any]]:
    """``count`` configuration tables drawn from ``space`` with ``seed``, each accepted by the generator and the
    constraints.

    :param complete: a draw -> its configuration (the generator's ``Config``, with the recipe's defaults and the
        command line's flags around the draw), raising :class:`ConfigError` when the generator refuses it; the
        constraints are checked on what it returns.

    :returns: the tables, in draw order; each also carries ``name`` (``draw-00000``, ...).
    :raises ConfigError: an unknown distribution or constraint, or a space whose draws keep being refused (one
        line with the most frequent reason).
    """
    if not isinstance(space, Mapping) or not space:
        raise ConfigError("space: give a table of parameters with distributions ([space])")
    params = dict(space)
    constraints = params.pop("constraints", {})
    if not isinstance(constraints, Mapping):
        raise ConfigError("space.constraints: must be a table")
    samplers = {name: sampler(name, spec) for name, spec in sorted(params.items())}
    check = constraint_check(constraints)
    rng = np.random.default_rng([seed, 0x5ACE])
    tables: list[dict[str, Any]] = []
    refused: dict[str, int] = {}
    tries = 0
    while len(tables) < count:
        if tries >= TRIES_PER_CONFIG * count:
            reason, times = max(refused.items(), key=lambda kv: kv[1])
            raise ConfigError(
                f"space: {len(tables)} of {count} configurations after {tries} draws ({times} refused as: {reason}); "
                "widen the distributions or relax [space.constraints]"
            )
        tries += 1
        table = {name: draw(rng) for name, draw in samplers.items()}
        try:
            full = complete(table)  # the generator's own checks first: afterwards every value is one it knows
        except ConfigError as exc:
            why: str | None = str(exc)
        else:
            why = check(full)
        if why is not None:
            key = why.split(";")[0]
            refused[key] = refused.get(key, 0) + 1
            continue
        tables.append({"name": f"draw-{len(tables):05d}", **table})
    return tables
