"""Multi-band drops (TR 38.901 §7.6.5): what the bands share, what they do not, and unchanged marginals."""

import numpy as np
import pytest

pytest.importorskip("sionna")
pytest.importorskip("scipy")

from scipy.stats import ks_2samp  # noqa: E402

from wirelessdata.generators.tr38901 import Tr38901Config, generate_block  # noqa: E402

BASE = {
    "bands": [{"band": "sub6", "num_subcarriers": 8}, {"band": "28GHz", "num_subcarriers": 8}],
    "bs_array": [2, 4],
    "num_time_steps": 2,
    "indoor_ratio": 0.0,
    "save_clusters": True,
}
N = 64
GEOMETRY = ("ue_pos", "ue_vel", "bs_pos", "indoor", "distance_m", "los")
CLUSTER_GEOMETRY = ("cluster_delay_s", "cluster_aoa_rad", "cluster_aod_rad", "cluster_zoa_rad", "cluster_zod_rad")


@pytest.fixture(scope="module")
def correlated():
    return generate_block(Tr38901Config.from_dict({**BASE, "multiband": "correlated"}), N, seed=21)


@pytest.fixture(scope="module")
def independent():
    return generate_block(Tr38901Config.from_dict({**BASE, "multiband": "independent"}), N, seed=21)


def test_correlated_bands_share_the_drop_and_its_multipath_geometry(correlated):
    sub6, mmw = correlated["sub6"], correlated["28GHz"]
    assert 0 < sub6["los"].sum() < N  # both states occur, so equality below is not trivial
    for name in GEOMETRY + CLUSTER_GEOMETRY:
        assert np.array_equal(sub6[name], mmw[name], equal_nan=True), name


def test_correlated_bands_have_their_own_powers_and_channels(correlated):
    sub6, mmw = correlated["sub6"], correlated["28GHz"]
    nlos = ~sub6["los"]
    # UMa NLoS delay spread depends on the carrier (Table 7.5-6), so do the cluster powers on shared delays
    assert np.nanmax(np.abs(sub6["cluster_power"][nlos] - mmw["cluster_power"][nlos])) > 1e-3
    assert np.all(np.abs(sub6["delay_spread_s"][nlos] / mmw["delay_spread_s"][nlos] - 1) > 1e-3)
    # path loss grows with the carrier: 20 log10(28 / 3.5) = 18 dB in free space
    assert np.median(sub6["path_gain_db"] - mmw["path_gain_db"]) > 10
    assert not np.allclose(sub6["csi"], mmw["csi"])
    # shadow fading is the same normal variate scaled per band: path gains are strongly correlated
    assert np.corrcoef(sub6["path_gain_db"], mmw["path_gain_db"])[0, 1] > 0.9


def test_independent_bands_share_only_the_topology(independent):
    sub6, mmw = independent["sub6"], independent["28GHz"]
    for name in ("ue_pos", "ue_vel", "bs_pos", "indoor", "distance_m"):
        assert np.array_equal(sub6[name], mmw[name]), name
    assert not np.array_equal(sub6["los"], mmw["los"])
    assert not np.array_equal(sub6["cluster_delay_s"], mmw["cluster_delay_s"], equal_nan=True)
    assert not np.array_equal(sub6["cluster_aod_rad"], mmw["cluster_aod_rad"], equal_nan=True)


def test_correlated_and_independent_modes_share_the_topology(correlated, independent):
    for name in ("ue_pos", "ue_vel", "bs_pos", "indoor"):
        assert np.array_equal(correlated["sub6"][name], independent["sub6"][name]), name


def test_reference_powers_are_replayed_exactly():
    """The per-band power step replays the reference's cluster variates (relies on Sionna's draw order)."""
    from wirelessdata.generators.multiband import SHARED, STAGE_RAYS, seeded_sionna, stage_seed
    from wirelessdata.generators.tr38901 import _engine

    cfg = Tr38901Config.from_dict(BASE)
    engine = _engine(cfg)
    generate_block(cfg, 8, seed=5)  # leaves every model with the topology and LSPs of that block
    reference = engine.reference
    with seeded_sionna(engine.device) as reseed:
        reseed(stage_seed(5, 0, STAGE_RAYS, SHARED))
        rays = reference._ray_sampler(reference._lsp)
        replayed = engine._shared_geometry_rays(reference, rays, lambda: reseed(stage_seed(5, 0, STAGE_RAYS, SHARED)))
    np.testing.assert_allclose(replayed.powers.numpy(), rays.powers.numpy(), rtol=1e-5, atol=1e-9)


@pytest.mark.slow
def test_pairing_leaves_each_bands_marginal_statistics_unchanged():
    """KS tests: delay spread and K-factor of each band, correlated pair vs the band alone (UMi, outdoor).

    UMi has the strongest frequency dependence of the delay spread (Table 7.5-6). 4096 drops are enough to
    reject the plain 38.901 step 6 on the shared delays (p ~ 1e-5), which biases the delay spread by ~10 %.
    """
    common = {**BASE, "scenario": "UMi", "bs_array": [1, 2], "num_time_steps": 1, "save_clusters": False}
    blocks = range(64)

    def draw(cfg, offset):
        outs = [generate_block(cfg, 64, seed=offset + i) for i in blocks]
        return {band: {k: np.concatenate([o[band][k] for o in outs]) for k in outs[0][band]} for band in outs[0]}

    pair = draw(Tr38901Config.from_dict(common), 100)
    for band, offset in (("sub6", 300), ("28GHz", 500)):
        alone = {**common, "bands": [{"band": band, "num_subcarriers": 8}], "multiband": "independent"}
        single, paired = draw(Tr38901Config.from_dict(alone), offset)[band], pair[band]
        p_ds = ks_2samp(np.log10(paired["delay_spread_s"]), np.log10(single["delay_spread_s"])).pvalue
        assert p_ds > 0.01, (band, "delay spread", p_ds)
        k_paired, k_single = paired["k_factor_db"], single["k_factor_db"]
        p_k = ks_2samp(k_paired[paired["los"]], k_single[single["los"]]).pvalue
        assert p_k > 0.01, (band, "K-factor", p_k)
