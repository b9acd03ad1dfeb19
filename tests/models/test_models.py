"""Reference model: patching, masks, STF-PE, training (overfit, exact resume), evaluation and baselines."""

from __future__ import annotations

import json
import math

import pytest

torch = pytest.importorskip("torch")

from conftest import write_csi  # noqa: E402
from wirelessdata.errors import ConfigError, WirelessDataError  # noqa: E402
from wirelessdata.models import (  # noqa: E402
    BASELINES,
    ModelConfig,
    TrainConfig,
    WiFo,
    csi_to_input,
    evaluate,
    load_checkpoint,
    make_mask,
    model_predictor,
    normalise,
    reconstruction_losses,
    train,
    update_model_card,
)
from wirelessdata.models.train import CHECKPOINT, MODEL_CARD, lr_factor  # noqa: E402
from wirelessdata.models.wifo import add_noise, patch_grid, patchify, stf_pos_embed, unpatchify  # noqa: E402
from wirelessdata.tasks.extrapolation import ARPredictor, ar_extrapolate, zoh_predict  # noqa: E402
from wirelessdata.tasks.source import shard_info  # noqa: E402


def multipath_csi(batch: int, t: int, k: int, nbs: int, nue: int = 1, paths: int = 3, seed: int = 0):
    """Complex CSI [B, T, K, Nbs, Nue]: a sum of plane waves with random Doppler, delay and angle per sample."""
    g = torch.Generator().manual_seed(seed)

    def u(*shape):
        return torch.rand(*shape, 1, 1, 1, 1, generator=g, dtype=torch.float64)

    gain = torch.complex(
        torch.randn(batch, paths, 1, 1, 1, 1, generator=g, dtype=torch.float64),
        torch.randn(batch, paths, 1, 1, 1, 1, generator=g, dtype=torch.float64),
    )
    doppler, delay, angle = 0.2 * u(batch, paths), 0.1 * u(batch, paths), math.pi * u(batch, paths)
    tt = torch.arange(t, dtype=torch.float64).view(t, 1, 1, 1)
    kk = torch.arange(k, dtype=torch.float64).view(1, k, 1, 1)
    nn_ = torch.arange(nbs * nue, dtype=torch.float64).view(1, 1, nbs, nue)
    phase = 2 * math.pi * (doppler * tt - delay * kk) + angle * nn_
    return (gain * torch.exp(1j * phase)).sum(1).to(torch.complex64)


def batches_of(shapes, batch=4, repeat=1):
    """Batch dicts in the loader's contract, one per (shape, repeat), each from its own 'shard'."""
    out = []
    for r in range(repeat):
        for i, (t, k, nbs) in enumerate(shapes):
            csi = multipath_csi(batch, t, k, nbs, seed=100 * r + i)
            out.append({"csi": csi, "sample_id": torch.arange(batch), "shard": f"s{t}x{k}x{nbs}"})
    return out


TINY = dict(model="tiny", patch=(4, 4, 4), steps=6, warmup_steps=2, lr=1e-3)


def untrained(size: str = "tiny", patch: tuple[int, int, int] = (4, 4, 4)) -> WiFo:
    """A model with a random (not zero) head, so that its predictions depend on its input before training."""
    model = WiFo(ModelConfig.of_size(size, patch))
    torch.nn.init.normal_(model.head.weight, std=0.05)
    return model.eval()


pytestmark = pytest.mark.usefixtures("one_thread")


# --- tensors, patches, masks, STF-PE -------------------------------------------------------------------------


def test_csi_to_input_layout_and_normalisation():
    csi = multipath_csi(2, 8, 16, 2, nue=2)
    x = csi_to_input(csi)
    assert x.shape == (2, 2, 8, 4, 16) and x.dtype == torch.float32
    assert torch.equal(x[1, 0, 3, 2 * 1 + 1, 5], csi[1, 3, 5, 1, 1].real)
    assert torch.equal(x[1, 1, 3, 2 * 1 + 1, 5], csi[1, 3, 5, 1, 1].imag)
    xn, scale = normalise(x)
    assert scale.shape == (2, 1, 1, 1, 1)
    assert torch.allclose(xn.square().sum(1).mean((1, 2, 3)), torch.ones(2))


@pytest.mark.parametrize("bad", [torch.zeros(2, 8, 16, 4, 1), torch.zeros(2, 8, 16, 4, dtype=torch.complex64)])
def test_csi_to_input_refuses_wrong_tensors(bad):
    with pytest.raises(WirelessDataError, match="complex tensor"):
        csi_to_input(bad)


def test_csi_to_input_refuses_nan():
    csi = multipath_csi(1, 8, 16, 4)
    csi[0, 0, 0, 0, 0] = complex("nan")
    with pytest.raises(WirelessDataError, match="NaN"):
        csi_to_input(csi)


def test_noise_has_the_requested_snr():
    x, _ = normalise(csi_to_input(multipath_csi(4, 16, 32, 8)))
    noisy = add_noise(x, 10.0, torch.Generator().manual_seed(0))
    snr = x.square().mean() / (noisy - x).square().mean()
    assert 10 * math.log10(snr) == pytest.approx(10.0, abs=0.2)
    assert add_noise(x, None) is x


@pytest.mark.parametrize("patch", [(4, 4, 4), (2, 1, 8)])
def test_patchify_unpatchify_round_trip(patch):
    x = torch.randn(3, 2, 8, 4, 16)
    p = patchify(x, patch)
    assert p.shape == (3, 8 * 4 * 16 // math.prod(patch), 2 * math.prod(patch))
    assert torch.equal(unpatchify(p, patch, (8, 4, 16)), x)
    # token (t, n, k) = (1, 0, 2) of a (4,4,4) patching holds x[:, :, 4:8, 0:4, 8:12]
    if patch == (4, 4, 4):
        assert torch.equal(p[:, (1 * 1 + 0) * 4 + 2].view(3, 2, 4, 4, 4), x[:, :, 4:8, 0:4, 8:12])


def test_patch_embedding_tokens_follow_patchify_order():
    model = WiFo(ModelConfig.of_size("tiny"))
    x = torch.randn(2, 2, 8, 8, 16)
    conv = model.patch_embed(x).flatten(2).transpose(1, 2)
    as_linear = patchify(x, model.cfg.patch) @ model.patch_embed.weight.flatten(1).T + model.patch_embed.bias
    assert torch.allclose(conv, as_linear, atol=1e-5)


def test_shape_not_divisible_by_patch_is_refused():
    with pytest.raises(WirelessDataError, match="not divisible by the patch size"):
        patchify(torch.randn(1, 2, 10, 4, 16), (4, 4, 4))


@pytest.mark.parametrize("grid", [(6, 8, 16), (4, 1, 8), (2, 2, 2)])
def test_mask_shapes_and_counts(grid):
    t, n, k = grid
    length, batch = t * n * k, 5
    g = torch.Generator().manual_seed(0)
    rnd = make_mask("random", batch, grid, 0.85, g)
    n_keep = max(1, int(length * 0.15))
    assert rnd.keep.shape == (batch, n_keep) and rnd.masked.shape == (batch, length)
    assert (rnd.masked.sum(1) == length - n_keep).all()
    assert (rnd.keep.diff(dim=1) > 0).all()
    assert not rnd.masked.gather(1, rnd.keep).any()
    if length >= 16:  # per-sample draws
        assert not all(torch.equal(rnd.keep[0], rnd.keep[i]) for i in range(1, batch))

    tmp = make_mask("temporal", batch, grid)
    visible = ~tmp.masked.view(batch, t, n, k)
    assert visible[:, : t // 2].all() and not visible[:, t // 2 :].any()
    assert tmp.keep.shape == (batch, (t // 2) * n * k)

    fre = make_mask("frequency", batch, grid)
    visible = ~fre.masked.view(batch, t, n, k)
    assert visible[..., : k // 2].all() and not visible[..., k // 2 :].any()
    assert torch.equal(fre.keep[0], (~fre.masked[0]).nonzero().squeeze(1))


def test_mask_errors():
    with pytest.raises(ConfigError, match="temporal masking needs"):
        make_mask("temporal", 2, (1, 4, 8))
    with pytest.raises(ConfigError, match="unknown mask"):
        make_mask("diagonal", 2, (4, 4, 8))


def test_stf_pe_properties():
    grid, dim = (3, 2, 5), 64
    pe = stf_pos_embed(grid, dim)
    assert pe.shape == (30, 64) and not pe.requires_grad
    assert pe.abs().max() <= 1.0
    wt, wn = dim // 3, dim // 3
    coords = torch.stack(torch.meshgrid(*(torch.arange(g) for g in grid), indexing="ij"), -1).view(-1, 3)
    # each block depends on its own coordinate only, and distinguishes its values
    for block, axis in ((slice(0, wt), 0), (slice(wt, wt + wn), 1), (slice(wt + wn, dim), 2)):
        for value in range(grid[axis]):
            rows = pe[coords[:, axis] == value, block]
            assert torch.equal(rows, rows[:1].expand_as(rows))
        firsts = [pe[coords[:, axis] == v, block][0] for v in range(grid[axis])]
        assert len({tuple(f.tolist()) for f in firsts}) == grid[axis]
    # position 0 encodes as sin 0 = 0, cos 0 = 1 (odd width 21: 11 sines, 10 cosines)
    assert torch.equal(pe[0, :11], torch.zeros(11)) and torch.equal(pe[0, 11:21], torch.ones(10))
    # all tokens distinct, and the encoding of a sub-grid is a sub-set of that of a larger grid
    assert len({tuple(r.tolist()) for r in pe}) == 30
    assert torch.equal(stf_pos_embed((6, 2, 5), dim)[:30], pe)


def test_one_model_takes_heterogeneous_shapes():
    model = WiFo(ModelConfig.of_size("tiny"))
    for shape in ((16, 8, 32), (24, 4, 64), (8, 32, 16)):
        x = torch.randn(2, 2, *shape)
        grid = patch_grid(shape, model.cfg.patch)
        for kind in ("random", "temporal", "frequency"):
            mask = make_mask(kind, 2, grid, generator=torch.Generator().manual_seed(0))
            assert model.reconstruct(x, mask).shape == x.shape


def test_bf16_autocast_forward_and_reconstruct():
    """The CUDA training path runs under bf16 autocast; the CPU has the same autocast, so the dtypes are checked
    here (a float32 mask token scattered into bf16 decoder tokens once broke every GPU run)."""
    model = WiFo(ModelConfig.of_size("tiny"))
    x = torch.randn(2, 2, 8, 8, 16)
    grid = patch_grid((8, 8, 16), model.cfg.patch)
    for kind in ("random", "temporal"):
        mask = make_mask(kind, 2, grid, generator=torch.Generator().manual_seed(0))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            pred = model(x, mask)
            rec = model.reconstruct(x, mask)
        assert pred.dtype == torch.bfloat16 and torch.isfinite(pred).all()
        assert rec.shape == x.shape and torch.isfinite(rec).all()


def test_a_diverging_run_stops_with_its_last_checkpoint(tmp_path):
    cfg = TrainConfig(**(TINY | {"steps": 20, "warmup_steps": 0, "lr": 1e6, "grad_clip": 0.0}))
    with pytest.raises(WirelessDataError, match=r"is (nan|inf) at step \d+ .*diverged.*lower --lr") as err:
        train(batches_of([(8, 16, 8)], repeat=20), cfg, tmp_path, device="cpu")
    assert "\n" not in str(err.value)
    if (tmp_path / CHECKPOINT).exists():  # every kept weight is finite
        state = torch.load(tmp_path / CHECKPOINT, weights_only=True)
        assert all(torch.isfinite(v).all() for v in state["model"].values())


def test_encode_sees_every_token_and_matches_the_masked_path():
    model = WiFo(ModelConfig.of_size("tiny")).eval()
    x = torch.randn(3, 2, 8, 8, 16)
    feats = model.encode(x)
    assert feats.shape == (3, 2 * 2 * 2, 64)  # patch (4, 4, 8)
    keep = torch.arange(8).expand(3, -1)
    assert torch.equal(feats, model._encode(x, keep))
    shuffled = torch.stack([torch.randperm(8) for _ in range(3)])  # token order in, same order out
    assert torch.allclose(
        model._encode(x, shuffled), feats.gather(1, shuffled[..., None].expand(-1, -1, 64)), atol=1e-5
    )
    assert not torch.allclose(feats[0], model.encode(x[[1, 0, 2]])[0])  # features depend on the sample


def test_model_sizes_match_wifo():
    sizes = ("wifo-tiny", "wifo-base", "little")
    counts = {s: sum(p.numel() for p in WiFo(ModelConfig.of_size(s, (4, 4, 4))).parameters()) for s in sizes}
    assert 0.3e6 <= counts["wifo-tiny"] < 0.4e6  # WiFo reports 0.3 M and 21.6 M
    assert 21e6 < counts["wifo-base"] < 22e6
    assert ModelConfig.of_size("little") == ModelConfig()  # the default architecture is a named size
    with pytest.raises(ConfigError, match="unknown model size"):
        ModelConfig.of_size("huge")


# --- training --------------------------------------------------------------------------------------------------


def test_lr_schedule_warmup_then_cosine():
    cfg = TrainConfig(steps=100, warmup_steps=10, lr=1e-3, min_lr=1e-5)
    factors = [lr_factor(s, cfg) for s in range(100)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[9:], factors[10:], strict=False))
    assert lr_factor(100, cfg) == pytest.approx(0.01)


@pytest.mark.parametrize(
    "bad",
    [
        dict(model="huge"),
        dict(steps=0),
        dict(masks=("random", "x")),
        dict(mask_ratio=1.0),
        dict(min_lr=1.0),
        dict(mask_schedule="sometimes"),
    ],
)
def test_train_config_validation(bad):
    with pytest.raises(ConfigError, match="invalid training configuration"):
        TrainConfig(**bad)


def shards_of(tmp_path, shapes, batch=4, seed=0):
    """One shard per (T, K, Nbs) shape of ``batch`` multipath samples: their ``ShardSamples`` (all samples)."""
    return [
        shard_info(write_csi(tmp_path / f"s{t}x{k}x{nbs}.zarr", multipath_csi(batch, t, k, nbs, seed=seed + i)))
        for i, (t, k, nbs) in enumerate(shapes)
    ]


def test_tiny_overfit_drives_nmse_down(tmp_path):
    """Repeating one batch of a 3-path channel: the time-prediction NMSE of the tiny model drops more than 20x."""
    data = batches_of([(8, 16, 8)], batch=2)
    shard = shard_info(write_csi(tmp_path / "a.zarr", data[0]["csi"]))
    cfg = TrainConfig(steps=200, warmup_steps=10, lr=3e-3, min_lr=1e-4, snr_db=None, masks=("temporal",))

    def nmse(model):
        result = evaluate({"wifo": model_predictor(model)}, [shard], tasks=("time",), snr_db=None)
        return result["shards"]["a"]["time"]["wifo"]["nmse"]

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)  # the initial weights of the run
        before = nmse(untrained())
    result = train(data * cfg.steps, cfg, tmp_path / "run", checkpoint_every=1000, device="cpu")
    after = nmse(load_checkpoint(tmp_path / "run", "cpu").model)
    assert after < before / 20, (before, after)
    assert result.losses[-1] < result.losses[0] / 20


class Stop(Exception):
    pass


@pytest.mark.parametrize("schedule", ["mean", "sample"])
def test_resume_reproduces_the_uninterrupted_run(tmp_path, schedule):
    data = batches_of([(8, 16, 8), (16, 8, 4)], repeat=3)  # 6 batches of 2 shapes
    cfg = TrainConfig(**TINY, mask_schedule=schedule)
    full = train(data, cfg, tmp_path / "full", device="cpu")

    def stop_at_4(info):
        if info.step == 4:
            raise Stop

    with pytest.raises(Stop):
        train(data, cfg, tmp_path / "cut", on_step=stop_at_4, checkpoint_every=3, device="cpu")
    assert load_checkpoint(tmp_path / "cut", "cpu").step == 3
    resumed = train(data, cfg, tmp_path / "cut", resume=True, device="cpu")
    assert resumed.step == 6 and resumed.samples == 3 * 4
    assert resumed.losses == full.losses
    a, b = load_checkpoint(tmp_path / "full", "cpu").model, load_checkpoint(tmp_path / "cut", "cpu").model
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True))

    # a callable stream is asked for the batches from the resume point on
    starts = []

    def stream(start):
        starts.append(start)
        return data[start:]

    with pytest.raises(Stop):
        train(stream, cfg, tmp_path / "fn", on_step=stop_at_4, checkpoint_every=2, device="cpu")
    assert train(stream, cfg, tmp_path / "fn", resume=True, device="cpu").losses == full.losses
    assert starts == [0, 4]


def test_finished_run_resumes_to_a_no_op_and_the_model_card(tmp_path):
    data = batches_of([(8, 16, 8)], repeat=2)
    cfg = TrainConfig(**(TINY | {"steps": 2, "warmup_steps": 1}))
    first = train(data, cfg, tmp_path, data={"manifest": "m.toml"}, device="cpu")
    again = train(data, cfg, tmp_path, resume=True, device="cpu")
    assert again.losses == first.losses and again.samples == 0
    update_model_card(tmp_path, {"zero_shot": {"d17": 0.3}})
    card = json.loads((tmp_path / MODEL_CARD).read_text())
    assert card["data"] == {"manifest": "m.toml"} and card["config"]["model"] == "tiny"
    assert card["training"]["step"] == 2 and card["metrics"] == {"zero_shot": {"d17": 0.3}}


def test_keep_every_leaves_snapshots_that_load_as_runs(tmp_path):
    data = batches_of([(8, 16, 8)], repeat=5)
    cfg = TrainConfig(**(TINY | {"steps": 5, "warmup_steps": 1}))
    result = train(data, cfg, tmp_path, checkpoint_every=100, keep_every=2, device="cpu")
    snaps = sorted(p.name for p in (tmp_path / "snapshots").iterdir())
    assert snaps == ["step-000002", "step-000004"]
    two = load_checkpoint(tmp_path / "snapshots" / "step-000002", "cpu")
    assert two.step == 2 and two.losses == result.losses[:2]
    card = json.loads((tmp_path / "snapshots" / "step-000004" / MODEL_CARD).read_text())
    assert card["training"]["step"] == 4
    with pytest.raises(ConfigError, match="keep_every"):
        train(data, cfg, tmp_path / "bad", keep_every=-1, device="cpu")


def test_stream_shorter_than_steps_stops_with_a_checkpoint(tmp_path):
    result = train(batches_of([(8, 16, 8)]), TrainConfig(**TINY), tmp_path, device="cpu")
    assert result.step == 1 and load_checkpoint(tmp_path, "cpu").step == 1


def test_training_bad_inputs(tmp_path):
    cfg = TrainConfig(**TINY)
    with pytest.raises(WirelessDataError, match="no training batches"):
        train([], cfg, tmp_path / "empty", device="cpu")
    with pytest.raises(WirelessDataError, match=r"shard s10x16x4: .*not divisible by the patch size"):
        train(batches_of([(10, 16, 4)]), cfg, tmp_path / "odd", device="cpu")
    with pytest.raises(WirelessDataError, match="shard x: csi must be a complex tensor .* got NoneType"):
        train([{"shard": "x"}], cfg, tmp_path / "nocsi", device="cpu")

    run = tmp_path / "run"
    train(batches_of([(8, 16, 8)]), cfg, run, device="cpu")
    with pytest.raises(WirelessDataError, match="already holds a checkpoint"):
        train(batches_of([(8, 16, 8)]), cfg, run, device="cpu")
    with pytest.raises(ConfigError, match=r"different configuration \(lr 0.001 -> 0.002\)"):
        train(batches_of([(8, 16, 8)]), TrainConfig(**(TINY | {"lr": 2e-3})), run, resume=True, device="cpu")

    state = torch.load(run / CHECKPOINT, weights_only=True)
    del state["model"]["head.bias"]
    torch.save(state, run / CHECKPOINT)
    with pytest.raises(WirelessDataError, match="does not match its own configuration"):
        train([], cfg, run, resume=True)

    blob = (run / CHECKPOINT).read_bytes()
    (run / CHECKPOINT).write_bytes(blob[: len(blob) // 2])
    for call in (lambda: load_checkpoint(run), lambda: train([], cfg, run, resume=True)):
        with pytest.raises(WirelessDataError, match="corrupt") as err:
            call()
        assert "\n" not in str(err.value)
    with pytest.raises(WirelessDataError, match="no checkpoint"):
        load_checkpoint(tmp_path / "nowhere")


# --- evaluation and baselines ----------------------------------------------------------------------------------


def test_zoh_is_exact_on_a_constant_channel(tmp_path):
    csi = torch.complex(torch.randn(3, 1, 16, 8, 1), torch.randn(3, 1, 16, 8, 1)).expand(3, 12, 16, 8, 1)
    x = csi_to_input(csi.contiguous())
    inp = x.clone()
    inp[:, :, 6:] = 0
    assert torch.equal(zoh_predict(inp, "time", 6)[:, :, 6:], inp[:, :, 5:6].expand(3, 2, 6, 8, 16))
    shard = shard_info(write_csi(tmp_path / "const.zarr", csi))
    result = evaluate(BASELINES, [shard], tasks=("time",), snr_db=None)
    assert result["shards"]["const"]["time"]["zoh"]["nmse"] < 1e-12
    assert result["shards"]["const"]["time"]["ar"]["nmse"] < 1e-10
    assert result["definitions"]["const"]["time"]["params"] == {"history": 6, "horizon": 6}


def test_ar_predicts_complex_exponentials_exactly():
    n = torch.arange(24, dtype=torch.float64)
    seq = torch.stack([torch.exp(1j * (0.7 * n + 0.3)), 0.5 * torch.exp(1j * (0.7 * n - 1.0))])[None]  # one Doppler
    pred = ar_extrapolate(seq[..., :12].to(torch.complex64), 12, order=4)
    assert torch.allclose(pred.to(torch.complex128), seq[..., 12:], atol=1e-4)
    two = (torch.exp(1j * 0.4 * n) + 0.8 * torch.exp(-1j * 1.1 * n))[None, None]  # two lines need order 2
    assert torch.allclose(ar_extrapolate(two[..., :12], 12, order=2), two[..., 12:], atol=1e-8)


def test_ar_predictor_on_multipath_channels_in_time_and_frequency(tmp_path):
    shard = shard_info(write_csi(tmp_path / "mp.zarr", multipath_csi(2, 16, 32, 4, paths=2)))  # order 2 is exact
    result = evaluate({"ar": ARPredictor(order=2), "zoh": zoh_predict}, [shard], snr_db=None)
    for task in ("time", "frequency"):
        scores = result["shards"]["mp"][task]
        assert scores["ar"]["nmse"] < 1e-8 and scores["ar"]["nmse_db"] < -80
        assert scores["zoh"]["nmse"] > 1e-3


def test_evaluate_model_and_baselines_per_shard(tmp_path):
    model = untrained()
    a, b = shards_of(tmp_path, [(16, 32, 8)]) + shards_of(tmp_path, [(8, 16, 4)], batch=3, seed=5)
    result = evaluate(
        {"wifo": model_predictor(model), **BASELINES}, [a, b], per_shard={b.name: {"full-shot": model_predictor(model)}}
    )
    ra, rb = result["shards"][a.name], result["shards"][b.name]
    assert ra["samples"] == 4 and rb["samples"] == 3
    assert set(ra["time"]) == {"wifo", "zoh", "ar", "ar-auto"}
    assert set(rb["frequency"]) == {"wifo", "zoh", "ar", "ar-auto", "full-shot"}
    assert rb["time"]["wifo"] == rb["time"]["full-shot"]
    score = ra["time"]["wifo"]
    assert score["nmse_db"] == pytest.approx(10 * math.log10(score["nmse"]))
    definition = result["definitions"][a.name]["frequency"]
    assert definition["task"] == "frequency-prediction" and definition["params"] == {"known": 16, "target": 16}
    assert definition["impairments"]["snr_db"] == 20.0 and definition["source"]["samples"] == 4
    again = evaluate({"wifo": model_predictor(model)}, [a])
    assert again["shards"][a.name]["time"]["wifo"] == score  # seeded noise: reproducible
    other = evaluate({"wifo": model_predictor(model)}, [a], seed=1)
    assert other["shards"][a.name]["time"]["wifo"] != score  # another seed draws other noise
    half = evaluate({"wifo": model_predictor(model)}, [shard_info(a.url, [0, 1], a.name)])
    assert half["shards"][a.name]["samples"] == 2


def test_reconstruction_losses_compare_with_the_all_zero_prediction(tmp_path):
    (a,) = shards_of(tmp_path, [(8, 16, 8)], batch=6)
    model = untrained()
    torch.nn.init.zeros_(model.head.weight)
    torch.nn.init.zeros_(model.head.bias)  # predicts zeros everywhere: exactly the reference
    losses = reconstruction_losses(model, [a], snr_db=None, batch_size=4)[a.name]
    assert set(losses) == {"random", "temporal", "frequency"}
    for v in losses.values():
        assert v["model"] == pytest.approx(v["zeros"], rel=1e-6)
        assert v["zeros"] == pytest.approx(0.5, rel=0.3)  # unit-power samples: 0.5 per real component
    trained = reconstruction_losses(untrained(), [a], snr_db=None, batch_size=4)[a.name]
    assert trained["random"]["zeros"] == losses["random"]["zeros"]  # same seed: same masks


def test_evaluate_bad_inputs(tmp_path):
    model = untrained()
    (odd,) = shards_of(tmp_path, [(20, 16, 4)])
    with pytest.raises(WirelessDataError, match=f"shard {odd.name}: the time task gives 10"):
        evaluate({"wifo": model_predictor(model)}, [odd])
    with pytest.raises(WirelessDataError, match=f"shard {odd.name}: no evaluation samples"):
        evaluate(BASELINES, [shard_info(odd.url, [], odd.name)])
    with pytest.raises(ConfigError, match="unknown task"):
        evaluate(BASELINES, [odd], tasks=("space",))
