"""Depth camera: per-pixel depth of the scene from the cameras of the RGB rig, by ray casting.

The cameras are those of :mod:`~wirelessdata.sensing.rgb` (same :class:`~wirelessdata.sensing.rgb.CameraParams`,
poses and intrinsics ``fx = fy = (width / 2) / tan(fov / 2)``, ``cx = width / 2``, ``cy = height / 2``). Pixel
(row v, column u) looks through its centre (u + 0.5, v + 0.5): in the camera frame (x forward, y left, z up) along
``(1, (cx - u - 0.5) / fx, (cy - v - 0.5) / fy)``. Its depth is the distance along the optical axis (x) to the
first surface hit (the z-buffer convention: the point is ``depth * (1, (cx - u') / fx, (cy - v') / fy)`` in the
camera frame), not the range along the ray. A pixel that hits nothing (the sky) holds ``inf``; NaN never appears in
a written depth map (it is the store's fill value of unwritten samples). The rays hit the scene meshes and the
moving bodies (the UE box, as the LiDAR and radar see it; the RGB render marks the UE with a small sphere instead).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from wirelessdata.sensing import Box, Hits, Pose, SceneGeometry
from wirelessdata.sensing.rgb import CameraParams, intrinsics


def pixel_directions(params: CameraParams) -> np.ndarray:
    """Directions through the pixel centres, camera frame, with unit x component (along the optical axis).

    :param params: Camera model
    :output directions: [height, width, 3], float64: (1, y, z), so that ``depth * directions`` is the camera-frame
        point of a pixel of the given depth
    """
    fx, fy, cx, cy = (float(k) for k in intrinsics(params))
    u = np.arange(params.width) + 0.5
    v = np.arange(params.height) + 0.5
    y = np.broadcast_to(((cx - u) / fx)[None, :], (params.height, params.width))
    z = np.broadcast_to(((cy - v) / fy)[:, None], (params.height, params.width))
    return np.stack([np.ones_like(y), y, z], axis=-1)


def pixel_rays(params: CameraParams, pose: Pose) -> tuple[np.ndarray, np.ndarray]:
    """The pixel rays of a camera: unit directions ``[height * width, 3]`` in the scene frame (pixels row-major)
    and the length ``[height * width]`` of each pixel's ``(1, y, z)`` direction (range / depth)."""
    axis = pixel_directions(params).reshape(-1, 3)
    norm = np.linalg.norm(axis, axis=1)
    return (axis / norm[:, None]) @ pose.rotation.T, norm


def cast_pixels(geometry: SceneGeometry, pose: Pose, params: CameraParams, bodies: Sequence[Box] = ()) -> Hits:
    """The first hits of a camera's pixel rays (:func:`pixel_rays`): one cast shared by the depth map and the
    ray-cast RGB image of the same camera."""
    return geometry.cast(pose.position, pixel_rays(params, pose)[0], bodies)


def render(
    geometry: SceneGeometry, pose: Pose, params: CameraParams, bodies: Sequence[Box] = (), hits: Hits | None = None
) -> np.ndarray:
    """Depth map of one camera.

    :param geometry: Scene meshes
    :param pose: Camera pose, scene frame (the camera looks along its x axis)
    :param params: Camera model (only the resolution and field of view matter)
    :param bodies: Moving bodies besides the meshes
    :param hits: The camera's :func:`cast_pixels` when already cast (else cast here)
    :output depth: [height, width], float32, m, along the optical axis; ``inf`` where nothing is hit
    """
    hits = cast_pixels(geometry, pose, params, bodies) if hits is None else hits
    norm = pixel_rays(params, pose)[1]
    return (hits.distance / norm).reshape(params.height, params.width).astype(np.float32)
