"""Configuration of the ray-traced generator: :class:`RaytraceConfig` (its checks, ``from_dict``/``to_dict``) and
the resolution of scene names to Mitsuba XML files, done without importing Sionna RT."""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from wirelessdata.checks import fail, number, positive_int
from wirelessdata.errors import ConfigError
from wirelessdata.generators.bands import DEFAULT_BANDS, GRID_KEYS, Band, band_dict, make_bands
from wirelessdata.generators.tr38901_config import normalise_array, normalise_bands
from wirelessdata.sensing import increasing_pair
from wirelessdata.sensing.lidar import LidarParams
from wirelessdata.sensing.radar import RadarParams
from wirelessdata.sensing.radio_map import RadioMapParams
from wirelessdata.sensing.rgb import CameraParams
from wirelessdata.sensing.uav import UavParams
from wirelessdata.source.contract import check_keys

GENERATOR = "raytrace"
SENSING = ("rgb", "depth", "lidar", "radar")
DEFAULT_NUM_SUBCARRIERS = 64


@cache
def builtin_scenes() -> dict[str, str]:
    """Sionna RT's built-in scenes, ``{name: XML path}``, found without importing Sionna RT (empty if absent)."""
    spec = importlib.util.find_spec("sionna")
    if spec is None or not spec.submodule_search_locations:
        return {}
    root = Path(next(iter(spec.submodule_search_locations))) / "rt" / "scenes"
    return {p.parent.name: str(p) for p in sorted(root.glob("*/*.xml")) if p.stem == p.parent.name}


def scene_path(scene: str) -> str:
    """XML path of a built-in scene name or of a user's Mitsuba scene file.

    :raises ConfigError: Neither a built-in scene nor an existing file
    """
    if scene in builtin_scenes():
        return builtin_scenes()[scene]
    if scene.endswith(".xml") and Path(scene).is_file():
        return str(Path(scene).resolve())
    raise ConfigError(
        f"scene: unknown scene {scene!r}; allowed: {list(builtin_scenes())} or a path to a Mitsuba XML file"
    )


@dataclass(frozen=True)
class RaytraceConfig:
    """Configuration of the ray-traced generator (validated at construction).

    :param scene: Built-in Sionna RT scene (``simple_street_canyon``, ``munich``, ``etoile``, ...) or a path to a
        Mitsuba XML scene
    :param bands: Bands, each a preset label (``"sub6"``, ``"28GHz"``, ... from ``bands.toml``), a mapping
        ``{"band", "num_subcarriers", "subcarrier_spacing_hz"}`` or a :class:`~wirelessdata.generators.bands.Band`
    :param bs_array: BS panel rows x columns, single (vertical) polarization, 38.901 element pattern,
        half-wavelength spacing at each band's carrier; ``(4, 8)`` or ``"4x8"``
    :param num_ue_ant: UE antennas, one row, isotropic, half-wavelength spacing
    :param bs_position_m: BS array centre (x, y, z) [m], scene frame
    :param bs_yaw_deg: Azimuth of the BS boresight [deg], from +x counter-clockwise
    :param bs_downtilt_deg: Downtilt of the BS boresight [deg], positive downwards
    :param ue_region_m: (x_min, x_max, y_min, y_max) [m] where UEs are dropped; `None` for the scene's extent
    :param min_distance_m: Smallest horizontal BS-UE distance [m]
    :param ue_height_m: UE antenna height above the ground (min, max) [m], uniform
    :param speed_range_mps: UE speed (min, max) [m/s], uniform; heading uniform in the horizontal plane
    :param ue_body_m: Box (length, width, height) [m] standing for the UE in the sensors (not in the ray tracing)
    :param num_time_steps: Snapshots T per drop
    :param snapshot_interval_s: Time between snapshots [s]
    :param max_depth: Largest number of interactions (reflections, refractions) per path
    :param samples_per_src: Rays shot from the BS by the path solver
    :param sensing: Sensors, any of ``"rgb"``, ``"depth"`` (depth maps of the RGB rig's cameras), ``"lidar"``,
        ``"radar"``
    :param camera: :class:`~wirelessdata.sensing.rgb.CameraParams` (or a mapping of its fields), the cameras of
        ``rgb`` and ``depth``
    :param lidar: :class:`~wirelessdata.sensing.lidar.LidarParams` (or a mapping)
    :param radar: :class:`~wirelessdata.sensing.radar.RadarParams` (or a mapping)
    :param uav: :class:`~wirelessdata.sensing.uav.UavParams` (or a mapping), the hover pose of the sensors with
        mount ``"uav"``
    :param radio_map: Write per shard the BS's path-gain map at UE height (Sionna RT ``RadioMapSolver``) with a
        height map and a top-down image of the same grid (modality ``radio_map``)
    :param radio_map_grid: :class:`~wirelessdata.sensing.radio_map.RadioMapParams` (or a mapping): cell size,
        region, rays
    :param scatterers: Write per sample every traced path's interaction points (first band's paths) with their
        kind, path and bounce (modality ``scatterers``)
    :param max_scatterers: Most interaction points stored per sample; beyond it the weakest paths are left out
    """

    scene: str = "simple_street_canyon"
    bands: tuple[Band, ...] = DEFAULT_BANDS
    bs_array: tuple[int, int] = (4, 8)
    num_ue_ant: int = 1
    bs_position_m: tuple[float, float, float] = (-45.0, 0.0, 10.0)
    bs_yaw_deg: float = 0.0
    bs_downtilt_deg: float = 5.0
    ue_region_m: tuple[float, float, float, float] | None = None
    min_distance_m: float = 5.0
    ue_height_m: tuple[float, float] = (1.5, 1.5)
    speed_range_mps: tuple[float, float] = (0.0, 10.0)
    ue_body_m: tuple[float, float, float] = (4.5, 1.8, 1.5)
    num_time_steps: int = 16
    snapshot_interval_s: float = 1e-3
    max_depth: int = 3
    samples_per_src: int = 100_000
    sensing: tuple[str, ...] = ()
    camera: CameraParams = field(default_factory=CameraParams)
    lidar: LidarParams = field(default_factory=LidarParams)
    radar: RadarParams = field(default_factory=RadarParams)
    uav: UavParams = field(default_factory=UavParams)
    radio_map: bool = False
    radio_map_grid: RadioMapParams = field(default_factory=RadioMapParams)
    scatterers: bool = False
    max_scatterers: int = 1024

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # normalise in place: the dataclass is frozen
        if not isinstance(self.scene, str) or not self.scene:
            fail("scene", f"{self.scene!r} is not a scene name", f"{list(builtin_scenes())} or a Mitsuba XML path")
        scene_path(self.scene)
        set_(self, "bands", _checked_bands(self.bands))
        set_(self, "bs_array", normalise_array(self.bs_array))
        for name in ("num_ue_ant", "num_time_steps", "samples_per_src"):
            positive_int(name, getattr(self, name))
        if isinstance(self.max_depth, bool) or not isinstance(self.max_depth, int) or self.max_depth < 0:
            fail("max_depth", f"{self.max_depth!r} is not an integer >= 0", "0 (LoS only), 1, 2, ...")
        set_(self, "bs_position_m", _vector("bs_position_m", self.bs_position_m, 3))
        set_(self, "ue_body_m", _vector("ue_body_m", self.ue_body_m, 3))
        if min(self.ue_body_m) <= 0:
            fail("ue_body_m", f"{list(self.ue_body_m)} has a size <= 0", "[length, width, height] > 0")
        if self.ue_region_m is not None:
            region = _vector("ue_region_m", self.ue_region_m, 4)
            if not (region[0] < region[1] and region[2] < region[3]):
                fail("ue_region_m", f"{list(region)} is empty", "[x_min, x_max, y_min, y_max] with min < max")
            set_(self, "ue_region_m", region)
        number("bs_yaw_deg", self.bs_yaw_deg)
        if not -90 <= number("bs_downtilt_deg", self.bs_downtilt_deg) <= 90:
            fail("bs_downtilt_deg", f"{self.bs_downtilt_deg!r} is out of range", "-90 <= downtilt <= 90")
        if not number("min_distance_m", self.min_distance_m) >= 0:
            fail("min_distance_m", f"{self.min_distance_m!r} is negative", "a number >= 0")
        if not number("snapshot_interval_s", self.snapshot_interval_s) > 0:
            fail("snapshot_interval_s", f"{self.snapshot_interval_s!r} is not positive", "a number > 0")
        set_(self, "ue_height_m", increasing_pair("ue_height_m", self.ue_height_m, 0.0))
        set_(self, "speed_range_mps", increasing_pair("speed_range_mps", self.speed_range_mps, 0.0))
        set_(self, "sensing", _normalise_sensing(self.sensing))
        set_(self, "camera", CameraParams.from_dict(self.camera))
        set_(self, "lidar", LidarParams.from_dict(self.lidar))
        set_(self, "radar", RadarParams.from_dict(self.radar))
        set_(self, "uav", UavParams.from_dict(self.uav))
        if not isinstance(self.radio_map, bool):
            fail("radio_map", f"{self.radio_map!r} is not a boolean", "true or false")
        set_(self, "radio_map_grid", RadioMapParams.from_dict(self.radio_map_grid))
        if not isinstance(self.scatterers, bool):
            fail("scatterers", f"{self.scatterers!r} is not a boolean", "true or false")
        positive_int("max_scatterers", self.max_scatterers)

    @property
    def scenario(self) -> str:
        """The scene's name: the built-in name, or the XML file's stem."""
        return self.scene if self.scene in builtin_scenes() else Path(self.scene).stem

    @property
    def uav_sensors(self) -> tuple[str, ...]:
        """The sensors of ``sensing`` mounted on the UAV (``rgb`` and ``depth`` through the camera rig)."""
        mounts = {"rgb": self.camera.mounts, "depth": self.camera.mounts}
        mounts.update(lidar=(self.lidar.mount,), radar=(self.radar.mount,))
        return tuple(sensor for sensor in self.sensing if "uav" in mounts[sensor])

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RaytraceConfig:
        """Build from a plain mapping (e.g. parsed TOML); rejects unknown keys.

        Besides the fields, the grid keys ``num_subcarriers`` (default 64), ``subcarrier_spacing_hz`` and
        ``carrier_frequency_hz`` (one band only) set the grid of bands given as labels
        (:func:`~wirelessdata.generators.bands.make_bands`).

        :raises ConfigError: Unknown key or invalid value (one line naming the field and the allowed values)
        """
        check_keys(d, [*(f.name for f in dataclasses.fields(cls)), *GRID_KEYS])
        kwargs = {k: v for k, v in d.items() if k not in GRID_KEYS}
        grid = {k: v for k, v in d.items() if k in GRID_KEYS}
        kwargs["bands"] = make_bands(kwargs.get("bands", list(cls.bands)), grid, DEFAULT_NUM_SUBCARRIERS)
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """Plain mapping of every field (bands and sensors as mappings), accepted by :meth:`from_dict`."""
        d: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            d[f.name] = list(value) if isinstance(value, tuple) else value
        d["bands"] = [band_dict(b) for b in self.bands]
        d["bs_array"] = list(self.bs_array)
        for name in ("camera", "lidar", "radar", "uav", "radio_map_grid"):
            d[name] = getattr(self, name).to_dict()
        return d


Config = RaytraceConfig


def _checked_bands(bands: Any) -> tuple[Band, ...]:
    resolved = normalise_bands(bands)
    for i, band in enumerate(resolved):
        where = f"bands[{i}] ({band.label})"
        positive_int(f"{where}.num_subcarriers", band.num_subcarriers)
        if not number(f"{where}.subcarrier_spacing_hz", band.subcarrier_spacing_hz) > 0:
            fail(f"{where}.subcarrier_spacing_hz", f"{band.subcarrier_spacing_hz!r} is not positive", "> 0")
        if band.bandwidth_hz > band.max_bandwidth_hz:
            fail(where, f"bandwidth {band.bandwidth_hz / 1e6:g} MHz is too wide", f"<= {band.max_bandwidth_hz:g} Hz")
    return resolved


def _vector(name: str, value: Any, length: int) -> tuple[float, ...]:
    if not isinstance(value, list | tuple) or len(value) != length:
        fail(name, f"{value!r} does not have {length} numbers", f"a list of {length} numbers")
    return tuple(float(number(name, v)) for v in value)


def _normalise_sensing(sensing: Any) -> tuple[str, ...]:
    if sensing is None:
        return ()
    items = sensing.split(",") if isinstance(sensing, str) else sensing
    if not isinstance(items, list | tuple):
        fail("sensing", f"{sensing!r} is not a list", list(SENSING))
    items = [s.strip() for s in items if not isinstance(s, str) or s.strip()]
    unknown = [s for s in items if s not in SENSING]
    if unknown:
        fail("sensing", f"unknown sensor(s) {unknown}", list(SENSING))
    return tuple(s for s in SENSING if s in items)
