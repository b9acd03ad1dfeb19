"""Figure of docs/multiband.md: one drop's angular power spectrum at sub6 and 28GHz, correlated and independent.

The drop is the first outdoor NLoS drop (in correlated mode) of a UMa block (seed 13); both modes share its
topology. Spectra are Bartlett spectra of the BS 4x8 panel on a 1-degree grid (each band's steering
vectors from its own ``bs_ant_pos`` and wavelength), from T = 2 snapshots and K = 16 subcarriers spread over
each band's largest bandwidth, in dB re each panel's peak; they include the channel's 38.901 element
pattern (the same at both bands: -3 dB at 32.5 deg off boresight in azimuth). Circles: the band's clusters at
their departure angles, area proportional to the band's cluster power; +: the BS-UE direction.

Run: .venv/bin/python docs/make_multiband_figures.py
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from wirelessdata.generators.angular import AngularGrid, angular_power_spectrum
from wirelessdata.generators.tr38901 import Tr38901Config, generate_block, shard_layouts

HERE = Path(__file__).resolve().parent
SEED, NUM_DROPS = 13, 64
BANDS = [
    {"band": "sub6", "num_subcarriers": 16, "subcarrier_spacing_hz": 6.25e6},
    {"band": "28GHz", "num_subcarriers": 16, "subcarrier_spacing_hz": 25e6},
]
GRID = AngularGrid(azimuth_deg=np.arange(-90.0, 90.5, 1.0), zenith_deg=np.arange(70.0, 140.5, 1.0))
FLOOR_DB = -25.0


def main() -> None:
    modes = ("correlated", "independent")
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.4), sharex=True, sharey=True, constrained_layout=True)
    drop = None
    for row, mode in enumerate(modes):
        cfg = Tr38901Config.from_dict(
            {"scenario": "UMa", "bands": BANDS, "num_time_steps": 2, "save_clusters": True, "multiband": mode}
        )
        blocks = generate_block(cfg, NUM_DROPS, SEED)
        if drop is None:
            drop = int(np.flatnonzero(~blocks["sub6"]["indoor"] & ~blocks["sub6"]["los"])[0])
        for ax, (band, layout) in zip(axes[row], shard_layouts(cfg).items(), strict=True):
            block, carrier_hz = blocks[band], layout.attrs["carrier_frequency_hz"]
            power = angular_power_spectrum(block["csi"][drop : drop + 1], layout.coords["bs_ant_pos"], carrier_hz, GRID)
            power_db = np.maximum(10 * np.log10(power[0] / power.max()), FLOOR_DB).reshape(GRID.shape)
            image = ax.imshow(
                power_db,
                origin="lower",
                aspect="auto",
                cmap="viridis",
                extent=[
                    GRID.azimuth_deg[0] - 0.5,
                    GRID.azimuth_deg[-1] + 0.5,
                    GRID.zenith_deg[0] - 0.5,
                    GRID.zenith_deg[-1] + 0.5,
                ],
            )
            valid = np.isfinite(block["cluster_power"][drop])
            ax.scatter(
                np.degrees(block["cluster_aod_rad"][drop, valid]),
                np.degrees(block["cluster_zod_rad"][drop, valid]),
                s=1500 * block["cluster_power"][drop, valid],
                facecolors="none",
                edgecolors="white",
                linewidths=1.0,
            )
            rel = block["ue_pos"][drop, 0] - block["bs_pos"][drop]
            los_az, los_zen = np.degrees(np.arctan2(rel[1], rel[0])), np.degrees(np.arctan2(np.hypot(*rel[:2]), rel[2]))
            ax.plot(los_az, los_zen, "r+", markersize=12, markeredgewidth=2)
            state = "LoS" if block["los"][drop] else "NLoS"
            ax.set(title=f"{band} ({carrier_hz / 1e9:g} GHz), {mode}, drop {drop} ({state})")
            if row == 1:
                ax.set_xlabel("departure azimuth (deg)")
            if band == "sub6":
                ax.set_ylabel("departure zenith (deg)")
    ax.set(xlim=image.get_extent()[:2], ylim=image.get_extent()[:1:-1])  # shared axes; zenith grows downwards
    fig.colorbar(image, ax=axes, label="angular power (dB re peak)", shrink=0.8)
    fig.suptitle("UMa, BS 4x8 panel: angular power spectrum of one drop (circles: clusters, area ~ power; +: BS-UE)")
    fig.savefig(HERE / "img" / "multiband_aps.png", dpi=110)


if __name__ == "__main__":
    main()
