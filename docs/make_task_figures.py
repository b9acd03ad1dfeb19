"""Figures of docs/tasks.md: one per impairment, |CSI| before and after (snapshot x subcarrier, BS antenna 0).

Run: .venv/bin/python docs/make_task_figures.py ROOT   (ROOT: a corpus from ``wirelessdata generate``)
Writes docs/img/tasks-<impairment>.png (small PNGs).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from wirelessdata.tasks import get  # noqa: E402

SETTINGS = {
    "awgn": {"snr_db": 10},
    "phase-noise": {"phase_noise_deg": 20.0},
    "cfo": {"cfo_hz": 100.0},
    "timing-offset": {"timing_offset_ns": 500.0},
    "quantisation": {"quant_bits": 3},
    "erasure": {"erase_prob": 0.25},
}
"""Strong settings, so that the effect shows; phase-type impairments are shown as the real part."""


def main(root: str) -> None:
    out = Path(__file__).parent / "img"
    out.mkdir(exist_ok=True)
    for name, settings in SETTINGS.items():
        view = get("compression", root, batch_size=4, seed=1, **settings)
        observed, clean = next(iter(view))
        phase_type = name in ("phase-noise", "cfo", "timing-offset")
        show = (lambda h: h.real) if phase_type else (lambda h: np.abs(h))
        label = "Re H" if phase_type else "|H|"
        fig, axes = plt.subplots(1, 2, figsize=(6, 2.4), sharey=True)
        for ax, h, title in zip(axes, (clean, observed), ("clean", f"{name} {settings}"), strict=True):
            ax.imshow(show(h[0, :, :, 0, 0].numpy()), aspect="auto", origin="lower", cmap="viridis")
            ax.set_title(title, fontsize=8)
            ax.set_xlabel("subcarrier", fontsize=8)
        axes[0].set_ylabel(f"snapshot ({label})", fontsize=8)
        fig.tight_layout()
        fig.savefig(out / f"tasks-{name}.png", dpi=70)
        plt.close(fig)
        print(out / f"tasks-{name}.png")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "wirelessdata-out")
