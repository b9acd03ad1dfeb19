"""``catalog plot``: the summed histogram of one metric per group, overlaid (matplotlib, Agg backend)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wirelessdata.catalog.aggregate import check_metrics, group_stats
from wirelessdata.catalog.db import CatalogError
from wirelessdata.shard.stats import METRIC_BY_NAME, Edges


def plot(
    root: str,
    metric: str,
    output: str,
    by: Sequence[str] = (),
    where: Sequence[str] = (),
    catalog: str | None = None,
) -> Path:
    """Write a figure of ``metric``'s distribution per group of ``by`` (fraction of samples per bin).

    :param output: image file; the format follows its suffix (``.png``, ``.pdf``, ``.svg``).
    :returns: the written file.
    """
    check_metrics([metric])
    plt = pyplot("catalog plot")
    groups = [g for g in group_stats(root, by, where, [metric], catalog) if metric in g["metrics"]]
    if not groups:
        raise CatalogError(f"no complete shard under {root} matching the filters has {metric} values; nothing to plot")
    spec = METRIC_BY_NAME[metric]
    fig, ax = plt.subplots(figsize=(7, 4))
    for g in groups:
        s = g["metrics"][metric]
        hist = np.asarray(s["hist"], dtype=np.float64)
        label = ", ".join(f"{k}={v}" for k, v in g["group"].items()) or "all"
        outside = s["underflow"] + s["overflow"]
        note = f", {outside} outside the axis" if outside else ""
        ax.stairs(hist / s["count"], Edges(**s["edges"]).array(), label=f"{label} ({s['count']} samples{note})")
    if spec.edges.scale == "log":
        ax.set_xscale("log")
    ax.set_xlabel(f"{metric} ({spec.units})")
    ax.set_ylabel("fraction of samples per bin")
    ax.set_title(f"{metric} by {', '.join(by)}" if by else metric)
    ax.legend(fontsize=8)
    return save(fig, output)


def pyplot(command: str) -> Any:
    """``matplotlib.pyplot`` on the Agg backend; a one-line error naming ``command`` when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise CatalogError(f"{command} needs matplotlib: pip install 'wirelessdata[all]'") from exc
    return plt


def save(fig: Any, output: str) -> Path:
    """Lay out and write ``fig`` to ``output`` (format from its suffix), then close it; one-line error on failure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = Path(output)
    try:
        fig.savefig(path)
    except (OSError, ValueError) as exc:
        raise CatalogError(f"cannot write {output}: {exc}") from exc
    finally:
        plt.close(fig)
    return path
