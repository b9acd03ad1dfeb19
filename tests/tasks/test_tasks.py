"""Task views, impairments, metrics and classical baselines on small synthetic shards (fast)."""

import json
import math
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from wirelessdata._testing import synthetic_block, synthetic_layout
from wirelessdata.cli import app, main
from wirelessdata.errors import ConfigError, WirelessDataError
from wirelessdata.mix.manifest import Manifest, ManifestShard, Selection, Source
from wirelessdata.shard.store import create_shard, open_group
from wirelessdata.tasks import get, run_baselines, score
from wirelessdata.tasks.impairments import Impairments, apply, quantise
from wirelessdata.tasks.metrics import f1, mae, nmse, nmse_db, topk_accuracy

SIZES = {"time": 16, "subcarrier": 48, "bs_ant": 4, "ue_ant": 1}
DT, DF = 1e-3, 30e3


def multipath(rng, n, sizes=SIZES, paths=3, max_delay=3e-7):
    """Smooth CSI: a sum of ``paths`` plane waves with delays <= ``max_delay`` s and Dopplers <= 40 Hz,
    [n, T, K, Nbs, 1]."""
    t = np.arange(sizes["time"])[:, None, None] * DT
    f = (np.arange(sizes["subcarrier"]) - sizes["subcarrier"] // 2)[None, :, None] * DF
    b = np.arange(sizes["bs_ant"])[None, None, :]
    out = np.zeros((n, sizes["time"], sizes["subcarrier"], sizes["bs_ant"]), np.complex128)
    for i in range(n):
        gains = (rng.standard_normal(paths) + 1j * rng.standard_normal(paths)) * 1e-4
        for g, tau, nu, theta in zip(
            gains, rng.uniform(0, max_delay, paths), rng.uniform(-40, 40, paths), rng.uniform(-1, 1, paths), strict=True
        ):
            out[i] += g * np.exp(2j * np.pi * (nu * t - f * tau) + 1j * np.pi * b * theta)
    return out[..., None].astype(np.complex64)


def write_shard(path, n=24, band="sub6", kind="multipath", sizes=SIZES, seed=0, labels=None):
    """A committed shard at ``path``: ``kind`` random, multipath or a function ``(rng, start, stop) -> csi``;
    ``labels``: per-sample variables ``name -> (start, stop, data) -> values``."""
    layout = synthetic_layout(num_samples=n, block_size=8, sizes=sizes, seed=seed)
    layout = replace(layout, attrs={**layout.attrs, "band": band}, optional=("delay_spread_s", "best_beam"))
    shard = create_shard(str(path), layout)
    rng = np.random.default_rng([seed, 7])
    for blk in range(layout.num_blocks):
        data = synthetic_block(layout, blk)
        start, stop = layout.block_range(blk)
        if kind != "random":
            data["csi"] = multipath(rng, stop - start, sizes) if kind == "multipath" else kind(rng, start, stop)
            data["path_gain_db"] = (10 * np.log10(np.mean(np.abs(data["csi"]) ** 2, axis=(1, 2, 3, 4)))).astype(
                np.float32
            )
        data["best_beam"] = np.arange(start, stop, dtype=np.int32) % 5
        for name, fn in (labels or {}).items():
            data[name] = fn(start, stop, data)
        shard.write_block(blk, data)
    shard.commit({})
    return str(path)


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("tasks")
    return {
        "multipath": write_shard(root / "mp" / "mp-sub6.zarr", n=32),
        "random": write_shard(root / "rnd" / "rnd-sub6.zarr", n=40, kind="random", sizes={"time": 4, "subcarrier": 8}),
    }


@pytest.fixture(scope="module")
def paired(tmp_path_factory):
    """Two synthetic shards of one drop set (same recipe_hash) at sub6 and 28GHz; 28GHz best_beam = (3 id) mod 7."""
    root = tmp_path_factory.mktemp("paired")
    write_shard(root / "d-sub6.zarr", n=24, band="sub6")
    write_shard(
        root / "d-28GHz.zarr",
        n=24,
        band="28GHz",
        labels={"best_beam": lambda a, b, d: (3 * np.arange(a, b) % 7).astype(np.int32)},
    )
    return root


def pairs(view):
    """sample_id -> (input, target) of every sample of one pass."""
    out = {}
    for inp, target, meta in view.batches():
        for i, sid in enumerate(meta.sample_id):
            out[int(sid)] = (inp[i].clone(), target[i].clone())
    return out


# metrics ---------------------------------------------------------------------------------------------
def test_metrics_known_answers():
    t = torch.ones(2, 3, 4, dtype=torch.complex64)
    np.testing.assert_allclose(nmse(t, t), [0, 0])
    np.testing.assert_allclose(nmse(torch.zeros_like(t), t), [1, 1])
    np.testing.assert_allclose(nmse(0.5 * t, t), [0.25, 0.25])
    assert nmse_db([0.1, 0.1]) == pytest.approx(-10) and nmse_db([0.0]) == -math.inf
    assert math.isnan(nmse_db([0.1, math.nan]))  # a predictor that output NaN is not the best one
    scores = np.array([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1], [0.3, 0.3, 0.4]])
    labels = np.array([2, 0, 1])
    assert topk_accuracy(scores, labels, 1) == pytest.approx(1 / 3)
    assert topk_accuracy(scores, labels, 2) == pytest.approx(2 / 3)
    assert topk_accuracy(scores, labels, 3) == 1.0
    assert topk_accuracy(scores, np.array([5, 5, 5]), 3) == 0.0  # a label beyond the scored classes never hits
    assert f1([1, 1, 1, 0, 0], [1, 1, 0, 1, 0]) == pytest.approx(2 / 3)
    assert f1([0, 0], [0, 0]) == 0.0
    assert mae([[3.0, 4.0, 0.0], [0.0, 0.0, 0.0]], [[0, 0, 0], [0, 0, 1]]) == pytest.approx(3.0)
    assert mae([1.0, -2.0], [0.0, 0.0]) == pytest.approx(1.5)
    with pytest.raises(ValueError, match="shape"):
        nmse(np.zeros(3), np.zeros(4))


# impairments -----------------------------------------------------------------------------------------
def _csi(n=8, t=6, k=10, nbs=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.complex(torch.randn(n, t, k, nbs, 1, generator=g), torch.randn(n, t, k, nbs, 1, generator=g)) * 1e-3


TIME, FREQ = np.arange(6) * 1e-3, (np.arange(10) - 5) * 30e3


def _apply(imp, csi, ids=None, seed=0, **kw):
    ids = np.arange(len(csi), dtype=np.uint64) if ids is None else ids
    return apply(imp, csi, ids, TIME, FREQ, seed, 1, **kw)


@pytest.mark.parametrize("snr", [0.0, 10.0, 25.0])
def test_awgn_measured_snr_within_0_2_db(snr):
    csi = _csi(n=300) * torch.linspace(0.1, 10, 300).view(-1, 1, 1, 1, 1)  # samples of very different power
    noisy, _ = _apply(Impairments(snr_db=snr), csi)
    signal = csi.abs().square().flatten(1).mean(1)
    noise = (noisy - csi).abs().square().flatten(1).mean(1)
    assert float((10 * torch.log10(signal / noise)).mean()) == pytest.approx(snr, abs=0.2)


def test_sampled_snr_is_drawn_per_sample_in_the_range():
    csi = _csi(n=200, t=6, k=10, nbs=16)
    noisy, draws = _apply(Impairments(snr_db="0:20"), csi)
    assert draws["snr_db"].min() >= 0 and draws["snr_db"].max() <= 20 and draws["snr_db"].std() > 4
    measured = 10 * np.log10(csi.abs().square().flatten(1).mean(1) / (noisy - csi).abs().square().flatten(1).mean(1))
    assert np.corrcoef(measured.numpy(), draws["snr_db"])[0, 1] > 0.98


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_quantiser_error_matches_b_bits(bits):
    csi = _csi(n=4, t=16, k=64, nbs=8)
    q = quantise(csi, bits)
    x, xq = torch.view_as_real(csi), torch.view_as_real(q)
    full = x.abs().flatten(1).amax(1).view(-1, 1, 1, 1, 1, 1)
    step = 2 * full / 2**bits
    err = xq - x
    assert bool((err.abs() <= step / 2 * (1 + 1e-5)).all())
    levels = torch.round(xq / step - 0.5)
    assert levels.min() >= -(2 ** (bits - 1)) and levels.max() <= 2 ** (bits - 1) - 1
    assert torch.allclose(levels, xq / step - 0.5, atol=1e-3)  # on the grid (k + 1/2) D
    if bits >= 4:  # fine quantiser: the error is uniform, power D^2 / 12
        ratio = float((err.square() / step.square()).mean() * 12)
        assert ratio == pytest.approx(1.0, abs=0.1)
    assert _apply(Impairments(quant_bits=bits), csi)[0].shape == csi.shape


def test_timing_offset_is_exactly_a_linear_phase_and_cfo_a_phase_ramp_in_time():
    csi = _csi()
    out, _ = _apply(Impairments(timing_offset_ns=120.0), csi)
    ratio = (out / csi).numpy()
    expected = np.exp(-2j * np.pi * FREQ * 120e-9)
    np.testing.assert_allclose(ratio, np.broadcast_to(expected[None, None, :, None, None], ratio.shape), atol=2e-5)
    out, _ = _apply(Impairments(cfo_hz=40.0), csi)
    expected = np.exp(2j * np.pi * 40.0 * TIME)
    np.testing.assert_allclose(
        (out / csi).numpy(), np.broadcast_to(expected[None, :, None, None, None], csi.shape), atol=2e-5
    )
    out, draws = _apply(Impairments(timing_offset_ns=(-50, 50)), csi)
    slope = np.angle((out / csi)[:, 0, 1:, 0, 0] / (out / csi)[:, 0, :-1, 0, 0]).mean(1) / (-2 * np.pi * 30e3) * 1e9
    np.testing.assert_allclose(slope, draws["timing_offset_ns"], atol=1e-3)


def test_phase_noise_is_a_common_wiener_phase_per_snapshot():
    csi = _csi(n=400, t=6, k=10, nbs=2)
    out, _ = _apply(Impairments(phase_noise_deg=2.0), csi)
    phase = np.angle((out / csi).numpy())  # [B, T, K, N, 1]
    np.testing.assert_allclose(phase, np.broadcast_to(phase[:, :, :1, :1], phase.shape), atol=1e-4)
    np.testing.assert_allclose(phase[:, 0], 0, atol=1e-5)  # phi_0 = 0
    steps = np.diff(phase[:, :, 0, 0, 0], axis=1)
    assert np.degrees(steps.std()) == pytest.approx(2.0, rel=0.1)
    assert abs(np.corrcoef(steps[:, 0], steps[:, 1])[0, 1]) < 0.15  # independent increments


def test_erasure_zeroes_whole_snapshots_at_the_rate():
    csi = _csi(n=200)
    out, draws = _apply(Impairments(erase_prob=0.3), csi)
    zero = (out == 0).flatten(2).all(2).numpy()
    np.testing.assert_array_equal(zero, draws["erased"])
    assert draws["erased"].mean() == pytest.approx(0.3, abs=0.05)
    np.testing.assert_array_equal(out[~torch.from_numpy(zero)], csi[~torch.from_numpy(zero)])


def test_impairments_are_seeded_per_sample_not_per_batch():
    imp = Impairments(snr_db="0:20", cfo_hz=(-30, 30), phase_noise_deg=1.0, erase_prob=0.2, quant_bits=6)
    csi = _csi(n=10)
    clean = csi.clone()
    full, _ = _apply(imp, csi)
    assert torch.equal(csi, clean)  # the clean CSI (the targets) is never written
    region = (slice(0, 3), slice(None))
    assert torch.equal(_apply(Impairments(), csi, region=region)[0], csi[:, :3])  # nothing on: the region itself
    _apply(imp, csi, region=region)
    assert torch.equal(csi, clean)
    part, _ = _apply(imp, csi[[7, 2, 5]], ids=np.array([7, 2, 5], np.uint64))
    assert torch.equal(part, full[[7, 2, 5]])
    other, _ = _apply(imp, csi, seed=1)
    assert not torch.equal(other, full)
    # switching one impairment on does not change the draws of the others
    a = _apply(Impairments(snr_db=10.0), csi)[1]
    b = _apply(Impairments(snr_db=10.0, cfo_hz=5.0), csi)[1]
    np.testing.assert_array_equal(a["noise_seed"], b["noise_seed"])


def test_region_keeps_the_whole_sample_snr_reference():
    csi = _csi(n=200)
    csi[:, ::2] *= 10  # a region much stronger than the sample's mean
    out, _ = _apply(Impairments(snr_db=10.0), csi, region=(slice(1, None, 2), slice(None)))
    assert out.shape == (200, 3, 10, 4, 1)
    noise = (out - csi[:, 1::2]).abs().square().mean()
    assert 10 * math.log10(float(csi.abs().square().mean() / noise)) == pytest.approx(10.0, abs=0.2)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"snr_db": "loud"}, "snr_db"),
        ({"snr_db": "20:0"}, "lo <= hi"),
        ({"quant_bits": 0}, "quant_bits"),
        ({"quant_bits": 2.5}, "quant_bits"),
        ({"erase_prob": 1.5}, "erase_prob"),
        ({"phase_noise_deg": -1}, "phase_noise_deg"),
        ({"pilots": "4by12"}, "pilots"),
        ({"pilots": "0x12"}, "pilots"),
        ({"history": 0}, "history"),
        ({"colour": "red"}, "unknown setting"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_settings_are_one_line_config_errors(settings, message):
    name = "time-prediction" if "history" in settings else "channel-estimation"
    with pytest.raises(ConfigError, match=message) as info:
        get(name, **settings)
    assert "\n" not in str(info.value)


# views -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "settings", "inp", "target"),
    [
        ("time-prediction", {"history": 10, "horizon": 6}, (5, 10, 48, 4, 1), (5, 6, 48, 4, 1)),
        ("frequency-prediction", {"known": 16, "target": 24}, (5, 16, 16, 4, 1), (5, 16, 24, 4, 1)),
        ("channel-estimation", {"pilots": "4x12"}, (5, 4, 4, 4, 1), (5, 16, 48, 4, 1)),
        ("channel-estimation", {"pilots": "3x5"}, (5, 6, 10, 4, 1), (5, 16, 48, 4, 1)),
        ("compression", {"keep": 8}, (5, 16, 48, 4, 1), (5, 16, 48, 4, 1)),
        ("localisation", {}, (5, 16, 48, 4, 1), (5, 3)),
        ("los-classification", {}, (5, 16, 48, 4, 1), (5,)),
    ],
)
def test_view_shapes(shards, name, settings, inp, target):
    view = get(name, shards["multipath"], batch_size=5, snr_db=10, **settings)
    x, y = next(iter(view))
    assert tuple(x.shape) == inp and tuple(y.shape) == target
    assert x.dtype == torch.complex64
    assert len(view) == math.ceil(32 / 5) and view.num_samples == 32
    d = json.loads(json.dumps(view.definition()))
    assert d["task"] == name and d["impairments"] == {"snr_db": 10.0} and d["seed"] == 0
    assert d["source"]["samples"] == 32 and d["source"]["shards"][0]["checksum"]


def test_view_labels_match_the_shard(shards):
    import xarray as xr

    ds = xr.open_zarr(shards["random"])
    for x, y, meta in get("localisation", shards["random"], batch_size=7).batches():
        idx = meta.sample_id.astype(int)  # synthetic ids are the indices
        np.testing.assert_allclose(y.numpy(), ds.ue_pos.values[idx, 0] - ds.bs_pos.values[idx])
        np.testing.assert_array_equal(x.numpy(), ds.csi.values[idx])  # no impairment: the clean CSI
    for _, y, meta in get("los-classification", shards["random"], batch_size=7).batches():
        np.testing.assert_array_equal(y.numpy(), ds.los.values[meta.sample_id.astype(int)])


def test_same_seed_same_pairs_whatever_the_batching_other_seed_differs(shards):
    settings = {"snr_db": "0:20", "cfo_hz": 30.0, "erase_prob": 0.2, "pilots": "2x4"}
    a = pairs(get("channel-estimation", shards["multipath"], batch_size=5, **settings))
    b = pairs(get("channel-estimation", shards["multipath"], batch_size=8, shuffle=True, **settings))
    assert a.keys() == b.keys() and len(a) == 32
    for sid in a:
        assert torch.equal(a[sid][0], b[sid][0]) and torch.equal(a[sid][1], b[sid][1])
    c = pairs(get("channel-estimation", shards["multipath"], batch_size=5, seed=1, **settings))
    assert not torch.equal(c[3][0], a[3][0]) and torch.equal(c[3][1], a[3][1])  # new noise, same target


def test_dataloader_workers_give_the_same_pairs(shards):
    from torch.utils.data import DataLoader

    view = get("compression", shards["random"], batch_size=6, snr_db=5)
    alone = [x for x, _ in view]
    workers = list(DataLoader(view, batch_size=None, num_workers=2))
    assert len(workers) == len(alone)
    for x, (y, _) in zip(alone, workers, strict=True):
        assert torch.equal(x, y)


def test_splits_partition_the_samples_and_manifests_work(shards, tmp_path):
    train = pairs(get("compression", shards["random"], split="train"))
    test = pairs(get("compression", shards["random"], split="test"))
    assert not set(train) & set(test) and len(train) + len(test) == 40 and len(test) > 0
    url = shards["random"]
    ids = np.arange(40)
    manifest = Manifest(
        seed=0,
        shards=(ManifestShard("rnd-sub6", url, open_group(url).attrs["checksum"], 40, (4, 8, 4, 1)),),
        splits={
            "train": (Source("s", (Selection(0, ids[:30]),), per_epoch=60),),
            "val": (Source("s", (Selection(0, ids[30:]),), per_epoch=10),),
        },
    )
    path = tmp_path / "m.json"
    manifest.save(path)
    val = get("compression", str(path), split="val", batch_size=4)
    assert val.num_samples == 10 and sorted(pairs(val)) == list(range(30, 40))
    whole = get("compression", manifest, batch_size=4)
    assert whole.num_samples == 40 and whole.definition()["source"]["kind"] == "manifest"
    with pytest.raises(ConfigError, match="split"):
        get("compression", url, split="val")


def test_beam_view_pairs_bands_by_sample_id(paired):
    view = get("beam-prediction", str(paired), batch_size=5, snr_db=20)
    assert [s.name for s in view.shards] == ["d-sub6"]
    for x, y, meta in view.batches():
        assert x.shape[1:] == (16, 48, 4, 1) and y.dtype == torch.int64
        np.testing.assert_array_equal(y.numpy(), 3 * meta.sample_id.astype(int) % 7)
    alone = get("beam-prediction", str(paired / "d-sub6.zarr"))  # the partner is found beside the shard
    assert alone.num_samples == 24
    result = run_baselines(get("beam-prediction"), str(paired))
    assert set(result["baselines"]["knn"]) == {"top1", "top3", "samples"}
    assert 0 <= result["baselines"]["knn"]["top1"] <= result["baselines"]["knn"]["top3"] <= 1


def test_view_errors_are_one_line(shards, paired, tmp_path):
    cases = [
        (lambda: get("time-prediction", shards["random"]), "4 snapshots, time-prediction"),
        (lambda: get("frequency-prediction", shards["multipath"], known=40, target=16), "48 subcarriers"),
        (lambda: get("beam-prediction", shards["multipath"], target_band="60GHz"), "no paired 60GHz shard"),
        (lambda: get("beam-prediction", shards["multipath"], source_band="28GHz"), "no usable shard"),
        (lambda: get("compression", str(tmp_path / "nothing")), "no such shard"),
        (lambda: get("compression", str(tmp_path)), "no shard"),
        (lambda: get("teleportation"), "unknown task"),
        (lambda: get("compression", batch_size=4), "need a source"),
        (lambda: get("compression", shards["random"], batch_size=0), "batch_size"),
    ]
    for call, message in cases:
        with pytest.raises(WirelessDataError, match=message) as info:
            call()
        assert "\n" not in str(info.value)


# baselines -------------------------------------------------------------------------------------------
def _metric(name, source, **settings):
    task = get(name, **settings)
    view = task.view(source, batch_size=16)
    fitless = {b: base for b, base in task.baselines().items() if not base.needs_fit}  # fitted ones: run_baselines
    return {b: score(view, base.predict)["nmse_db"] for b, base in fitless.items()}


def test_noiseless_pilots_everywhere_give_zero_ls_error(shards):
    result = _metric("channel-estimation", shards["multipath"], pilots="1x1")
    assert result["ls-linear"] == -math.inf or result["ls-linear"] < -100
    assert result["ls-spline"] < -100


def test_estimation_error_falls_with_snr_and_pilot_density(shards):
    by_snr = [
        _metric("channel-estimation", shards["multipath"], pilots="2x6", snr_db=s)["ls-linear"] for s in (0, 10, 20)
    ]
    assert by_snr[0] > by_snr[1] + 3 > by_snr[2] + 6
    by_density = [
        _metric("channel-estimation", shards["multipath"], pilots=p, snr_db=20)["ls-linear"]
        for p in ("8x24", "4x12", "2x6")
    ]
    assert by_density[0] > by_density[1] > by_density[2]


def test_compression_error_falls_with_budget_and_snr(shards):
    by_keep = [_metric("compression", shards["multipath"], keep=k)["dft-topM"] for k in (2, 8, 32)]
    assert by_keep[0] > by_keep[1] > by_keep[2]
    by_snr = [_metric("compression", shards["multipath"], keep=8, snr_db=s)["dft-topM"] for s in (0, 20)]
    assert by_snr[0] > by_snr[1]


def test_prediction_baselines_reuse_zoh_and_ar(shards):
    time = _metric("time-prediction", shards["multipath"], history=8, horizon=4)
    assert time["ar"] < time["zoh"] < 0
    freq = [_metric("frequency-prediction", shards["multipath"], known=24, target=8, snr_db=s) for s in (0, 30)]
    assert freq[1]["ar"] < freq[0]["ar"] and freq[1]["ar"] < freq[1]["zoh"]


def test_los_peak_ratio_threshold_is_fitted(tmp_path):
    sizes = {"time": 4, "subcarrier": 48, "bs_ant": 8, "ue_ant": 1}

    def csi(rng, start, stop):  # every third sample: one dominant path (LoS), else four paths of similar power
        out = multipath(rng, stop - start, sizes, paths=4, max_delay=3e-6)
        for i in range(stop - start):
            if (start + i) % 3 == 0:
                out[i] += multipath(rng, 1, sizes, paths=1)[0] * 10
        return out

    los = {"los": lambda a, b, d: np.arange(a, b) % 3 == 0}
    url = write_shard(tmp_path / "los-sub6.zarr", n=96, kind=csi, sizes=sizes, labels=los)
    result = run_baselines(get("los-classification", snr_db=10), url)["baselines"]["peak-ratio"]
    assert result["f1"] > 0.85 and result["samples"] > 16


# CLI -------------------------------------------------------------------------------------------------
def test_cli_list_show_baseline(shards, monkeypatch, capsys):
    runner = CliRunner()
    res = runner.invoke(app, ["task", "list", "--json"])
    assert res.exit_code == 0, res.output
    assert [r["task"] for r in json.loads(res.output)][:3] == [
        "time-prediction",
        "frequency-prediction",
        "channel-estimation",
    ]
    res = runner.invoke(app, ["task", "show", "channel-estimation", "--set", "pilots=2x6", "--set", "snr_db=0:20"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["params"] == {"pilots": "2x6"} and doc["impairments"] == {"snr_db": [0.0, 20.0]}
    res = runner.invoke(app, ["task", "baseline", "compression", shards["random"], "--set", "keep=4", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["baselines"]["dft-topM"]["samples"] > 0
    monkeypatch.setattr(sys, "argv", ["wirelessdata", "task", "show", "compression", "--set", "keep=lots"])
    with pytest.raises(SystemExit) as exit_:
        main()
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("error: task compression: keep='lots'") and "Traceback" not in err
