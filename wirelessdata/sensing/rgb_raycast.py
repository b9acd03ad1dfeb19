"""RGB camera by ray casting: the scene's meshes in their materials' colours under a uniform sky, without noise.

The fast alternative to the path-traced render of :mod:`~wirelessdata.sensing.rgb` (``camera.renderer =
"raycast"``): the same cameras (:class:`~wirelessdata.sensing.rgb.CameraParams`, poses, intrinsics) and pixel rays
as the depth maps (:func:`~wirelessdata.sensing.depth.pixel_directions`), cast against the same meshes with open3d.
The lighting is the path tracer's (Sionna RT's renderer: a constant environment of radiance 1 all around, diffuse
two-sided materials in their radio materials' colours), estimated with :data:`SKY_RAYS` cosine-weighted rays per
visible point instead of random paths: a point of albedo ``a`` gets

    L = a * mean_k(1 if ray k escapes to the sky, else the albedo of the surface it hits)

(sky visibility plus one bounce off the occluders, taken as fully lit), so a roof gets its colour and a street
between buildings is darker, as in the path tracer. The ray set is turned per pixel by a fixed pseudo-random angle
(the same for every image of a resolution: the image is deterministic), and the estimate is then averaged over
the :data:`DENOISE` x :data:`DENOISE` pixels around each pixel that see the same mesh with the same normal (an
edge-preserving box filter guided by the ray cast: few rays per pixel, then a denoiser). Deeper bounces are left
out. The moving bodies (the UE box, as the LiDAR, radar and depth maps see it) get
:data:`BODY_COLOR`; the sky :data:`~wirelessdata.sensing.rgb.SKY`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from wirelessdata.sensing import Box, Hits, Pose, SceneGeometry
from wirelessdata.sensing.depth import pixel_directions
from wirelessdata.sensing.rgb import SKY, CameraParams, to_srgb

BODY_COLOR = (0.8, 0.1, 0.1)
"""Linear RGB albedo of the moving bodies (the UE)."""
SKY_RAYS = 8
"""Cosine-weighted rays per visible point for the sky visibility (a fixed, stratified set)."""
OFFSET_M = 1e-3
"""Distance the sky rays start off the surface, m (against self-intersection)."""


DENOISE = 5
"""Side of the window (pixels) over which the sky visibility is averaged within one surface."""


def hemisphere(count: int) -> np.ndarray:
    """A stratified set of cosine-weighted directions around +z (golden-angle spiral on the unit disc, lifted to
    the hemisphere).

    :output directions: [count, 3], unit, z > 0
    """
    k = np.arange(count) + 0.5
    r, phi = np.sqrt(k / count), k * np.pi * (3 - np.sqrt(5))
    return np.stack([r * np.cos(phi), r * np.sin(phi), np.sqrt(1 - r**2)], axis=1)


def frames(normals: np.ndarray, turn: np.ndarray) -> np.ndarray:
    """Orthonormal frames [N, 3, 3] whose third column is ``normals`` [N, 3] (unit), turned about it by ``turn``
    [N] (rad)."""
    helper = np.where(np.abs(normals[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    t = np.cross(normals, helper)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    b = np.cross(normals, t)
    c, s = np.cos(turn)[:, None], np.sin(turn)[:, None]
    return np.stack([c * t + s * b, c * b - s * t, normals], axis=2)


def smooth(values: np.ndarray, key: np.ndarray, size: int) -> np.ndarray:
    """Mean of ``values`` [H, W, C] over the ``size`` x ``size`` window of each pixel, among the pixels whose
    ``key`` [H, W] (int) equals its own (the edge-preserving filter)."""
    h, w = key.shape
    pad = size // 2
    padded_v = np.pad(values, ((pad, pad), (pad, pad), (0, 0)))
    padded_k = np.pad(key, pad, constant_values=-1)
    total, count = np.zeros_like(values), np.zeros((h, w, 1))
    for dy in range(size):
        for dx in range(size):
            same = (padded_k[dy : dy + h, dx : dx + w] == key)[..., None]
            total += np.where(same, padded_v[dy : dy + h, dx : dx + w], 0.0)
            count += same
    return total / count


def render(geometry: SceneGeometry, pose: Pose, params: CameraParams, bodies: Sequence[Box] = ()) -> np.ndarray:
    """Image of one camera.

    :param geometry: Scene meshes with their colours (:meth:`SceneGeometry.from_mitsuba`)
    :param pose: Camera pose, scene frame (the camera looks along its x axis)
    :param params: Camera model (resolution and field of view; ``samples_per_pixel`` does not apply)
    :param bodies: Moving bodies besides the meshes
    :output image: [height, width, 3], uint8, sRGB
    """
    axis = pixel_directions(params).reshape(-1, 3)
    directions = (axis / np.linalg.norm(axis, axis=1)[:, None]) @ pose.rotation.T
    hits = geometry.cast(pose.position, directions, bodies)
    seen = np.flatnonzero(hits.hit)
    light = np.zeros(directions.shape)
    if seen.size:
        normal = hits.normal[seen]
        normal = np.where(np.sum(normal * directions[seen], axis=1, keepdims=True) > 0, -normal, normal)
        points = pose.position + directions[seen] * hits.distance[seen, None] + OFFSET_M * normal
        turn = np.random.default_rng(len(directions)).random(len(directions))[seen] * 2 * np.pi  # fixed per pixel
        rays = np.matmul(frames(normal, turn), hemisphere(SKY_RAYS).T).transpose(0, 2, 1).reshape(-1, 3)
        sky = geometry.cast(np.repeat(points, SKY_RAYS, axis=0), rays, bodies)
        light[seen] = np.where(sky.hit[:, None], _albedo(geometry, sky), 1.0).reshape(-1, SKY_RAYS, 3).mean(axis=1)
        facing = np.zeros(directions.shape)
        facing[seen] = normal
        key = np.where(hits.hit, hits.mesh * 64 + np.round(facing @ [4.0, 2.0, 1.0] * 4).astype(np.int64) % 64, -2)
        light = smooth(light.reshape(params.height, params.width, 3), key.reshape(params.height, params.width), DENOISE)
    radiance = np.where(hits.hit[:, None], _albedo(geometry, hits) * light.reshape(-1, 3), SKY)
    return to_srgb(radiance.reshape(params.height, params.width, 3))


def _albedo(geometry: SceneGeometry, hits: Hits) -> np.ndarray:
    """[N, 3] linear RGB of what each ray hit: its mesh's colour, or :data:`BODY_COLOR` (bodies and misses)."""
    return np.where((hits.mesh >= 0)[:, None], geometry.colors[np.maximum(hits.mesh, 0)], BODY_COLOR)
