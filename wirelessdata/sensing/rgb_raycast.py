"""RGB camera by ray casting: the scene's meshes in their materials' colours under a uniform sky, without noise.

The fast alternative to the path-traced render of :mod:`~wirelessdata.sensing.rgb` (``camera.renderer =
"raycast"``): the same cameras (:class:`~wirelessdata.sensing.rgb.CameraParams`, poses, intrinsics) and pixel rays
as the depth maps (:func:`~wirelessdata.sensing.depth.cast_pixels`, one cast shared with the depth map of the same
camera), cast against the same meshes with open3d. The lighting is the path tracer's (Sionna RT's renderer: a
constant environment of radiance 1 all around, diffuse two-sided materials in their radio materials' colours),
estimated with ``camera.sky_rays`` cosine-weighted rays per point instead of random paths. A point of albedo ``a``
gets

    L = a * mean_k(1 if ray k escapes to the sky, else a_k * open_sky(n_k))

(sky visibility plus one bounce off the occluder of albedo ``a_k`` and normal ``n_k`` it hits, lit by the open
sky: ``open_sky(n) = (1 + n_z) / 2 + GROUND_ALBEDO * (1 - n_z) / 2``), so a roof gets its colour and a street
between buildings is darker, as in the path tracer. The sky rays are cast from every :data:`STRIDE`-th pixel of
every :data:`STRIDE`-th row, turned per pixel by a fixed pseudo-random angle (the same for every image of a
resolution: the image is deterministic), and each pixel takes the mean over the :data:`DENOISE` x :data:`DENOISE`
window around it of those that see the same mesh with the same normal (an edge-preserving filter guided by the ray
cast: few rays, then a denoiser; a pixel with no such neighbour casts its own). Deeper bounces are left out.
``sky_rays = 0`` skips the sky rays: ``L = a * open_sky(n)``, an open sky over a ground of albedo
:data:`GROUND_ALBEDO`, no occlusion (the fastest, flat within a surface). The moving bodies
(the UE box, as the LiDAR, radar and depth maps see it) get :data:`BODY_COLOR`; the sky
:data:`~wirelessdata.sensing.rgb.SKY`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from wirelessdata.sensing import Box, Hits, Pose, SceneGeometry
from wirelessdata.sensing.depth import cast_pixels, pixel_rays
from wirelessdata.sensing.rgb import SKY, CameraParams, to_srgb

BODY_COLOR = (0.8, 0.1, 0.1)
"""Linear RGB albedo of the moving bodies (the UE)."""
OFFSET_M = 1e-3
"""Distance the sky rays start off the surface, m (against self-intersection)."""
STRIDE = 2
"""The sky rays start from every STRIDE-th pixel of every STRIDE-th row."""
DENOISE = 5
"""Side of the window (pixels) over which the sky visibility is averaged within one surface."""
GROUND_ALBEDO = 0.5
"""Albedo of the ground below the horizon in the open-sky shading of ``sky_rays = 0``."""


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


def smooth(values: np.ndarray, weight: np.ndarray, key: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean of ``values`` [H, W, C] over the ``size`` x ``size`` window of each pixel, among the pixels
    whose ``key`` [H, W] (int) equals its own (the edge-preserving filter), with weights ``weight`` [H, W].

    :output mean: [H, W, C] (0 where no pixel of the window counts)
    :output total: [H, W], the weight that counted
    """
    h, w = key.shape
    pad = size // 2
    padded_v = np.pad(values * weight[..., None], ((pad, pad), (pad, pad), (0, 0)))
    padded_w = np.pad(weight, pad)
    padded_k = np.pad(key, pad, constant_values=-1)
    total, count = np.zeros_like(values), np.zeros((h, w))
    for dy in range(size):
        for dx in range(size):
            same = padded_k[dy : dy + h, dx : dx + w] == key
            total += np.where(same[..., None], padded_v[dy : dy + h, dx : dx + w], 0.0)
            count += np.where(same, padded_w[dy : dy + h, dx : dx + w], 0.0)
    return total / np.maximum(count, 1e-12)[..., None], count


def sky_light(
    geometry: SceneGeometry, points: np.ndarray, normals: np.ndarray, turn: np.ndarray, rays: int, bodies: Sequence[Box]
) -> np.ndarray:
    """Light ``[N, 3]`` reaching surface points ``[N, 3]`` with normals ``[N, 3]`` (facing the camera): the mean over
    ``rays`` cosine-weighted directions, turned by ``turn`` ``[N]`` (rad), of 1 (the ray escapes) or the light the
    surface it hits sends back (its albedo times :func:`open_sky` of its normal)."""
    directions = np.matmul(frames(normals, turn), hemisphere(rays).T).transpose(0, 2, 1).reshape(-1, 3)
    sky = geometry.cast(np.repeat(points + OFFSET_M * normals, rays, axis=0), directions, bodies)
    bounce = _albedo(geometry, sky) * open_sky(facing(sky.normal, directions))
    return np.where(sky.hit[:, None], bounce, 1.0).reshape(-1, rays, 3).mean(axis=1)


def facing(normals: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Surface normals ``[N, 3]`` turned to face the rays ``[N, 3]`` that hit them (two-sided surfaces)."""
    return np.where(np.sum(normals * directions, axis=1, keepdims=True) > 0, -normals, normals)


def open_sky(normals: np.ndarray) -> np.ndarray:
    """Light ``[N, 1]`` on surfaces with normals ``[N, 3]`` under the open sky: the upper hemisphere (radiance 1) and
    a ground of albedo :data:`GROUND_ALBEDO` below the horizon, nothing else in the way."""
    up = normals[:, 2:3]
    return (1 + up) / 2 + GROUND_ALBEDO * (1 - up) / 2


def render(
    geometry: SceneGeometry, pose: Pose, params: CameraParams, bodies: Sequence[Box] = (), hits: Hits | None = None
) -> np.ndarray:
    """Image of one camera.

    :param geometry: Scene meshes with their colours (:meth:`SceneGeometry.from_mitsuba`)
    :param pose: Camera pose, scene frame (the camera looks along its x axis)
    :param params: Camera model (resolution, field of view and ``sky_rays``)
    :param bodies: Moving bodies besides the meshes
    :param hits: The camera's :func:`~wirelessdata.sensing.depth.cast_pixels` when already cast (else cast here)
    :output image: [height, width, 3], uint8, sRGB
    """
    directions = pixel_rays(params, pose)[0]
    hits = cast_pixels(geometry, pose, params, bodies) if hits is None else hits
    h, w = params.height, params.width
    normal = facing(hits.normal, directions)
    if params.sky_rays == 0:
        light = np.broadcast_to(open_sky(normal), directions.shape)
    else:
        points = pose.position + directions * np.where(hits.hit, hits.distance, 0.0)[:, None]
        turn = np.random.default_rng(len(directions)).random(len(directions)) * 2 * np.pi  # fixed per pixel
        grid = np.zeros((h, w), bool)
        grid[::STRIDE, ::STRIDE] = True
        cast = np.flatnonzero(hits.hit & grid.ravel())
        light = np.zeros(directions.shape)
        light[cast] = sky_light(geometry, points[cast], normal[cast], turn[cast], params.sky_rays, bodies)
        key = np.where(hits.hit, surface_key(hits, normal), -1)
        weight = np.zeros(len(directions))
        weight[cast] = 1.0
        light, counted = smooth(light.reshape(h, w, 3), weight.reshape(h, w), key.reshape(h, w), DENOISE)
        light, alone = light.reshape(-1, 3), np.flatnonzero(hits.hit & (counted.ravel() == 0))
        light[alone] = sky_light(geometry, points[alone], normal[alone], turn[alone], params.sky_rays, bodies)
    radiance = np.where(hits.hit[:, None], _albedo(geometry, hits) * light, SKY)
    return to_srgb(radiance.reshape(h, w, 3))


def surface_key(hits: Hits, normals: np.ndarray) -> np.ndarray:
    """``[N]`` int64 naming the surface each ray hit, for the denoiser: its mesh (or moving body) and its normal
    ``[N, 3]`` quantised to 16 steps per component, so that a wall and a roof of one mesh stay apart."""
    owner = np.where(hits.mesh >= 0, hits.mesh, hits.mesh.max(initial=0) + 1 + np.maximum(hits.body, 0))
    q = np.clip(np.round((normals + 1) * 7.5), 0, 15).astype(np.int64)
    return (owner.astype(np.int64) << 12) | (q[:, 0] << 8) | (q[:, 1] << 4) | q[:, 2]


def _albedo(geometry: SceneGeometry, hits: Hits) -> np.ndarray:
    """[N, 3] linear RGB of what each ray hit: its mesh's colour, or :data:`BODY_COLOR` (bodies and misses)."""
    return np.where((hits.mesh >= 0)[:, None], geometry.colors[np.maximum(hits.mesh, 0)], BODY_COLOR)
