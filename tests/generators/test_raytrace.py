"""Ray-traced generator on Sionna RT: configuration errors, placement errors, and small shards with aligned sensing
written through the plan API (validated, paired bands sharing geometry, images, LiDAR, radar, CSI checked)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

pytest.importorskip("sionna")
pytest.importorskip("open3d")

from conftest import raytraced  # noqa: E402
from wirelessdata.errors import ConfigError, WirelessDataError  # noqa: E402
from wirelessdata.generate.plan import DropSetPlan  # noqa: E402
from wirelessdata.generate.recipe import drop_sets, load_recipe  # noqa: E402
from wirelessdata.generate.run import run_plan  # noqa: E402
from wirelessdata.generators import raytrace  # noqa: E402
from wirelessdata.generators.raytrace import RaytraceConfig  # noqa: E402
from wirelessdata.sensing import Pose, SceneGeometry, radar  # noqa: E402

RECIPE = Path(__file__).resolve().parents[2] / "generators" / "raytrace-street-canyon.toml"
TINY = {
    "bands": [{"band": "sub6", "num_subcarriers": 16}, {"band": "28GHz", "num_subcarriers": 16}],
    "bs_array": "2x4",
    "num_time_steps": 4,
    "ue_region_m": [-20.0, 10.0, -8.0, 9.0],
    "min_distance_m": 10.0,
    "speed_range_mps": [10.0, 14.0],
}
SENSING = {
    "sensing": ["rgb", "lidar", "radar"],
    "camera": {"mounts": ["bs", "ue"], "width": 64, "height": 48, "samples_per_pixel": 4},
    "lidar": {"channels": 8, "azimuth_steps": 128, "range_noise_m": 0.01},
    "radar": {"samples_per_chirp": 128, "num_chirps": 64, "tx_power_dbm": 30.0},  # a strong radar: clear peaks
}


@pytest.fixture(scope="module")
def shards(rt, tmp_path_factory):
    """4 drops in 2 blocks, sub-6 GHz and 28 GHz, with every sensor: {band: (ShardResult, Dataset)}."""
    return raytraced({**TINY, **SENSING}, 4, 2, tmp_path_factory.mktemp("rt"))


# --- configuration (no ray tracing) ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"scene": "atlantis"}, "scene: unknown scene 'atlantis'; allowed: ["),
        ({"scene": "/nowhere/scene.xml"}, "scene: unknown scene"),
        (
            {"sensing": ["rgb", "sonar"]},
            "sensing: unknown sensor(s) ['sonar']; allowed: ['rgb', 'depth', 'lidar', 'radar']",
        ),
        ({"bs_position_m": [0, 0]}, "bs_position_m: [0, 0] does not have 3 numbers"),
        ({"ue_region_m": [10, 0, 0, 10]}, "ue_region_m: [10.0, 0.0, 0.0, 10.0] is empty"),
        ({"ue_height_m": [2.0, 1.0]}, "ue_height_m: [2.0, 1.0] is not an increasing pair"),
        ({"bands": [{"band": "sub6", "num_subcarriers": 4096}]}, "bands[0] (sub6): bandwidth 122.88 MHz is too wide"),
        ({"max_depth": -1}, "max_depth: -1 is not an integer >= 0"),
        ({"radar": {"slope": 1}}, "radar: unknown key(s) ['slope']"),
        ({"scenario": "UMa"}, "unknown key(s) ['scenario']; valid keys: ['scene',"),
    ],
)
def test_bad_configurations_give_one_line_errors(fields, message):
    with pytest.raises(ConfigError) as err:
        RaytraceConfig.from_dict(fields)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_config_round_trips_and_the_recipe_parses():
    cfg = RaytraceConfig.from_dict({**TINY, **SENSING, "sensing": "radar,rgb"})
    assert cfg.sensing == ("rgb", "radar") and cfg.camera.mounts == ("bs", "ue")
    assert RaytraceConfig.from_dict(cfg.to_dict()) == cfg
    (drops,) = drop_sets(load_recipe(RECIPE))
    assert drops.generator == "raytrace" and drops.config.scene == "simple_street_canyon"
    assert [b.label for b in drops.config.bands] == ["sub6", "28GHz"] and drops.config.sensing == (
        "rgb",
        "lidar",
        "radar",
    )
    assert drops.config.radar.num_chirps == 128 and drops.config.speed_range_mps == pytest.approx((0.0, 50 / 3.6))


# --- bad inputs that need the scene ------------------------------------------------------------------------------


@pytest.mark.rt
def test_bs_inside_a_building_is_refused(rt):
    cfg = RaytraceConfig.from_dict({**TINY, "bs_position_m": [0.0, 20.0, 10.0]})  # inside the 51 m tower
    with pytest.raises(ConfigError) as err:
        raytrace.shard_layouts(cfg)
    assert str(err.value).startswith("bs_position_m: [0.0, 20.0, 10.0] is inside a building of scene")
    assert "\n" not in str(err.value)


@pytest.mark.rt
def test_a_mitsuba_xml_path_is_a_scene(rt):
    path = raytrace.builtin_scenes()["simple_street_canyon"]
    cfg = RaytraceConfig.from_dict({**TINY, "scene": path})
    layouts = raytrace.shard_layouts(cfg)
    assert cfg.scenario == "simple_street_canyon" and layouts["sub6"].attrs["scene"] == path


@pytest.mark.rt
def test_no_valid_ue_position_is_refused(rt):
    cfg = RaytraceConfig.from_dict({**TINY, "ue_region_m": [-55.0, -40.0, 15.0, 30.0]})  # a building's footprint
    with pytest.raises(ConfigError) as err:
        raytrace.generate_block(cfg, 2, seed=1)
    assert "ue_region_m: no valid UE position in [-55.0, -40.0, 15.0, 30.0]" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.rt
def test_drops_without_a_path_are_redrawn_or_refused(rt):
    los_only = {**TINY, "bands": [{"band": "sub6", "num_subcarriers": 8}], "max_depth": 0}
    # the street is in line of sight, most of the area behind the north blocks is not: only visible drops survive
    mixed = RaytraceConfig.from_dict({**los_only, "ue_region_m": [-35.0, 10.0, -8.0, 60.0]})
    block = raytrace.generate_block(mixed, 6, seed=3)["sub6"]
    assert block["los"].all() and np.abs(block["csi"]).min() > 0
    hidden = RaytraceConfig.from_dict({**los_only, "ue_region_m": [-60.0, -20.0, 42.0, 58.0]})
    with pytest.raises(WirelessDataError) as err:
        raytrace.generate_block(hidden, 2, seed=3)
    assert "drop(s) without any path between BS and UE" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.rt
def test_pose_convention_is_sionna_rts(rt):
    import mitsuba as mi

    from wirelessdata.sensing import rotation

    yaw, pitch, roll = 0.7, -0.3, 0.2
    sionna = np.array(rt.rotation_matrix(mi.Point3f(yaw, pitch, roll))).reshape(3, 3)
    np.testing.assert_allclose(rotation([roll, pitch, yaw]), sionna, atol=1e-6)


def run_python(code, env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.rt
def test_dr_jit_without_llvm_gives_a_one_line_error_and_the_debian_llvm_is_found(rt):
    code = (
        "import os\nfrom wirelessdata.generators import raytrace\nfrom wirelessdata.errors import WirelessDataError\n"
        "try:\n    raytrace.sionna_rt()\n    print('ok', os.environ['DRJIT_LIBLLVM_PATH'])\n"
        "except WirelessDataError as exc:\n    print('error:', exc)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DRJIT_LIBLLVM_PATH"}
    broken = run_python(code, {**env, "DRJIT_LIBLLVM_PATH": "/nonexistent/libLLVM.so"})
    (line,) = [s for s in broken.stdout.splitlines() if s.startswith("error:")]
    assert "install libllvm19" in line and "set DRJIT_LIBLLVM_PATH" in line
    if Path(raytrace.DEBIAN_LIBLLVM).is_file():
        found = run_python(code, env)
        assert found.stdout.strip() == f"ok {raytrace.DEBIAN_LIBLLVM}", found.stderr[-2000:]


# --- shards --------------------------------------------------------------------------------------------------------


@pytest.mark.rt
def test_shards_validate_with_sensing_alignment(shards):
    for result, ds in shards.values():
        assert result.report.ok, result.report.findings
        assert set(ds.attrs["modalities"]) == {"csi", "rgb", "lidar", "radar"}
        assert ds.attrs["generator"] == "raytrace" and ds.attrs["scenario"] == "simple_street_canyon"
        assert ds.attrs["sensing_time_tolerance_s"] > 0
        assert radar.RadarParams.from_attrs(ds.attrs) == radar.RadarParams.from_dict(SENSING["radar"])
        for name in ("rgb_time", "lidar_time", "radar_time"):
            assert np.isin(ds[name].values, ds.time.values).all()


@pytest.mark.rt
def test_paired_bands_share_geometry_and_sensors(shards):
    (_, a), (_, b) = shards["sub6"], shards["28GHz"]
    for name in ("sample_id", "ue_pos", "ue_vel", "bs_pos", "los", "distance_m", "rgb", "camera_pos", "lidar_points"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    np.testing.assert_array_equal(a.radar_cube.values, b.radar_cube.values)
    assert a.attrs["carrier_frequency_hz"] == 3.5e9 and b.attrs["carrier_frequency_hz"] == 28e9
    # half-wavelength arrays at each carrier
    spacing = [np.diff(np.unique(ds.bs_ant_pos.values[:, 1])).min() for ds in (a, b)]
    assert spacing == pytest.approx([0.5 * 299_792_458 / 3.5e9, 0.5 * 299_792_458 / 28e9], rel=1e-5)
    assert b.path_gain_db.values.mean() < a.path_gain_db.values.mean() - 10  # higher carrier, higher loss


@pytest.mark.rt
def test_csi_is_finite_and_labels_match_the_geometry(shards, rt):
    _, ds = shards["sub6"]
    csi = ds.csi.values
    assert np.isfinite(csi).all() and (np.abs(csi).reshape(len(csi), -1).max(axis=1) > 0).all()
    assert ((ds.path_gain_db.values > -160) & (ds.path_gain_db.values < -30)).all()
    assert ((ds.best_beam.values >= 0) & (ds.best_beam.values < 2 * 2 * 2 * 4)).all()
    assert (ds.delay_spread_s.values >= 0).all()
    assert np.isnan(ds.k_factor_db.values[~ds.los.values]).all()
    # los from the traced paths agrees with a straight ray test between BS and UE
    geometry = raytrace.load_world("simple_street_canyon").geometry
    bs, ue = ds.bs_pos.values.astype(float), ds.ue_pos.values[:, 0].astype(float)
    d = np.linalg.norm(ue - bs, axis=1)
    clear = geometry.cast(bs, (ue - bs) / d[:, None]).distance >= d - 1e-3
    np.testing.assert_array_equal(ds.los.values, clear)
    # the track moves with ue_vel
    np.testing.assert_allclose(ds.ue_pos.values[:, -1] - ds.ue_pos.values[:, 0], ds.ue_vel.values * 0.003, atol=1e-4)


@pytest.mark.rt
def test_images_show_the_scene(shards):
    _, ds = shards["sub6"]
    images = ds.rgb.values
    assert images.dtype == np.uint8 and images.shape == (4, 2, 48, 64, 3)
    assert (images.reshape(4, 2, -1).std(axis=-1) > 10).all()  # not blank
    assert ds.camera_intrinsics.values[0].tolist() == pytest.approx([55.43, 55.43, 32.0, 24.0], abs=0.01)
    # the UE-following camera looks at the UE from behind and above
    to_ue = ds.ue_pos.values[:, 0] - ds.camera_pos.values[:, 1]
    assert (to_ue[:, 2] < 0).all() and (np.linalg.norm(to_ue, axis=1) <= np.hypot(8.0, 3.0) + 1e-3).all()


def box_mesh(center, size, yaw):
    """Triangles of an oriented box, for distances to the UE body."""
    import open3d as o3d

    box = o3d.geometry.TriangleMesh.create_box(*size).translate(-np.asarray(size) / 2)
    box.rotate(o3d.geometry.get_rotation_matrix_from_xyz([0.0, 0.0, yaw]), center=np.zeros(3)).translate(center)
    return np.asarray(box.vertices), np.asarray(box.triangles)


@pytest.mark.rt
def test_lidar_points_lie_on_scene_surfaces(shards):
    _, ds = shards["sub6"]
    meshes = raytrace.load_world("simple_street_canyon").geometry.meshes
    start, count = ds.lidar_start.values, ds.lidar_count.values
    assert (count > 0).all() and (count <= 8 * 128).all()
    size = ds.attrs["ue_body_m"]
    for i in range(len(start)):
        points = ds.lidar_points.values[start[i] : start[i] + count[i], :3]
        pose = Pose(ds.lidar_pos.values[i].astype(float), ds.lidar_orientation.values[i].astype(float))
        ue = ds.ue_pos.values[i, 0].astype(float)
        heading = np.arctan2(ds.ue_vel.values[i, 1], ds.ue_vel.values[i, 0])
        body = box_mesh([ue[0], ue[1], ue[2] - 1.5 + size[2] / 2], size, heading)  # the UE stands 1.5 m above ground
        surfaces = SceneGeometry([*meshes, body])
        assert surfaces.distance_to_surface(pose.to_scene(points)).max() < 5 * 0.01 + 1e-3


@pytest.fixture(scope="module")
def radar_block(rt):
    """12 drops with the radar only (cheap: no rendering), one band."""
    cfg = RaytraceConfig.from_dict({**TINY, **SENSING, "bands": ["sub6"], "num_subcarriers": 8, "sensing": ["radar"]})
    return cfg.radar, raytrace.generate_block(cfg, 12, seed=5)["sub6"]


@pytest.mark.rt
def test_radar_peak_is_the_ue_at_its_range_and_radial_velocity(radar_block):
    params, block = radar_block
    checked = 0
    for i in range(len(block["radar_cube"])):
        pose = Pose(block["radar_pos"][i].astype(float), block["radar_orientation"][i].astype(float))
        ue = block["ue_pos"][i, 0].astype(float)
        x, y, z = pose.to_sensor(ue[None])[0]
        distance = np.linalg.norm(ue - pose.position)
        radial = block["ue_vel"][i] @ (ue - pose.position) / distance
        in_view = abs(np.degrees(np.arctan2(y, x))) < 55 and abs(np.degrees(np.arctan2(z, np.hypot(x, y)))) < 15
        if abs(radial) < 3 * params.velocity_resolution_mps or not in_view:  # slow across, or out of the field of view
            continue
        power, ranges, velocities = radar.range_doppler_map(block["radar_cube"][i], params)
        power[:, np.abs(velocities) < 2 * params.velocity_resolution_mps] = -np.inf  # static clutter
        k, m = np.unravel_index(power.argmax(), power.shape)
        assert abs(ranges[k] - distance) < 3.0 + params.range_resolution_m, i  # the car's face vs its antenna
        assert abs(velocities[m] - radial) < 1.5 * params.velocity_resolution_mps, i
        checked += 1
    assert checked >= 3


@pytest.mark.rt
def test_blocks_are_a_pure_function_of_their_seed(rt):
    cfg = RaytraceConfig.from_dict({**TINY, "sensing": ["lidar"], "lidar": {"channels": 2, "azimuth_steps": 16}})
    first, again = raytrace.generate_block(cfg, 3, seed=9), raytrace.generate_block(cfg, 3, seed=9)
    other = raytrace.generate_block(cfg, 3, seed=10)
    for band in first:
        for name, value in first[band].items():
            np.testing.assert_array_equal(value, again[band][name], err_msg=name)
    assert not np.array_equal(first["sub6"]["ue_pos"], other["sub6"]["ue_pos"])


@pytest.mark.rt
@pytest.mark.slow
def test_the_street_canyon_recipe_runs_and_validates(tmp_path):
    (drops,) = drop_sets(load_recipe(RECIPE), {"samples": 2, "block_size": 2})
    results = run_plan(DropSetPlan(drops, str(tmp_path)))
    assert [r.band for r in results] == ["sub6", "28GHz"] and all(r.report.ok for r in results)
    ds = xr.open_zarr(results[0].url)
    assert ds.rgb.shape == (2, 2, 240, 320, 3) and ds.radar_cube.shape == (2, 4, 256, 128)


def test_one_band_from_the_command_line(tmp_path):
    """`generate --generator raytrace --bands sub6`: one band needs no multiband mode (the ray tracer has none)."""
    from typer.testing import CliRunner

    from wirelessdata.cli import app

    args = ["generate", "--generator", "raytrace", "--bands", "sub6", "--samples", "1", "--time-steps", "2"]
    res = CliRunner().invoke(app, [*args, "--subcarriers", "8", "--bs-array", "1x2", "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "r" / "raytrace-simple_street_canyon-sub6.zarr" / "zarr.json").is_file()


@pytest.mark.rt
def test_a_scene_without_meshes_is_refused_before_tracing(rt, tmp_path):
    empty = tmp_path / "empty.xml"
    empty.write_text('<scene version="2.1.0"><integrator type="path"/></scene>')
    cfg = RaytraceConfig.from_dict({**TINY, "scene": str(empty), "sensing": ["lidar"]})
    with pytest.raises(ConfigError) as err:
        raytrace.shard_layouts(cfg)
    assert str(err.value) == f"scene: {empty} has no meshes; allowed: a scene with triangle meshes"
