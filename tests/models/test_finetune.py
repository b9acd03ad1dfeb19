"""Early stopping, few-shot fine-tuning, the full-shot protocol and the new training defaults."""

import json
import math

import numpy as np
import pytest
import torch
from test_models import multipath_csi

from conftest import write_csi
from wirelessdata.errors import ConfigError, WirelessDataError
from wirelessdata.models import TrainConfig, TuneSettings, load_checkpoint, train, tune
from wirelessdata.models.data import TargetShard, shard_batches
from wirelessdata.models.finetune import TUNE_MASKS
from wirelessdata.models.objective import masked_losses
from wirelessdata.models.wifo import ModelConfig, patch_grid

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = dict(model="tiny", patch=(4, 4, 4), warmup_steps=1, lr=3e-3)


def _batches(count, seed=0):
    return [{"csi": multipath_csi(4, 8, 16, 4, seed=seed + i), "shard": "s"} for i in range(count)]


def test_early_stopping_stops_and_keeps_the_best_weights(tmp_path):
    scripted = iter([0.9, 0.5, 0.7, 0.8, 0.6, 0.1])  # best at the 2nd check; 2 checks without progress stop it

    def validate(model):
        return {"temporal": {"model": next(scripted), "zeros": 0.5}}

    cfg = TrainConfig(**TINY, steps=12, eval_every=2, patience=2)
    result = train(_batches(12), cfg, tmp_path / "run", validate=validate, keep_every=1)
    assert result.stopped_early and result.step == 8  # checks at 2, 4 (best), 6, 8: stop
    assert result.best_step == 4 and [v["step"] for v in result.validation] == [2, 4, 6, 8]
    best = load_checkpoint(tmp_path / "run", "cpu")
    at_four = torch.load(tmp_path / "run/snapshots/step-000004/checkpoint.pt", weights_only=True)["model"]
    assert best.best_step == 4
    assert all(torch.equal(best.model.state_dict()[k], v) for k, v in at_four.items())
    last = torch.load(tmp_path / "run/checkpoint.pt", weights_only=True)["model"]
    assert not all(torch.equal(last[k], v) for k, v in at_four.items())  # the last weights differ from the kept
    # a stopped run resumes to a no-op
    again = train(_batches(12), cfg, tmp_path / "run", resume=True, validate=validate)
    assert again.step == 8 and again.samples == 0


def test_validation_records_per_mask_learning_curves_without_stopping(tmp_path):
    held = _batches(2, seed=50)
    cfg = TrainConfig(**TINY, steps=6, eval_every=3)

    def validate(model):
        return masked_losses(model, held, cfg.masks, mask_ratio=cfg.mask_ratio, snr_db=cfg.snr_db)

    result = train(_batches(6), cfg, tmp_path / "run", validate=validate)
    assert not result.stopped_early and result.step == 6
    assert [v["step"] for v in result.validation] == [3, 6]
    assert set(result.validation[0]["losses"]) == {"random", "temporal", "frequency"}
    card = json.loads((tmp_path / "run/model_card.json").read_text())
    assert [v["step"] for v in card["training"]["validation"]] == [3, 6]


def plane_waves(n: int, t: int = 8, k: int = 16, nbs: int = 4) -> torch.Tensor:
    """CSI ``[n, t, k, nbs, 1]`` of one path with the same Doppler, delay and angle in every sample (random complex
    gain): the target of a configuration, whose prediction is one linear map that tuning can learn."""
    g = torch.Generator().manual_seed(3)
    gain = torch.complex(torch.randn(n, 1, 1, 1, 1, generator=g), torch.randn(n, 1, 1, 1, 1, generator=g))
    tt, kk = torch.arange(t).view(t, 1, 1, 1), torch.arange(k).view(1, k, 1, 1)
    phase = 2 * math.pi * (0.03 * tt - 0.02 * kk) + 0.5 * torch.arange(nbs).view(1, 1, nbs, 1)
    return (gain.to(torch.complex128) * torch.exp(1j * phase)).to(torch.complex64)


@pytest.fixture
def target(tmp_path):
    csi = plane_waves(96)
    url = str(write_csi(tmp_path / "t.zarr", csi))
    idx = np.arange(96)
    return TargetShard("t", url, evaluated=idx[::3], training=np.setdiff1d(idx, idx[::3]))


def test_finetuning_lowers_the_masked_loss_on_the_target(tmp_path, target):
    pre = tmp_path / "pre"
    train(_batches(2, seed=10), TrainConfig(**TINY, steps=2), pre)
    base = load_checkpoint(pre, "cpu")
    evaluated = shard_batches(target.url, target.evaluated, 16, "t")

    def loss(model):
        out = masked_losses(model, evaluated, TUNE_MASKS, mask_ratio=0.5, snr_db=20.0, seed=1)
        return sum(v["model"] for v in out.values()) / len(out)

    settings = TuneSettings(steps=60, batch_size=16, eval_every=10, patience=3, lr=3e-3)
    tuned = tune(target, base.config, tmp_path / "ft", init=pre, samples=48, settings=settings)
    assert tuned.train_samples + tuned.validation_samples == 48 and tuned.validation_samples >= 1
    assert loss(tuned.model) < 0.8 * loss(base.model)
    card = json.loads((tmp_path / "ft/model_card.json").read_text())
    assert card["training"]["initialised_from"] == str(pre)
    d = tuned.describe()
    assert d["best_step"] <= d["steps"] <= 60 and d["samples_seen"] == d["steps"] * 16
    # the same call again reuses the finished tuning (resume), nothing retrained
    again = tune(target, base.config, tmp_path / "ft", init=pre, samples=48, settings=settings)
    assert again.result.samples == 0 and again.result.step == tuned.result.step


def test_tuning_refuses_bad_targets(tmp_path, target):
    pre = tmp_path / "pre"
    train(_batches(1), TrainConfig(**TINY, steps=1), pre)
    cfg = load_checkpoint(pre, "cpu").config
    with pytest.raises(ConfigError, match="larger than the training split of shard t"):
        tune(target, cfg, tmp_path / "a", init=pre, samples=65)
    odd = str(write_csi(tmp_path / "odd.zarr", multipath_csi(8, 6, 16, 4)))  # T = 6: not a multiple of 4
    bad = TargetShard("odd", odd, np.arange(4), np.arange(4, 8))
    with pytest.raises(WirelessDataError, match="shard odd cannot be tuned with patch"):
        tune(bad, cfg, tmp_path / "b", init=pre, samples=4)
    assert not (tmp_path / "b").exists() and not (tmp_path / "a").exists()
    other = TrainConfig(**{**TINY, "model": "little"}, steps=1)
    with pytest.raises(ConfigError, match="architecture"):
        train(_batches(1), other, tmp_path / "c", init=pre)
    assert not (tmp_path / "c").exists()


def test_a_checkpoint_of_another_model_version_is_refused(tmp_path):
    pre = tmp_path / "pre"
    train(_batches(1), TrainConfig(**TINY, steps=1), pre)
    state = torch.load(pre / "checkpoint.pt", weights_only=True)
    state["format"] = "wirelessdata-wifo-checkpoint/1"
    torch.save(state, pre / "checkpoint.pt")
    before = (pre / "checkpoint.pt").read_bytes()
    with pytest.raises(WirelessDataError, match="another version of the reference model"):
        load_checkpoint(pre)
    with pytest.raises(WirelessDataError, match="another version"):
        train(_batches(1), TrainConfig(**TINY, steps=1), tmp_path / "ft", init=pre)
    assert (pre / "checkpoint.pt").read_bytes() == before


def test_defaults_are_the_fast_recipe():
    cfg = TrainConfig()
    assert (cfg.model, cfg.mask_schedule, cfg.mask_ratio, cfg.grad_clip) == ("little", "sample", 0.5, 1.0)
    arch = cfg.model_config()
    assert arch == ModelConfig() and arch.locality and arch.embed_dim // arch.num_heads == 32
    # the patch divides the default corpus (T 24, N 32, K 64) and every WiFo configuration, halves included
    for t, n, k in [(24, 32, 64), (16, 4, 32), (24, 8, 128), (16, 16, 64)]:
        gt, _, gk = patch_grid((t, n, k), cfg.patch)
        assert gt % 2 == 0 and gk % 2 == 0
