"""Task views over the ray-traced modalities: sensing-beam (camera / depth / LiDAR -> best beam), path-loss-map
(top view + height map -> radio-map tile) and scatterers (LiDAR scan -> scatterer points), on one small ray-traced
drop set (24 drops, sub-6 GHz and 28 GHz), with their baselines against trivial predictors and their errors."""

import json
import math

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

pytest.importorskip("sionna")
pytest.importorskip("open3d")

from conftest import raytraced, write_csi  # noqa: E402
from wirelessdata.cli import app  # noqa: E402
from wirelessdata.errors import ConfigError, WirelessDataError  # noqa: E402
from wirelessdata.tasks import get, run_baselines, score  # noqa: E402
from wirelessdata.tasks.metrics import chamfer, recall_within  # noqa: E402
from wirelessdata.tasks.pathloss_map import ShardMaps  # noqa: E402
from wirelessdata.tasks.source import Labels  # noqa: E402

CONFIG = {
    "scene": "simple_street_canyon",
    "bands": [{"band": "sub6", "num_subcarriers": 8}, {"band": "28GHz", "num_subcarriers": 8}],
    "bs_array": "2x4",
    "num_time_steps": 2,
    "ue_region_m": [-20.0, 10.0, -8.0, 9.0],
    "min_distance_m": 10.0,
    "speed_range_mps": [0.0, 1.0],
    "samples_per_src": 20_000,
    "sensing": ["rgb", "depth", "lidar"],
    "camera": {"mounts": ["bs", "ue"], "width": 64, "height": 48, "samples_per_pixel": 2},
    "lidar": {"channels": 16, "azimuth_steps": 256, "range_noise_m": 0.0, "dropout": 0.0},
    "scatterers": True,
    "radio_map": True,
    "radio_map_grid": {"cell_m": 2.0, "region_m": [-30.0, 20.0, -16.0, 16.0], "samples_per_tx": 500_000},
}
TILE = 8


@pytest.fixture(scope="module")
def root(rt, tmp_path_factory):
    """24 drops in 2 blocks, both bands, with rgb, depth, LiDAR, scatterers and radio maps: the root folder."""
    folder = tmp_path_factory.mktemp("sensing-tasks")
    raytraced(CONFIG, 24, 12, folder)
    return str(folder)


def _one(view):
    return next(iter(view.batches()))


def test_views_yield_the_documented_shapes(root):
    x, y, meta = _one(get("sensing-beam", root, batch_size=5))
    assert x.shape == (5, 48, 64, 3) and x.dtype == torch.uint8 and y.shape == (5,) and y.dtype == torch.int64
    assert [s.attrs["band"] for s in get("sensing-beam", root).shards] == ["28GHz"]
    x, _, _ = _one(get("sensing-beam", root, batch_size=5, modality="depth", camera=1))
    assert x.shape == (5, 48, 64) and x.dtype == torch.float32 and torch.isinf(x).any() and (x > 0).all()
    x, _, meta = _one(get("sensing-beam", root, batch_size=5, modality="lidar"))
    assert len(x) == 5 and all(p.ndim == 2 and p.shape[1] == 4 and len(p) > 100 for p in x)
    assert meta.target_shape == (5,)

    x, y, meta = _one(get("path-loss-map", root, batch_size=5, tile=TILE))
    assert x.shape == (5, 7, TILE, TILE) and x.dtype == torch.float32 and y.shape == (5, TILE, TILE)
    assert (x[:, :3] >= 0).all() and (x[:, :3] <= 1).all() and torch.isfinite(x).all()
    assert torch.isfinite(y).float().mean() > 0.5 and not torch.isinf(y).any()
    labels = Labels(meta.shard.url, ("ue_pos", "bs_pos")).take(meta.sample_id)
    centre = x[:, 4:7, TILE // 2, TILE // 2].numpy()  # the UE's cell minus the BS, at the radio map's plane
    ue = labels["ue_pos"][:, 0] - labels["bs_pos"]
    assert np.abs(centre[:, :2] - ue[:, :2]).max() <= CONFIG["radio_map_grid"]["cell_m"] / 2 + 1e-6
    np.testing.assert_allclose(centre[:, 2], ue[:, 2], atol=1e-4)  # UE antenna at the map's plane here

    x, y, meta = _one(get("scatterers", root, batch_size=5))
    assert len(x) == len(y) == 5 and all(p.shape[1] == 4 for p in x) and all(t.shape[1] == 3 for t in y)
    every, _, _ = _one(get("scatterers", root, batch_size=5, first_bounce_only="false"))
    ragged = Labels(meta.shard.url, ("lidar_points", "scatterer_points_lidar", "scatterer_depth"))
    for i, sid in enumerate(meta.sample_id):
        row = ragged.take(np.array([sid]))
        np.testing.assert_array_equal(x[i].numpy(), row["lidar_points"][0])
        np.testing.assert_array_equal(y[i].numpy(), row["scatterer_points_lidar"][0][row["scatterer_depth"][0] == 1])


def test_ragged_labels_follow_start_and_count(root):
    import xarray as xr

    url = get("scatterers", root).shards[0].url
    ds = xr.open_zarr(url)
    labels = Labels(url, ("lidar_points", "scatterer_depth", "los", "rgb"))
    got = labels.take(ds.sample_id.values[[3, 0]])
    assert set(got) == {"lidar_points", "scatterer_depth", "los", "rgb"}  # no *_start / *_count left over
    assert "rgb" not in labels.data  # images are read batch by batch, not held whole
    np.testing.assert_array_equal(got["rgb"], ds.rgb.values[[3, 0]])
    np.testing.assert_array_equal(got["los"], ds.los.values[[3, 0]])
    for j, i in enumerate((3, 0)):
        start, count = int(ds.lidar_start[i]), int(ds.lidar_count[i])
        np.testing.assert_array_equal(got["lidar_points"][j], ds.lidar_points.values[start : start + count])
        start, count = int(ds.scatterer_start[i]), int(ds.scatterer_count[i])
        np.testing.assert_array_equal(got["scatterer_depth"][j], ds.scatterer_depth.values[start : start + count])


def test_sensing_beam_labels_come_from_the_target_band_partner(root):
    own = {int(m.sample_id[i]): (x[i], y[i]) for x, y, m in get("sensing-beam", root).batches() for i in range(len(y))}
    paired = get("sensing-beam", root, source_band="sub6")
    assert [s.attrs["band"] for s in paired.shards] == ["sub6"]
    for x, y, meta in paired.batches():
        for i, sid in enumerate(meta.sample_id):
            torch.testing.assert_close(x[i], own[int(sid)][0])  # the sensors are the same in both bands' shards
            assert y[i] == own[int(sid)][1]


@pytest.mark.parametrize("settings", [{}, {"modality": "depth", "camera": 1}, {"modality": "lidar"}])
def test_sensing_beam_knn_scores_in_range(root, settings):
    knn = run_baselines(get("sensing-beam", **settings), root, batch_size=8)["baselines"]["knn"]
    assert knn["samples"] > 0 and 0 <= knn["top1"] <= knn["top3"] <= 1


def test_line_of_sight_is_blocked_by_a_wall():
    """A 10 m wall across x = 0 between a BS at (-10, 0, 5) and the cells beyond it: those cells are NLoS."""
    x, y = np.arange(-15.0, 15.0), np.arange(-3.0, 3.0)
    height = np.zeros((len(y), len(x)), np.float32)
    height[:, x == 0] = 10.0
    height[0, 0] = np.nan
    zeros = np.zeros_like(height)
    maps = ShardMaps(x, y, 1.0, np.zeros((*height.shape, 3), np.uint8), height, zeros, 1.5, np.array([-10.0, 0.0, 5.0]))
    np.testing.assert_array_equal(maps.los, np.broadcast_to(x < 0, height.shape))
    low = np.zeros_like(height)
    low[:, x == -8] = 4.5  # 2 m in front of the BS: it shadows the cells up to x = 4, not those farther
    maps = ShardMaps(x, y, 1.0, maps.top_view, low, zeros, 1.5, maps.bs)
    assert not maps.los[3, (x >= -8) & (x <= 2)].any() and maps.los[3, x >= 8].all() and maps.los[3, x < -8].all()


def test_log_distance_beats_a_constant_mean(root):
    task = get("path-loss-map", tile=TILE)
    gains = [t[torch.isfinite(t)] for _, t in task.view(root, split="train")]
    mean = float(torch.cat(gains).mean())
    test = task.view(root, split="test")
    constant = score(test, lambda inp, meta: np.full((len(inp), TILE, TILE), mean, np.float32))
    result = run_baselines(task, root, batch_size=8)["baselines"]["log-distance"]
    assert result["cells"] == constant["cells"] > 100
    assert 0 < result["mae_db"] <= result["rmse_db"] < 0.6 * constant["rmse_db"], (result, constant)


def test_point_set_metrics_known_answers():
    target = np.array([[0.0, 0, 0], [2, 0, 0]])
    assert chamfer(target, target) == 0 and recall_within(target, target, 1.0) == 1
    pred = np.array([[0.0, 0.5, 0]])  # 0.5 and sqrt(4.25) from the two targets
    assert chamfer(pred, target) == pytest.approx((0.5 + math.sqrt(4.25)) / 2 / 2 + 0.5 / 2)
    assert recall_within(pred, target, 1.0) == 0.5
    assert math.isnan(chamfer(pred, np.zeros((0, 3)))) and math.isinf(chamfer(np.zeros((0, 3)), target))
    assert recall_within(np.zeros((0, 3)), target, 1.0) == 0


def test_nearest_drop_beats_the_lidar_origin(root):
    task = get("scatterers")
    origin = score(task.view(root, split="test"), lambda inp, meta: [np.zeros((1, 3), np.float32)] * len(inp))
    result = run_baselines(task, root, batch_size=8)["baselines"]["nearest-drop"]
    assert result["scored"] == origin["scored"] > 0
    assert 0 <= result["chamfer_m"] < 0.5 * origin["chamfer_m"] and 0 <= result["recall_1m"] <= 1, (result, origin)


def test_bad_inputs_give_one_line_errors(root, tmp_path):
    plain = write_csi(tmp_path / "plain.zarr", np.ones((4, 2, 4, 2, 1)), block_size=4)  # no sensors, no maps
    cases = [
        (lambda: get("path-loss-map", plain), "shard plain has no radio map; generate it with --radio-map"),
        (lambda: get("scatterers", plain), "shard plain has no lidar_points, scatterer_points_lidar, scatterer_depth"),
        (lambda: get("sensing-beam", plain, source_band="sub6"), "shard plain has no rgb; .*\\(--sensing rgb\\)"),
        (lambda: get("sensing-beam", modality="radar"), "modality='radar' is unknown; allowed: rgb, depth, lidar"),
        (lambda: get("sensing-beam", root, camera=2), "camera=2 but shard .* has 2 camera\\(s\\); allowed: 0..1"),
        (lambda: get("sensing-beam", camera=-1), "camera=-1 is invalid"),
        (lambda: get("scatterers", first_bounce_only="maybe"), "first_bounce_only='maybe' is invalid"),
        (lambda: get("path-loss-map", snr_db=10), "impairments \\(snr_db\\) apply to CSI"),
    ]
    for call, message in cases:
        with pytest.raises(ConfigError, match=message) as info:
            call()
        assert "\n" not in str(info.value)


def test_cli_lists_and_scores_the_sensing_tasks(root):
    runner = CliRunner()
    res = runner.invoke(app, ["task", "list", "--json"])
    assert res.exit_code == 0, res.output
    assert {"sensing-beam", "path-loss-map", "scatterers"} <= {r["task"] for r in json.loads(res.output)}
    res = runner.invoke(app, ["task", "baseline", "path-loss-map", root, "--set", f"tile={TILE}"])
    assert res.exit_code == 0, res.output
    assert "log-distance" in res.output and "rmse_db" in res.output
    res = runner.invoke(app, ["task", "baseline", "scatterers", root, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["baselines"]["nearest-drop"]["scored"] > 0


def test_the_bs_element_gain_follows_tr38901():
    from wirelessdata.tasks.pathloss_map import element_gain_db

    down = np.tan(np.deg2rad(10.0))
    az = np.deg2rad(90.0 + 32.5)  # yaw 90 deg, 32.5 deg (half the beamwidth) to the left
    offsets = np.array([[0.0, 1.0, -down], [np.cos(az), np.sin(az), -down * 1.0], [0.0, -1.0, 0.0], [0.0, 1.0, 5.0]])
    gain = element_gain_db(offsets, yaw_deg=90.0, downtilt_deg=10.0)
    np.testing.assert_allclose(gain[0], 8.0, atol=1e-9)  # boresight
    assert abs(gain[1] - 5.0) < 0.2  # 3 dB down at half the beamwidth (about: the cut is in the tilted frame)
    assert gain[2] == pytest.approx(8.0 - 30.0)  # behind: front-back limit
    assert gain[3] < gain[0] - 10  # far above the tilted boresight


def test_foreground_knn_finds_where_the_ue_appears_in_a_static_scene():
    import torch

    from wirelessdata.tasks.sensing_beam import ForegroundKnn, SensingBeam

    rng = np.random.default_rng(0)
    scene = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)  # a busy static background

    def batch(beams):
        images = np.repeat(scene[None], len(beams), axis=0)
        for i, beam in enumerate(beams):  # the UE: a bright 6x6 patch whose column follows the beam
            images[i, 30:36, 4 + 7 * beam : 10 + 7 * beam] = 255
        return torch.from_numpy(images), torch.from_numpy(np.asarray(beams, np.int64))

    train = [batch(rng.integers(0, 8, 16)) for _ in range(4)]
    test_inp, test_beams = batch(np.arange(8))
    baseline = SensingBeam().baselines()["foreground-knn"]
    assert isinstance(baseline, ForegroundKnn)
    baseline.fit(train)
    assert (baseline.predict(test_inp, None).argmax(axis=1) == test_beams.numpy()).mean() >= 7 / 8


def test_sensing_views_read_no_csi(root, tmp_path):
    import shutil

    copy = tmp_path / "no-csi"
    shutil.copytree(root, copy)
    for chunk in copy.glob("*.zarr/csi/c.*"):  # the CSI chunk files gone: a view that read them would fail
        chunk.unlink()
    for name, settings in (("sensing-beam", {}), ("path-loss-map", {"tile": TILE}), ("scatterers", {})):
        ids = [m.sample_id for _, _, m in get(name, root, batch_size=7, **settings).batches()]
        again = [m.sample_id for _, _, m in get(name, str(copy), batch_size=7, **settings).batches()]
        assert [a.tolist() for a in again] == [a.tolist() for a in ids], name
    with pytest.raises(WirelessDataError, match=r"csi.*chunk|chunk.*csi"):  # a CSI task over the copy reads them
        list(get("time-prediction", str(copy), history=1, horizon=1).batches())
