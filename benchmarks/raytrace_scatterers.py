"""Scatterers in the LiDAR's field of view (issue 23): do the traced paths' first-bounce points fall where the
sample's LiDAR looks, and did the LiDAR see the surface they lie on?

For each LiDAR mount (``bs``: on the BS mast along its boresight; ``ue``: at the UE antenna facing its heading), the
street-canyon recipe (generators/raytrace-street-canyon.toml, sub6 only: the scatterers come from the first band's
paths, the geometry being the same at every band; T = 2, K = 16) is generated with ``sensing = ["lidar"]`` and
``scatterers = true`` through the whole pipeline, and every first-bounce point (``scatterer_depth == 1``) is tested:

(a) **in FOV**: inside the LiDAR's field of view as :mod:`wirelessdata.sensing.lidar` fires it: elevation in the
    sensor frame (``scatterer_points_lidar``) within ``elevation_deg`` (the lowest and highest rings, inclusive; the
    azimuth sweep covers a full turn) and range at most ``max_range_m``;
(b) **visible**: the ray from the LiDAR towards the point, cast on the scene's meshes
    (:class:`wirelessdata.sensing.SceneGeometry`, the meshes the LiDAR scans), first hits a surface within
    ``--surface-tol`` of the point's range (the UE box is not in this cast: a point hidden by the car counts as
    visible here and shows up as a missing return in (c));
(c) **seen**: among the points in FOV and visible, the nearest LiDAR return of the sample (``lidar_points``, sensor
    frame) lies within 0.5 m (and within 1 m). The returns are ``channels x azimuth_steps`` rays, so their spacing
    on a surface grows with range and with grazing incidence (32 rings over 30 deg: 0.97 deg apart, 1.7 cm per m
    of range; 512 azimuths: 0.70 deg, 1.2 cm per m).

Run: .venv/bin/python benchmarks/raytrace_scatterers.py [--samples 128] [--block-size 32] [--surface-tol 0.15]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time

import numpy as np
import xarray as xr
from scipy.spatial import cKDTree

from wirelessdata.generate.plan import DropSetPlan
from wirelessdata.generate.recipe import drop_sets, load_recipe
from wirelessdata.generate.run import run_plan
from wirelessdata.generators import raytrace
from wirelessdata.sensing import Pose, SceneGeometry
from wirelessdata.sensing.lidar import LidarParams, elevation_deg, in_field_of_view

RECIPE = "generators/raytrace-street-canyon.toml"
OVERRIDES = {
    "bands": [{"band": "sub6", "num_subcarriers": 16}],
    "num_time_steps": 2,
    "sensing": ["lidar"],
    "scatterers": True,
}
"""The recipe's street canyon with one band, a small CSI grid, a LiDAR and the scatterer labels."""
MOUNTS = ("bs", "ue")
RETURN_RADII_M = (0.5, 1.0)
"""Distances [m] within which a LiDAR return counts as seeing a scatterer's surface."""


def generate(mount: str, samples: int, block_size: int, root: str) -> xr.Dataset:
    """The sub6 shard of the street canyon with a LiDAR on ``mount`` and scatterers, written under ``root``."""
    (recipe_lidar,) = (c.get("lidar", {}) for c in load_recipe(RECIPE)["configs"])
    overrides = {**OVERRIDES, "lidar": {**recipe_lidar, "mount": mount}, "samples": samples, "block_size": block_size}
    (drops,) = drop_sets(load_recipe(RECIPE), overrides)
    (result,) = run_plan(DropSetPlan(drops, root))
    assert result.report.ok, result.report.findings
    return xr.open_zarr(result.url)


def visible(geometry: SceneGeometry, pose: Pose, points: np.ndarray, tol_m: float) -> np.ndarray:
    """Whether the ray from the sensor towards each sensor-frame point [N, 3] first hits the scene's meshes within
    ``tol_m`` (m) of the point's range.

    :output visible: [N], bool
    """
    scene_points = pose.to_scene(points.astype(np.float64))
    offsets = scene_points - pose.position
    ranges = np.linalg.norm(offsets, axis=1)
    hits = geometry.cast(pose.position, offsets / ranges[:, None])
    return np.abs(hits.distance - ranges) <= tol_m


def check(ds: xr.Dataset, geometry: SceneGeometry, tol_m: float) -> dict[str, np.ndarray]:
    """Per first-bounce point of every sample: in FOV, visible, distance [m] to the sample's nearest LiDAR return.

    :output flags: ``{"fov", "visible", "above": [P] bool (above: elevation over the top ring), "range_m",
        "nearest_m": [P] float64 (m; nearest_m inf: the sample has no return)}``
    """
    params = LidarParams.from_attrs(ds.attrs)
    v = {k: ds[k].values for k in ("scatterer_start", "scatterer_count", "scatterer_depth", "scatterer_points_lidar")}
    v |= {k: ds[k].values for k in ("lidar_start", "lidar_count", "lidar_points", "lidar_pos", "lidar_orientation")}
    out: dict[str, list[np.ndarray]] = {"fov": [], "visible": [], "above": [], "range_m": [], "nearest_m": []}
    for i in range(ds.sizes["sample"]):
        rows = slice(v["scatterer_start"][i], v["scatterer_start"][i] + v["scatterer_count"][i])
        points = v["scatterer_points_lidar"][rows][v["scatterer_depth"][rows] == 1].astype(np.float64)
        pose = Pose(v["lidar_pos"][i].astype(np.float64), v["lidar_orientation"][i].astype(np.float64))
        scan = v["lidar_points"][v["lidar_start"][i] : v["lidar_start"][i] + v["lidar_count"][i], :3]
        out["fov"].append(in_field_of_view(points, params))
        out["visible"].append(visible(geometry, pose, points, tol_m))
        out["above"].append(elevation_deg(points) > params.elevation_deg[1])
        out["range_m"].append(np.linalg.norm(points, axis=1))
        nearest = cKDTree(scan).query(points)[0] if len(scan) else np.full(len(points), np.inf)
        out["nearest_m"].append(nearest)
    return {k: np.concatenate(parts) for k, parts in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=128, help="drops per mount")
    ap.add_argument("--block-size", type=int, default=32)
    ap.add_argument("--surface-tol", type=float, default=0.15, help="visibility tolerance along the ray, m")
    args = ap.parse_args()
    start = time.perf_counter()
    geometry = raytrace.load_world("simple_street_canyon").geometry
    root = tempfile.mkdtemp(prefix="raytrace_scatterers-")
    rows = {}
    try:
        for mount in MOUNTS:
            ds = generate(mount, args.samples, args.block_size, f"{root}/{mount}")
            rows[mount] = (check(ds, geometry, args.surface_tol), LidarParams.from_attrs(ds.attrs))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"street canyon, {args.samples} drops per mount, first-bounce points of the traced paths; visible: the ray "
        f"from the LiDAR hits the meshes within {args.surface_tol:g} m of the point\n"
    )
    radii = " | ".join(f"return within {r:g} m" for r in RETURN_RADII_M)
    print(f"| mount | LiDAR | first-bounce points | in FOV | visible | in FOV and visible | {radii} |")
    print("|---|---|---:|---:|---:|---:|" + "---:|" * len(RETURN_RADII_M))
    details = []
    for mount, (flags, params) in rows.items():
        fov, seen = flags["fov"], flags["visible"]
        both = fov & seen
        lidar = (
            f"{params.channels}x{params.azimuth_steps}, {params.elevation_deg[0]:g}..{params.elevation_deg[1]:g} deg, "
            f"{params.max_range_m:g} m"
        )
        near = " | ".join(f"{100 * (flags['nearest_m'][both] <= r).mean():.1f} %" for r in RETURN_RADII_M)
        print(
            f"| {mount} | {lidar} | {len(fov)} | {100 * fov.mean():.1f} % | {100 * seen.mean():.1f} % | "
            f"{100 * both.mean():.1f} % ({both.sum()}) | {near} |"
        )
        missed = both & (flags["nearest_m"] > RETURN_RADII_M[0])
        details.append(
            f"| {mount} | {100 * flags['above'][~fov].mean():.1f} % | {np.median(flags['range_m'][both]):.1f} | "
            f"{np.median(flags['range_m'][missed]):.1f} |"
        )
    print(
        "\n(in FOV, visible, in FOV and visible: share of all first-bounce points; return within r: share of the "
        "points in FOV and visible)"
    )
    print(
        f"\n| mount | out of FOV: above the top ring | median range, in FOV and visible (m) | median range, no return "
        f"within {RETURN_RADII_M[0]:g} m (m) |\n|---|---:|---:|---:|"
    )
    print("\n".join(details))
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
