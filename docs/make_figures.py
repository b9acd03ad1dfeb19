"""Figures of docs/generate.md from a default corpus: CSI magnitude and path gain vs distance.

Run: .venv/bin/python docs/make_figures.py [ROOT]   (ROOT defaults to wirelessdata-out; generated if absent)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

HERE = Path(__file__).resolve().parent


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "wirelessdata-out")
    if not list(root.glob("*.zarr")):
        subprocess.run([sys.executable, "-m", "wirelessdata.cli", "generate", "--out", str(root)], check=True)
    shards = {b: xr.open_zarr(root / f"tr38901-uma-{b}.zarr") for b in ("sub6", "28GHz")}
    i = int(np.flatnonzero(shards["sub6"].los.values)[0]) if shards["sub6"].los.any() else 0
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    for ax, (band, ds) in zip(axes, shards.items(), strict=True):
        h = ds.csi.isel(sample=i, bs_ant=0, ue_ant=0).values
        mag = 20 * np.log10(np.abs(h) + 1e-30)
        im = ax.imshow(
            mag,
            aspect="auto",
            origin="lower",
            extent=[ds.subcarrier[0] / 1e6, ds.subcarrier[-1] / 1e6, 0, ds.time[-1] * 1e3],
        )
        ax.set(
            title=f"{band}: |H| of sample {i}, BS antenna 0 (LoS={bool(ds.los[i])})",
            xlabel="subcarrier offset (MHz)",
            ylabel="time (ms)",
        )
        fig.colorbar(im, ax=ax, label="dB")
    fig.savefig(HERE / "img" / "csi_magnitude.png", dpi=110)
    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    for band, ds in shards.items():
        los = ds.los.values
        for mask, marker, state in ((los, "o", "LoS"), (~los, ".", "NLoS")):
            ax.scatter(
                ds.distance_m.values[mask], ds.path_gain_db.values[mask], s=10, marker=marker, label=f"{band} {state}"
            )
    ax.set(
        xscale="log", xlabel="3D distance (m)", ylabel="path gain (dB)", title="UMa paired drops: path gain vs distance"
    )
    ax.legend()
    fig.savefig(HERE / "img" / "path_gain_vs_distance.png", dpi=110)


if __name__ == "__main__":
    main()
