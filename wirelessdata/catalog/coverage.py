"""``catalog coverage``: what a drawn corpus covers of its configuration space (recipes with ``[space]``).

Every drop set drawn from a space records the space and its draw in its recipe (``origin``); this module reads
them back from the catalog, one value per drop set and drawn parameter, and draws one panel per parameter: a
histogram for numbers (log-spaced for a ``loguniform`` one), counts for categories (lists and arrays as text).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wirelessdata.catalog.db import CatalogError
from wirelessdata.catalog.figure import pyplot, save
from wirelessdata.catalog.query import ls


def drawn(root: str, where: Sequence[str] = (), catalog: str | None = None) -> tuple[dict[str, Any], dict[str, list]]:
    """The space of the drawn drop sets under ``root`` and, per parameter, the value of every drop set.

    :returns: ``(space, values)``: the ``[space]`` table (constraints left out) and ``{parameter: [value per drop
        set]}``; a drop set at several bands counts once. When the bands draw their own carriers, ``values`` also
        holds ``carrier_frequency_hz``: per drop set, the list of its bands' carriers [Hz].
    :raises CatalogError: no drawn shard, or shards drawn from different spaces.
    """
    recipes: dict[str, dict[str, Any]] = {}
    carriers: dict[str, list[float]] = {}
    for row in ls(root, [*where, "status=complete"], catalog, columns=None):
        recipe = json.loads(row["recipe"]) if row.get("recipe") else {}
        if "origin" in recipe:
            recipes.setdefault(str(row["recipe_hash"]), recipe)
            carriers.setdefault(str(row["recipe_hash"]), []).append(float(row["carrier_frequency_hz"]))
    if not recipes:
        raise CatalogError(f"no shard under {root} was drawn from a [space]; generate a recipe with [space] first")
    spaces = {json.dumps(r["origin"]["space"], sort_keys=True) for r in recipes.values()}
    if len(spaces) > 1:
        raise CatalogError(f"the shards under {root} come from {len(spaces)} spaces; pick one with --where")
    space = {k: v for k, v in json.loads(spaces.pop()).items() if k != "constraints"}
    values = {name: [_value(name, r) for r in recipes.values()] for name in space}
    if "carrier_frequency_hz" in json.dumps(space.get("bands")):
        values["carrier_frequency_hz"] = [carriers[key] for key in recipes]
    return space, values


def _value(name: str, recipe: dict[str, Any]) -> Any:
    """A drawn parameter's value in a drop set's recipe (``samples`` from the recipe, ``num_subcarriers`` and
    ``bands`` read from its bands, the rest from its configuration)."""
    if name == "samples":
        return recipe["samples"]
    config = recipe["config"]
    bands = config.get("bands", [])
    if name == "bands":
        return "+".join(str(b.get("band")) for b in bands)
    if name == "num_subcarriers" and name not in config:
        return "+".join(str(b.get("num_subcarriers")) for b in bands)
    value = config.get(name)
    return "x".join(map(str, value)) if isinstance(value, list) and name == "bs_array" else value


def plot_coverage(
    root: str, output: str, where: Sequence[str] = (), catalog: str | None = None
) -> tuple[Path, dict[str, list]]:
    """Write the coverage figure of the drawn corpus under ``root`` (one panel per drawn parameter).

    :returns: the written file and the values per parameter.
    """
    space, values = drawn(root, where, catalog)
    plt = pyplot("catalog coverage")

    names = sorted(values)
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
    count = len(next(iter(values.values())))
    for ax, name in zip(axes.flat, names, strict=False):
        vals = values[name]
        spec = space.get(name)
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals)
        if name == "carrier_frequency_hz":  # derived from the drawn bands: every band's carrier, in GHz
            ghz = np.asarray([f for v in vals for f in v], dtype=float) / 1e9
            ax.hist(ghz, bins=np.geomspace(ghz.min(), ghz.max() * 1.001, 30))
            ax.set_xscale("log")
            ax.set_xlabel("GHz", fontsize=8)
        elif numeric and isinstance(spec, dict) and not {"choice"} & set(spec):
            data = np.asarray(vals, dtype=float)
            if "loguniform" in spec:
                ax.hist(data, bins=np.geomspace(data.min(), data.max(), 20))
                ax.set_xscale("log")
            else:
                ax.hist(data, bins=20)
        else:
            labels = [str(v) for v in vals]
            order = sorted(set(labels), key=lambda s: (len(s), s))
            ax.bar(range(len(order)), [labels.count(v) for v in order])
            ax.set_xticks(range(len(order)), order, rotation=30, fontsize=7)
        ax.set_title(name, fontsize=9)
    for ax in axes.flat[len(names) :]:
        ax.axis("off")
    fig.suptitle(f"{count} configurations drawn from the space of {root}", fontsize=10)
    return save(fig, output), values
