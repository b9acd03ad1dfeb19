"""The figure of ``curate compare``: feature histograms of A and B, and a heat map of shard-to-shard distances."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from wirelessdata.curate.distance import FEATURES, Comparison, distance_matrix
from wirelessdata.errors import WirelessDataError


def plot_comparison(
    side_a: Mapping[str, np.ndarray],
    side_b: Mapping[str, np.ndarray],
    result: Comparison,
    path: str | Path,
    embeddings: tuple[Mapping[str, np.ndarray], Mapping[str, np.ndarray]] | None = None,
) -> Path:
    """Draw the comparison of two sides into ``path`` (PNG, PDF or SVG, by suffix).

    Top: one histogram per compared feature, A against B. Bottom: Fréchet distance between every two shards
    of A and B (standardised features), so the closest shards can be read off; with ``embeddings``, a second
    heat map of the Fréchet distances of the encoder embeddings.

    :param side_a: features [m, F] of each shard of A, by label.
    :param side_b: features of each shard of B, by label.
    :param result: their :class:`~wirelessdata.curate.distance.Comparison`.
    :param embeddings: embeddings [m, D] of each shard of A and of B, by label.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise WirelessDataError("the figure needs matplotlib; install wirelessdata[all] or drop -o") from exc
    labels = [f"A:{k}" for k in side_a] + [f"B:{k}" for k in side_b]
    maps = {"Fréchet distance (standardised features)": distance_matrix([*side_a.values(), *side_b.values()])}
    if embeddings is not None:
        sets = [*embeddings[0].values(), *embeddings[1].values()]
        maps[f"Fréchet distance ({result.embedding_dim}-dim embeddings)"] = distance_matrix(sets, standardise=False)
    cols = [next(i for i, f in enumerate(FEATURES) if f.name == name) for name in result.features]
    width = max(3.2 * len(cols), (0.3 * len(labels) + 3) * len(maps))
    fig = plt.figure(figsize=(width, 3.2 + 0.35 * len(labels) + 2), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1, 0.35 + 0.12 * len(labels)])  # separate layouts
    pooled_a, pooled_b = np.concatenate(list(side_a.values())), np.concatenate(list(side_b.values()))
    for ax, c in zip(np.atleast_1d(top.subplots(1, len(cols))), cols, strict=True):
        values = [x[:, c][np.isfinite(x[:, c])] for x in (pooled_a, pooled_b)]
        edges = np.histogram_bin_edges(np.concatenate(values), bins=40)
        for v, name in zip(values, ("A", "B"), strict=True):
            ax.hist(v, edges, density=True, histtype="step", linewidth=1.5, label=f"{name} ({v.size})")
        ax.set_xlabel(f"{FEATURES[c].name} ({FEATURES[c].units})")
        ax.legend(fontsize="small")
    for ax, (title, matrix) in zip(np.atleast_1d(bottom.subplots(1, len(maps))), maps.items(), strict=True):
        image = ax.imshow(matrix, cmap="viridis")
        ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize="small")
        ax.set_yticks(range(len(labels)), labels, fontsize="small")
        bottom.colorbar(image, ax=ax, label=title)
    title = f"A vs B: MMD² {result.mmd2:.3g}, Fréchet {result.frechet:.3g} ({', '.join(result.features)})"
    if result.embedding_frechet is not None:
        title += f"; embedding Fréchet {result.embedding_frechet:.3g}"
    fig.suptitle(title)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
