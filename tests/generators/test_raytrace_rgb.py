"""The ray-cast RGB renderer (``camera.renderer = "raycast"``) against the path tracer and the depth maps."""

from __future__ import annotations

import numpy as np
import pytest

from wirelessdata.errors import ConfigError
from wirelessdata.sensing import Box, Pose, look_at_rpy, rgb_raycast
from wirelessdata.sensing import depth as depth_model
from wirelessdata.sensing import rgb as rgb_model
from wirelessdata.sensing.rgb import SKY, CameraParams, to_srgb

POSES = {
    "street": ((-45.0, 0.0, 10.0), (0.0, 0.0, 1.5)),  # the BS camera of the street-canyon recipe
    "above": ((0.0, 0.0, 80.0), (0.0, 0.1, 0.0)),  # roofs and street from above
}


@pytest.fixture(scope="module")
def world(rt):
    from wirelessdata.generators import raytrace
    from wirelessdata.generators.raytrace.scene import set_devices

    loaded = raytrace.load_world("simple_street_canyon")  # shared with other tests: drop their BS and UEs, which
    set_devices(loaded.scene, None, np.zeros((0, 3)))  # the path tracer would draw (the camera sits at the BS)
    return loaded


def _pose(name: str) -> Pose:
    position, target = (np.array(p) for p in POSES[name])
    return Pose(position, look_at_rpy(target - position))


@pytest.mark.parametrize("name", POSES)
def test_raycast_images_match_the_path_tracer(world, name):
    params = CameraParams(width=96, height=72, samples_per_pixel=64)
    pose = _pose(name)
    traced = rgb_model.render(world.scene, pose, params).astype(int)
    cast = rgb_raycast.render(world.geometry, pose, params).astype(int)
    sky = ~np.isfinite(depth_model.render(world.geometry, pose, params))
    assert (cast[sky] == to_srgb(np.asarray(SKY))).all()  # the sky pixels are the depth map's inf pixels
    seen = ~sky
    assert np.median(np.abs(traced - cast)[seen]) <= 30  # measured 9-20 at 160x120 and 256 spp
    meshes = world.geometry.cast(pose.position, _rays(params, pose)).mesh.reshape(seen.shape)
    for mesh in np.unique(meshes[seen]):
        on = meshes == mesh
        if on.sum() >= 50:  # each surface has its material's hue in both images
            a, b = traced[on].mean(axis=0), cast[on].mean(axis=0)
            assert np.argmax(a) == np.argmax(b) or np.ptp(a) < 12, (mesh, a, b)


def _rays(params: CameraParams, pose: Pose) -> np.ndarray:
    axis = depth_model.pixel_directions(params).reshape(-1, 3)
    return (axis / np.linalg.norm(axis, axis=1)[:, None]) @ pose.rotation.T


def test_raycast_images_are_deterministic_and_show_the_ue_box(world):
    params = CameraParams(width=128, height=96)
    pose = _pose("street")
    ue = Box(np.array([-15.0, 0.0, 0.75]), np.array([4.5, 1.8, 1.5]), 0.0, np.zeros(3))
    first = rgb_raycast.render(world.geometry, pose, params, (ue,))
    np.testing.assert_array_equal(first, rgb_raycast.render(world.geometry, pose, params, (ue,)))
    on_box = (world.geometry.cast(pose.position, _rays(params, pose), (ue,)).body == 0).reshape(96, 128)
    assert on_box.sum() >= 10
    red = first[on_box].astype(int)
    assert (red[:, 0] > red[:, 1] + 40).all()  # the box in BODY_COLOR
    without = rgb_raycast.render(world.geometry, pose, params)
    shadow = (first != without).any(axis=-1) & ~on_box
    assert shadow.any() and first[shadow].astype(int).sum() < without[shadow].astype(int).sum()  # it hides sky


def test_an_unknown_renderer_is_a_one_line_error():
    allowed = r"allowed: \['pathtrace', 'raycast'\]"
    with pytest.raises(ConfigError, match=rf"camera.renderer: unknown renderer 'opengl'; {allowed}"):
        CameraParams(renderer="opengl")


def test_open_sky_shading_without_sky_rays(world):
    params = CameraParams(width=96, height=72, renderer="raycast", sky_rays=0)
    pose = _pose("above")
    image = rgb_raycast.render(world.geometry, pose, params)
    hits = world.geometry.cast(pose.position, _rays(params, pose))
    up = np.abs(hits.normal[:, 2]) > 0.99  # roofs and the street, seen from above: lit by the whole sky
    want = to_srgb(world.geometry.colors[hits.mesh[up & hits.hit]])
    np.testing.assert_array_equal(image.reshape(-1, 3)[up & hits.hit], want)
    with pytest.raises(ConfigError, match=r"camera.sky_rays: -1 is not an integer >= 0"):
        CameraParams(sky_rays=-1)
