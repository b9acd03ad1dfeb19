"""Ray-traced sensing and radio maps: samples/s with each set of modalities (and either RGB renderer) against CSI
only, and the radio map's agreement with the path solver, measured in the same run.

Every variant runs the street-canyon recipe (generators/raytrace-street-canyon.toml: sub6 + 28 GHz, 4x8 BS panel,
T=16, K=64; 320x240 BS and UE cameras at 16 spp) through the whole pipeline (placement, ray tracing at both bands,
CSI and labels, sensors, Zarr writes with checksums, commit statistics, validation) after a warm-up run that
compiles Dr.Jit's kernels. A sample is one drop (two shards' rows).

The radio-map check adds ``radio_map = true`` (``--cell`` m cells over the whole scene, ``--rays`` rays) and,
at each sample's UE position, compares the radio map's cell with the path solver's power at that point (the sum of
``|a|^2`` over the traced paths, same single-element antennas: :func:`traced_path_gain_db`) and with the CSI's
``path_gain_db`` label (4x8 array and subcarrier average, small-scale fading included). ``--figures DIR`` also
writes the depth and radio-map figures of the docs there.

Run: .venv/bin/python benchmarks/raytrace_modalities.py [--samples 8] [--cell 1.0] [--figures docs/img]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr

from wirelessdata.generate.plan import DropSetPlan
from wirelessdata.generate.recipe import drop_sets, load_recipe
from wirelessdata.generate.run import ShardResult, run_plan
from wirelessdata.generators import raytrace
from wirelessdata.generators.raytrace.maps import traced_path_gain_db
from wirelessdata.sensing.radio_map import Grid

RECIPE = "generators/raytrace-street-canyon.toml"
EVERY = ["rgb", "depth", "lidar", "radar"]
RAYCAST = {"mounts": ["bs", "ue"], "width": 320, "height": 240, "fov_deg": 60.0, "renderer": "raycast"}
"""The recipe's cameras, with the ray-cast renderer (default 4 sky rays)."""
OPEN_SKY = RAYCAST | {"sky_rays": 0}
"""The same without sky rays (open-sky shading)."""
VARIANTS = {
    "csi only": {"sensing": []},
    "csi + depth": {"sensing": ["depth"]},
    "csi + rgb + depth": {"sensing": ["rgb", "depth"]},
    "csi + rgb (raycast) + depth": {"sensing": ["rgb", "depth"], "camera": RAYCAST},
    "every modality (rgb path-traced)": {"sensing": EVERY},
    "every modality (rgb raycast)": {"sensing": EVERY, "camera": RAYCAST},
    "every modality (rgb raycast, sky_rays 0)": {"sensing": EVERY, "camera": OPEN_SKY},
}
"""Sensing of each timed run (overrides of the recipe's configuration)."""
MAP_REGION = [-90.0, 90.0, -60.0, 60.0]
"""Region of the radio maps [m]: the whole street canyon (its UEs stay on the main street)."""


def run(overrides: dict, root: str) -> tuple[float, list[ShardResult]]:
    """Seconds of one pipeline run (layouts, i.e. the radio maps, included) and its shards."""
    (drops,) = drop_sets(load_recipe(RECIPE), overrides)
    start = time.perf_counter()
    results = run_plan(DropSetPlan(drops, root))
    seconds = time.perf_counter() - start
    assert all(r.report.ok for r in results), [r.report.findings for r in results]
    return seconds, results


def radio_map_check(results: list[ShardResult], overrides: dict) -> dict[str, tuple[float, float]]:
    """Median |radio map - traced path gain| and median |radio map - path_gain_db| [dB] per band."""
    (drops,) = drop_sets(load_recipe(RECIPE), overrides)
    cfg = drops.config
    world = raytrace.load_world(cfg.scene)
    out = {}
    for band, result in zip(cfg.bands, results, strict=True):
        ds = xr.open_zarr(result.url)
        positions = ds.ue_pos.values[:, 0]
        cells = Grid(ds.map_x.values, ds.map_y.values, float(ds.attrs["radio_map_grid_cell_m"]))
        row, col = cells.cell_of(positions)
        in_map = row >= 0
        in_cell = ds.radio_map.values[row[in_map], col[in_map]]
        traced = traced_path_gain_db(cfg, world, band, positions[in_map])
        label = ds.path_gain_db.values[in_map]
        out[band.label] = (float(np.median(np.abs(in_cell - traced))), float(np.median(np.abs(in_cell - label))))
    return out


def figures(results: list[ShardResult], folder: Path) -> None:
    """``raytrace_depth.png`` (RGB and depth of the first sample) and ``raytrace_radio_map.png`` (sub6 maps)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from wirelessdata.interop.plot import map_figure

    ds = xr.open_zarr(results[0].url)
    cams = ds.sizes["camera"]
    fig, axes = plt.subplots(2, cams, figsize=(4.2 * cams, 6), layout="constrained", squeeze=False)
    for c in range(cams):
        axes[0, c].imshow(ds.rgb.values[0, c])
        depth = ds.depth.values[0, c]
        im = axes[1, c].imshow(np.where(np.isfinite(depth), depth, np.nan), cmap="magma_r")
        fig.colorbar(im, ax=axes[1, c], label="depth (m), white: no hit")
        for ax, kind in zip(axes[:, c], ("rgb", "depth"), strict=True):
            ax.set(title=f"{kind}, camera {c} ({ds.attrs['camera_mounts'][c]})", xticks=[], yticks=[])
    folder.mkdir(parents=True, exist_ok=True)
    fig.savefig(folder / "raytrace_depth.png", dpi=90)
    plt.close(fig)
    maps = {k: ds[k].values for k in ("map_x", "map_y", "top_view", "height_map", "radio_map")}
    fig = map_figure(maps, None, f"{ds.attrs['scenario']} {ds.attrs['band']}")
    axes = fig.axes
    axes[2].plot(ds.ue_pos.values[:, 0, 0], ds.ue_pos.values[:, 0, 1], "r^", ms=6, label="UEs")
    axes[2].plot(*ds.bs_pos.values[0, :2], "w*", ms=12, label="BS")
    axes[2].legend(loc="lower right")
    fig.savefig(folder / "raytrace_radio_map.png", dpi=90)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--cell", type=float, default=1.0, help="radio-map cell side, m")
    ap.add_argument("--rays", type=int, default=4_000_000, help="rays of the radio-map solver")
    ap.add_argument("--figures", type=Path, default=None, help="folder for the docs' PNG figures")
    args = ap.parse_args()
    base = {"samples": args.samples, "block_size": args.samples}
    root = tempfile.mkdtemp()
    try:
        run({**base, "samples": 2, "block_size": 2, "sensing": ["rgb", "depth"]}, f"{root}/warm")
        timings = {}
        for name, variant in VARIANTS.items():
            timings[name], _ = run({**base, **variant}, f"{root}/{len(timings)}")
        grid = {"cell_m": args.cell, "region_m": MAP_REGION, "samples_per_tx": args.rays}
        maps = {**base, "sensing": ["rgb", "depth"], "radio_map": True, "radio_map_grid": grid}
        raytrace.stage_seconds.clear()
        seconds, results = run(maps, f"{root}/maps")
        map_seconds = raytrace.stage_seconds.get("radio map", 0.0)
        check = radio_map_check(results, maps)
        if args.figures:
            figures(results, args.figures)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"samples/s, {args.samples} drops of the street-canyon recipe (2 bands each), whole pipeline")
    print("| variant | s | samples/s | vs csi only |\n|---|---:|---:|---:|")
    for name, value in timings.items():
        print(f"| {name} | {value:.1f} | {args.samples / value:.2f} | {timings['csi only'] / value:.2f}x |")
    print(f"\nradio maps ({args.cell:g} m cells, {args.rays} rays, both bands): {map_seconds:.1f} s of {seconds:.1f} s")
    print("| band | median abs(map - traced paths) dB | median abs(map - path_gain_db label) dB |\n|---|---:|---:|")
    for band, (traced, label) in check.items():
        print(f"| {band} | {traced:.2f} | {label:.2f} |")


if __name__ == "__main__":
    main()
