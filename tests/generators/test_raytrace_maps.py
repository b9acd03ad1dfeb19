"""Depth maps and per-shard radio maps of the ray-traced generator: depth against the LiDAR and the RGB sky, the
radio map against the path solver at the shard's UE positions, the height map and top view, the grid's errors,
and the schema's minor version."""

import numpy as np
import pytest
import zarr

pytest.importorskip("sionna")
pytest.importorskip("open3d")

from conftest import raytraced  # noqa: E402
from wirelessdata.errors import ConfigError  # noqa: E402
from wirelessdata.generators import raytrace  # noqa: E402
from wirelessdata.generators.raytrace import RaytraceConfig  # noqa: E402
from wirelessdata.generators.raytrace.maps import traced_path_gain_db  # noqa: E402
from wirelessdata.sensing import depth as depth_model  # noqa: E402
from wirelessdata.sensing import radio_map as map_model  # noqa: E402
from wirelessdata.sensing.rgb import SKY, CameraParams, to_srgb  # noqa: E402
from wirelessdata.shard.schema import load_schema  # noqa: E402
from wirelessdata.shard.validate import validate_shard  # noqa: E402

REGION = [-20.0, 10.0, -8.0, 9.0]
MAPS = {
    "bands": [{"band": "sub6", "num_subcarriers": 16}, {"band": "28GHz", "num_subcarriers": 16}],
    "bs_array": "2x4",
    "num_time_steps": 2,
    "ue_region_m": REGION,
    "min_distance_m": 10.0,
    "speed_range_mps": [0.0, 1.0],
    "sensing": ["rgb", "depth", "lidar"],
    "camera": {"mounts": ["bs", "ue"], "width": 64, "height": 48, "samples_per_pixel": 4},
    "lidar": {"channels": 16, "azimuth_steps": 512, "range_noise_m": 0.0, "dropout": 0.0},
    "radio_map": True,
    "radio_map_grid": {"cell_m": 1.0, "region_m": [-30.0, 20.0, -16.0, 16.0], "samples_per_tx": 2_000_000},
}


@pytest.fixture(scope="module")
def shards(rt, tmp_path_factory):
    """8 drops in 2 blocks, sub-6 GHz and 28 GHz, with rgb, depth, LiDAR and radio maps: {band: (result, Dataset)}."""
    return raytraced(MAPS, 8, 4, tmp_path_factory.mktemp("maps"))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"sensing": ["depht"]}, "sensing: unknown sensor(s) ['depht']; allowed: ['rgb', 'depth', 'lidar', 'radar']"),
        ({"radio_map": "yes"}, "radio_map: 'yes' is not a boolean"),
        ({"radio_map_grid": {"cell_m": 0}}, "radio_map_grid.cell_m: 0 is not positive"),
        ({"radio_map_grid": {"cell_m": -1.0}}, "radio_map_grid.cell_m: -1.0 is not positive"),
        ({"radio_map_grid": {"region_m": [0, 0, 0, 1]}}, "radio_map_grid.region_m: [0.0, 0.0, 0.0, 1.0] is empty"),
        ({"radio_map_grid": {"region_m": [0, 1]}}, "radio_map_grid.region_m: (0, 1) does not have 4 numbers"),
        ({"radio_map_grid": {"samples_per_tx": 0}}, "radio_map_grid.samples_per_tx"),
        ({"radio_map_grid": {"cells": 3}}, "radio_map_grid: unknown key(s) ['cells']"),
        (
            {"radio_map_grid": {"cell_m": 0.01, "region_m": [-100, 100, -100, 100]}},
            "radio_map_grid: 20000 x 20000 = 400000000 cells of 0.01 m over",
        ),
    ],
)
def test_bad_map_settings_give_one_line_errors(fields, message):
    with pytest.raises(ConfigError) as err:
        RaytraceConfig.from_dict(fields)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_a_grid_too_large_for_the_scene_is_refused_before_any_tracing(rt):
    cfg = RaytraceConfig(radio_map=True, radio_map_grid={"cell_m": 0.05})  # the whole street canyon
    raytrace.stage_seconds.clear()
    with pytest.raises(ConfigError, match=r"^radio_map_grid: \d+ x \d+ = \d+ cells of 0.05 m .* too large"):
        raytrace.shard_layouts(cfg)
    assert "radio map" not in raytrace.stage_seconds and "ray tracing" not in raytrace.stage_seconds


def test_the_grid_covers_the_region_and_finds_cells():
    cells = map_model.grid([-2.0, 1.0, 0.0, 1.2], 0.5)
    np.testing.assert_allclose(cells.x, [-1.75, -1.25, -0.75, -0.25, 0.25, 0.75])
    np.testing.assert_allclose(cells.y, [0.25, 0.75, 1.25])  # the last row reaches past y_max
    row, col = cells.cell_of(np.array([[-1.9, 0.1], [0.99, 1.3], [5.0, 0.0]]))
    assert row.tolist() == [0, 2, -1] and col.tolist() == [0, 5, -1]


def test_depth_pixels_follow_the_intrinsics():
    params = CameraParams(width=8, height=6, fov_deg=90.0)
    directions = depth_model.pixel_directions(params)
    assert directions.shape == (6, 8, 3) and (directions[..., 0] == 1).all()
    np.testing.assert_allclose(directions[0, 0, 1:], [3.5 / 4, 2.5 / 4])  # top left: left (+y) and up (+z)
    np.testing.assert_allclose(directions[-1, -1, 1:], [-3.5 / 4, -2.5 / 4])


def test_shards_validate_open_with_xarray_and_hold_the_maps(shards):
    schema = load_schema()
    assert schema.version == "1.2.0"
    for band, (result, ds) in shards.items():
        assert result.report.ok, result.report.findings
        assert ds.attrs["schema_version"] == "1.2.0" and {"depth", "radio_map"} <= set(ds.attrs["modalities"])
        assert ds.depth.shape == (8, 2, 48, 64) and ds.depth.dtype == np.float32 and ds.depth.attrs["units"] == "m"
        assert ds.radio_map.dims == ("map_y", "map_x") and ds.radio_map.attrs["units"] == "dB"
        assert ds.radio_map.shape == (32, 50) == ds.height_map.shape and ds.top_view.shape == (32, 50, 3)
        np.testing.assert_allclose(ds.map_x, np.arange(50) - 29.5)
        np.testing.assert_allclose(ds.map_y, np.arange(32) - 15.5)
        street = np.abs(ds.height_map.values) < 0.5
        assert np.isfinite(ds.radio_map.values[street]).mean() > 0.95, band  # the streets are reached
        np.testing.assert_array_equal(ds.depth_pos, ds.camera_pos)
        np.testing.assert_array_equal(ds.depth_orientation, ds.camera_orientation)
        np.testing.assert_array_equal(ds.depth_intrinsics, ds.camera_intrinsics)
    sub6, mmw = (shards[b][1] for b in ("sub6", "28GHz"))
    np.testing.assert_array_equal(sub6.height_map, mmw.height_map)
    np.testing.assert_array_equal(sub6.depth, mmw.depth)
    both = np.isfinite(sub6.radio_map.values) & np.isfinite(mmw.radio_map.values)
    loss = np.median(sub6.radio_map.values[both] - mmw.radio_map.values[both])
    assert 12 < loss < 24  # free space: 20 log10(28 / 3.5) = 18 dB


def test_an_older_minor_version_stays_valid_and_a_newer_major_is_refused(shards):
    url = shards["sub6"][0].url
    group = zarr.open_group(url, mode="r+")
    try:
        for older in ("1.0.0", "1.1.0"):
            group.attrs["schema_version"] = older
            assert validate_shard(url).ok
        group.attrs["schema_version"] = "2.0.0"
        assert [f.rule for f in validate_shard(url).findings] == ["schema.version"]
    finally:
        group.attrs["schema_version"] = "1.2.0"


def test_depth_matches_the_lidar_ranges(shards):
    """The BS camera and the BS LiDAR share a pose: each LiDAR return, projected into the camera, has the depth of
    its pixel (within a few cm where the surface does not graze the pixel's footprint)."""
    ds = shards["sub6"][1]
    fx, fy, cx, cy = ds.camera_intrinsics.values[0]
    diffs = []
    for i in range(ds.sizes["sample"]):
        np.testing.assert_allclose(ds.lidar_pos[i], ds.depth_pos[i, 0], atol=1e-6)
        np.testing.assert_allclose(ds.lidar_orientation[i], ds.depth_orientation[i, 0], atol=1e-6)
        start, count = int(ds.lidar_start[i]), int(ds.lidar_count[i])
        points = ds.lidar_points.values[start : start + count]
        x, y, z, intensity = points.T
        u, v = cx - fx * y / np.maximum(x, 1e-9), cy - fy * z / np.maximum(x, 1e-9)
        seen = (x > 0) & (u >= 0) & (u < 64) & (v >= 0) & (v < 48) & (intensity > 0.7)
        # only returns close to a pixel centre: the depth map samples the centres
        near = seen & (np.abs(u % 1 - 0.5) < 0.15) & (np.abs(v % 1 - 0.5) < 0.15)
        depth = ds.depth.values[i, 0, v[near].astype(int), u[near].astype(int)]
        diffs.append(np.abs(depth - x[near]))
    diffs = np.concatenate(diffs)
    assert len(diffs) > 50
    assert np.median(diffs) < 0.03 and np.quantile(diffs, 0.9) < 0.15


def test_the_sky_of_the_images_is_where_depth_is_infinite(shards):
    """Depth and the Sionna RT render share the camera model: pixels showing pure sky have no depth, and back."""
    ds = shards["sub6"][1]
    sky = (ds.rgb.values == to_srgb(np.asarray(SKY))).all(axis=-1)
    no_hit = np.isinf(ds.depth.values)
    assert no_hit.any() and (~no_hit).any() and not np.isnan(ds.depth.values).any()
    assert (sky != no_hit).mean() < 0.03  # mixed pixels at the skyline differ


def test_depth_works_without_rgb(rt):
    both = RaytraceConfig.from_dict({**MAPS, "radio_map": False, "sensing": ["rgb", "depth"]})
    alone = RaytraceConfig.from_dict({**MAPS, "radio_map": False, "sensing": ["depth"]})
    with_rgb, without = (raytrace.generate_block(c, 2, seed=5)["sub6"] for c in (both, alone))
    assert "rgb" not in without and "camera_pos" not in without
    for name in ("depth", "depth_pos", "depth_orientation", "depth_time"):
        np.testing.assert_array_equal(with_rgb[name], without[name], err_msg=name)
    assert raytrace.shard_layouts(alone)["sub6"].modalities == ("csi", "depth")


def test_the_height_map_and_top_view_show_streets_and_buildings(shards):
    ds = shards["sub6"][1]
    heights = ds.height_map.values
    street = np.abs(heights) < 0.5
    assert 0.3 < street.mean() < 0.9 and (heights > 5).any()  # the streets and some buildings
    top = ds.top_view.values.astype(float)
    assert not (top == to_srgb(np.asarray(SKY))).all(axis=-1).any()  # no sky seen from above
    # the image lies on the grid: cells far in colour from the street's median are the roofs of the height map
    far = np.linalg.norm(top - np.median(top[street], axis=0), axis=-1)
    roof = far > (np.median(far[street]) + np.median(far[~street])) / 2
    assert (roof == ~street).mean() > 0.85  # path-tracing noise and shadows on the street


def test_the_radio_map_agrees_with_the_path_solver_at_the_ue_positions(shards, rt):
    """The figure check: at each UE, the radio map's cell against the traced paths' power (same antennas)."""
    cfg = RaytraceConfig.from_dict(MAPS)
    world = raytrace.load_world(cfg.scene)
    for band in cfg.bands:
        ds = shards[band.label][1]
        positions = ds.ue_pos.values[:, 0]
        row, col = map_model.Grid(ds.map_x.values, ds.map_y.values, 1.0).cell_of(positions)
        assert (row >= 0).all()
        traced = traced_path_gain_db(cfg, world, band, positions)
        difference = np.abs(ds.radio_map.values[row, col] - traced)
        assert np.median(difference) < 1.5, (band.label, difference)


def test_plot_shows_depth_and_the_maps(shards, tmp_path):
    from wirelessdata.interop.plot import plot_sample

    written = {p.name.rsplit("-", 1)[-1] for p in plot_sample(shards["sub6"][0].url, 1, tmp_path)}
    assert {"rgb.png", "depth.png", "lidar.png", "map.png"} <= written
    assert all(p.stat().st_size > 5000 for p in tmp_path.glob("*.png"))
