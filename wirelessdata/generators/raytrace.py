"""Ray-traced generator on Sionna RT: CSI of UEs in a 3D scene with aligned RGB, LiDAR and radar.

A *drop* is one UE on walkable/drivable ground of the scene (a downward ray test: the first surface below the
point is the lowest one and nearly level, so neither a roof nor inside a building), at least ``min_distance_m`` from
the BS, at a height and speed drawn from the recipe, moving on a straight track. The BS stands where the recipe
puts it (an error if a ray straight up from it hits the scene: inside a building). For every band the scene is
ray traced at the band's carrier (``PathSolver``, deterministic, same positions and velocities), and
``Paths.cfr`` gives the channel at T snapshots with each path's Doppler; arrays are spaced at half the band's
wavelength. ``los`` comes from the first band's paths (the geometry is the same for every band). A drop without
any path at some band is redrawn (and counted in the log), so no sample is empty.

With ``sensing``, every sample also holds, captured at its first snapshot (timestamps 0 s): camera images
(:mod:`wirelessdata.sensing.rgb`), a LiDAR scan (:mod:`wirelessdata.sensing.lidar`) and an FMCW radar cube
(:mod:`wirelessdata.sensing.radar`), each with its pose; the UE appears to them as a box (``ue_body_m``) that the
radio ray tracer does not see.

Public API: :class:`RaytraceConfig` (``Config``), :func:`shard_layouts`, :func:`generate_block`; Sionna RT is
imported on first use, after pointing Dr.Jit at Debian's LLVM 19 when ``DRJIT_LIBLLVM_PATH`` is unset.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import logging
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from wirelessdata import __version__
from wirelessdata.checks import fail, number, positive_int
from wirelessdata.errors import ConfigError, WirelessDataError
from wirelessdata.generators.bands import Band, make_band
from wirelessdata.generators.tr38901 import beam_codebook, beams_and_gain, normalise_array, normalise_bands
from wirelessdata.sensing import Box, Pose, SceneGeometry, increasing_pair, look_at_rpy
from wirelessdata.sensing import lidar as lidar_model
from wirelessdata.sensing import radar as radar_model
from wirelessdata.sensing import rgb as rgb_model
from wirelessdata.sensing.lidar import LidarParams
from wirelessdata.sensing.radar import SPEED_OF_LIGHT, RadarParams
from wirelessdata.sensing.rgb import CameraParams

GENERATOR = "raytrace"
SENSING = ("rgb", "lidar", "radar")
DEBIAN_LIBLLVM = "/usr/lib/x86_64-linux-gnu/libLLVM-19.so"
"""Dr.Jit's LLVM when ``DRJIT_LIBLLVM_PATH`` is unset (Debian's ``libllvm19``)."""
DEFAULT_NUM_SUBCARRIERS = 64
MAX_GROUND_SLOPE_DEG = 30.0
"""Steepest ground a UE may stand on."""
GROUND_GAP_M = 0.5
"""A surface more than this below the first one hit from above makes that one a roof, not ground."""
PLACEMENT_TRIES = 200
"""Candidate positions per wanted UE before giving up with 'no valid UE positions'."""
MAX_REDRAWS = 8
"""Rounds of redrawing drops without any path before giving up."""
CHASE_BACK_M, CHASE_UP_M = 8.0, 3.0
"""Offset of the UE-following camera: behind the UE along its heading, and above it."""
UE_DISPLAY_RADIUS_M = 0.5
"""Radius of the sphere that marks the UE in camera images."""
TOPOLOGY_STREAM, SENSING_STREAM = 0, 1
"""numpy seed-sequence keys of a block's drop draws and of its sensor noise."""

log = logging.getLogger(__name__)
stage_seconds: dict[str, float] = {}
"""Wall time spent per stage of :func:`generate_block` in this process (read and cleared by benchmarks)."""


@contextlib.contextmanager
def _timed(stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        stage_seconds[stage] = stage_seconds.get(stage, 0.0) + time.perf_counter() - start


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
    :param sensing: Sensors, any of ``"rgb"``, ``"lidar"``, ``"radar"``
    :param camera: :class:`~wirelessdata.sensing.rgb.CameraParams` (or a mapping of its fields)
    :param lidar: :class:`~wirelessdata.sensing.lidar.LidarParams` (or a mapping)
    :param radar: :class:`~wirelessdata.sensing.radar.RadarParams` (or a mapping)
    """

    scene: str = "simple_street_canyon"
    bands: tuple[Band, ...] = ("sub6", "28GHz")
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

    @property
    def scenario(self) -> str:
        """The scene's name: the built-in name, or the XML file's stem."""
        return self.scene if self.scene in builtin_scenes() else Path(self.scene).stem

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RaytraceConfig:
        """Build from a plain mapping (e.g. parsed TOML); rejects unknown keys.

        Besides the fields, the key ``num_subcarriers`` sets the subcarrier count of bands given as
        labels (default 64).

        :raises ConfigError: Unknown key or invalid value (one line naming the field and the allowed values)
        """
        valid = [f.name for f in dataclasses.fields(cls)] + ["num_subcarriers"]
        unknown = sorted(set(d) - set(valid))
        if unknown:
            raise ConfigError(f"unknown key(s) {unknown}; valid keys: {valid}")
        kwargs = {k: v for k, v in d.items() if k != "num_subcarriers"}
        bands = kwargs.get("bands", cls.bands)
        if isinstance(bands, str):
            bands = bands.split(",")
        elif isinstance(bands, Mapping):
            bands = [bands]
        if isinstance(bands, list | tuple):
            kwargs["bands"] = tuple(make_band(b, d.get("num_subcarriers", DEFAULT_NUM_SUBCARRIERS)) for b in bands)
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """Plain mapping of every field (bands and sensors as mappings), accepted by :meth:`from_dict`."""
        d: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            d[f.name] = list(value) if isinstance(value, tuple) else value
        d["bands"] = [
            {"band": b.label, "num_subcarriers": b.num_subcarriers, "subcarrier_spacing_hz": b.subcarrier_spacing_hz}
            for b in self.bands
        ]
        d["bs_array"] = list(self.bs_array)
        for name in ("camera", "lidar", "radar"):
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


# --- Sionna RT and the scene ----------------------------------------------------------------------------------


def sionna_rt() -> Any:
    """The ``sionna.rt`` module, with Dr.Jit pointed at an LLVM it can use.

    :raises WirelessDataError: Sionna RT missing, or Dr.Jit without a usable LLVM (one line saying what to install)
    """
    if "DRJIT_LIBLLVM_PATH" not in os.environ and Path(DEBIAN_LIBLLVM).is_file():
        os.environ["DRJIT_LIBLLVM_PATH"] = DEBIAN_LIBLLVM
    try:
        import sionna.rt
    except ModuleNotFoundError as exc:
        raise WirelessDataError(
            f"generator raytrace needs Sionna RT ({exc}); install wirelessdata with the sim and sensing extras"
        ) from exc
    except ImportError as exc:
        if "LLVM" not in str(exc):
            raise
        raise WirelessDataError(
            f"Dr.Jit has no usable LLVM ({str(exc).splitlines()[0]}); install libllvm19 (apt-get install libllvm19) "
            f"and set DRJIT_LIBLLVM_PATH to its libLLVM-19.so (dpkg -L libllvm19), e.g. {DEBIAN_LIBLLVM}"
        ) from exc
    return sionna.rt


@dataclass(frozen=True)
class World:
    """A loaded scene: Sionna RT's scene (its radio devices are reset by every block) and its meshes."""

    scene: Any
    geometry: SceneGeometry


@lru_cache(maxsize=4)
def load_world(scene: str) -> World:
    """Load a scene (built-in name or XML path) once per process.

    :raises ConfigError: The scene cannot be loaded
    """
    rt = sionna_rt()
    path = scene_path(scene)
    try:
        loaded = rt.load_scene(path)
    except Exception as exc:  # Mitsuba raises RuntimeError with multi-line parser messages
        raise ConfigError(
            f"scene: cannot load {path} ({type(exc).__name__}: {str(exc).strip().splitlines()[0]})"
        ) from exc
    if not list(loaded.mi_scene.shapes()):
        raise ConfigError(f"scene: {path} has no meshes; allowed: a scene with triangle meshes")
    return World(loaded, SceneGeometry.from_mitsuba(loaded.mi_scene))


def check_bs(cfg: RaytraceConfig, geometry: SceneGeometry) -> None:
    """The BS must stand in the open above the scene's ground.

    :raises ConfigError: A ray straight up from the BS hits the scene (inside or under a building), or no
        surface lies below it
    """
    position = np.asarray(cfg.bs_position_m)
    up, down = geometry.cast(position, [[0.0, 0.0, 1.0]]), geometry.cast(position, [[0.0, 0.0, -1.0]])
    if up.hit[0]:
        fail(
            "bs_position_m",
            f"{list(cfg.bs_position_m)} is inside a building of scene {cfg.scenario} (the scene lies "
            f"{up.distance[0]:.1f} m above it)",
            "a point in the open: above a street or on a roof",
        )
    if not down.hit[0]:
        fail(
            "bs_position_m",
            f"{list(cfg.bs_position_m)} is not above any surface of {cfg.scenario}",
            "a point above the ground",
        )


# --- drops --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drops:
    """UEs of a block at the first snapshot.

    :param position: [n, 3], m, antenna position
    :param velocity: [n, 3], m/s
    :param heading: [n], rad, from +x counter-clockwise (also when the UE stands still)
    :param ground: [n], m, ground height under the UE
    """

    position: np.ndarray
    velocity: np.ndarray
    heading: np.ndarray
    ground: np.ndarray

    def replace(self, mask: np.ndarray, fresh: Drops) -> Drops:
        """These drops with those at ``mask`` [n] replaced by ``fresh`` (``mask.sum()`` drops)."""
        merged = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name).copy()
            value[mask] = getattr(fresh, f.name)
            merged[f.name] = value
        return Drops(**merged)

    def body(self, i: int, size: tuple[float, float, float]) -> Box:
        """The box of UE ``i``: ``size`` (length, width, height), on the ground, along the heading."""
        center = np.array([*self.position[i, :2], self.ground[i] + size[2] / 2])
        return Box(center, np.asarray(size), float(self.heading[i]), self.velocity[i])


def ground_height(geometry: SceneGeometry, xy: np.ndarray) -> np.ndarray:
    """Height of walkable/drivable ground at horizontal positions, NaN where there is none.

    A downward ray from above the scene must first hit a surface sloped at most ``MAX_GROUND_SLOPE_DEG``
    below which nothing lies (more than ``GROUND_GAP_M`` lower): a roof or the inside of a building fails.

    :param xy: [N, 2], m
    :output z: [N], m
    """
    down = np.tile([0.0, 0.0, -1.0], (len(xy), 1))
    top = geometry.bounds[1, 2] + 1.0
    first = geometry.cast(np.column_stack([xy, np.full(len(xy), top)]), down)
    z = top - first.distance
    below = geometry.cast(np.column_stack([xy, np.where(first.hit, z - GROUND_GAP_M, top)]), down)
    level = np.abs(first.normal[:, 2]) >= np.cos(np.deg2rad(MAX_GROUND_SLOPE_DEG))
    return np.where(first.hit & level & ~below.hit, z, np.nan)


def draw_drops(cfg: RaytraceConfig, geometry: SceneGeometry, n: int, rng: np.random.Generator) -> Drops:
    """n UEs on valid ground of the region, at least ``min_distance_m`` from the BS; both ends of the track valid.

    :raises ConfigError: No n valid positions among ``PLACEMENT_TRIES * n`` candidates
    """
    lo, hi = geometry.bounds
    x0, x1, y0, y1 = cfg.ue_region_m or (lo[0], hi[0], lo[1], hi[1])
    bs_xy = np.asarray(cfg.bs_position_m[:2])
    duration = (cfg.num_time_steps - 1) * cfg.snapshot_interval_s
    found: list[np.ndarray] = []
    tried = 0
    while sum(len(f) for f in found) < n:
        if tried >= PLACEMENT_TRIES * n:
            fail(
                "ue_region_m",
                f"no valid UE position in {[x0, x1, y0, y1]} of scene {cfg.scenario} after {tried} tries (ground "
                f"must be level, not a roof, not inside a building, >= {cfg.min_distance_m} m from the BS)",
                "a region covering open ground (streets, squares)",
            )
        m = max(64, 4 * n)
        tried += m
        xy = np.column_stack([rng.uniform(x0, x1, m), rng.uniform(y0, y1, m)])
        speed = rng.uniform(*cfg.speed_range_mps, m)
        heading = rng.uniform(0, 2 * np.pi, m)
        height = rng.uniform(*cfg.ue_height_m, m)
        velocity = np.column_stack([speed * np.cos(heading), speed * np.sin(heading), np.zeros(m)])
        ground = ground_height(geometry, xy)
        end = ground_height(geometry, xy + velocity[:, :2] * duration)
        ok = np.isfinite(ground) & np.isfinite(end) & (np.linalg.norm(xy - bs_xy, axis=1) >= cfg.min_distance_m)
        found.append(np.column_stack([xy, ground + height, velocity, heading, ground])[ok])
    rows = np.concatenate(found)[:n]
    return Drops(rows[:, :3], rows[:, 3:6], rows[:, 6], rows[:, 7])


# --- ray tracing --------------------------------------------------------------------------------------------------


def _set_devices(
    scene: Any, bs: RaytraceConfig | None, positions: np.ndarray, velocities: np.ndarray | None = None
) -> None:
    """Make the scene hold exactly the BS (if ``bs`` is given) and one receiver per position."""
    import mitsuba as mi

    rt = sionna_rt()
    scene.remove([*scene.transmitters, *scene.receivers])
    if bs is not None:
        orientation = mi.Point3f(float(np.deg2rad(bs.bs_yaw_deg)), float(np.deg2rad(bs.bs_downtilt_deg)), 0.0)
        scene.add(rt.Transmitter(name="bs", position=mi.Point3f(*bs.bs_position_m), orientation=orientation))
    for i, p in enumerate(positions):
        velocity = None if velocities is None else mi.Vector3f(*map(float, velocities[i]))
        receiver = rt.Receiver(
            name=f"ue{i}", position=mi.Point3f(*map(float, p)), velocity=velocity, display_radius=UE_DISPLAY_RADIUS_M
        )
        scene.add(receiver)


def _arrays(cfg: RaytraceConfig) -> tuple[Any, Any]:
    """Sionna RT arrays of the BS (38.901 elements) and of the UE (isotropic), half-wavelength spacing."""
    rt = sionna_rt()
    rows, cols = cfg.bs_array
    bs = rt.PlanarArray(num_rows=rows, num_cols=cols, pattern="tr38901", polarization="V")
    ue = rt.PlanarArray(num_rows=1, num_cols=cfg.num_ue_ant, pattern="iso", polarization="V")
    return bs, ue


def antenna_positions(cfg: RaytraceConfig, band: Band) -> tuple[np.ndarray, np.ndarray]:
    """Element positions in the array frame (x = boresight) at the band's carrier.

    :output bs_ant_pos: [Nbs, 3], float32, m; :output ue_ant_pos: [Nue, 3], float32, m
    """
    wavelength = SPEED_OF_LIGHT / band.carrier_frequency_hz
    bs, ue = _arrays(cfg)
    return tuple(np.array(a.positions(wavelength)).T.astype(np.float32) for a in (bs, ue))


@cache
def _solver() -> Any:
    return sionna_rt().PathSolver(deterministic=True)


def trace(cfg: RaytraceConfig, world: World, band: Band, drops: Drops, seed: int) -> dict[str, np.ndarray]:
    """Ray trace the drops at one band.

    :output traced: ``csi`` [m, T, K, Nbs, Nue] complex64 (delays relative to each link's first path),
        ``reached`` [m] bool (any valid path), ``los`` [m] bool (a path without interaction),
        ``delay_spread_s`` [m] float32 (RMS over the paths' powers), ``k_factor_db`` [m] float32 (LoS path power
        over the other paths', NaN without LoS)
    """
    import mitsuba as mi

    scene = world.scene
    scene.frequency = band.carrier_frequency_hz
    scene.tx_array, scene.rx_array = _arrays(cfg)
    _set_devices(scene, cfg, drops.position, drops.velocity)
    with _timed("ray tracing"):
        paths = _solver()(scene, max_depth=cfg.max_depth, samples_per_src=cfg.samples_per_src, seed=seed % 2**31)
    with _timed("csi"):
        k = band.num_subcarriers
        offsets = (np.arange(k) - k // 2) * band.subcarrier_spacing_hz
        h = paths.cfr(
            frequencies=mi.Float(offsets),
            sampling_frequency=1 / cfg.snapshot_interval_s,
            num_time_steps=cfg.num_time_steps,
            out_type="numpy",
        )  # [rx, rx_ant, tx, tx_ant, T, K]
        csi = np.ascontiguousarray(h[:, :, 0].transpose(0, 3, 4, 2, 1)).astype(np.complex64)
        stats = _path_stats(paths)
    return {"csi": csi, **stats}


def _path_stats(paths: Any) -> dict[str, np.ndarray]:
    """LoS flag, delay spread and K-factor of each receiver from the traced paths (synthetic arrays)."""
    valid = paths.valid.numpy()[:, 0].astype(bool)  # [rx, P]
    if valid.shape[-1] == 0:
        n = valid.shape[0]
        return {
            "reached": np.zeros(n, bool),
            "los": np.zeros(n, bool),
            "delay_spread_s": np.zeros(n, np.float32),
            "k_factor_db": np.full(n, np.nan, np.float32),
        }
    a_re, a_im = (x.numpy() for x in paths.a)  # [rx, rx_ant, tx, tx_ant, P]
    power = np.where(valid, (a_re**2 + a_im**2)[:, :, 0].mean(axis=(1, 2)), 0.0)  # [rx, P]
    tau = np.where(valid, paths.tau.numpy()[:, 0], 0.0)
    direct = valid & (paths.interactions.numpy()[:, :, 0] == 0).all(axis=0)
    total = power.sum(axis=1)
    reached = valid.any(axis=1) & (total > 0)
    safe = np.where(reached, total, 1.0)
    mean = (power * tau).sum(axis=1) / safe
    spread = np.sqrt(np.maximum((power * tau**2).sum(axis=1) / safe - mean**2, 0.0))
    p_los = (power * direct).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        k_db = 10 * np.log10(p_los / (total - p_los))
    los = direct.any(axis=1)
    return {
        "reached": reached,
        "los": los,
        "delay_spread_s": np.where(reached, spread, 0.0).astype(np.float32),
        "k_factor_db": np.where(los & np.isfinite(k_db), k_db, np.nan).astype(np.float32),
    }


def trace_all(
    cfg: RaytraceConfig, world: World, drops: Drops, seed: int, rng: np.random.Generator
) -> tuple[Drops, list[dict[str, np.ndarray]]]:
    """Trace every band; redraw the drops that some band cannot reach until all are reached.

    :raises WirelessDataError: Drops still without any path after ``MAX_REDRAWS`` rounds
    """
    traced = [trace(cfg, world, band, drops, seed) for band in cfg.bands]
    redrawn = 0
    for attempt in range(MAX_REDRAWS + 1):
        lost = ~np.logical_and.reduce([t["reached"] for t in traced])
        if not lost.any():
            break
        if attempt == MAX_REDRAWS:
            raise WirelessDataError(
                f"raytrace: {int(lost.sum())} drop(s) without any path between BS and UE after {MAX_REDRAWS} "
                f"redraws; move bs_position_m, narrow ue_region_m or raise max_depth"
            )
        with _timed("placement"):
            fresh = draw_drops(cfg, world.geometry, int(lost.sum()), rng)
        redrawn += int(lost.sum())
        drops = drops.replace(lost, fresh)
        again = [trace(cfg, world, band, fresh, seed) for band in cfg.bands]
        for old, new in zip(traced, again, strict=True):
            for key, value in old.items():
                value[lost] = new[key]
    if redrawn:
        log.info("raytrace: %d drop(s) without any path were redrawn", redrawn)
    return drops, traced


# --- sensing ------------------------------------------------------------------------------------------------------


def _mount_pose(cfg: RaytraceConfig, mount: str, drops: Drops, i: int) -> Pose:
    """Pose of a LiDAR or radar: at the BS along its boresight, or at the UE antenna along its heading."""
    if mount == "bs":
        return Pose(np.asarray(cfg.bs_position_m), np.deg2rad([0.0, cfg.bs_downtilt_deg, cfg.bs_yaw_deg]))
    return Pose(drops.position[i].copy(), np.array([0.0, 0.0, drops.heading[i]]))


def _camera_pose(cfg: RaytraceConfig, geometry: SceneGeometry, mount: str, drops: Drops, i: int) -> Pose:
    """Pose of a camera: at the BS along its boresight, or behind and above the UE looking at it (pulled in front
    of any wall in between)."""
    if mount == "bs":
        return _mount_pose(cfg, "bs", drops, i)
    ue = drops.position[i]
    behind = np.array([-CHASE_BACK_M * np.cos(drops.heading[i]), -CHASE_BACK_M * np.sin(drops.heading[i]), CHASE_UP_M])
    reach = geometry.cast(ue, behind[None] / np.linalg.norm(behind)).distance[0]
    position = ue + behind * min(1.0, 0.9 * reach / np.linalg.norm(behind))
    return Pose(position, look_at_rpy(ue - position))


def _sense_rgb(cfg: RaytraceConfig, world: World, drops: Drops) -> dict[str, np.ndarray]:
    images, positions, orientations = [], [], []
    with _timed("rgb"), rgb_model.batch():
        for i in range(len(drops.position)):
            poses = [_camera_pose(cfg, world.geometry, mount, drops, i) for mount in cfg.camera.mounts]
            _set_devices(world.scene, None, drops.position[i : i + 1])  # the sample's UE only
            images.append([rgb_model.render(world.scene, pose, cfg.camera) for pose in poses])
            positions.append([pose.position for pose in poses])
            orientations.append([pose.rpy for pose in poses])
    return {
        "rgb": np.asarray(images, dtype=np.uint8),
        "rgb_time": np.zeros((len(drops.position), len(cfg.camera.mounts))),
        "camera_pos": np.asarray(positions, dtype=np.float32),
        "camera_orientation": np.asarray(orientations, dtype=np.float32),
    }


def _sense_lidar(cfg: RaytraceConfig, world: World, drops: Drops, seed: int) -> dict[str, np.ndarray]:
    scans, poses = [], []
    for i in range(len(drops.position)):
        pose = _mount_pose(cfg, cfg.lidar.mount, drops, i)
        bodies = (drops.body(i, cfg.ue_body_m),) if cfg.lidar.mount == "bs" else ()
        rng = np.random.default_rng([seed, SENSING_STREAM, i, 0])
        with _timed("lidar"):
            scans.append(lidar_model.scan(world.geometry, pose, cfg.lidar, rng, bodies))
        poses.append(pose)
    return {
        "lidar_points": np.concatenate(scans).reshape(-1, 4),
        "lidar_count": np.array([len(points) for points in scans], dtype=np.int64),
        "lidar_time": np.zeros(len(scans)),
        "lidar_pos": np.array([p.position for p in poses], dtype=np.float32),
        "lidar_orientation": np.array([p.rpy for p in poses], dtype=np.float32),
    }


def _sense_radar(cfg: RaytraceConfig, world: World, drops: Drops, seed: int) -> dict[str, np.ndarray]:
    cubes, poses = [], []
    on_ue = cfg.radar.mount == "ue"
    for i in range(len(drops.position)):
        pose = _mount_pose(cfg, cfg.radar.mount, drops, i)
        bodies = () if on_ue else (drops.body(i, cfg.ue_body_m),)
        rng = np.random.default_rng([seed, SENSING_STREAM, i, 1])
        with _timed("radar"):
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
    if "rgb" in cfg.sensing:
        arrays.update(_sense_rgb(cfg, world, drops))
    if "lidar" in cfg.sensing:
        arrays.update(_sense_lidar(cfg, world, drops, seed))
    if "radar" in cfg.sensing:
        arrays.update(_sense_radar(cfg, world, drops, seed))
    return arrays


# --- the generator contract ---------------------------------------------------------------------------------------


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
    sensors = {"rgb": cfg.camera, "lidar": cfg.lidar, "radar": cfg.radar}
    for sensor in cfg.sensing:
        attrs.update(sensors[sensor].to_attrs())
    if "radar" in cfg.sensing:
        attrs["radar_range_resolution_m"] = cfg.radar.range_resolution_m
        attrs["radar_max_range_m"] = cfg.radar.max_range_m
        attrs["radar_velocity_resolution_mps"] = cfg.radar.velocity_resolution_mps
        attrs["radar_max_velocity_mps"] = cfg.radar.max_velocity_mps
        attrs["radar_cube_units"] = "ADC samples over the receiver noise amplitude (noise power 1)"
    return attrs


def shard_layouts(cfg: RaytraceConfig) -> dict[str, dict]:
    """Attributes, sizes, coordinates, modalities and ragged dims of the shard of each band.

    Loads the scene and checks the BS position, so that a bad configuration fails before any shard exists.

    :output layouts: ``{band label: {"attrs", "sizes", "coords", "modalities", "optional", "ragged"}}``;
        ``coords`` holds ``time`` [T] s, ``subcarrier`` [K] Hz offsets (``(k - K//2) * spacing``),
        ``bs_ant_pos`` [Nbs, 3] and ``ue_ant_pos`` [Nue, 3] m in the array frame (x = boresight), and with rgb
        ``camera_intrinsics`` [camera, 4] pixel
    :raises ConfigError: Unknown scene, or BS inside a building
    """
    world = load_world(cfg.scene)
    check_bs(cfg, world.geometry)
    rows, cols = cfg.bs_array
    sizes_sensing: dict[str, int] = {}
    coords_sensing: dict[str, np.ndarray] = {}
    ragged = []
    if "rgb" in cfg.sensing:
        sizes_sensing.update(camera=len(cfg.camera.mounts), height=cfg.camera.height, width=cfg.camera.width)
        coords_sensing["camera_intrinsics"] = np.tile(rgb_model.intrinsics(cfg.camera), (len(cfg.camera.mounts), 1))
    if "lidar" in cfg.sensing:
        ragged.append({"dim": "point", "prefix": "lidar", "capacity_per_sample": cfg.lidar.capacity})
    if "radar" in cfg.sensing:
        sizes_sensing.update(
            radar_rx=cfg.radar.num_rx, fast_time=cfg.radar.samples_per_chirp, chirp=cfg.radar.num_chirps
        )
    layouts = {}
    for band in cfg.bands:
        k = band.num_subcarriers
        bs_ant_pos, ue_ant_pos = antenna_positions(cfg, band)
        layouts[band.label] = {
            "attrs": _layout_attrs(cfg, band),
            "sizes": {
                "time": cfg.num_time_steps,
                "subcarrier": k,
                "bs_ant": rows * cols,
                "ue_ant": cfg.num_ue_ant,
                **sizes_sensing,
            },
            "coords": {
                "time": np.arange(cfg.num_time_steps, dtype=np.float64) * cfg.snapshot_interval_s,
                "subcarrier": (np.arange(k, dtype=np.float64) - k // 2) * band.subcarrier_spacing_hz,
                "bs_ant_pos": bs_ant_pos,
                "ue_ant_pos": ue_ant_pos,
                **coords_sensing,
            },
            "modalities": ["csi", *cfg.sensing],
            "optional": ["delay_spread_s", "k_factor_db", "best_beam", "distance_m", "indoor"],
            "ragged": ragged,
        }
    return layouts


def generate_block(cfg: RaytraceConfig, num_samples: int, seed: int) -> dict[str, dict[str, np.ndarray]]:
    """Drops of one block, ray traced at every band, with their sensor data; a pure function of its arguments.

    :param cfg: Configuration
    :param num_samples: Number of drops n
    :param seed: Block seed (integer >= 0)
    :output blocks: ``{band label: arrays}``, every array with first axis n (but ``lidar_points``):

        - ``csi`` [n, T, K, Nbs, Nue], complex64: channel frequency response H (path loss included)
        - ``ue_pos`` [n, T, 3], float32 m: UE antenna position at each snapshot (straight track)
        - ``ue_vel`` [n, 3], float32 m/s; ``bs_pos`` [n, 3], float32 m
        - ``los``, ``indoor`` (always false) [n], bool; ``distance_m`` [n], float32: 3D BS-UE distance at t = 0
        - ``path_gain_db``, ``delay_spread_s``, ``k_factor_db`` [n], float32; ``best_beam`` [n], int32
        - with rgb: ``rgb`` [n, camera, H, W, 3] uint8, ``rgb_time`` [n, camera] s, ``camera_pos`` and
          ``camera_orientation`` [n, camera, 3]
        - with lidar: ``lidar_points`` [sum of counts, 4] float32 (sensor frame), ``lidar_count`` [n],
          ``lidar_time`` [n], ``lidar_pos``, ``lidar_orientation`` [n, 3]
        - with radar: ``radar_cube`` [n, radar_rx, fast_time, chirp] complex64, ``radar_time`` [n],
          ``radar_pos``, ``radar_orientation`` [n, 3]

        Sensor arrays are the same in every band's shard.
    :raises ConfigError: Unknown scene, BS inside a building, no valid UE positions
    :raises WirelessDataError: Drops without any path after redrawing, Dr.Jit without LLVM
    """
    import torch

    positive_int("num_samples", num_samples)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        fail("seed", f"{seed!r} is not a non-negative integer", "an integer >= 0")
    seed = int(seed)
    with _timed("scene"):
        world = load_world(cfg.scene)
        check_bs(cfg, world.geometry)
    rng = np.random.default_rng([seed, TOPOLOGY_STREAM])
    with _timed("placement"):
        drops = draw_drops(cfg, world.geometry, num_samples, rng)
    drops, traced = trace_all(cfg, world, drops, seed, rng)
    sensed = sense(cfg, world, drops, seed)
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
        with _timed("csi"):
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
