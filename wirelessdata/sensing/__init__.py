"""Sensors on a ray-traced scene: the shared pose convention and ray casting against the scene's meshes.

The sensor models live in :mod:`~wirelessdata.sensing.rgb` (camera renders), :mod:`~wirelessdata.sensing.lidar`
(spinning LiDAR) and :mod:`~wirelessdata.sensing.radar` (FMCW radar cube), mounted on the BS, the UE or a hovering
UAV (:mod:`~wirelessdata.sensing.uav`); they share:

- :class:`Pose`: a sensor position and orientation in the scene frame (x east, y north, z up). The orientation is
  ``rpy`` = (roll, pitch, yaw) [rad], applied z-y-x as in the schema and Sionna RT:
  ``R = Rz(yaw) @ Ry(pitch) @ Rx(roll)`` maps sensor-frame vectors to the scene frame. The sensor frame has x
  forward, y left, z up; a positive pitch tilts x downwards.
- :class:`Box`: an oriented moving body (the UE) that the sensors see but the radio ray tracer does not.
- :class:`SceneGeometry`: the scene's triangle meshes in an open3d ``RaycastingScene``; :meth:`SceneGeometry.cast`
  intersects rays with the meshes and with any :class:`Box`.
- :class:`SensorParams`: the base of the sensors' parameter classes (mapping and shard-attribute round trips).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np

from wirelessdata.errors import ConfigError

MOUNTS = ("bs", "ue", "uav")
"""Where a sensor sits: on the BS (static), on the UE (moving with it) or on a hovering UAV (static, see
:mod:`~wirelessdata.sensing.uav`)."""
STATIC = -1
"""Body index of a ray hit on the static scene meshes (see :attr:`Hits.body`)."""


class SensorParams:
    """Base of the sensors' frozen parameter dataclasses: mapping round trip with one-line errors.

    Subclasses set ``FIELD``, the configuration field they are read from (used in error messages), and
    validate their values in ``__post_init__``; list values are stored as tuples.
    """

    FIELD: ClassVar[str] = "sensor"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | Self) -> Self:
        """Build from a mapping (e.g. a TOML table); rejects unknown keys.

        :raises ConfigError: Not a mapping, unknown key or invalid value (one line naming the field)
        """
        if isinstance(d, cls):
            return d
        valid = [f.name for f in dataclasses.fields(cls)]
        if not isinstance(d, Mapping):
            raise ConfigError(f"{cls.FIELD}: {d!r} is not a table; valid keys: {valid}")
        unknown = sorted(set(d) - set(valid))
        if unknown:
            raise ConfigError(f"{cls.FIELD}: unknown key(s) {unknown}; valid keys: {valid}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    def to_dict(self) -> dict[str, Any]:
        """Plain mapping of every field (tuples as lists), accepted by :meth:`from_dict`."""
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in dataclasses.fields(self)
        }

    def to_attrs(self) -> dict[str, Any]:
        """Shard attributes ``<FIELD>_<name>`` of every field."""
        return {f"{self.FIELD}_{name}": value for name, value in self.to_dict().items()}

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> Self:
        """The parameters recorded in a shard's attributes by :meth:`to_attrs` (other attributes are ignored)."""
        names = {f"{cls.FIELD}_{f.name}": f.name for f in dataclasses.fields(cls)}
        return cls.from_dict({names[k]: v for k, v in attrs.items() if k in names})


def increasing_pair(name: str, value: Any, low: float = -np.inf, high: float = np.inf) -> tuple[float, float]:
    """``value`` as a pair (a, b) of finite numbers with ``low <= a <= b <= high``.

    :raises ConfigError: One line naming ``name`` and the allowed values
    """
    ok = isinstance(value, list | tuple) and len(value) == 2
    ok = ok and all(isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v) for v in value)
    if not (ok and low <= value[0] <= value[1] <= high):
        raise ConfigError(
            f"{name}: {value!r} is not an increasing pair; allowed: [a, b] with {low} <= a <= b <= {high}"
        )
    return float(value[0]), float(value[1])


def rotation(rpy: Any) -> np.ndarray:
    """Rotation matrix of (roll, pitch, yaw) [rad], z-y-x: ``Rz(yaw) @ Ry(pitch) @ Rx(roll)``.

    :param rpy: [3] or [..., 3], rad
    :output r: [3, 3] or [..., 3, 3], float64, sensor frame to scene frame
    """
    roll, pitch, yaw = np.moveaxis(np.asarray(rpy, dtype=np.float64), -1, 0)
    cr, sr, cp, sp, cy, sy = np.cos(roll), np.sin(roll), np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw)
    rows = [
        [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
        [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
        [-sp, cp * sr, cp * cr],
    ]
    return np.stack([np.stack(np.broadcast_arrays(*row), axis=-1) for row in rows], axis=-2)


def look_at_rpy(direction: Any) -> np.ndarray:
    """(roll, pitch, yaw) [rad] of a sensor whose x axis points along ``direction`` (roll 0).

    :param direction: [3], any length > 0
    :output rpy: [3], float64
    """
    d = np.asarray(direction, dtype=np.float64)
    d = d / np.linalg.norm(d)
    return np.array([0.0, -np.arcsin(np.clip(d[2], -1.0, 1.0)), np.arctan2(d[1], d[0])])


@dataclass(frozen=True)
class Pose:
    """A sensor pose in the scene frame.

    :param position: [3], m
    :param rpy: [3] (roll, pitch, yaw), rad, z-y-x (see the module docstring)
    """

    position: np.ndarray
    rpy: np.ndarray

    @property
    def rotation(self) -> np.ndarray:
        """[3, 3] sensor frame to scene frame."""
        return rotation(self.rpy)

    def to_scene(self, points: np.ndarray) -> np.ndarray:
        """Sensor-frame points [N, 3] (m) to the scene frame [N, 3]."""
        return np.asarray(points, dtype=np.float64) @ self.rotation.T + self.position

    def to_sensor(self, points: np.ndarray) -> np.ndarray:
        """Scene-frame points [N, 3] (m) to the sensor frame [N, 3]."""
        return (np.asarray(points, dtype=np.float64) - self.position) @ self.rotation


@dataclass(frozen=True)
class Box:
    """An oriented box standing for a moving body (a vehicle, a pedestrian).

    :param center: [3], m, scene frame
    :param size: [3] (length along the heading, width, height), m
    :param yaw: heading, rad, from +x counter-clockwise
    :param velocity: [3], m/s, scene frame
    """

    center: np.ndarray
    size: np.ndarray
    yaw: float
    velocity: np.ndarray

    def intersect(self, origins: np.ndarray, directions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ray-box intersection (slab method); rays starting inside the box miss it.

        :param origins: [N, 3], m; :param directions: [N, 3], unit
        :output t: [N], m, distance to the entry point, inf on a miss
        :output normals: [N, 3], unit outward normal of the entry face (zeros on a miss)
        """
        r = rotation([0.0, 0.0, self.yaw])
        o = (origins - self.center) @ r  # box frame
        d = directions @ r
        half = np.asarray(self.size, dtype=np.float64) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            t1, t2 = (-half - o) / d, (half - o) / d
        near, far = np.minimum(t1, t2), np.maximum(t1, t2)
        near, far = np.nan_to_num(near, nan=-np.inf), np.nan_to_num(far, nan=np.inf)
        axis = near.argmax(axis=1)
        t_near, t_far = near.max(axis=1), far.min(axis=1)
        hit = (t_near <= t_far) & (t_near > 0)
        normals = np.zeros_like(o)
        rows = np.flatnonzero(hit)
        normals[rows, axis[rows]] = -np.sign(d[rows, axis[rows]])
        return np.where(hit, t_near, np.inf), normals @ r.T


@dataclass(frozen=True)
class Hits:
    """Result of :meth:`SceneGeometry.cast` for N rays.

    :param distance: [N], m, inf where the ray hits nothing
    :param normal: [N, 3], unit surface normal (orientation arbitrary for scene meshes), zeros on a miss
    :param body: [N], int, index of the :class:`Box` hit, :data:`STATIC` for the scene meshes or a miss
    :param mesh: [N], int, index of the scene mesh hit (in :attr:`SceneGeometry.meshes`), -1 for a body or a miss
    """

    distance: np.ndarray
    normal: np.ndarray
    body: np.ndarray
    mesh: np.ndarray

    @property
    def hit(self) -> np.ndarray:
        """[N], bool: the ray hit something."""
        return np.isfinite(self.distance)


class SceneGeometry:
    """Triangle meshes of a scene, ready for ray casting with open3d.

    :param meshes: (vertices [V, 3] m, faces [F, 3] vertex indices) of each mesh, scene frame
    :param colors: [M, 3] linear RGB in [0, 1] of each mesh (its material's colour), mid grey when not given
    """

    def __init__(self, meshes: Iterable[tuple[np.ndarray, np.ndarray]], colors: Any = None) -> None:
        import open3d as o3d

        self._o3d = o3d
        self.meshes = [(np.asarray(v, np.float32), np.asarray(f, np.uint32)) for v, f in meshes]
        self.colors = np.full((len(self.meshes), 3), 0.5) if colors is None else np.asarray(colors, np.float64)
        """[M, 3], linear RGB of each mesh."""
        if self.colors.shape != (len(self.meshes), 3):
            raise ConfigError(f"SceneGeometry: {self.colors.shape} colours for {len(self.meshes)} meshes; give [M, 3]")
        self._scene = o3d.t.geometry.RaycastingScene()
        for vertices, faces in self.meshes:
            self._scene.add_triangles(o3d.core.Tensor(vertices), o3d.core.Tensor(faces))
        everything = np.concatenate([v for v, _ in self.meshes])
        self.bounds = np.stack([everything.min(axis=0), everything.max(axis=0)]).astype(np.float64)
        """[2, 3], m: lowest and highest corner of the scene's bounding box."""

    @classmethod
    def from_mitsuba(cls, mi_scene: Any) -> SceneGeometry:
        """Meshes of a Mitsuba scene (``sionna.rt.Scene.mi_scene``), in their current (world) positions, with the
        colours of their radio materials (Sionna RT's ``RadioMaterial.color``; mid grey for a material without)."""
        shapes = list(mi_scene.shapes())
        meshes = [
            (np.array(s.vertex_positions_buffer()).reshape(-1, 3), np.array(s.faces_buffer()).reshape(-1, 3))
            for s in shapes
        ]
        return cls(meshes, [tuple(getattr(s.bsdf(), "color", (0.5, 0.5, 0.5))) for s in shapes])

    def cast(self, origins: np.ndarray, directions: np.ndarray, bodies: Sequence[Box] = ()) -> Hits:
        """First intersection of each ray with the meshes and the ``bodies``.

        :param origins: [N, 3] or [3], m; :param directions: [N, 3], unit
        :param bodies: Boxes in the scene besides the meshes
        """
        directions = np.asarray(directions, dtype=np.float64)
        origins = np.broadcast_to(np.asarray(origins, dtype=np.float64), directions.shape)
        rays = self._o3d.core.Tensor(np.concatenate([origins, directions], axis=1).astype(np.float32))
        result = self._scene.cast_rays(rays)
        distance = result["t_hit"].numpy().astype(np.float64)
        normal = result["primitive_normals"].numpy().astype(np.float64)
        mesh = np.where(np.isfinite(distance), result["geometry_ids"].numpy().astype(np.int64), -1)
        body = np.full(len(distance), STATIC)
        for k, box in enumerate(bodies):
            t, n = box.intersect(origins, directions)
            closer = t < distance
            distance, body, mesh = np.where(closer, t, distance), np.where(closer, k, body), np.where(closer, -1, mesh)
            normal[closer] = n[closer]
        return Hits(distance, normal, body, mesh)

    def distance_to_surface(self, points: np.ndarray) -> np.ndarray:
        """Unsigned distance [N] (m) of points [N, 3] (scene frame) to the nearest mesh."""
        query = self._o3d.core.Tensor(np.asarray(points, dtype=np.float32))
        return self._scene.compute_distance(query).numpy().astype(np.float64)
