"""Spinning LiDAR: rings of beams swept in azimuth, cast against the scene meshes and the moving bodies.

Model (assumptions in ``docs/raytrace.md``): ``channels`` beams at elevations evenly spaced over
``elevation_deg``, each fired at ``azimuth_steps`` azimuths over a full turn, all at the same instant (the sweep
time and the motion during it are neglected); a beam returns its first hit within ``max_range_m``, its range
perturbed by Gaussian noise of std ``range_noise_m``; each return is lost with probability ``dropout``; the
intensity is the cosine of the incidence angle (a Lambertian surface of unit reflectivity, a.u.). Points are in the
sensor frame (x forward, y left, z up); the pose is stored beside them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wirelessdata.checks import fail, number, positive_int
from wirelessdata.sensing import MOUNTS, Box, Pose, SceneGeometry, SensorParams, increasing_pair


@dataclass(frozen=True)
class LidarParams(SensorParams):
    """Spinning LiDAR (defaults: a 32-beam roadside unit).

    :param channels: Beams (rings)
    :param azimuth_steps: Firings per turn
    :param elevation_deg: (lowest, highest) beam elevation [deg], sensor frame
    :param max_range_m: Range limit [m]
    :param range_noise_m: Std of the Gaussian range noise [m]
    :param dropout: Probability that a return is lost
    :param mount: ``"bs"`` (on the BS mast, facing the BS boresight), ``"ue"`` (on the UE, facing its heading) or
        ``"uav"`` (on the hovering UAV, along its heading and pitch)
    """

    FIELD = "lidar"
    channels: int = 32
    azimuth_steps: int = 512
    elevation_deg: tuple[float, float] = (-25.0, 5.0)
    max_range_m: float = 100.0
    range_noise_m: float = 0.02
    dropout: float = 0.02
    mount: str = "bs"

    def __post_init__(self) -> None:
        positive_int("lidar.channels", self.channels)
        positive_int("lidar.azimuth_steps", self.azimuth_steps)
        object.__setattr__(self, "elevation_deg", increasing_pair("lidar.elevation_deg", self.elevation_deg, -90, 90))
        if not number("lidar.max_range_m", self.max_range_m) > 0:
            fail("lidar.max_range_m", f"{self.max_range_m!r} is not positive", "a number > 0")
        if not number("lidar.range_noise_m", self.range_noise_m) >= 0:
            fail("lidar.range_noise_m", f"{self.range_noise_m!r} is negative", "a number >= 0")
        if not 0 <= number("lidar.dropout", self.dropout) < 1:
            fail("lidar.dropout", f"{self.dropout!r} is outside [0, 1)", "a probability in [0, 1)")
        if self.mount not in MOUNTS:
            fail("lidar.mount", f"unknown mount {self.mount!r}", list(MOUNTS))

    @property
    def capacity(self) -> int:
        """Most points of one scan, ``channels * azimuth_steps``."""
        return self.channels * self.azimuth_steps


def beam_directions(params: LidarParams) -> np.ndarray:
    """Unit directions of every beam of one scan, sensor frame, ring-major.

    :output directions: [channels * azimuth_steps, 3], float64; azimuth 0 is +x, counter-clockwise
    """
    elevation = np.deg2rad(np.linspace(*params.elevation_deg, params.channels))[:, None]
    azimuth = (2 * np.pi * np.arange(params.azimuth_steps) / params.azimuth_steps)[None, :]
    directions = np.stack(
        np.broadcast_arrays(
            np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)
        ),
        axis=-1,
    )
    return directions.reshape(-1, 3)


def elevation_deg(points: np.ndarray) -> np.ndarray:
    """Elevation (deg) of sensor-frame points ``[N, 3]`` (m) above the sensor's x-y plane: ``[N]``."""
    points = np.asarray(points, np.float64)
    return np.degrees(np.arctan2(points[:, 2], np.hypot(points[:, 0], points[:, 1])))


def in_field_of_view(points: np.ndarray, params: LidarParams) -> np.ndarray:
    """Whether sensor-frame points ``[N, 3]`` (m) lie where :func:`scan` fires: elevation within the span of the
    rings (``elevation_deg``, inclusive; every azimuth is swept) and range at most ``max_range_m``: ``[N]`` bool."""
    low, high = params.elevation_deg
    elevation = elevation_deg(points)
    return (elevation >= low) & (elevation <= high) & (np.linalg.norm(points, axis=1) <= params.max_range_m)


def scan(
    geometry: SceneGeometry,
    pose: Pose,
    params: LidarParams,
    rng: np.random.Generator,
    bodies: tuple[Box, ...] = (),
) -> np.ndarray:
    """One LiDAR scan.

    :param geometry: Scene meshes
    :param pose: Sensor pose, scene frame
    :param params: LiDAR model
    :param rng: Source of the range noise and dropouts (``2 * capacity`` draws, whatever is hit)
    :param bodies: Moving bodies besides the meshes (not the one carrying the sensor)
    :output points: [M, 4], float32: x, y, z [m] in the sensor frame and intensity (a.u.), M <= capacity,
        ring-major order
    """
    directions = beam_directions(params)
    hits = geometry.cast(pose.position, directions @ pose.rotation.T, bodies)
    noisy = hits.distance + rng.normal(0.0, params.range_noise_m, len(directions))
    kept = rng.uniform(size=len(directions)) >= params.dropout
    keep = hits.hit & (hits.distance <= params.max_range_m) & kept & (noisy > 0)
    intensity = np.abs(np.einsum("ij,ij->i", hits.normal[keep], directions[keep] @ pose.rotation.T))
    return np.concatenate([directions[keep] * noisy[keep, None], intensity[:, None]], axis=1).astype(np.float32)


def write_ply(path: str, points: np.ndarray) -> None:
    """Write one scan to a PLY file (open3d): positions x, y, z and a float ``intensity`` attribute.

    :param path: Output file, ``*.ply``
    :param points: [M, 4] as returned by :func:`scan` (or read from ``lidar_points``)
    """
    import open3d as o3d

    cloud = o3d.t.geometry.PointCloud(o3d.core.Tensor(np.ascontiguousarray(points[:, :3], dtype=np.float32)))
    cloud.point["intensity"] = o3d.core.Tensor(np.ascontiguousarray(points[:, 3:4], dtype=np.float32))
    if not o3d.t.io.write_point_cloud(path, cloud):
        raise OSError(f"{path}: cannot write the PLY file")
