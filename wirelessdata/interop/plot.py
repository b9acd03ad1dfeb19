"""``wirelessdata plot SHARD``: PNG figures of one sample, to see what a shard holds before reading any code.

CSI (when the shard has it): magnitude over time x subcarrier (first BS and UE antenna) and over antenna x
subcarrier (first snapshot; antenna ``n = bs * Nue + ue``), the power-delay profile (inverse FFT over
subcarriers with a Hann window, averaged over snapshots and antennas) and the Doppler spectrum (FFT over
snapshots, Hann window, averaged over subcarriers and antennas, with the largest Doppler shift ``|v| f_c / c``
of the sample's UE velocity marked). Sensing, when present: the camera images, the depth maps (no hit in white),
a top view of the LiDAR points, and the radar's range-Doppler map (FFT over fast time and chirps, power summed over
receive antennas). Per-shard maps, when present: the top view, the height map and the radio map of the shard, with
the sample's UE marked. Scatterers, when present: the sample's interaction points seen from above, coloured by kind,
with the BS and UE marked (over the shard's top view when it has one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from wirelessdata.constants import SPEED_OF_LIGHT
from wirelessdata.errors import ConfigError, StoreError
from wirelessdata.shard.info import shard_info
from wirelessdata.shard.read import ShardReader
from wirelessdata.shard.store import open_group

DPI = 90
PDP_OVERSAMPLING = 4
"""Zero-padding factor of the delay axis (the taps are interpolated, not resolved more finely)."""
PDP_FLOOR_DB = -60.0
DOPPLER_BINS = 64
"""FFT length of the Doppler spectrum (the snapshots are zero-padded to it)."""


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise StoreError("wirelessdata plot needs matplotlib: pip install 'wirelessdata[all]'") from exc
    return plt


def _db(power: np.ndarray) -> np.ndarray:
    return 10 * np.log10(np.maximum(power, np.finfo(np.float64).tiny))


def _save(fig: Any, path: Path) -> Path:
    plt = _pyplot()
    try:
        fig.savefig(path, dpi=DPI, bbox_inches="tight")
    except (OSError, ValueError) as exc:
        raise StoreError(f"cannot write {path}: {exc}") from exc
    finally:
        plt.close(fig)
    return path


def _image(h_db: np.ndarray, extent: list[float], title: str, xlabel: str, ylabel: str) -> Any:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    im = ax.imshow(h_db, aspect="auto", origin="lower", extent=extent, interpolation="nearest")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    fig.colorbar(im, ax=ax, label="|H| (dB)")
    return fig


def csi_figures(data: dict[str, np.ndarray], coords: dict[str, np.ndarray], attrs: dict[str, Any], label: str) -> dict:
    """The four CSI figures of one sample: ``{kind: matplotlib Figure}``.

    :param data: ``csi`` ``[T, K, Nbs, Nue]`` complex; optional ``ue_vel`` ``[3]`` m/s, ``delay_spread_s`` s.
    :param coords: ``time`` ``[T]`` s and ``subcarrier`` ``[K]`` Hz offsets.
    """
    plt = _pyplot()
    h = data["csi"]
    t_n, k_n, nbs, nue = h.shape
    h = h.reshape(t_n, k_n, nbs * nue)  # antenna n = bs * Nue + ue, as the model layout
    f_mhz, t_ms = coords["subcarrier"] / 1e6, coords["time"] * 1e3
    df = float(np.median(np.diff(coords["subcarrier"]))) if k_n > 1 else float(attrs["subcarrier_spacing_hz"])
    dt = float(np.median(np.diff(coords["time"]))) if t_n > 1 else 0.0
    figs = {}
    pad_t = (t_ms[-1] - t_ms[0]) / max(t_n - 1, 1) / 2 if t_n > 1 else 0.5
    figs["csi-time-subcarrier"] = _image(
        _db(np.abs(h[:, :, 0]) ** 2),
        [f_mhz[0], f_mhz[-1], t_ms[0] - pad_t, t_ms[-1] + pad_t],
        f"{label}: |H|, antenna 0",
        "subcarrier offset (MHz)",
        "time (ms)",
    )
    figs["csi-antenna-subcarrier"] = _image(
        _db(np.abs(h[0].T) ** 2),
        [f_mhz[0], f_mhz[-1], -0.5, nbs * nue - 0.5],
        f"{label}: |H|, snapshot 0",
        "subcarrier offset (MHz)",
        "antenna n = bs * Nue + ue",
    )
    # power-delay profile: subcarriers -> delay taps (Hann window, zero-padded), averaged over snapshots and antennas
    taps = np.fft.ifft(h * np.hanning(k_n)[None, :, None], n=PDP_OVERSAMPLING * k_n, axis=1)
    pdp = np.mean(np.abs(taps) ** 2, axis=(0, 2))
    delay_ns = np.arange(taps.shape[1]) / (taps.shape[1] * df) * 1e9
    half = taps.shape[1] // 2  # the second half of the axis holds the wrapped (negative) delays
    fig, ax = plt.subplots(figsize=(6, 3.6))
    pdp_db = _db(pdp[:half] / pdp.max())
    ax.plot(delay_ns[:half], pdp_db)
    ax.set_ylim(bottom=max(ax.get_ylim()[0], PDP_FLOOR_DB))
    last = int(np.flatnonzero(pdp_db > PDP_FLOOR_DB)[-1])  # the peak is 0 dB: never empty
    ax.set_xlim(0, delay_ns[min(half - 1, int(last * 1.25) + 1)])
    ds = data.get("delay_spread_s")
    if ds is not None and np.isfinite(ds):
        ax.axvline(float(ds) * 1e9, color="C1", ls="--", label=f"RMS delay spread label {float(ds) * 1e9:.0f} ns")
        ax.legend(fontsize="small")
    ax.set(title=f"{label}: power-delay profile", xlabel="delay (ns)", ylabel="power (dB, peak 0)")
    figs["pdp"] = fig
    # Doppler spectrum: snapshots -> Doppler bins (Hann window, zero-padded)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    if t_n > 1 and dt > 0:
        window = np.hanning(t_n)[:, None, None]
        spec = np.fft.fftshift(np.fft.fft(h * window, n=max(DOPPLER_BINS, t_n), axis=0), axes=0)
        power = np.mean(np.abs(spec) ** 2, axis=(1, 2))
        freqs = np.fft.fftshift(np.fft.fftfreq(spec.shape[0], dt))
        ax.plot(freqs, _db(power / power.max()))
        vel = data.get("ue_vel")
        if vel is not None and np.all(np.isfinite(vel)):
            fd = float(np.linalg.norm(vel)) * float(attrs["carrier_frequency_hz"]) / SPEED_OF_LIGHT
            for sign in (-1, 1):
                ax.axvline(sign * fd, color="C1", ls="--", label=f"±|v| f_c / c = {fd:.0f} Hz" if sign > 0 else None)
            ax.legend(fontsize="small")
        ax.set(xlabel="Doppler frequency (Hz)", ylabel="power (dB, peak 0)")
    else:
        ax.text(0.5, 0.5, "one snapshot: no Doppler spectrum", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(f"{label}: Doppler spectrum")
    figs["doppler"] = fig
    return figs


def sensing_figures(data: dict[str, np.ndarray], label: str) -> dict:
    """Figures of the sensing arrays present in ``data`` (one sample): ``rgb`` ``[cam, H, W, 3]``, ``depth``
    ``[cam, H, W]`` m (inf: no hit), ``lidar_points`` ``[P, 4]`` (x, y, z m, intensity), ``radar_cube``
    ``[rx, fast_time, chirp]``."""
    plt = _pyplot()
    figs = {}
    if "rgb" in data:
        cams = data["rgb"]
        fig, axes = plt.subplots(1, len(cams), figsize=(4 * len(cams), 3.2), layout="constrained", squeeze=False)
        for c, ax in enumerate(axes[0]):
            ax.imshow(cams[c])
            ax.set(title=f"{label}: camera {c}", xticks=[], yticks=[])
        figs["rgb"] = fig
    if "depth" in data:
        cams = data["depth"]
        fig, axes = plt.subplots(1, len(cams), figsize=(4 * len(cams), 3.2), layout="constrained", squeeze=False)
        for c, ax in enumerate(axes[0]):
            im = ax.imshow(np.where(np.isfinite(cams[c]), cams[c], np.nan), cmap="magma_r")
            fig.colorbar(im, ax=ax, label="depth (m)")
            ax.set(title=f"{label}: depth {c}", xticks=[], yticks=[])
        figs["depth"] = fig
    if "lidar_points" in data:
        pts = data["lidar_points"]
        fig, ax = plt.subplots(figsize=(5, 4.4))
        if len(pts):
            sc = ax.scatter(pts[:, 0], pts[:, 1], c=pts[:, 2], s=4, cmap="viridis")
            fig.colorbar(sc, ax=ax, label="z (m)")
            ax.set_aspect("equal", adjustable="datalim")
        else:
            ax.text(0.5, 0.5, "no LiDAR point in this sample", ha="center", va="center", transform=ax.transAxes)
        ax.set(title=f"{label}: LiDAR, top view ({len(pts)} points)", xlabel="x (m)", ylabel="y (m)")
        figs["lidar"] = fig
    if "radar_cube" in data:
        cube = data["radar_cube"]
        rd = np.fft.fftshift(np.fft.fft2(cube, axes=(1, 2)), axes=2)
        power = np.sum(np.abs(rd) ** 2, axis=0)
        fig, ax = plt.subplots(figsize=(5, 4))
        im = ax.imshow(_db(power), aspect="auto", origin="lower", interpolation="nearest")
        fig.colorbar(im, ax=ax, label="power (dB)")
        ax.set(title=f"{label}: radar range-Doppler", xlabel="Doppler bin (chirp FFT)", ylabel="range bin")
        figs["radar"] = fig
    return figs


def map_figure(maps: dict[str, np.ndarray], ue_xy: np.ndarray | None, label: str) -> Any:
    """The per-shard maps side by side: ``top_view`` [ny, nx, 3] uint8, ``height_map`` [ny, nx] m and
    ``radio_map`` [ny, nx] dB over the cell centres ``map_x`` [nx], ``map_y`` [ny] m; ``ue_xy`` [2] m is marked."""
    plt = _pyplot()
    x, y = maps["map_x"], maps["map_y"]
    half = (x[1] - x[0]) / 2 if len(x) > 1 else (y[1] - y[0]) / 2 if len(y) > 1 else 0.5
    extent = [x[0] - half, x[-1] + half, y[0] - half, y[-1] + half]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4), layout="constrained")
    axes[0].imshow(maps["top_view"], origin="lower", extent=extent, interpolation="nearest")
    panels = (("height_map", "height (m)", "terrain"), ("radio_map", "path gain (dB)", "viridis"))
    for ax, (name, unit, cmap) in zip(axes[1:], panels, strict=True):
        values = np.where(np.isfinite(maps[name]), maps[name], np.nan)
        im = ax.imshow(values, origin="lower", extent=extent, interpolation="nearest", cmap=cmap)
        fig.colorbar(im, ax=ax, label=unit)
    for ax, title in zip(axes, ("top view", "height map", "radio map"), strict=True):
        if ue_xy is not None:
            ax.plot(*ue_xy, "r^", ms=8)
        ax.set(title=f"{label}: {title}", xlabel="x (m)", ylabel="y (m)")
    return fig


def scatterer_figure(
    points: np.ndarray,
    kind: np.ndarray,
    kinds: dict[str, str],
    ends: dict[str, np.ndarray],
    maps: dict[str, np.ndarray] | None,
    label: str,
) -> Any:
    """Top view of one sample's scatterers: ``points`` [N, 3] m (scene frame) coloured by ``kind`` [N] (codes of
    ``kinds``, ``{code: name}``), the ``ends`` ``{"BS": [3], "UE": [3]}`` m marked (square, triangle), over
    ``maps``' ``top_view`` [ny, nx, 3] on ``map_x`` [nx], ``map_y`` [ny] m when given."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 5), layout="constrained")
    if maps is not None:
        x, y = maps["map_x"], maps["map_y"]
        half = (x[1] - x[0]) / 2 if len(x) > 1 else 0.5
        ax.imshow(maps["top_view"], origin="lower", extent=[x[0] - half, x[-1] + half, y[0] - half, y[-1] + half])
    for code, name in kinds.items():
        here = kind == int(code)
        if here.any():
            ax.scatter(points[here, 0], points[here, 1], s=12, label=f"{name} ({int(here.sum())})")
    for (end, position), marker in zip(ends.items(), ("ks", "r^"), strict=True):
        ax.plot(position[0], position[1], marker, ms=8, label=end)
    ax.set(title=f"{label}: scatterers (top view)", xlabel="x (m)", ylabel="y (m)", aspect="equal")
    ax.legend(fontsize="small")
    return fig


def plot_sample(url: str, sample: int = 0, out: str | Path = ".") -> list[Path]:
    """Write the PNG figures of sample ``sample`` of the shard at ``url`` into ``out``.

    Files are named ``<shard>-s<sample>-<kind>.png``; kinds: ``csi-time-subcarrier``, ``csi-antenna-subcarrier``,
    ``pdp``, ``doppler`` (CSI shards), ``rgb``, ``depth``, ``lidar``, ``radar``, ``radio-map``, ``scatterers``
    (when present).
    :returns: the files written.
    """
    info = shard_info(url)
    n = int(info.attrs["num_samples"])
    if not 0 <= sample < n:
        raise ConfigError(f"--sample {sample}: the shard {info.name} has samples 0..{n - 1}")
    group = open_group(url)
    names = {name for name, _ in group.arrays()}
    label = f"{info.name} #{sample}"
    figs: dict[str, Any] = {}

    def read(variables: tuple[str, ...]) -> dict[str, np.ndarray]:
        return {k: a[0] for k, a in ShardReader(url, variables).read([sample]).items()}

    if "csi" in names:
        wanted = tuple(v for v in ("csi", "ue_vel", "delay_spread_s") if v in names)
        coords = {c: np.asarray(group[c][...]) for c in ("time", "subcarrier")}
        figs |= csi_figures(read(wanted), coords, info.attrs, label)
    per_sample = ("rgb", "depth", "radar_cube")
    sensing = read(tuple(v for v in per_sample if v in names)) if names & set(per_sample) else {}
    if "lidar_points" in names:
        rows = read(("lidar_start", "lidar_count"))
        start, count = int(rows["lidar_start"]), int(rows["lidar_count"])
        sensing["lidar_points"] = np.asarray(group["lidar_points"][start : start + count])
    figs |= sensing_figures(sensing, label)
    maps: dict[str, np.ndarray] | None = None
    if "radio_map" in names:
        maps = {k: np.asarray(group[k][...]) for k in ("map_x", "map_y", "top_view", "height_map", "radio_map")}
        ue_xy = read(("ue_pos",))["ue_pos"][0, :2] if "ue_pos" in names else None
        figs["radio-map"] = map_figure(maps, ue_xy, label)
    if "scatterer_points" in names:
        rows = read(("scatterer_start", "scatterer_count", "bs_pos", "ue_pos"))
        start, count = int(rows["scatterer_start"]), int(rows["scatterer_count"])
        points, kind = (np.asarray(group[v][start : start + count]) for v in ("scatterer_points", "scatterer_kind"))
        ends = {"BS": rows["bs_pos"], "UE": rows["ue_pos"][0]}
        figs["scatterers"] = scatterer_figure(points, kind, info.attrs["scatterer_kinds"], ends, maps, label)
    if not figs:
        raise StoreError(f"{info.name}: no CSI, camera, depth, LiDAR, radar or map array to plot")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    return [_save(fig, folder / f"{info.name}-s{sample}-{kind}.png") for kind, fig in figs.items()]
