"""The Sionna RT scene: importing Sionna RT (Dr.Jit pointed at an LLVM), loading a scene with its meshes, placing and
checking the BS and the UAV in it, and the radio devices placed in it (BS transmitter, UE receivers, their antenna
arrays)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from wirelessdata.checks import fail
from wirelessdata.constants import SPEED_OF_LIGHT
from wirelessdata.errors import ConfigError, WirelessDataError
from wirelessdata.generators.bands import Band
from wirelessdata.generators.raytrace.config import RaytraceConfig, scene_path
from wirelessdata.sensing import SceneGeometry

DEBIAN_LIBLLVM = "/usr/lib/x86_64-linux-gnu/libLLVM-19.so"
"""Dr.Jit's LLVM when ``DRJIT_LIBLLVM_PATH`` is unset (Debian's ``libllvm19``)."""
UE_DISPLAY_RADIUS_M = 0.5
"""Radius of the sphere that marks the UE in camera images."""


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
    """The BS, and the UAV if a sensor is mounted on it (:func:`uav_position`), must stand in the open above the
    scene's ground.

    :raises ConfigError: The BS outside the scene's horizontal bounds, inside or under a building (a ray straight
        up from it hits the scene) or above no surface; the UAV likewise
    """
    position = np.asarray(cfg.bs_position_m)
    _check_within_bounds("bs_position_m", position, geometry, cfg.scenario)
    above = _scene_above(geometry, position)
    if np.isfinite(above):
        fail(
            "bs_position_m",
            f"{list(cfg.bs_position_m)} is inside a building of scene {cfg.scenario} (the scene lies "
            f"{above:.1f} m above it)",
            "a point in the open: above a street or on a roof",
        )
    if not geometry.cast(position, [[0.0, 0.0, -1.0]]).hit[0]:
        fail(
            "bs_position_m",
            f"{list(cfg.bs_position_m)} is not above any surface of {cfg.scenario}",
            "a point above the ground",
        )
    if cfg.uav_sensors:
        uav_position(cfg, geometry)


def uav_position(cfg: RaytraceConfig, geometry: SceneGeometry) -> np.ndarray:
    """Where the UAV hovers: over ``uav.position_m`` (default: the centre of ``ue_region_m``, else of the scene),
    ``uav.height_m`` above the ground there (the lowest surface of the scene, found by a ray cast up from below it).

    :output position: [3], float64, m, scene frame
    :raises ConfigError: The point outside the scene's horizontal bounds or above no surface, or the height puts the
        UAV inside or under a building (one line naming the field and the height needed)
    """
    lo, hi = geometry.bounds
    x0, x1, y0, y1 = cfg.ue_region_m or (lo[0], hi[0], lo[1], hi[1])
    xy = [float(v) for v in cfg.uav.position_m or ((x0 + x1) / 2, (y0 + y1) / 2)]
    _check_within_bounds("uav.position_m", xy, geometry, cfg.scenario)
    ground = lo[2] - 1.0 + _scene_above(geometry, np.array([*xy, lo[2] - 1.0]))
    if not np.isfinite(ground):
        fail("uav.position_m", f"{xy} is not above any surface of {cfg.scenario}", "a point above the ground")
    position = np.array([*xy, ground + cfg.uav.height_m])
    above = _scene_above(geometry, position)
    if np.isfinite(above):
        top = hi[2] + 1.0 - geometry.cast([*xy, hi[2] + 1.0], [[0.0, 0.0, -1.0]]).distance[0]
        fail(
            "uav.height_m",
            f"{cfg.uav.height_m:g} m puts the UAV inside or under a building of scene {cfg.scenario} at "
            f"{xy} (the scene lies {above:.1f} m above it)",
            f"a height above the roofs there (> {top - ground:.1f} m) or another uav.position_m",
        )
    return position


def _scene_above(geometry: SceneGeometry, position: np.ndarray) -> float:
    """Distance [m] from a point [3] straight up to the scene, ``inf`` in the open."""
    return float(geometry.cast(position, [[0.0, 0.0, 1.0]]).distance[0])


def _check_within_bounds(name: str, position: Sequence[float], geometry: SceneGeometry, scenario: str) -> None:
    """A ConfigError naming ``name`` unless the point ([2] or [3], m) lies within the scene's horizontal bounds."""
    (x0, y0), (x1, y1) = geometry.bounds[:, :2]
    if not (x0 <= position[0] <= x1 and y0 <= position[1] <= y1):
        fail(
            name,
            f"{[float(v) for v in position]} is outside scene {scenario} (x in [{x0:.1f}, {x1:.1f}] m, "
            f"y in [{y0:.1f}, {y1:.1f}] m)",
            "x and y within the scene's bounds",
        )


def set_devices(
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


def radio_arrays(cfg: RaytraceConfig) -> tuple[Any, Any]:
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
    bs, ue = radio_arrays(cfg)
    return tuple(np.array(a.positions(wavelength)).T.astype(np.float32) for a in (bs, ue))
