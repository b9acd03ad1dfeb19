"""RGB camera: a Sionna RT (Mitsuba path tracer) render of the scene from a recorded pose, as sRGB uint8.

The camera is an ideal pinhole (no distortion) looking along its x axis with z up; its horizontal field of view is
``fov_deg`` and pixels are square, so the intrinsics are ``fx = fy = (width / 2) / tan(fov / 2)``,
``cx = width / 2``, ``cy = height / 2`` (pixel corners at integer coordinates). Surfaces are diffuse in the colour
of their radio material, lit by a uniform sky; the radio devices that the scene holds are drawn as spheres (the
generator keeps only the UE of the sample). Pixels that see the sky get :data:`SKY`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from wirelessdata.checks import fail, number, positive_int
from wirelessdata.sensing import MOUNTS, Pose, SensorParams

SKY = (0.55, 0.7, 0.9)
"""Linear RGB of the background where no surface is hit."""
RENDERERS = ("pathtrace", "raycast")
"""How the images are made (``CameraParams.renderer``)."""


@dataclass(frozen=True)
class CameraParams(SensorParams):
    """Camera rig: one camera per mount, all with the same intrinsics.

    :param mounts: Cameras, each ``"bs"`` (at the BS, along its boresight), ``"ue"`` (following the UE: behind
        and above it, looking at it) or ``"uav"`` (on the hovering UAV, along its heading and pitch)
    :param width: Image width [pixel]
    :param height: Image height [pixel]
    :param fov_deg: Horizontal field of view [deg]
    :param samples_per_pixel: Path-tracing samples per pixel (more: less noise, slower)
    :param renderer: ``"pathtrace"`` (Sionna RT's Mitsuba path tracer, :func:`render`) or ``"raycast"`` (the
        meshes by ray casting under the same sky, deterministic: :mod:`~wirelessdata.sensing.rgb_raycast`)
    :param sky_rays: ``raycast`` only: sky-visibility rays per shaded point (0: an open sky, no occlusion)
    """

    FIELD = "camera"
    mounts: tuple[str, ...] = ("bs",)
    width: int = 320
    height: int = 240
    fov_deg: float = 60.0
    samples_per_pixel: int = 16
    renderer: str = "pathtrace"
    sky_rays: int = 4

    def __post_init__(self) -> None:
        mounts = (self.mounts,) if isinstance(self.mounts, str) else self.mounts
        if not isinstance(mounts, tuple) or not mounts or len(set(mounts)) != len(mounts):
            fail("camera.mounts", f"{self.mounts!r} is not a non-empty list of distinct mounts", list(MOUNTS))
        for mount in mounts:
            if mount not in MOUNTS:
                fail("camera.mounts", f"unknown mount {mount!r}", list(MOUNTS))
        object.__setattr__(self, "mounts", mounts)
        for name in ("width", "height", "samples_per_pixel"):
            positive_int(f"camera.{name}", getattr(self, name))
        if not 0 < number("camera.fov_deg", self.fov_deg) < 180:
            fail("camera.fov_deg", f"{self.fov_deg!r} is out of range", "0 < fov_deg < 180")
        if self.renderer not in RENDERERS:
            fail("camera.renderer", f"unknown renderer {self.renderer!r}", list(RENDERERS))
        if isinstance(self.sky_rays, bool) or not isinstance(self.sky_rays, int) or self.sky_rays < 0:
            fail("camera.sky_rays", f"{self.sky_rays!r} is not an integer >= 0", "0 (open sky), 1, 2, ... (default 4)")


def intrinsics(params: CameraParams) -> np.ndarray:
    """Pinhole intrinsics of the rig's cameras.

    :output intrinsics: [4] fx, fy, cx, cy [pixel], float32
    """
    fx = (params.width / 2) / np.tan(np.deg2rad(params.fov_deg) / 2)
    return np.array([fx, fx, params.width / 2, params.height / 2], dtype=np.float32)


@contextlib.contextmanager
def batch() -> Iterator[None]:
    """Render many images within one switch to Mitsuba's RGB variant (about 40 % faster on the CPU).

    Sionna RT's renderer switches to the RGB variant and back on every call, which reloads its integrator modules;
    inside this context the switch is already done. Create no radio objects for ray tracing inside it.
    """
    import mitsuba as mi

    with mi.util.scoped_set_variant(mi.variant().split("_ad_")[0] + "_ad_rgb"):
        yield


def render(scene: Any, pose: Pose, params: CameraParams) -> np.ndarray:
    """Render the scene from one camera pose (within :func:`batch` for many images).

    :param scene: ``sionna.rt.Scene``
    :param pose: Camera pose, scene frame (the camera looks along its x axis)
    :param params: Camera model
    :output image: [height, width, 3], uint8, sRGB
    """
    import mitsuba as mi
    from sionna.rt import Camera

    roll, pitch, yaw = (float(a) for a in pose.rpy)
    camera = Camera(position=mi.Point3f(*map(float, pose.position)), orientation=mi.Point3f(yaw, pitch, roll))
    bitmap = scene.render(
        camera=camera,
        resolution=(params.width, params.height),
        fov=params.fov_deg,
        num_samples=params.samples_per_pixel,
        return_bitmap=True,
    )
    rgba = np.array(bitmap, dtype=np.float64)  # linear RGB, premultiplied by alpha
    return to_srgb(rgba[..., :3] + (1 - rgba[..., 3:4]) * np.asarray(SKY))


def to_srgb(linear: np.ndarray) -> np.ndarray:
    """Linear RGB (clipped to [0, 1]) to sRGB.

    :param linear: [..., 3], float
    :output srgb: [..., 3], uint8
    """
    linear = np.clip(linear, 0, 1)
    srgb = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.round(srgb * 255).astype(np.uint8)
