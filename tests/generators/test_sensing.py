"""Sensor models on hand-made geometry: poses, ray casting, LiDAR, FMCW radar, camera intrinsics, parameter errors."""

import numpy as np
import pytest

pytest.importorskip("open3d")

from wirelessdata.errors import ConfigError  # noqa: E402
from wirelessdata.sensing import Box, Pose, SceneGeometry, lidar, look_at_rpy, radar, rgb, rotation  # noqa: E402
from wirelessdata.sensing.lidar import LidarParams  # noqa: E402
from wirelessdata.sensing.radar import RadarParams  # noqa: E402
from wirelessdata.sensing.rgb import CameraParams  # noqa: E402


def quad(x0, x1, y0, y1, z0, z1):
    """Two triangles spanning an axis-aligned rectangle (one of the ranges is a single value)."""
    if x0 == x1:
        v = [[x0, y0, z0], [x0, y1, z0], [x0, y1, z1], [x0, y0, z1]]
    elif z0 == z1:
        v = [[x0, y0, z0], [x1, y0, z0], [x1, y1, z0], [x0, y1, z0]]
    else:
        raise ValueError("vertical quads are along x = const here")
    return np.array(v, float), np.array([[0, 1, 2], [0, 2, 3]])


@pytest.fixture(scope="module")
def street():
    """A 200 m x 200 m ground and a 20 m high wall at x = 40."""
    return SceneGeometry([quad(-100, 100, -100, 100, 0, 0), quad(40, 40, -50, 50, 0, 20)])


def test_rotation_is_zyx_and_look_at_points_x_along_the_direction():
    yaw_only = rotation([0.0, 0.0, np.pi / 2])
    np.testing.assert_allclose(yaw_only @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    pitched = rotation([0.0, np.deg2rad(30), 0.0])
    assert (pitched @ [1, 0, 0])[2] < 0  # positive pitch tilts x down
    direction = np.array([3.0, -4.0, -2.0])
    np.testing.assert_allclose(rotation(look_at_rpy(direction)) @ [1, 0, 0], direction / np.linalg.norm(direction))
    pose = Pose(np.array([1.0, 2.0, 3.0]), np.array([0.1, -0.2, 0.3]))
    points = np.random.default_rng(0).normal(size=(5, 3))
    np.testing.assert_allclose(pose.to_sensor(pose.to_scene(points)), points, atol=1e-12)


def test_cast_hits_meshes_and_boxes_with_their_distances(street):
    car = Box(np.array([20.0, 0.0, 0.75]), np.array([4.0, 2.0, 1.5]), np.pi / 2, np.array([0.0, 5.0, 0.0]))
    hits = street.cast([0.0, 0.0, 1.0], [[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]], (car,))
    # rotated by 90 degrees, the car is 2 m long along x: its face is at x = 19
    np.testing.assert_allclose(hits.distance[:2], [19.0, 1.0], atol=1e-5)
    assert hits.body.tolist() == [0, -1, -1, -1] and hits.hit.tolist() == [True, True, False, False]
    np.testing.assert_allclose(hits.normal[0], [-1.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(street.distance_to_surface(np.array([[0.0, 0.0, 2.5], [38.0, 0.0, 5.0]])), [2.5, 2.0])


def test_lidar_points_lie_on_the_surfaces_in_the_sensor_frame(street):
    params = LidarParams(channels=8, azimuth_steps=90, elevation_deg=(-30.0, 10.0), range_noise_m=0.0, dropout=0.0)
    pose = Pose(np.array([0.0, 0.0, 3.0]), np.array([0.0, 0.0, 0.4]))
    points = lidar.scan(street, pose, params, np.random.default_rng(1))
    assert points.dtype == np.float32 and points.shape[1] == 4 and 0 < len(points) <= params.capacity
    world = pose.to_scene(points[:, :3])
    assert street.distance_to_surface(world).max() < 1e-3
    assert np.all(np.linalg.norm(points[:, :3], axis=1) <= params.max_range_m)
    assert np.all((points[:, 3] >= 0) & (points[:, 3] <= 1))
    # the beams below the horizon all reach the ground (8 rings, 5 of them pointing down, within 100 m)
    assert np.isclose(world[:, 2], 0.0, atol=1e-3).sum() >= 5 * 90 - 10


def test_lidar_noise_dropout_and_range_limit(street):
    pose = Pose(np.array([0.0, 0.0, 3.0]), np.zeros(3))
    exact = LidarParams(channels=4, azimuth_steps=256, elevation_deg=(-20.0, -5.0), range_noise_m=0.0, dropout=0.0)
    noisy = LidarParams(channels=4, azimuth_steps=256, elevation_deg=(-20.0, -5.0), range_noise_m=0.05, dropout=0.3)
    short = LidarParams(channels=4, azimuth_steps=256, elevation_deg=(-20.0, -5.0), max_range_m=15.0, dropout=0.0)
    full = lidar.scan(street, pose, exact, np.random.default_rng(2))
    kept = lidar.scan(street, pose, noisy, np.random.default_rng(2))
    assert 0.6 < len(kept) / len(full) < 0.8
    distance = street.distance_to_surface(pose.to_scene(kept[:, :3]))
    assert 0.002 < distance.mean() < 0.05 and distance.max() < 5 * 0.05  # noise along grazing rays
    near = lidar.scan(street, pose, short, np.random.default_rng(2))
    assert 0 < len(near) < len(full) and np.linalg.norm(near[:, :3], axis=1).max() <= 15.0 + 0.1


def test_lidar_ply_export_round_trips(street, tmp_path):
    import open3d as o3d

    points = lidar.scan(
        street, Pose(np.array([0.0, 0.0, 2.0]), np.zeros(3)), LidarParams(channels=4), np.random.default_rng(3)
    )
    lidar.write_ply(str(tmp_path / "scan.ply"), points)
    cloud = o3d.t.io.read_point_cloud(str(tmp_path / "scan.ply"))
    np.testing.assert_allclose(cloud.point.positions.numpy(), points[:, :3])
    np.testing.assert_allclose(cloud.point["intensity"].numpy()[:, 0], points[:, 3])


SMALL_RADAR = RadarParams(samples_per_chirp=128, num_chirps=64)


@pytest.mark.parametrize(("range_m", "velocity"), [(20.0, 5.0), (47.3, -11.2), (3.0, 0.0)])
def test_range_doppler_peak_of_a_known_scatterer(range_m, velocity):
    target = radar.Scatterers(np.array([range_m]), np.array([velocity]), np.array([[1.0, 0.0, 0.0]]), np.array([1.0]))
    cube = radar.cube(target, SMALL_RADAR, np.random.default_rng(0))
    assert cube.shape == (4, 128, 64) and cube.dtype == np.complex64
    power, ranges, velocities = radar.range_doppler_map(cube, SMALL_RADAR)
    k, m = np.unravel_index(power.argmax(), power.shape)
    assert abs(ranges[k] - range_m) <= SMALL_RADAR.range_resolution_m
    assert abs(velocities[m] - velocity) <= SMALL_RADAR.velocity_resolution_mps
    assert power.max() - np.median(power) > 30  # 1 scatterer of unit SNR, N*M*R = 32768 samples: ~45 dB


def test_radar_sees_a_moving_car_at_its_range_and_radial_velocity(street):
    pose = Pose(np.array([0.0, 0.0, 5.0]), np.array([0.0, 0.0, 0.0]))
    car = Box(np.array([25.0, 4.0, 0.75]), np.array([4.5, 1.8, 1.5]), 0.0, np.array([-8.0, 0.0, 0.0]))
    targets = radar.scatterers(street, pose, SMALL_RADAR, (car,))
    moving = targets.radial_velocity_mps != 0
    assert moving.sum() > 50 and (targets.radial_velocity_mps[moving] < 0).all()  # approaching
    power, ranges, velocities = radar.range_doppler_map(
        radar.cube(targets, SMALL_RADAR, np.random.default_rng(1)), SMALL_RADAR
    )
    power[:, np.abs(velocities) < 2 * SMALL_RADAR.velocity_resolution_mps] = -np.inf  # remove the static clutter
    k, m = np.unravel_index(power.argmax(), power.shape)
    to_car = car.center - pose.position
    expected_range = np.linalg.norm(to_car) - car.size[0] / 2
    expected_velocity = car.velocity @ to_car / np.linalg.norm(to_car)
    assert abs(ranges[k] - expected_range) <= 2 * SMALL_RADAR.range_resolution_m
    assert abs(velocities[m] - expected_velocity) <= 1.5 * SMALL_RADAR.velocity_resolution_mps


def test_radar_defaults_are_the_deepsense_layout():
    p = RadarParams()
    assert (p.carrier_frequency_hz, p.num_rx, p.samples_per_chirp, p.num_chirps) == (77e9, 4, 256, 128)
    assert p.max_range_m == pytest.approx(149.9, abs=0.1) and p.max_velocity_mps == pytest.approx(48.7, abs=0.1)


def test_camera_intrinsics_follow_the_field_of_view():
    fx, fy, cx, cy = rgb.intrinsics(CameraParams(width=64, height=48, fov_deg=90.0))
    assert (fx, fy, cx, cy) == pytest.approx((32.0, 32.0, 32.0, 24.0))


@pytest.mark.parametrize(
    ("cls", "fields", "message"),
    [
        (LidarParams, {"channels": 0}, "lidar.channels"),
        (LidarParams, {"elevation_deg": [10, -10]}, "lidar.elevation_deg"),
        (LidarParams, {"dropout": 1.0}, "lidar.dropout"),
        (LidarParams, {"mount": "roof"}, "lidar.mount"),
        (LidarParams, {"beams": 4}, "unknown key(s) ['beams']"),
        (RadarParams, {"chirp_period_s": 1e-6}, "radar.chirp_period_s"),
        (RadarParams, {"fov_deg": [120]}, "radar.fov_deg"),
        (RadarParams, {"num_rx": 2.5}, "radar.num_rx"),
        (CameraParams, {"mounts": ["bs", "drone"]}, "camera.mounts"),
        (CameraParams, {"fov_deg": 180}, "camera.fov_deg"),
        (CameraParams, "64x48", "camera: '64x48' is not a table"),
    ],
)
def test_bad_sensor_parameters_give_one_line_errors(cls, fields, message):
    with pytest.raises(ConfigError) as err:
        cls.from_dict(fields)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_sensor_parameters_round_trip():
    for params in (LidarParams(channels=4), RadarParams(fov_deg=(90.0, 20.0)), CameraParams(mounts=("bs", "ue"))):
        assert type(params).from_dict(params.to_dict()) == params
