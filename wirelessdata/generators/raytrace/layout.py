"""Shard layouts of the ray-traced generator: per band, the attributes, sizes, coordinates, modalities and ragged
dimensions of its shard (the generator contract's ``shard_layouts``)."""

from __future__ import annotations

from importlib import metadata
from typing import Any

import numpy as np

from wirelessdata import __version__
from wirelessdata.generators.bands import Band
from wirelessdata.generators.raytrace.config import GENERATOR, RaytraceConfig
from wirelessdata.generators.raytrace.maps import shard_maps
from wirelessdata.generators.raytrace.scatterers import KINDS
from wirelessdata.generators.raytrace.scene import antenna_positions, check_bs, load_world
from wirelessdata.generators.tr38901 import beam_codebook
from wirelessdata.sensing import rgb as rgb_model
from wirelessdata.shard.layout import RaggedSpec, ShardSpec


def _layout_attrs(cfg: RaytraceConfig, band: Band) -> dict[str, Any]:
    rows, cols = cfg.bs_array
    attrs: dict[str, Any] = {
        "generator": GENERATOR,
        "generator_version": __version__,
        "engine_version": f"sionna-rt {metadata.version('sionna-rt')}, mitsuba {metadata.version('mitsuba')}",
        "carrier_frequency_hz": band.carrier_frequency_hz,
        "bandwidth_hz": band.bandwidth_hz,
        "subcarrier_spacing_hz": band.subcarrier_spacing_hz,
        "band": band.label,
        "bands": [b.label for b in cfg.bands],
        "scenario": cfg.scenario,
        "scene": cfg.scene,
        "link": "downlink",
        "num_bs_ant": rows * cols,
        "num_ue_ant": cfg.num_ue_ant,
        "bs_array": f"{rows}x{cols}",
        "beam_codebook": beam_codebook(cfg),
        "bs_position_m": list(cfg.bs_position_m),
        "bs_yaw_deg": cfg.bs_yaw_deg,
        "bs_downtilt_deg": cfg.bs_downtilt_deg,
        "ue_region_m": None if cfg.ue_region_m is None else list(cfg.ue_region_m),
        "ue_height_m": list(cfg.ue_height_m),
        "speed_range_mps": list(cfg.speed_range_mps),
        "snapshot_interval_s": cfg.snapshot_interval_s,
        "max_depth": cfg.max_depth,
        "samples_per_src": cfg.samples_per_src,
        "ray_tracer": "Sionna RT PathSolver (deterministic): line of sight, specular reflection and refraction; "
        "synthetic arrays; Doppler from the UE velocity",
        "csi": "Paths.cfr with delays relative to each link's first path (a receiver synchronised to it)",
        "los": "a path without any interaction exists (first band's paths; the geometry is shared)",
        "path_gain_db": "10*log10 of the mean of |csi|^2 over time, subcarriers and antennas",
        "delay_spread_s": "RMS delay spread of the traced paths, powers averaged over the antennas",
        "k_factor_db": "power of the line-of-sight path over that of the other paths (NaN where NLoS)",
        "no_path": "drops without any path at some band are redrawn (and counted in the log)",
        "sensing": list(cfg.sensing),
    }
    if cfg.sensing:
        attrs["sensing_capture"] = "every sensor captures at the sample's first snapshot (t = 0)"
        attrs["ue_body_m"] = list(cfg.ue_body_m)
    sensors = {"rgb": cfg.camera, "depth": cfg.camera, "lidar": cfg.lidar, "radar": cfg.radar}
    for sensor in cfg.sensing:
        attrs.update(sensors[sensor].to_attrs())
    if cfg.uav_sensors:
        attrs.update(cfg.uav.to_attrs())
    if "radar" in cfg.sensing:
        attrs["radar_range_resolution_m"] = cfg.radar.range_resolution_m
        attrs["radar_max_range_m"] = cfg.radar.max_range_m
        attrs["radar_velocity_resolution_mps"] = cfg.radar.velocity_resolution_mps
        attrs["radar_max_velocity_mps"] = cfg.radar.max_velocity_mps
        attrs["radar_cube_units"] = "ADC samples over the receiver noise amplitude (noise power 1)"
    if "depth" in cfg.sensing:
        attrs["depth"] = "distance along the camera's optical axis to the first surface (z-buffer); inf: no hit"
    if cfg.radio_map:
        attrs.update(cfg.radio_map_grid.to_attrs())
        attrs["radio_map_solver"] = (
            "Sionna RT RadioMapSolver: path gain of one BS element (38.901 pattern, BS pose) to an isotropic "
            "antenna, incoherent sum over the paths, averaged over each cell"
        )
    if cfg.scatterers:
        attrs["scatterers"] = (
            "interaction points of the first band's traced paths (Sionna RT Paths.vertices), the strongest path "
            "first, line-of-sight paths without points; beyond max_scatterers points per sample the weakest paths "
            "are left out"
        )
        attrs["scatterer_kinds"] = {str(code): kind for code, kind in KINDS.items()}
        attrs["max_scatterers"] = cfg.max_scatterers
    return attrs


def shard_layouts(cfg: RaytraceConfig) -> dict[str, ShardSpec]:
    """Attributes, sizes, coordinates, modalities and ragged dims of the shard of each band.

    Loads the scene and checks the BS position, so that a bad configuration fails before any shard exists.

    :output layouts: ``{band label: ShardSpec}``;
        ``coords`` holds ``time`` [T] s, ``subcarrier`` [K] Hz offsets (``(k - K//2) * spacing``),
        ``bs_ant_pos`` [Nbs, 3] and ``ue_ant_pos`` [Nue, 3] m in the array frame (x = boresight), and with rgb
        ``camera_intrinsics`` [camera, 4] pixel, with depth ``depth_intrinsics`` [camera, 4] pixel, with
        ``radio_map`` the maps of :func:`~wirelessdata.generators.raytrace.maps.shard_maps`
    :raises ConfigError: Unknown scene, BS inside a building, radio-map grid too large or without ground
    """
    world = load_world(cfg.scene)
    check_bs(cfg, world.geometry)
    rows, cols = cfg.bs_array
    sizes_sensing: dict[str, int] = {}
    coords_sensing: dict[str, np.ndarray] = {}
    ragged: list[RaggedSpec] = []
    if "rgb" in cfg.sensing:
        sizes_sensing.update(camera=len(cfg.camera.mounts), height=cfg.camera.height, width=cfg.camera.width)
        coords_sensing["camera_intrinsics"] = np.tile(rgb_model.intrinsics(cfg.camera), (len(cfg.camera.mounts), 1))
    if "depth" in cfg.sensing:
        sizes_sensing.update(camera=len(cfg.camera.mounts), height=cfg.camera.height, width=cfg.camera.width)
        coords_sensing["depth_intrinsics"] = np.tile(rgb_model.intrinsics(cfg.camera), (len(cfg.camera.mounts), 1))
    if "lidar" in cfg.sensing:
        ragged.append(RaggedSpec("point", "lidar", cfg.lidar.capacity))
    if "radar" in cfg.sensing:
        sizes_sensing.update(
            radar_rx=cfg.radar.num_rx, fast_time=cfg.radar.samples_per_chirp, chirp=cfg.radar.num_chirps
        )
    if cfg.scatterers:
        ragged.append(RaggedSpec("scatterer", "scatterer", cfg.max_scatterers))
    maps: tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]], float] | None = None
    if cfg.radio_map:
        maps = shard_maps(cfg)
        sizes_sensing.update(map_y=len(maps[0]["map_y"]), map_x=len(maps[0]["map_x"]))
    layouts = {}
    for band in cfg.bands:
        attrs = _layout_attrs(cfg, band)
        coords_maps: dict[str, np.ndarray] = {}
        if maps is not None:
            coords_maps = {**maps[0], **maps[1][band.label]}
            attrs["radio_map_height_m"] = maps[2]
        k = band.num_subcarriers
        bs_ant_pos, ue_ant_pos = antenna_positions(cfg, band)
        layouts[band.label] = ShardSpec(
            attrs=attrs,
            sizes={
                "time": cfg.num_time_steps,
                "subcarrier": k,
                "bs_ant": rows * cols,
                "ue_ant": cfg.num_ue_ant,
                **sizes_sensing,
            },
            coords={
                "time": np.arange(cfg.num_time_steps, dtype=np.float64) * cfg.snapshot_interval_s,
                "subcarrier": (np.arange(k, dtype=np.float64) - k // 2) * band.subcarrier_spacing_hz,
                "bs_ant_pos": bs_ant_pos,
                "ue_ant_pos": ue_ant_pos,
                **coords_sensing,
                **coords_maps,
            },
            modalities=(
                "csi",
                *cfg.sensing,
                *(("radio_map",) if cfg.radio_map else ()),
                *(("scatterers",) if cfg.scatterers else ()),
            ),
            optional=(
                "delay_spread_s",
                "k_factor_db",
                "best_beam",
                "distance_m",
                "indoor",
                *(("scatterer_points_lidar",) if cfg.scatterers and "lidar" in cfg.sensing else ()),
            ),
            ragged=tuple(ragged),
        )
    return layouts
