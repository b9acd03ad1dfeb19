"""``mix plot``: natural, requested and realised histograms of a manifest's balanced sources (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wirelessdata.mix.balance import bin_of
from wirelessdata.mix.manifest import Manifest, ManifestError
from wirelessdata.shard.read import ShardReader


def streamed_histogram(manifest: Manifest, source: str, epoch: int = 0) -> np.ndarray:
    """int64 counts per bin of the samples the training stream of ``epoch`` draws from a balanced source.

    Measured, not copied from the manifest: the epoch is planned as the loader plans it, and every drawn
    sample's label is read from its shard and binned.
    """
    from wirelessdata.mix.loader import MixtureDataset

    src = next(s for s in manifest.split("train") if s.name == source)
    bal = src.info["balance"]
    mine = {sel.shard for sel in src.selections}
    runs, batches = MixtureDataset(manifest, batch_size=256, buffer=1).plan(epoch)
    counts = np.zeros(len(bal["target"]), dtype=np.int64)
    labels: dict[int, np.ndarray] = {}
    for batch in batches:
        if batch.shard in mine:
            if batch.shard not in labels:
                reader = ShardReader(manifest.shards[batch.shard].url, (bal["label"],))
                labels[batch.shard] = reader.read_range(0, len(reader))[bal["label"]]
            b = bin_of(labels[batch.shard][batch.indices], bal["edges"])
            counts += np.bincount(b[b >= 0], minlength=counts.size)
    return counts


def plot_balance(manifest: Manifest, output: str | Path) -> Path:
    """Write one panel per balanced training source: share of its samples per bin, natural vs target vs streamed.

    "streamed" is :func:`streamed_histogram` of epoch 0 (batches of 256, no shuffle buffer: the
    samples of an epoch do not depend on either).

    :param output: image file; the format follows its suffix (``.png``, ``.pdf``, ``.svg``).
    :returns: the written file.
    """
    panels = [src for src in manifest.splits.get("train", ()) if src.info.get("balance")]
    if not panels:
        raise ManifestError("the manifest has no balanced training source; add a [balance] table to the spec")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ManifestError("mix plot needs matplotlib: pip install 'wirelessdata[all]'") from exc
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.6), squeeze=False)
    for ax, src in zip(axes[0], panels, strict=True):
        bal = src.info["balance"]
        natural = np.asarray(bal["natural"], dtype=float)
        x = np.arange(natural.size)
        shares = {
            "natural": natural / max(natural.sum() + bal["outside"], 1),
            "requested": np.asarray(bal["target"]),
            "streamed (epoch 0)": streamed_histogram(manifest, src.name) / max(src.per_epoch, 1),
        }
        for k, (name, y) in enumerate(shares.items()):
            ax.bar(x + (k - 1) * 0.27, y, width=0.27, label=name)
        edges = bal["edges"]
        ax.set_xticks(x, [f"{edges[b]:.2g}-\n{edges[b + 1]:.2g}" for b in x], fontsize=7)
        ax.set_xlabel(f"{bal['statistic']} bin ({bal['label']})")
        ax.set_ylabel("share of the source's samples")
        ax.set_title(f"{src.name}: {src.per_epoch} samples an epoch", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(output)
    try:
        fig.savefig(path, dpi=110)
    except (OSError, ValueError) as exc:
        raise ManifestError(f"cannot write {output}: {exc}") from exc
    finally:
        plt.close(fig)
    return path
