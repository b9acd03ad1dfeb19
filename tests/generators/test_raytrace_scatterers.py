"""Scatterer labels of the ray-traced generator: the traced paths' interaction points validate and open with xarray,
lie on the scene's meshes, carry documented kinds, leave line-of-sight paths out, match the LiDAR frame, and are
cut to whole paths at the per-sample capacity."""

import numpy as np
import pytest
import xarray as xr

pytest.importorskip("sionna")
o3d = pytest.importorskip("open3d")

from conftest import raytraced  # noqa: E402
from wirelessdata.errors import ConfigError  # noqa: E402
from wirelessdata.generators import raytrace  # noqa: E402
from wirelessdata.generators.raytrace import RaytraceConfig  # noqa: E402
from wirelessdata.generators.raytrace.scatterers import KINDS  # noqa: E402
from wirelessdata.sensing import Pose  # noqa: E402

SCATTERERS = {
    "scene": "simple_street_canyon",
    "bands": [{"band": "sub6", "num_subcarriers": 8}],
    "bs_array": "1x2",
    "num_time_steps": 2,
    "ue_region_m": [-20.0, 10.0, -8.0, 9.0],
    "min_distance_m": 10.0,
    "samples_per_src": 20_000,
    "sensing": ["lidar"],
    "lidar": {"channels": 8, "azimuth_steps": 128, "range_noise_m": 0.0, "dropout": 0.0},
    "scatterers": True,
}


@pytest.fixture(scope="module")
def shard(rt, tmp_path_factory):
    """4 drops in 2 blocks with scatterers and a BS LiDAR: (result, Dataset)."""
    (pair,) = raytraced(SCATTERERS, 4, 2, tmp_path_factory.mktemp("scatterers")).values()
    return pair


def _points(ds: xr.Dataset, name: str, i: int) -> np.ndarray:
    start, count = int(ds.scatterer_start[i]), int(ds.scatterer_count[i])
    return ds[name].values[start : start + count]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"scatterers": "yes"}, "scatterers: 'yes' is not a boolean"),
        ({"max_scatterers": 0}, "max_scatterers: 0 is not a positive integer"),
        ({"max_scatterers": 2.5}, "max_scatterers: 2.5 is not a positive integer"),
    ],
)
def test_bad_scatterer_settings_give_one_line_errors(fields, message):
    with pytest.raises(ConfigError) as err:
        RaytraceConfig.from_dict(fields)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_scatterers_validate_open_with_xarray_and_carry_documented_kinds(shard):
    result, ds = shard
    assert result.report.ok, result.report.findings
    assert "scatterers" in ds.attrs["modalities"] and ds.attrs["schema_version"] == "1.2.0"
    assert ds.attrs["scatterer_kinds"] == {str(k): v for k, v in KINDS.items()}
    assert ds.scatterer_points.dims == ("scatterer", "xyz") and ds.scatterer_points.attrs["units"] == "m"
    assert "1 specular reflection" in ds.scatterer_kind.attrs["long_name"]
    counts = ds.scatterer_count.values
    assert counts.shape == (4,) and (counts > 0).all() and (counts <= ds.attrs["max_scatterers"]).all()
    for i in range(4):
        kind, depth, path = (_points(ds, f"scatterer_{v}", i) for v in ("kind", "depth", "path"))
        assert set(np.unique(kind)) <= set(KINDS), i  # no NONE: unused depths and LoS paths have no points
        assert np.isfinite(_points(ds, "scatterer_points", i)).all()
        assert depth.min() == 1 and depth.max() <= ds.attrs["max_depth"]
        assert (np.diff(path) >= 0).all()  # strongest path first, its bounces in order
        for p in np.unique(path):
            np.testing.assert_array_equal(depth[path == p], np.arange(1, (path == p).sum() + 1))
        gaps = np.setdiff1d(np.arange(path.max() + 1), path)  # ranks of paths without points
        assert len(gaps) <= int(ds.los.values[i]), i  # only the LoS path, if any


def test_first_bounces_lie_on_the_meshes(shard):
    _, ds = shard
    world = raytrace.load_world(SCATTERERS["scene"])
    scene = o3d.t.geometry.RaycastingScene()
    for vertices, faces in world.geometry.meshes:
        scene.add_triangles(o3d.core.Tensor(vertices), o3d.core.Tensor(faces))
    first = ds.scatterer_points.values[ds.scatterer_depth.values == 1]
    first = first[np.isfinite(first).all(axis=1)]
    distance = scene.compute_distance(o3d.core.Tensor(first.astype(np.float32))).numpy()
    assert len(first) >= 4 and (distance < 0.1).mean() >= 0.95, np.quantile(distance, [0.5, 0.95, 1.0])


def test_lidar_frame_points_follow_the_lidar_pose(shard):
    _, ds = shard
    for i in range(4):
        pose = Pose(ds.lidar_pos.values[i].astype(np.float64), ds.lidar_orientation.values[i].astype(np.float64))
        scene = pose.to_scene(_points(ds, "scatterer_points_lidar", i))
        np.testing.assert_allclose(scene, _points(ds, "scatterer_points", i), atol=1e-3)


def test_the_capacity_keeps_whole_strongest_paths(rt):
    full, cut = (
        next(iter(raytrace.generate_block(RaytraceConfig.from_dict({**SCATTERERS, **fields}), 2, seed=5).values()))
        for fields in ({"sensing": []}, {"sensing": [], "max_scatterers": 3})
    )
    assert (full["scatterer_count"] > 3).all() and (cut["scatterer_count"] <= 3).all()
    assert "scatterer_points_lidar" not in cut
    starts = [np.concatenate([[0], np.cumsum(block["scatterer_count"])]) for block in (full, cut)]
    for i in range(2):
        rows = [slice(start[i], start[i + 1]) for start in starts]
        kept = cut["scatterer_count"][i]
        for name in ("scatterer_points", "scatterer_path", "scatterer_depth", "scatterer_kind"):
            np.testing.assert_array_equal(cut[name][rows[1]], full[name][rows[0]][:kept])  # a prefix of the full list
        path = full["scatterer_path"][rows[0]]
        assert kept == 0 or path[kept] != path[kept - 1]  # cut between two paths
        assert (path == path[kept]).sum() > 3 - kept  # the next path did not fit


def test_plot_draws_the_scatterers(shard, tmp_path):
    from wirelessdata.interop.plot import plot_sample

    files = plot_sample(shard[0].url, 0, tmp_path)
    assert any(f.name.endswith("-s0-scatterers.png") and f.stat().st_size > 1000 for f in files)
