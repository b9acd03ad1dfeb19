"""Sensors on a hovering UAV (``mount = "uav"``) in the ray-traced generator: the stored poses, the depth map
looking down against independent rays, the UE box in the UAV LiDAR, the ``uav_*`` shard attributes, and the
one-line errors of bad UAV (and BS) poses before any tracing."""

import numpy as np
import pytest

pytest.importorskip("sionna")
pytest.importorskip("open3d")

from conftest import raytraced  # noqa: E402
from wirelessdata.errors import ConfigError  # noqa: E402
from wirelessdata.generators import raytrace  # noqa: E402
from wirelessdata.generators.raytrace import RaytraceConfig  # noqa: E402
from wirelessdata.generators.raytrace.scene import uav_position  # noqa: E402
from wirelessdata.sensing import Box, Pose, rotation  # noqa: E402
from wirelessdata.sensing.uav import UavParams  # noqa: E402

pytestmark = pytest.mark.rt

UAV_XY, UAV_HEIGHT = (-5.0, 0.0), 40.0
"""Over the street of the canyon (whose ground lies at z = -0.03 m), clear of the 51 m tower at y >= 10 m."""
BASE = {
    "bands": [{"band": "sub6", "num_subcarriers": 8}],
    "bs_array": "2x2",
    "num_time_steps": 2,
    "samples_per_src": 20_000,
    "ue_region_m": [-20.0, 10.0, -8.0, 9.0],
    "min_distance_m": 10.0,
}
UAV = {
    **BASE,
    "speed_range_mps": [1.0, 2.0],  # moving: the heading is that of ue_vel
    "sensing": ["rgb", "depth", "lidar", "radar"],
    "camera": {"mounts": ["bs", "uav"], "width": 64, "height": 48, "samples_per_pixel": 4},
    # pitched straight down, the spinning LiDAR sweeps the ground below in a fan 60 deg wide along x
    "lidar": {"mount": "uav", "channels": 48, "azimuth_steps": 512, "elevation_deg": [-30.0, 30.0], "dropout": 0.0},
    "radar": {"mount": "uav", "samples_per_chirp": 64, "num_chirps": 64, "fov_deg": [60.0, 60.0]},
    "uav": {"position_m": list(UAV_XY), "height_m": UAV_HEIGHT, "heading_deg": 0.0, "pitch_deg": 90.0},
}


@pytest.fixture(scope="module")
def shard(rt, tmp_path_factory):
    """4 drops in one block with a BS camera, and a camera, LiDAR and radar on the UAV: (result, Dataset)."""
    (out,) = raytraced(UAV, 4, 4, tmp_path_factory.mktemp("uav")).values()
    return out


@pytest.fixture(scope="module")
def geometry(rt):
    return raytrace.load_world("simple_street_canyon").geometry


def _ue_boxes(ds):
    """The UE boxes rebuilt from the stored track: on the ground below the antenna (ue_height_m), along ue_vel."""
    size = np.asarray(ds.attrs["ue_body_m"])
    height = ds.attrs["ue_height_m"][0]
    boxes = []
    for pos, vel in zip(ds.ue_pos.values[:, 0], ds.ue_vel.values, strict=True):
        center = np.array([pos[0], pos[1], pos[2] - height + size[2] / 2])
        boxes.append(Box(center, size, float(np.arctan2(vel[1], vel[0])), vel))
    return boxes


def test_every_uav_sensor_stores_the_hover_pose(shard, geometry):
    result, ds = shard
    assert result.report.ok, result.report.findings
    ground = geometry.cast([*UAV_XY, 60.0], [[0.0, 0.0, -1.0]]).distance[0]  # from above the UAV: the street
    expected_pos = np.array([*UAV_XY, 60.0 - ground + UAV_HEIGHT])
    expected_rpy = np.deg2rad([0.0, 90.0, 0.0])
    for pos, rpy in [
        (ds.camera_pos.values[:, 1], ds.camera_orientation.values[:, 1]),
        (ds.depth_pos.values[:, 1], ds.depth_orientation.values[:, 1]),
        (ds.lidar_pos.values, ds.lidar_orientation.values),
        (ds.radar_pos.values, ds.radar_orientation.values),
    ]:
        np.testing.assert_allclose(pos, np.tile(expected_pos, (4, 1)), atol=1e-4)
        np.testing.assert_allclose(rpy, np.tile(expected_rpy, (4, 1)), atol=1e-6)
    np.testing.assert_allclose(ds.camera_pos.values[:, 0], ds.bs_pos.values, atol=1e-5)  # the BS camera stays
    assert UavParams.from_attrs(ds.attrs) == RaytraceConfig.from_dict(UAV).uav
    assert ds.attrs["uav_height_m"] == UAV_HEIGHT and ds.attrs["lidar_mount"] == "uav"


def test_the_uav_depth_map_sees_the_ground_and_roofs_below(shard, geometry):
    """Each checked pixel's depth is that of an independent ray through its centre (scene meshes and UE box); looking
    straight down, the street pixels lie the UAV's height below it and no pixel is further than the ground."""
    _, ds = shard
    fx, fy, cx, cy = ds.depth_intrinsics.values[1]
    depth = ds.depth.values[:, 1]
    for i, box in enumerate(_ue_boxes(ds)):
        pose = Pose(ds.depth_pos.values[i, 1].astype(np.float64), ds.depth_orientation.values[i, 1].astype(np.float64))
        for v, u in [(24, 32), (0, 0), (47, 63), (10, 50), (40, 5)]:
            axis = np.array([1.0, (cx - u - 0.5) / fx, (cy - v - 0.5) / fy])
            ray = pose.rotation @ (axis / np.linalg.norm(axis))
            hit = geometry.cast(pose.position, ray[None], (box,))
            assert depth[i, v, u] == pytest.approx(hit.distance[0] / np.linalg.norm(axis), rel=1e-4)
        assert depth[i, 24, 32] == pytest.approx(UAV_HEIGHT, abs=0.05) or depth[i, 24, 32] < UAV_HEIGHT - 1
        assert np.isfinite(depth[i]).all() and depth[i].max() <= UAV_HEIGHT + 0.01
        street = np.abs(depth[i] - UAV_HEIGHT) < 0.01
        assert 0.3 < street.mean() < 1.0  # the street below, and something higher (roofs, walls, the UE)


def test_the_uav_lidar_sees_the_ue_box_when_in_view(shard, geometry):
    _, ds = shard
    start, count = ds.lidar_start.values, ds.lidar_count.values
    points = ds.lidar_points.values
    in_view = 0
    for i, box in enumerate(_ue_boxes(ds)):
        pose = Pose(ds.lidar_pos.values[i].astype(np.float64), ds.lidar_orientation.values[i].astype(np.float64))
        top = box.center + [0.0, 0.0, box.size[2] / 2 - 0.05]
        to_top = (top - pose.position) / np.linalg.norm(top - pose.position)
        elevation = np.rad2deg(np.arcsin((to_top @ pose.rotation)[2]))  # in the sensor frame
        seen = geometry.cast(pose.position, to_top[None], (box,)).body[0] == 0 and -30 < elevation < 30
        scan = pose.to_scene(points[start[i] : start[i] + count[i], :3])
        local = (scan - box.center) @ rotation([0.0, 0.0, box.yaw])  # box frame
        half = np.asarray(box.size) / 2
        on_box = (np.abs(local) <= half + 0.1).all(axis=1) & (local[:, 2] > 0.2 - half[2])  # not the ground below
        assert on_box.any() == seen
        in_view += seen
    assert in_view >= 2  # most drops of the region lie in the fan below the UAV


def test_a_uav_table_round_trips_and_defaults_to_the_region_centre(rt, geometry):
    cfg = RaytraceConfig.from_dict({**UAV, "uav": {"heading_deg": 30.0}})
    assert RaytraceConfig.from_dict(cfg.to_dict()) == cfg and cfg.uav == UavParams(heading_deg=30.0)
    assert cfg.uav_sensors == ("rgb", "depth", "lidar", "radar")
    position = uav_position(cfg, geometry)
    assert position[:2] == pytest.approx([-5.0, 0.5]) and position[2] == pytest.approx(
        40.0 + geometry.bounds[0, 2], abs=0.05
    )
    # a UAV pose that no sensor uses is not checked
    unused = RaytraceConfig.from_dict({**BASE, "uav": {"position_m": [500.0, 0.0]}, "sensing": ["lidar"]})
    assert unused.uav_sensors == () and "uav_height_m" not in raytrace.shard_layouts(unused)["sub6"].attrs


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"uav": {"pitch_deg": 95}}, "uav.pitch_deg: 95 is out of range; allowed: 0 <= pitch_deg <= 90"),
        ({"uav": {"pitch_deg": -10.0}}, "uav.pitch_deg: -10.0 is out of range; allowed: 0 <= pitch_deg <= 90"),
        ({"uav": {"height_m": 0}}, "uav.height_m: 0 is not positive; allowed: a height above the ground > 0 m"),
        ({"uav": {"altitude_m": 40}}, "uav: unknown key(s) ['altitude_m']; valid keys: ['position_m', 'height_m',"),
        ({"uav": {"position_m": [1.0]}}, "uav.position_m: (1.0,) is not (x, y); allowed: [x, y] in m"),
        ({"uav": {"heading_deg": "north"}}, "uav.heading_deg: 'north' is not a finite number"),
        ({"lidar": {"mount": "drone"}}, "lidar.mount: unknown mount 'drone'; allowed: ['bs', 'ue', 'uav']"),
        (
            {"uav": {"position_m": [500.0, 0.0]}},
            "uav.position_m: [500.0, 0.0] is outside scene simple_street_canyon (x in [-94.0, 92.4] m, "
            "y in [-60.3, 60.8] m); allowed: x and y within the scene's bounds",
        ),
        (
            {"uav": {"position_m": [0.0, 20.0], "height_m": 10.0}},
            "uav.height_m: 10 m puts the UAV inside or under a building of scene simple_street_canyon at [0.0, 20.0] "
            "(the scene lies 41.0 m above it); allowed: a height above the roofs there (> 51.0 m) or another "
            "uav.position_m",
        ),
        (
            {"bs_position_m": [-200.0, 0.0, 10.0]},
            "bs_position_m: [-200.0, 0.0, 10.0] is outside scene simple_street_canyon (x in [-94.0, 92.4] m, "
            "y in [-60.3, 60.8] m); allowed: x and y within the scene's bounds",
        ),
    ],
)
def test_bad_uav_poses_are_refused_before_any_shard_or_tracing(rt, tmp_path, fields, message):
    raytrace.stage_seconds.clear()
    with pytest.raises(ConfigError) as err:
        raytraced({**UAV, **fields}, 4, 4, tmp_path)
    line = str(err.value).removeprefix("configs[0] (raytrace): ")  # the recipe names the configuration
    assert line.startswith(message) and "\n" not in line
    assert not any(tmp_path.iterdir())
    assert not {"ray tracing", "rgb", "depth", "lidar", "radar"} & set(raytrace.stage_seconds)
