"""Statistical TR 38.901 generator: configuration, layout and block contract, determinism (real Sionna)."""

import numpy as np
import pytest

pytest.importorskip("sionna")

from wirelessdata.errors import ConfigError  # noqa: E402
from wirelessdata.generators.bands import band_presets  # noqa: E402
from wirelessdata.generators.tr38901 import CHUNK_SIZE, Tr38901Config, generate_block, shard_layouts  # noqa: E402

SMALL = {
    "bands": [{"band": "sub6", "num_subcarriers": 8}, {"band": "28GHz", "num_subcarriers": 12}],
    "bs_array": "2x3",
    "num_ue_ant": 2,
    "num_time_steps": 3,
    "save_clusters": True,
}


@pytest.fixture(scope="module")
def cfg():
    return Tr38901Config.from_dict(SMALL)


@pytest.fixture(scope="module")
def block(cfg):
    return generate_block(cfg, 6, seed=11)


def test_block_arrays_have_the_contract_shapes_and_dtypes(cfg, block):
    n, t, nbs, nue, c = 6, 3, 6, 2, 20
    assert set(block) == {"sub6", "28GHz"}
    for label, k in (("sub6", 8), ("28GHz", 12)):
        expected = {
            "csi": ((n, t, k, nbs, nue), np.complex64),
            "ue_pos": ((n, t, 3), np.float32),
            "ue_vel": ((n, 3), np.float32),
            "bs_pos": ((n, 3), np.float32),
            "los": ((n,), np.bool_),
            "indoor": ((n,), np.bool_),
            "distance_m": ((n,), np.float32),
            "path_gain_db": ((n,), np.float32),
            "delay_spread_s": ((n,), np.float32),
            "k_factor_db": ((n,), np.float32),
            "best_beam": ((n,), np.int32),
            **{
                name: ((n, c), np.float32)
                for name in (
                    "cluster_delay_s",
                    "cluster_power",
                    "cluster_aoa_rad",
                    "cluster_aod_rad",
                    "cluster_zoa_rad",
                    "cluster_zod_rad",
                )
            },
        }
        arrays = block[label]
        assert set(arrays) == set(expected)
        for name, (shape, dtype) in expected.items():
            assert arrays[name].shape == shape, name
            assert arrays[name].dtype == dtype, name


def test_block_values_are_physical(cfg, block):
    for arrays in block.values():
        assert np.all(np.isfinite(arrays["csi"]))
        assert np.all((arrays["path_gain_db"] > -250) & (arrays["path_gain_db"] < -30))
        assert np.all((arrays["delay_spread_s"] > 0) & (arrays["delay_spread_s"] < 1e-5))
        assert np.all(np.isnan(arrays["k_factor_db"]) == ~arrays["los"])
        assert np.all((arrays["best_beam"] >= 0) & (arrays["best_beam"] < 4 * 6))
        power = arrays["cluster_power"]
        np.testing.assert_allclose(np.nansum(power, axis=1), 1.0, rtol=1e-5)
        delay = arrays["cluster_delay_s"]
        assert np.array_equal(np.isnan(delay), np.isnan(power))
        assert np.all(np.diff(delay, axis=1)[~np.isnan(np.diff(delay, axis=1))] >= 0)
        assert np.all(delay[:, 0] == 0)
        dt = cfg.snapshot_interval_s
        np.testing.assert_allclose(arrays["ue_pos"][:, 1] - arrays["ue_pos"][:, 0], arrays["ue_vel"] * dt, atol=5e-5)
        speed = np.linalg.norm(arrays["ue_vel"], axis=1)
        assert np.all((speed >= 0) & (speed <= 10.0 + 1e-5)) and np.all(arrays["ue_vel"][:, 2] == 0)
        horizontal = np.linalg.norm(arrays["ue_pos"][:, 0, :2] - arrays["bs_pos"][:, :2], axis=1)
        assert np.all((horizontal >= 35 - 1e-3) & (horizontal <= 289 + 1e-3))
        distance = np.linalg.norm(arrays["ue_pos"][:, 0] - arrays["bs_pos"], axis=1)
        np.testing.assert_allclose(arrays["distance_m"], distance, rtol=1e-5)


def test_shard_layouts_describe_each_band(cfg):
    layouts = shard_layouts(cfg)
    assert list(layouts) == ["sub6", "28GHz"]
    wavelength = {"sub6": 299_792_458 / 3.5e9, "28GHz": 299_792_458 / 28e9}
    for label, k, scs in (("sub6", 8, 30e3), ("28GHz", 12, 120e3)):
        layout = layouts[label]
        attrs, sizes, coords = layout.attrs, layout.sizes, layout.coords
        assert sizes == {"time": 3, "subcarrier": k, "bs_ant": 6, "ue_ant": 2, "cluster": 20}
        assert attrs["band"] == label and attrs["generator"] == "tr38901" and attrs["scenario"] == "UMa"
        assert attrs["bandwidth_hz"] == k * scs and attrs["subcarrier_spacing_hz"] == scs
        assert attrs["bs_array"] == "2x3" and attrs["num_bs_ant"] == 6 and attrs["num_ue_ant"] == 2
        assert attrs["multiband"] == "correlated" and attrs["link"] == "downlink" and attrs["los_policy"] == "random"
        assert "oversampled 2x" in attrs["beam_codebook"] and attrs["engine_version"].startswith("2.2")
        assert coords["time"].dtype == np.float64 and np.allclose(np.diff(coords["time"]), 1e-3)
        sub = coords["subcarrier"]
        assert sub.dtype == np.float64 and np.allclose(np.diff(sub), scs) and sub[k // 2] == 0
        assert coords["bs_ant_pos"].shape == (6, 3) and coords["bs_ant_pos"].dtype == np.float32
        assert coords["ue_ant_pos"].shape == (2, 3) and coords["ue_ant_pos"].dtype == np.float32
        # half-wavelength spacing at the band's own carrier
        y = np.unique(np.round(coords["bs_ant_pos"][:, 1], 7))
        np.testing.assert_allclose(np.diff(y), wavelength[label] / 2, rtol=1e-5)


def test_blocks_are_a_pure_function_of_their_arguments(cfg, block):
    again = generate_block(cfg, 6, seed=11)
    generate_block(cfg, 3, seed=12)
    third = generate_block(cfg, 6, seed=11)
    for label in block:
        for name in block[label]:
            assert block[label][name].tobytes() == again[label][name].tobytes() == third[label][name].tobytes()
    other = generate_block(cfg, 6, seed=12)
    assert not np.array_equal(other["sub6"]["csi"], block["sub6"]["csi"])


def test_generate_block_leaves_global_random_state_alone(cfg):
    import torch
    from sionna.phy import config

    sionna_state = config.torch_rng(config.device).get_state()
    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()
    generate_block(cfg, 2, seed=3)
    assert torch.equal(config.torch_rng(config.device).get_state(), sionna_state)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state)


def test_blocks_larger_than_a_chunk_are_batched_in_chunks():
    cfg = Tr38901Config(bands=({"band": "sub6", "num_subcarriers": 2},), multiband="independent", bs_array=(1, 1))
    cfg = Tr38901Config.from_dict({**cfg.to_dict(), "num_time_steps": 1})
    block = generate_block(cfg, CHUNK_SIZE + 3, seed=5)["sub6"]
    assert block["csi"].shape == (CHUNK_SIZE + 3, 1, 2, 1, 1)
    assert np.all(np.isfinite(block["csi"])) and np.all(np.abs(block["csi"]) > 0)


@pytest.mark.parametrize(
    ("scenario", "bands"),
    [("UMi", ("sub6", "28GHz")), ("RMa", ("1.5GHz", "sub6")), ("InH", ("sub6", "60GHz"))],
)
def test_every_scenario_generates(scenario, bands):
    cfg = Tr38901Config.from_dict(
        {**SMALL, "scenario": scenario, "bands": list(bands), "num_subcarriers": 4, "link": "uplink"}
    )
    block = generate_block(cfg, 4, seed=1)
    for label in bands:
        arrays = block[label]
        assert arrays["csi"].shape == (4, 3, 4, 6, 2)
        assert np.all(np.isfinite(arrays["csi"])) and np.all(np.isfinite(arrays["path_gain_db"]))
        assert arrays["cluster_delay_s"].shape[1] == shard_layouts(cfg)[label].sizes["cluster"]
    if scenario == "InH":
        assert block["sub6"]["indoor"].all()


def test_uplink_is_the_reciprocal_of_downlink(cfg):
    down = generate_block(cfg, 4, seed=2)
    up = generate_block(Tr38901Config.from_dict({**cfg.to_dict(), "link": "uplink"}), 4, seed=2)
    for label in down:
        np.testing.assert_allclose(up[label]["csi"], down[label]["csi"], rtol=2e-4, atol=1e-9)
        np.testing.assert_array_equal(up[label]["cluster_aoa_rad"], down[label]["cluster_aod_rad"])
        np.testing.assert_array_equal(up[label]["cluster_zod_rad"], down[label]["cluster_zoa_rad"])


@pytest.mark.parametrize(("policy", "expected"), [("los", True), ("nlos", False)])
def test_los_policy_forces_the_state_of_outdoor_drops(policy, expected):
    cfg = Tr38901Config.from_dict({**SMALL, "los_policy": policy, "indoor_ratio": 0.5})
    arrays = generate_block(cfg, 12, seed=4)["28GHz"]
    assert np.all(arrays["los"] == (expected & ~arrays["indoor"]))
    assert arrays["indoor"].any() and not arrays["indoor"].all()


def test_config_defaults_resolve_from_the_scenario():
    cfg = Tr38901Config(scenario="umi")
    assert cfg.scenario == "UMi" and cfg.bs_height_m == 10.0 and cfg.indoor_ratio == 0.8
    assert [b.label for b in cfg.bands] == ["sub6", "28GHz"] and cfg.bands[1].subcarrier_spacing_hz == 120e3
    assert Tr38901Config.from_dict(cfg.to_dict()) == cfg


def test_band_presets_are_data():
    presets = band_presets()
    assert {"sub6", "28GHz", "1.5GHz", "2.5GHz", "4.9GHz", "5.9GHz", "6.7GHz", "39GHz", "60GHz"} <= set(presets)
    assert presets["sub6"].carrier_frequency_hz == 3.5e9 and presets["sub6"].subcarrier_spacing_hz == 30e3
    assert presets["28GHz"].carrier_frequency_hz == 28e9 and presets["28GHz"].subcarrier_spacing_hz == 120e3


@pytest.mark.parametrize(
    ("changes", "field", "allowed"),
    [
        ({"scenario": "UMX"}, "scenario", "UMa"),
        ({"bands": ["sub6", "3.5GHz"]}, "bands", "28GHz"),
        ({"bands": ["sub6", "28GHz"], "scenario": "RMa"}, "bands[1] (28GHz)", "0.5-7 GHz"),
        ({"bands": [{"band": "sub6", "num_subcarriers": 4096}, "28GHz"]}, "bands[0] (sub6)", "max_bandwidth_hz"),
        ({"bands": [{"band": "sub6", "num_subcarriers": 0}, "28GHz"]}, "bands[0] (sub6).num_subcarriers", ">= 1"),
        ({"bands": [{"band": "sub6", "spacing": 1}]}, "bands", "num_subcarriers"),
        ({"bands": ["sub6"]}, "multiband", "independent"),
        ({"bands": ["sub6", "sub6"]}, "bands", "at most once"),
        ({"los_policy": "maybe"}, "los_policy", "nlos"),
        ({"link": "sidelink"}, "link", "uplink"),
        ({"multiband": "paired"}, "multiband", "correlated"),
        ({"scenario": "InH", "indoor_ratio": 0.5}, "indoor_ratio", "1"),
        ({"indoor_ratio": 1.5}, "indoor_ratio", "[0, 1]"),
        ({"speed_range_mps": [5, 1]}, "speed_range_mps", "min <= max"),
        ({"bs_array": "4by8"}, "bs_array", "4x8"),
        ({"num_time_steps": 0}, "num_time_steps", ">= 1"),
        ({"save_clusters": "yes"}, "save_clusters", "true or false"),
        ({"snapshot_interval_s": -1e-3}, "snapshot_interval_s", "> 0"),
        ({"min_distance_m": 400.0}, "min_distance_m", "min < max"),
        ({"bandz": ["sub6"]}, "unknown key(s) ['bandz']", "valid keys: ['scenario', 'bands'"),
    ],
)
def test_bad_configs_raise_one_line_errors_naming_the_field(changes, field, allowed):
    with pytest.raises(ConfigError) as info:
        Tr38901Config.from_dict(changes)
    message = str(info.value)
    assert isinstance(info.value, ValueError) and "\n" not in message
    assert message.startswith(field) and allowed in message


def test_generate_block_rejects_bad_arguments(cfg):
    with pytest.raises(ConfigError, match="^num_samples"):
        generate_block(cfg, 0, seed=1)
    with pytest.raises(ConfigError, match="^seed"):
        generate_block(cfg, 1, seed=-1)
