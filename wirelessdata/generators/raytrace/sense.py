"""Sensing of the drops at their first snapshot: camera images, depth maps, LiDAR scans and FMCW radar cubes from
the sensor models of :mod:`wirelessdata.sensing`, with the sensors' poses (at the BS, following the UE or on the
hovering UAV)."""

from __future__ import annotations

import numpy as np

from wirelessdata.generators.raytrace.config import RaytraceConfig
from wirelessdata.generators.raytrace.drops import SENSING_STREAM, Drops
from wirelessdata.generators.raytrace.scene import World, set_devices, uav_position
from wirelessdata.generators.raytrace.timing import timed
from wirelessdata.sensing import Hits, Pose, SceneGeometry, look_at_rpy, rgb_raycast
from wirelessdata.sensing import depth as depth_model
from wirelessdata.sensing import lidar as lidar_model
from wirelessdata.sensing import radar as radar_model
from wirelessdata.sensing import rgb as rgb_model
from wirelessdata.sensing import uav as uav_model

CHASE_BACK_M, CHASE_UP_M = 8.0, 3.0
"""Offset of the UE-following camera: behind the UE along its heading, and above it."""


def _static_poses(cfg: RaytraceConfig, world: World) -> dict[str, Pose]:
    """Poses of the mounts that stay put: the BS (at its array centre, along its boresight) and, when a sensor is
    mounted on it, the hovering UAV."""
    poses = {"bs": Pose(np.asarray(cfg.bs_position_m), np.deg2rad([0.0, cfg.bs_downtilt_deg, cfg.bs_yaw_deg]))}
    if cfg.uav_sensors:
        poses["uav"] = uav_model.pose(cfg.uav, uav_position(cfg, world.geometry))
    return poses


def _mount_pose(mount: str, static: dict[str, Pose], drops: Drops, i: int) -> Pose:
    """Pose of a LiDAR or radar: a static mount's (BS, UAV), or at the UE antenna along its heading."""
    if mount in static:
        return static[mount]
    return Pose(drops.position[i].copy(), np.array([0.0, 0.0, drops.heading[i]]))


def _camera_pose(geometry: SceneGeometry, mount: str, static: dict[str, Pose], drops: Drops, i: int) -> Pose:
    """Pose of a camera: a static mount's (BS, UAV), or behind and above the UE looking at it (pulled in front of
    any wall in between)."""
    if mount in static:
        return static[mount]
    ue = drops.position[i]
    behind = np.array([-CHASE_BACK_M * np.cos(drops.heading[i]), -CHASE_BACK_M * np.sin(drops.heading[i]), CHASE_UP_M])
    reach = geometry.cast(ue, behind[None] / np.linalg.norm(behind)).distance[0]
    position = ue + behind * min(1.0, 0.9 * reach / np.linalg.norm(behind))
    return Pose(position, look_at_rpy(ue - position))


def _camera_poses(cfg: RaytraceConfig, world: World, drops: Drops, static: dict[str, Pose]) -> list[list[Pose]]:
    """Poses of the rig's cameras (shared by rgb and depth): [drop][camera]."""
    return [
        [_camera_pose(world.geometry, mount, static, drops, i) for mount in cfg.camera.mounts]
        for i in range(len(drops.position))
    ]


def _pixel_casts(cfg: RaytraceConfig, world: World, drops: Drops, poses: list[list[Pose]]) -> list[list[Hits]]:
    """The first hits of every camera's pixel rays, [drop][camera]: cast once for the depth maps and the ray-cast
    images (the UE box included)."""
    with timed("camera rays"):
        return [
            [
                depth_model.cast_pixels(world.geometry, pose, cfg.camera, (drops.body(i, cfg.ue_body_m),))
                for pose in cams
            ]
            for i, cams in enumerate(poses)
        ]


def _sense_rgb(
    cfg: RaytraceConfig, world: World, drops: Drops, poses: list[list[Pose]], casts: list[list[Hits]]
) -> dict[str, np.ndarray]:
    images = []
    if cfg.camera.renderer == "raycast":
        with timed("rgb"):
            for i, cameras in enumerate(poses):
                body = (drops.body(i, cfg.ue_body_m),)
                images.append(
                    [
                        rgb_raycast.render(world.geometry, p, cfg.camera, body, h)
                        for p, h in zip(cameras, casts[i], strict=True)
                    ]
                )
    else:
        with timed("rgb"), rgb_model.batch():
            for i, cameras in enumerate(poses):
                set_devices(world.scene, None, drops.position[i : i + 1])  # the sample's UE only
                images.append([rgb_model.render(world.scene, pose, cfg.camera) for pose in cameras])
    return {"rgb": np.asarray(images, dtype=np.uint8), **_camera_record("rgb_time", "camera", poses)}


def _sense_depth(
    cfg: RaytraceConfig, world: World, poses: list[list[Pose]], casts: list[list[Hits]]
) -> dict[str, np.ndarray]:
    with timed("depth"):
        maps = [
            [depth_model.render(world.geometry, p, cfg.camera, hits=h) for p, h in zip(cameras, casts[i], strict=True)]
            for i, cameras in enumerate(poses)
        ]
    return {"depth": np.asarray(maps, dtype=np.float32), **_camera_record("depth_time", "depth", poses)}


def _camera_record(time: str, prefix: str, poses: list[list[Pose]]) -> dict[str, np.ndarray]:
    """The capture times (0 s: the first snapshot) and poses ``<prefix>_pos``, ``<prefix>_orientation`` of the
    rig's cameras, each ``[drop, camera, ...]``."""
    return {
        time: np.zeros((len(poses), len(poses[0]) if poses else 0)),
        f"{prefix}_pos": np.asarray([[p.position for p in cameras] for cameras in poses], dtype=np.float32),
        f"{prefix}_orientation": np.asarray([[p.rpy for p in cameras] for cameras in poses], dtype=np.float32),
    }


def _sense_lidar(
    cfg: RaytraceConfig, world: World, drops: Drops, seed: int, static: dict[str, Pose]
) -> dict[str, np.ndarray]:
    scans, poses = [], []
    for i in range(len(drops.position)):
        pose = _mount_pose(cfg.lidar.mount, static, drops, i)
        bodies = () if cfg.lidar.mount == "ue" else (drops.body(i, cfg.ue_body_m),)
        rng = np.random.default_rng([seed, SENSING_STREAM, i, 0])
        with timed("lidar"):
            scans.append(lidar_model.scan(world.geometry, pose, cfg.lidar, rng, bodies))
        poses.append(pose)
    return {
        "lidar_points": np.concatenate(scans).reshape(-1, 4),
        "lidar_count": np.array([len(points) for points in scans], dtype=np.int64),
        "lidar_time": np.zeros(len(scans)),
        "lidar_pos": np.array([p.position for p in poses], dtype=np.float32),
        "lidar_orientation": np.array([p.rpy for p in poses], dtype=np.float32),
    }


def _sense_radar(
    cfg: RaytraceConfig, world: World, drops: Drops, seed: int, static: dict[str, Pose]
) -> dict[str, np.ndarray]:
    cubes, poses = [], []
    on_ue = cfg.radar.mount == "ue"  # the static mounts (BS, hovering UAV) have zero own velocity
    for i in range(len(drops.position)):
        pose = _mount_pose(cfg.radar.mount, static, drops, i)
        bodies = () if on_ue else (drops.body(i, cfg.ue_body_m),)
        rng = np.random.default_rng([seed, SENSING_STREAM, i, 1])
        with timed("radar"):
            own_velocity = drops.velocity[i] if on_ue else None
            targets = radar_model.scatterers(world.geometry, pose, cfg.radar, bodies, own_velocity)
            cubes.append(radar_model.cube(targets, cfg.radar, rng))
        poses.append(pose)
    return {
        "radar_cube": np.asarray(cubes, dtype=np.complex64),
        "radar_time": np.zeros(len(cubes)),
        "radar_pos": np.array([p.position for p in poses], dtype=np.float32),
        "radar_orientation": np.array([p.rpy for p in poses], dtype=np.float32),
    }


def sense(cfg: RaytraceConfig, world: World, drops: Drops, seed: int) -> dict[str, np.ndarray]:
    """Sensor data of every drop, captured at the first snapshot (timestamps 0 s).

    :output arrays: for each sensor of ``cfg.sensing``, its schema variables with first axis n
        (``lidar_points`` concatenated over the drops, with ``lidar_count``)
    """
    arrays: dict[str, np.ndarray] = {}
    static = _static_poses(cfg, world)
    poses = _camera_poses(cfg, world, drops, static) if {"rgb", "depth"} & set(cfg.sensing) else []
    raycast = "rgb" in cfg.sensing and cfg.camera.renderer == "raycast"
    casts = _pixel_casts(cfg, world, drops, poses) if "depth" in cfg.sensing or raycast else []
    if "rgb" in cfg.sensing:
        arrays.update(_sense_rgb(cfg, world, drops, poses, casts))
    if "depth" in cfg.sensing:
        arrays.update(_sense_depth(cfg, world, poses, casts))
    if "lidar" in cfg.sensing:
        arrays.update(_sense_lidar(cfg, world, drops, seed, static))
    if "radar" in cfg.sensing:
        arrays.update(_sense_radar(cfg, world, drops, seed, static))
    return arrays
