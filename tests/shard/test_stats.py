"""Per-shard distributions: known values in, exact summaries out; merging; shards without CSI."""

from dataclasses import replace

import numpy as np
import pytest

from conftest import write_synthetic
from wirelessdata._testing import synthetic_block, synthetic_layout
from wirelessdata.constants import SPEED_OF_LIGHT
from wirelessdata.shard.stats import (
    CSI_CHUNK_STRIDE,
    METRIC_BY_NAME,
    QUANTILES,
    angular_spread,
    merge_summaries,
    shard_stats,
    summarize,
)
from wirelessdata.shard.store import create_shard

N = 24  # samples of the hand-made shard: 3 blocks of 8


def known_shard(url):
    """A shard whose every metric is known: CSI cycling over the BS unit vectors, fixed labels."""
    layout = synthetic_layout(num_samples=N, block_size=8)  # T=4, K=8, Nbs=4, Nue=1, carrier 3.5 GHz
    shard = create_shard(url, layout)
    eye = np.eye(4, dtype=np.complex64)
    csi = np.stack([eye[k % 4] for k in range(8)])  # [K, Nbs]: each unit vector on 2 subcarriers
    for b in range(layout.num_blocks):
        start, stop = layout.block_range(b)
        n = stop - start
        idx = np.arange(start, stop)
        data = synthetic_block(layout, b)
        data["csi"] = np.broadcast_to(csi[None, None, :, :, None], (n, 4, 8, 4, 1)).copy()
        data["path_gain_db"] = (-100.0 - idx).astype(np.float32)
        data["delay_spread_s"] = np.where(idx < 12, 1e-7, 1e-6).astype(np.float32)
        data["los"] = idx % 4 == 0
        data["ue_vel"] = np.tile(np.float32([3, 4, 0]), (n, 1))
        shard.write_block(b, data)
    return shard


def test_known_shard_gives_exact_summaries(tmp_path):
    stats = shard_stats(known_shard(str(tmp_path / "k.zarr")).group)
    m = stats["metrics"]
    assert stats["num_samples"] == N and stats["csi_chunk_stride"] == 1
    assert set(m) == {"path_gain", "csi_power", "delay_spread", "los", "ue_speed", "doppler", "angular_spread"}
    pg = -100.0 - np.arange(N)
    assert m["path_gain"]["count"] == N
    assert m["path_gain"]["mean"] == pytest.approx(pg.mean()) and m["path_gain"]["std"] == pytest.approx(pg.std())
    assert (m["path_gain"]["min"], m["path_gain"]["max"]) == (-123.0, -100.0)
    for q in QUANTILES:
        assert m["path_gain"][f"p{q:02d}"] == pytest.approx(np.percentile(pg, q))
    assert m["los"]["mean"] == pytest.approx(0.25) and m["los"]["hist"] == [18, 6]
    assert m["ue_speed"]["mean"] == pytest.approx(5.0)
    assert m["doppler"]["mean"] == pytest.approx(5.0 * 3.5e9 / SPEED_OF_LIGHT, rel=1e-6)
    assert m["csi_power"]["mean"] == pytest.approx(10 * np.log10(0.25))  # one of 4 antennas carries |h| = 1
    assert m["angular_spread"]["mean"] == pytest.approx(0.75)  # covariance proportional to I_4: 1 - 1/4
    ds = m["delay_spread"]
    edges = METRIC_BY_NAME["delay_spread"].edges.array()
    expect = np.histogram(np.where(np.arange(N) < 12, 1e-7, 1e-6).astype(np.float32), edges)[0]
    assert ds["hist"] == expect.tolist() and sum(ds["hist"]) == N and ds["underflow"] == ds["overflow"] == 0
    assert ds["p50"] == pytest.approx(np.percentile(np.float32([1e-7] * 12 + [1e-6] * 12), 50), rel=1e-6)


def test_angular_spread_of_one_direction_is_zero():
    rng = np.random.default_rng(1)
    steering = np.exp(1j * np.pi * np.arange(8) * 0.3)  # one plane wave on 8 antennas
    gains = rng.standard_normal((2, 6, 16, 1, 2)) + 1j * rng.standard_normal((2, 6, 16, 1, 2))
    csi = (gains * steering[None, None, None, :, None]).astype(np.complex64)  # [2, T, K, 8, 2]
    np.testing.assert_allclose(angular_spread(csi), 0.0, atol=1e-5)


def test_large_shard_measures_csi_on_one_chunk_in_stride(memory_url):
    shard, _ = write_synthetic(memory_url, num_samples=1024, block_size=8)
    assert shard.group["csi"].chunks[0] == 8
    stats = shard_stats(shard.group)
    assert stats["csi_chunk_stride"] == CSI_CHUNK_STRIDE
    assert stats["metrics"]["path_gain"]["count"] == 1024
    assert stats["metrics"]["csi_power"]["count"] == stats["metrics"]["angular_spread"]["count"] == 1024 // 8
    # the measured chunks are samples [64 c, 64 c + 8): their CSI power matches the label path gain
    assert stats["metrics"]["csi_power"]["mean"] == pytest.approx(
        np.mean([shard.group["path_gain_db"][c : c + 8] for c in range(0, 1024, 64)]), abs=1e-3
    )


@pytest.mark.parametrize("modalities", [("lidar",), ("rgb", "lidar")])
def test_shard_without_csi(tmp_path, modalities):
    shard, _ = write_synthetic(str(tmp_path / "s.zarr"), num_samples=10, block_size=5, modalities=modalities)
    stats = shard_stats(shard.group)
    assert stats["metrics"] == {} and stats["num_samples"] == 10


def test_shard_with_all_nan_labels_leaves_the_metric_out(tmp_path):
    layout = synthetic_layout(num_samples=8, block_size=8)
    layout = replace(layout, optional=("delay_spread_s", "k_factor_db"))
    shard = create_shard(str(tmp_path / "n.zarr"), layout)
    shard.write_block(0, {**synthetic_block(layout, 0), "k_factor_db": np.full(8, np.nan, np.float32)})
    assert "k_factor" not in shard_stats(shard.group)["metrics"]


def test_merge_is_exact_for_moments_and_histograms_and_close_for_quantiles():
    rng = np.random.default_rng(0)
    metric = METRIC_BY_NAME["path_gain"]
    parts = [rng.normal(-120, 10, 500), rng.normal(-90, 5, 300), np.array([-250.0, 60.0])]  # under and overflow
    merged = merge_summaries([summarize(metric, p) for p in parts])
    whole = summarize(metric, np.concatenate(parts))
    for key in ("count", "min", "max", "hist", "underflow", "overflow", "edges"):
        assert merged[key] == whole[key], key
    assert merged["mean"] == pytest.approx(whole["mean"]) and merged["std"] == pytest.approx(whole["std"])
    width = (metric.edges.hi - metric.edges.lo) / metric.edges.bins
    for q in QUANTILES:
        assert abs(merged[f"p{q:02d}"] - whole[f"p{q:02d}"]) <= width, q


def test_merged_quantiles_of_values_in_one_bin_stay_in_that_bin():
    metric = METRIC_BY_NAME["path_gain"]  # 2 dB bins from -200 dB
    merged = merge_summaries([summarize(metric, np.array([-101.5, -100.5])), summarize(metric, np.array([-101.0]))])
    for q in QUANTILES:
        assert -101.5 <= merged[f"p{q:02d}"] <= -100.5, q
    assert merged["p50"] == pytest.approx(-101.0)


def test_merge_refuses_different_edges():
    a = summarize(METRIC_BY_NAME["path_gain"], np.array([1.0]))
    b = summarize(METRIC_BY_NAME["k_factor"], np.array([1.0]))
    with pytest.raises(ValueError, match="different histogram edges"):
        merge_summaries([a, b])


def test_summarize_ignores_non_finite_and_returns_none_when_empty():
    metric = METRIC_BY_NAME["k_factor"]
    assert summarize(metric, np.array([np.nan, np.inf])) is None
    s = summarize(metric, np.array([np.nan, 3.0, 5.0]))
    assert s["count"] == 2 and s["mean"] == 4.0
