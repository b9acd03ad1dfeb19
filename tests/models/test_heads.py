"""Frozen-encoder task heads (attentive probe) on synthetic channels with a known answer."""

import math
from dataclasses import replace

import pytest
import torch

from wirelessdata.errors import ConfigError, WirelessDataError
from wirelessdata.models.heads import ProbeConfig, canonical_phase, encoder_features, fit_probe, probe_predict
from wirelessdata.models.wifo import ModelConfig, WiFo

pytestmark = pytest.mark.usefixtures("one_thread")


def _paths(n: int, delays: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One-path channels ``[n, 8, 16, 4, 1]`` at the given delays (in samples), random phase and gain."""
    k = torch.arange(16)
    phase = torch.rand(n, generator=gen) * 2 * math.pi
    gain = 10 ** (torch.rand(n, generator=gen) * 2)  # 0..20 dB
    h = gain[:, None] * torch.exp(1j * (phase[:, None] - 2 * math.pi * delays[:, None] * k / 16))  # [n, K]
    steer = torch.exp(1j * math.pi * torch.arange(4) * 0.3)
    return (h[:, None, :, None, None] * steer[None, None, None, :, None]).expand(n, 8, 16, 4, 1).to(torch.complex64)


def test_probe_learns_a_delay_class_and_the_power_from_few_labels():
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(2, (160,), generator=gen)
    csi = _paths(160, 1.0 + 5.0 * labels, gen)
    model = WiFo(ModelConfig(embed_dim=32, depth=2, decoder_dim=32, decoder_depth=1, num_heads=4, patch=(4, 4, 4)))
    tokens, power_db = encoder_features(model, csi, snr_db=30.0)
    assert tokens.shape == (160, 2 * 1 * 4, 32) and power_db.shape == (160,)
    expected_power = 10 * torch.log10(csi.abs().square().flatten(1).mean(1))
    assert torch.allclose(power_db, expected_power, atol=1e-3)
    train, test = slice(0, 64), slice(64, None)
    clf = fit_probe(tokens[train], power_db[train], labels[train], ProbeConfig("classify", 2, steps=100))
    accuracy = (probe_predict(clf, tokens[test], power_db[test]).argmax(1) == labels[test]).float().mean()
    assert accuracy > 0.95
    reg = fit_probe(tokens[train], power_db[train], power_db[train, None], ProbeConfig("regress", 1, steps=100))
    mae = (probe_predict(reg, tokens[test], power_db[test])[:, 0] - power_db[test]).abs().mean()
    assert mae < 0.1 * power_db[test].std()  # the power enters the head directly


def test_probe_is_deterministic_and_checks_its_inputs():
    tokens, power = torch.randn(20, 3, 8), torch.randn(20)
    labels = torch.arange(20) % 3
    cfg = ProbeConfig("classify", 3, steps=5, num_heads=2, seed=4)
    a = probe_predict(fit_probe(tokens, power, labels, cfg), tokens, power)
    assert torch.equal(a, probe_predict(fit_probe(tokens, power, labels, cfg), tokens, power))
    with pytest.raises(WirelessDataError, match="labels must lie in 0..1"):
        fit_probe(tokens, power, labels, ProbeConfig("classify", 2, steps=1, num_heads=2))
    with pytest.raises(WirelessDataError, match="20 feature rows for 19 labels"):
        fit_probe(tokens, power, labels[:19], cfg)
    with pytest.raises(ConfigError, match="unknown head kind 'segment'"):
        ProbeConfig("segment", 2)


# seeds, phase-invariant features and the probe command on small paired synthetic shards ---------------------------
SIZES = {"time": 4, "subcarrier": 8, "bs_ant": 4, "ue_ant": 1}  # patch (4, 4, 4): 2 tokens a sample


def _write_paired(root, n=48):
    """Two synthetic shards of one drop set (same recipe) at sub6 and 28GHz, random CSI and labels."""
    import numpy as np

    from wirelessdata._testing import synthetic_block, synthetic_layout
    from wirelessdata.shard.store import create_shard

    for band in ("sub6", "28GHz"):
        layout = synthetic_layout(num_samples=n, block_size=16, sizes=SIZES)
        layout = replace(layout, attrs={**layout.attrs, "band": band}, optional=("delay_spread_s", "best_beam"))
        shard = create_shard(str(root / f"d-{band}.zarr"), layout)
        for blk in range(layout.num_blocks):
            start, stop = layout.block_range(blk)
            beams = (np.arange(start, stop) * (3 if band == "28GHz" else 1) % 4).astype(np.int32)
            shard.write_block(blk, {**synthetic_block(layout, blk), "best_beam": beams})
        shard.commit({})
    return root


@pytest.fixture(scope="module")
def paired(tmp_path_factory):
    return _write_paired(tmp_path_factory.mktemp("paired"))


@pytest.fixture(scope="module")
def run_dir(paired, tmp_path_factory):
    import numpy as np

    from wirelessdata.models import TrainConfig, train
    from wirelessdata.shard.read import ShardReader

    csi = ShardReader(str(paired / "d-sub6.zarr"), ("csi",)).read(np.arange(8))["csi"]
    run = tmp_path_factory.mktemp("run")
    batch = {"csi": torch.from_numpy(np.ascontiguousarray(csi)), "shard": "s"}
    train([batch], TrainConfig(model="tiny", patch=(4, 4, 4), steps=1, warmup_steps=1, masks=("random",)), run)
    return run


def _small_model() -> WiFo:
    torch.manual_seed(0)
    return WiFo(ModelConfig(embed_dim=32, depth=2, decoder_dim=32, decoder_depth=1, num_heads=4))


def test_seeds_report_mean_and_std_of_per_seed_values_on_a_fixed_split(paired):
    import numpy as np

    from wirelessdata.models.probing import fingerprint, labelled_mask, probe_tasks, random_encoder

    sources = {"localisation": str(paired), "beam-prediction": str(paired)}
    model = _small_model()
    report = probe_tasks(model, sources, label_fraction=0.5, steps=10, batch_size=16, seeds=(0, 1, 2))
    for name, metric in (("localisation", "mae_m"), ("beam-prediction", "top1")):
        res = report[name]
        assert res["seeds"] == [0, 1, 2] and res["pooling"] == "attentive" and len(set(res["labelled"])) == 1
        for predictor in ("wifo-frozen", "random-frozen"):
            m = res["results"][predictor][metric]
            assert len(m["values"]) == 3
            assert m["mean"] == pytest.approx(np.mean(m["values"]))
            assert m["std"] == pytest.approx(np.std(m["values"], ddof=1)) and m["std"] > 0  # seeds differ
        (classical,) = set(res["results"]) - {"wifo-frozen", "random-frozen"}
        assert len(res["results"][classical][metric]["values"]) == 1  # deterministic given the split: run once
        assert res["results"][classical][metric]["std"] == 0
    # a seed is a labelled subset and a random encoder of its own...
    ids = np.repeat(np.arange(100, dtype=np.uint64), 2)  # two bands a drop
    masks = [labelled_mask(ids, 0.25, seed) for seed in (0, 1)]
    assert [m.sum() for m in masks] == [50, 50] and not np.array_equal(*masks)
    assert np.array_equal(masks[0][::2], masks[0][1::2])  # both bands of a drop together
    assert fingerprint(random_encoder(model, 0)) != fingerprint(random_encoder(model, 1))
    assert fingerprint(random_encoder(model, 1)) == fingerprint(random_encoder(model, 1))
    # ...on the same split: seed 1 alone gives seed 1's values of the three-seed run
    alone = probe_tasks(model, {"localisation": str(paired)}, label_fraction=0.5, steps=10, batch_size=16, seeds=[1])
    for predictor in ("wifo-frozen", "random-frozen"):
        (value,) = alone["localisation"]["results"][predictor]["mae_m"]["values"]
        assert value == pytest.approx(report["localisation"]["results"][predictor]["mae_m"]["values"][1], rel=1e-5)
    assert alone["localisation"]["results"]["knn"] == report["localisation"]["results"]["knn"]
    with pytest.raises(ConfigError, match="seeds must be"):
        probe_tasks(model, sources, seeds=0)


def test_phase_invariant_features_ignore_the_global_phase_and_attentive_ones_do_not():
    gen = torch.Generator().manual_seed(1)
    csi = torch.randn(6, 8, 16, 4, 1, dtype=torch.complex64, generator=gen)
    phi = torch.rand(6, generator=gen, dtype=torch.float64) * 2 * math.pi
    turned = csi * torch.exp(1j * phi).to(torch.complex64).view(-1, 1, 1, 1, 1)
    model = _small_model()
    features = {}
    for pooling in ("attentive", "phase-invariant"):
        a, power_a = encoder_features(model, csi, snr_db=20.0, pooling=pooling)
        b, power_b = encoder_features(model, turned, snr_db=20.0, pooling=pooling)
        assert torch.allclose(power_a, power_b, atol=1e-4)
        features[pooling] = (a - b).abs().max() / a.abs().max()
    assert features["phase-invariant"] < 1e-4
    assert features["attentive"] > 0.1
    # the canonical phase: c = sum h |h|^2 real and positive; a quarter turn leaves rotation-mean unchanged
    c = (canonical_phase(turned).flatten(1) * csi.flatten(1).abs().square()).sum(1)
    assert torch.allclose(c.imag, torch.zeros(6), atol=1e-3 * float(c.abs().max())) and bool((c.real > 0).all())
    a, _ = encoder_features(model, csi, snr_db=None, pooling="rotation-mean")
    b, _ = encoder_features(model, csi * 1j, snr_db=None, pooling="rotation-mean")
    assert torch.allclose(a, b, atol=1e-5)
    with pytest.raises(ConfigError, match="unknown pooling 'max'"):
        ProbeConfig("classify", 2, pooling="max")


def test_probe_command_seeds_and_pooling(paired, run_dir):
    import json

    from typer.testing import CliRunner

    from wirelessdata.cli import app

    args = ["probe", str(run_dir), str(paired), "--tasks", "localisation,los-classification", "--steps", "5"]
    res = CliRunner().invoke(app, [*args, "--seeds", "2", "--pooling", "phase-invariant", "--threads", "1", "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert set(report) == {"localisation", "los-classification"}
    loc = report["localisation"]
    assert loc["seeds"] == [0, 1] and loc["pooling"] == "phase-invariant" and loc["split_seed"] == 0
    assert len(loc["results"]["wifo-frozen"]["mae_m"]["values"]) == 2
    card = json.loads((run_dir / "model_card.json").read_text())
    assert card["metrics"]["frozen_encoder_heads"]["localisation"]["seeds"] == [0, 1]
    table = CliRunner().invoke(app, [*args, "--seeds", "3", "--threads", "1"])
    assert table.exit_code == 0, table.output
    assert "±" in table.output and "3 seed(s), attentive features" in table.output
    bad = CliRunner().invoke(app, [*args, "--pooling", "max"])
    assert "unknown pooling 'max'" in str(bad.exception)
