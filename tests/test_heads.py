"""Frozen-encoder task heads (attentive probe) on synthetic channels with a known answer."""

import math

import pytest
import torch

from wirelessdata.errors import ConfigError, WirelessDataError
from wirelessdata.models.heads import ProbeConfig, encoder_features, fit_probe, probe_predict
from wirelessdata.models.wifo import ModelConfig, WiFo


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
    model = WiFo(ModelConfig(embed_dim=32, depth=2, decoder_dim=32, decoder_depth=1, num_heads=4))
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
