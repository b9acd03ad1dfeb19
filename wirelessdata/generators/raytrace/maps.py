"""Per-shard maps of the ray-traced generator (modality ``radio_map``): the BS's path-gain map at UE height from
Sionna RT's ``RadioMapSolver`` at each band's carrier, with a height map and a top-down image of the same grid.

The BS is fixed per configuration, so the maps belong to the shard (dims ``map_y``, ``map_x``), not to a sample.
The radio map is the path gain of one BS element (the 38.901 pattern of the BS array, same position and
orientation) to an isotropic, vertically polarised antenna, summed incoherently over the paths (line of sight,
specular reflections and refractions up to ``max_depth``) and averaged over each cell, on a horizontal plane at the
median ground height of the grid plus the mean UE height. It thus estimates ``path_gain_db`` (the mean over the BS
and UE antennas, subcarriers and snapshots of ``|csi|^2``) of a UE standing in the cell.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from wirelessdata.checks import fail
from wirelessdata.generators.bands import Band
from wirelessdata.generators.raytrace.config import RaytraceConfig
from wirelessdata.generators.raytrace.drops import ground_height
from wirelessdata.generators.raytrace.scene import World, load_world, set_devices, sionna_rt
from wirelessdata.generators.raytrace.timing import timed
from wirelessdata.generators.raytrace.trace import path_solver
from wirelessdata.sensing import radio_map as map_model


def map_grid(cfg: RaytraceConfig, world: World) -> map_model.Grid:
    """The grid of the maps: ``radio_map_grid.region_m``, else ``ue_region_m``, else the scene's extent.

    :raises ConfigError: Too many cells (one line, before any tracing)
    """
    lo, hi = world.geometry.bounds
    region = cfg.radio_map_grid.region_m or cfg.ue_region_m or (lo[0], hi[0], lo[1], hi[1])
    return map_model.grid(region, cfg.radio_map_grid.cell_m)


def plane_height(cfg: RaytraceConfig, world: World, cells: map_model.Grid) -> float:
    """Height [m] (scene frame) of the radio map's plane: median ground height of the cells plus the mean UE height.

    :raises ConfigError: No walkable ground in the grid
    """
    xx, yy = np.meshgrid(cells.x, cells.y)
    ground = ground_height(world.geometry, np.column_stack([xx.ravel(), yy.ravel()]))
    if not np.isfinite(ground).any():
        fail("radio_map_grid.region_m", "the grid covers no level open ground", "a region covering streets, squares")
    return float(np.nanmedian(ground) + np.mean(cfg.ue_height_m))


def path_gain_map(cfg: RaytraceConfig, world: World, band: Band, cells: map_model.Grid, z: float) -> np.ndarray:
    """The BS's path-gain map at one band.

    :param z: Height of the measurement plane [m], scene frame
    :output gain_db: [ny, nx], float32, dB; ``-inf`` where no ray reached the cell
    """
    import mitsuba as mi

    rt = sionna_rt()
    scene = _single_elements(cfg, world, band, np.zeros((0, 3)))
    (cx, cy), (sx, sy) = cells.center, cells.size
    with timed("radio map"):
        radio_map = rt.RadioMapSolver()(
            scene,
            center=mi.Point3f(float(cx), float(cy), z),
            orientation=mi.Point3f(0.0, 0.0, 0.0),
            size=mi.Point2f(float(sx), float(sy)),
            cell_size=mi.Point2f(cells.cell_m, cells.cell_m),
            samples_per_tx=cfg.radio_map_grid.samples_per_tx,
            max_depth=cfg.max_depth,
        )
        gain = np.asarray(radio_map.path_gain.numpy())[0]  # [ny, nx], rows along +y
    with np.errstate(divide="ignore"):
        return (10 * np.log10(gain)).astype(np.float32)


def _single_elements(cfg: RaytraceConfig, world: World, band: Band, positions: np.ndarray) -> Any:
    """The scene at the band's carrier with the BS as one 38.901 element and an isotropic UE at each position."""
    rt = sionna_rt()
    scene = world.scene
    scene.frequency = band.carrier_frequency_hz
    scene.tx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="tr38901", polarization="V")
    scene.rx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="V")
    set_devices(scene, cfg, positions)
    return scene


def traced_path_gain_db(cfg: RaytraceConfig, world: World, band: Band, positions: np.ndarray) -> np.ndarray:
    """Path gain that the path solver (as for the CSI) finds at points, with the radio map's antennas: the sum of
    ``|a|^2`` over the traced paths of one BS element to an isotropic antenna (no fading: paths add incoherently).

    :param positions: [N, 3], m, scene frame
    :output gain_db: [N], float64, dB; ``-inf`` where no path is found
    """
    scene = _single_elements(cfg, world, band, np.asarray(positions, dtype=np.float64))
    paths = path_solver()(scene, max_depth=cfg.max_depth, samples_per_src=cfg.samples_per_src, seed=0)
    valid = paths.valid.numpy()[:, 0].astype(bool)  # [rx, P]
    a_re, a_im = (x.numpy()[:, 0, 0, 0] for x in paths.a)  # [rx, P]
    with np.errstate(divide="ignore"):
        return 10 * np.log10(np.where(valid, a_re**2 + a_im**2, 0.0).sum(axis=1))


@lru_cache(maxsize=4)
def shard_maps(cfg: RaytraceConfig) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]], float]:
    """The maps of every band's shard, computed once per configuration and process.

    :output shared: ``map_x`` [nx], ``map_y`` [ny] (float64, m, cell centres), ``height_map`` [ny, nx] (float32,
        m), ``top_view`` [ny, nx, 3] (uint8, sRGB)
    :output per_band: ``{band label: {"radio_map": [ny, nx] float32 dB}}``
    :output z: Height of the radio map's plane [m]
    :raises ConfigError: Too many cells, or no ground in the grid
    """
    world = load_world(cfg.scene)
    cells = map_grid(cfg, world)
    z = plane_height(cfg, world, cells)
    with timed("radio map"):
        shared = {
            "map_x": cells.x,
            "map_y": cells.y,
            "height_map": map_model.height_map(world.geometry, cells),
            "top_view": map_model.top_view(world.scene, cells, cfg.radio_map_grid.samples_per_pixel),
        }
    per_band = {band.label: {"radio_map": path_gain_map(cfg, world, band, cells, z)} for band in cfg.bands}
    return shared, per_band, z
