"""Ray-traced generator on Sionna RT: CSI of UEs in a 3D scene with aligned RGB, depth, LiDAR and radar.

A *drop* is one UE on walkable/drivable ground of the scene (a downward ray test: the first surface below the
point is the lowest one and nearly level, so neither a roof nor inside a building), at least ``min_distance_m`` from
the BS, at a height and speed drawn from the recipe, moving on a straight track. The BS stands where the recipe
puts it (an error if a ray straight up from it hits the scene: inside a building), and so does the UAV that carries
the sensors of mount ``uav``. For every band the scene is ray traced at the band's carrier (``PathSolver``,
deterministic, same positions and velocities), and ``Paths.cfr`` gives the channel at T snapshots with each
path's Doppler; arrays are spaced at half the band's wavelength. ``los`` comes from the first band's paths (the
geometry is the same for every band). A drop without any path at some band is redrawn (and counted in the log), so
no sample is empty.

With ``sensing``, every sample also holds, captured at its first snapshot (timestamps 0 s): camera images
(:mod:`wirelessdata.sensing.rgb`), depth maps of the same cameras (:mod:`wirelessdata.sensing.depth`), a LiDAR
scan (:mod:`wirelessdata.sensing.lidar`) and an FMCW radar cube (:mod:`wirelessdata.sensing.radar`), each with its
pose; the UE appears to depth, LiDAR and radar as a box (``ue_body_m``) that the radio ray tracer does not see (to
the camera images as a small sphere). With ``radio_map``, every shard also holds the BS's path-gain map at UE height
with a height map and a top-down image of the same grid (:mod:`.maps`). With ``scatterers``, every sample also holds
the interaction points of the first band's traced paths, with their kind, path and bounce (:mod:`.scatterers`).

Public API: :class:`RaytraceConfig` (``Config``), :func:`shard_layouts`, :func:`generate_block`; Sionna RT is
imported on first use, after pointing Dr.Jit at Debian's LLVM 19 when ``DRJIT_LIBLLVM_PATH`` is unset.

Modules: :mod:`.config` (configuration, scene names), :mod:`.scene` (Sionna RT, the scene, BS and UE devices),
:mod:`.drops` (UE placement and tracks), :mod:`.trace` (ray tracing, CSI and labels), :mod:`.sense` (RGB, depth, LiDAR,
radar), :mod:`.maps` (per-shard radio map, height map, top view), :mod:`.scatterers` (the paths' interaction points),
:mod:`.layout` (shard layouts), :mod:`.timing` (seconds per stage); this module holds :func:`generate_block`.
"""

from __future__ import annotations

import numpy as np

from wirelessdata.checks import fail, positive_int
from wirelessdata.generators.raytrace.config import (
    GENERATOR,
    SENSING,
    Config,
    RaytraceConfig,
    builtin_scenes,
    scene_path,
)
from wirelessdata.generators.raytrace.drops import TOPOLOGY_STREAM, Drops, draw_drops
from wirelessdata.generators.raytrace.layout import shard_layouts
from wirelessdata.generators.raytrace.scatterers import PER_DROP, ragged_scatterers
from wirelessdata.generators.raytrace.scene import (
    DEBIAN_LIBLLVM,
    World,
    antenna_positions,
    check_bs,
    load_world,
    sionna_rt,
)
from wirelessdata.generators.raytrace.sense import sense
from wirelessdata.generators.raytrace.timing import stage_seconds, timed
from wirelessdata.generators.raytrace.trace import trace_all
from wirelessdata.generators.tr38901 import beams_and_gain
from wirelessdata.source.contract import Generator

__all__ = [
    "SOURCE",
    "DEBIAN_LIBLLVM",
    "GENERATOR",
    "SENSING",
    "Config",
    "Drops",
    "RaytraceConfig",
    "World",
    "antenna_positions",
    "builtin_scenes",
    "generate_block",
    "load_world",
    "scene_path",
    "shard_layouts",
    "sionna_rt",
    "stage_seconds",
]


def generate_block(cfg: RaytraceConfig, num_samples: int, seed: int) -> dict[str, dict[str, np.ndarray]]:
    """Drops of one block, ray traced at every band, with their sensor data; a pure function of its arguments.

    :param cfg: Configuration
    :param num_samples: Number of drops n
    :param seed: Block seed (integer >= 0)
    :output blocks: ``{band label: arrays}``, every array with first axis n (but the ragged ``lidar_points`` and
        ``scatterer_points*``, ``_kind``, ``_path``, ``_depth``):

        - ``csi`` [n, T, K, Nbs, Nue], complex64: channel frequency response H (path loss included)
        - ``ue_pos`` [n, T, 3], float32 m: UE antenna position at each snapshot (straight track)
        - ``ue_vel`` [n, 3], float32 m/s; ``bs_pos`` [n, 3], float32 m
        - ``los``, ``indoor`` (always false) [n], bool; ``distance_m`` [n], float32: 3D BS-UE distance at t = 0
        - ``path_gain_db``, ``delay_spread_s``, ``k_factor_db`` [n], float32; ``best_beam`` [n], int32
        - with rgb: ``rgb`` [n, camera, H, W, 3] uint8, ``rgb_time`` [n, camera] s, ``camera_pos`` and
          ``camera_orientation`` [n, camera, 3]
        - with depth: ``depth`` [n, camera, H, W] float32 m (along the optical axis, inf: no hit), ``depth_time``
          [n, camera] s, ``depth_pos`` and ``depth_orientation`` [n, camera, 3] (the cameras of rgb)
        - with lidar: ``lidar_points`` [sum of counts, 4] float32 (sensor frame), ``lidar_count`` [n],
          ``lidar_time`` [n], ``lidar_pos``, ``lidar_orientation`` [n, 3]
        - with radar: ``radar_cube`` [n, radar_rx, fast_time, chirp] complex64, ``radar_time`` [n],
          ``radar_pos``, ``radar_orientation`` [n, 3]
        - with scatterers: ``scatterer_points`` [sum of counts, 3] float32 m (scene frame), ``scatterer_kind``,
          ``scatterer_path``, ``scatterer_depth`` [sum of counts], ``scatterer_count`` [n], with lidar also
          ``scatterer_points_lidar`` [sum of counts, 3] (the sample's LiDAR frame)

        Sensor arrays are the same in every band's shard.
    :raises ConfigError: Unknown scene, BS or UAV outside the scene or inside a building, no valid UE positions
    :raises WirelessDataError: Drops without any path after redrawing, Dr.Jit without LLVM
    """
    import torch

    positive_int("num_samples", num_samples)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        fail("seed", f"{seed!r} is not a non-negative integer", "an integer >= 0")
    seed = int(seed)
    with timed("scene"):
        world = load_world(cfg.scene)
        check_bs(cfg, world.geometry)
    rng = np.random.default_rng([seed, TOPOLOGY_STREAM])
    with timed("placement"):
        drops = draw_drops(cfg, world.geometry, num_samples, rng)
    drops, traced = trace_all(cfg, world, drops, seed, rng)
    sensed = sense(cfg, world, drops, seed)
    if cfg.scatterers:
        sensed.update(ragged_scatterers({k: traced[0][k] for k in (*PER_DROP, "scatterer_count")}, sensed))
    t = np.arange(cfg.num_time_steps) * cfg.snapshot_interval_s
    bs = np.tile(np.asarray(cfg.bs_position_m, dtype=np.float32), (num_samples, 1))
    common = {
        "ue_pos": (drops.position[:, None, :] + drops.velocity[:, None, :] * t[None, :, None]).astype(np.float32),
        "ue_vel": drops.velocity.astype(np.float32),
        "bs_pos": bs,
        "los": traced[0]["los"],
        "indoor": np.zeros(num_samples, dtype=bool),
        "distance_m": np.linalg.norm(drops.position - bs, axis=1).astype(np.float32),
        **sensed,
    }
    blocks = {}
    for band, result in zip(cfg.bands, traced, strict=True):
        with timed("csi"):
            best, gain = beams_and_gain(
                torch.from_numpy(result["csi"]),
                antenna_positions(cfg, band)[0],
                cfg.bs_array,
                band.carrier_frequency_hz,
            )
        blocks[band.label] = {
            **{key: value.copy() for key, value in common.items()},
            "csi": result["csi"],
            "path_gain_db": gain,
            "delay_spread_s": result["delay_spread_s"],
            "k_factor_db": result["k_factor_db"],
            "best_beam": best,
        }
    return blocks


SOURCE = Generator(GENERATOR, RaytraceConfig, shard_layouts, generate_block)
"""The ray-tracing generator as a plug-in (entry point ``raytrace`` of ``wirelessdata.generators``)."""
