"""The best classical predictors of the prediction tasks: AR with the order chosen per sample (``ar-auto``) and
the Wiener / LMMSE predictor fitted on a training split (``wiener``), alone and through task views."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from conftest import write_csi  # noqa: E402
from wirelessdata.errors import ConfigError  # noqa: E402
from wirelessdata.tasks import get, run_baselines, score  # noqa: E402
from wirelessdata.tasks.extrapolation import ARPredictor, ar_extrapolate, select_ar_order, zoh_predict  # noqa: E402
from wirelessdata.tasks.layout import csi_to_input  # noqa: E402
from wirelessdata.tasks.prediction import AxisPredictor  # noqa: E402
from wirelessdata.tasks.source import shard_info  # noqa: E402
from wirelessdata.tasks.wiener import WienerPredictor, fit_wiener  # noqa: E402

N = torch.arange(24, dtype=torch.float64)


def lines(freqs, gains, m=4, seed=0, n=N):
    """``m`` sequences [m, len(n)] sharing the complex exponentials ``exp(j f n)``, random gains per sequence."""
    g = torch.Generator().manual_seed(seed)
    amp = torch.complex(*(torch.randn(2, m, len(freqs), generator=g, dtype=torch.float64)))
    waves = torch.stack([gain * torch.exp(1j * f * n) for f, gain in zip(freqs, gains, strict=True)])  # [P, n]
    return amp @ waves


def noisy(x, snr_db, seed=1):
    g = torch.Generator().manual_seed(seed)
    std = math.sqrt(float(x.abs().square().mean()) * 10 ** (-snr_db / 10) / 2)
    noise = torch.complex(*(torch.randn(2, *x.shape, generator=g, dtype=torch.float64)))
    return x + std * noise.to(x.dtype)


# AR with the order chosen per sample --------------------------------------------------------------------------
def test_ar_auto_picks_the_order_of_exact_sums_of_exponentials():
    one = lines([0.3], [1.0], seed=1)
    two = lines([0.4, -1.1], [1.0, 0.8], seed=2)
    three = lines([0.4, -1.1, 2.0], [1.0, 0.8, 0.6], seed=3)
    seq = torch.stack([one, two, three, two]).to(torch.complex64)  # [S=4, M=4, 24]
    order = select_ar_order(seq[..., :12], 12, max_order=8)
    assert order.tolist() == [1, 2, 3, 2]
    pred = ar_extrapolate(seq[..., :12], 12, order).to(torch.complex128)  # per-group orders
    truth = seq[..., 12:].to(torch.complex128)
    assert float(((pred - truth).abs().square().sum((1, 2)) / truth.abs().square().sum((1, 2))).max()) < 1e-8
    # the same per-group orders through the predictor in the model layout, along time and along frequency
    csi = seq.permute(0, 2, 1)[..., None, None]  # [B, T=24, K=4, Nbs=1, Nue=1]: every subcarrier one sequence
    x = csi_to_input(csi.contiguous())
    given = x.clone()
    given[:, :, 12:] = 0
    out = ARPredictor(order="auto")(given, "time", 12)
    assert torch.equal(out[:, :, :12], x[:, :, :12])
    assert torch.allclose(out, x, atol=1e-4 * float(x.abs().max()))
    xf = x.transpose(2, 4).contiguous()  # the sequences along subcarriers
    given = xf.clone()
    given[..., 12:] = 0
    assert torch.allclose(ARPredictor(order="auto")(given, "frequency", 12), xf, atol=1e-4 * float(x.abs().max()))


def test_ar_auto_is_deterministic_and_skips_orders_without_equations():
    seq = noisy(lines([0.4, -1.1, 2.0], [1.0, 0.8, 0.6], m=1, seed=4), 20).to(torch.complex64)[None]  # [1, 1, 24]
    assert torch.equal(select_ar_order(seq[..., :12], 12), select_ar_order(seq[..., :12], 12))
    # n = 6 given, h = 2 held back: 4 left, one sequence -> p (4 - p) >= ... only p <= 2 has p equations
    assert int(select_ar_order(seq[..., :6], 12, max_order=8)) <= 2
    assert int(select_ar_order(seq[..., :2], 4)) == 1  # nothing to validate on: order 1
    with pytest.raises(ConfigError, match="order"):
        ARPredictor(order=0)
    with pytest.raises(ConfigError, match=r"shape \(2,\)"):
        ar_extrapolate(seq.expand(2, 1, 24), 4, torch.tensor([1, 2, 3]))


def test_ar_auto_beats_badly_chosen_fixed_orders_on_an_order_3_signal():
    seqs = torch.stack([lines([0.4, -1.1, 2.0], [1.0, 0.8, 0.6], m=8, seed=s) for s in range(16)])  # [16, 8, 24]
    given = noisy(seqs[..., :12], 30, seed=5).to(torch.complex64)
    truth = seqs[..., 12:]

    def err(order):
        pred = ar_extrapolate(given, 12, order).to(torch.complex128)
        return float(((pred - truth).abs().square().sum((1, 2)) / truth.abs().square().sum((1, 2))).mean())

    chosen = select_ar_order(given, 12)
    assert bool((chosen >= 3).all())  # never below the number of lines
    auto = err(chosen)
    assert auto < 0.1 * err(1) and auto < 0.1 * err(2)  # too low an order cannot follow three lines
    assert auto < 0.05  # about -13 dB or better at 30 dB SNR


# Wiener / LMMSE ----------------------------------------------------------------------------------------------
def ar1_csi(n, shape, coef, axis, seed=0):
    """Unit-power complex AR(1) sequences ``x[j] = coef x[j-1] + sqrt(1 - |coef|^2) w[j]`` along CSI ``axis``
    (1: time, 2: subcarrier), independent across the other entries: complex64 ``[n, *shape]``."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, *shape), np.complex128)
    out = np.moveaxis(out, axis, -1)
    w = (rng.standard_normal(out.shape) + 1j * rng.standard_normal(out.shape)) / math.sqrt(2)
    out[..., 0] = w[..., 0]
    for j in range(1, out.shape[-1]):
        out[..., j] = coef * out[..., j - 1] + math.sqrt(1 - abs(coef) ** 2) * w[..., j]
    return np.moveaxis(out, -1, axis).astype(np.complex64)


def ar1_mmse(coef, n_known, n_unknown, noise_var):
    """Mean MMSE per unknown entry of the clean continuation of a unit-power AR(1) from its noisy given part."""
    idx = np.arange(n_known + n_unknown)
    lag = idx[:, None] - idx[None, :]
    r = np.where(lag >= 0, coef ** np.abs(lag), np.conj(coef) ** np.abs(lag))  # E x_i x_j^*
    rxx = r[:n_known, :n_known] + noise_var * np.eye(n_known)
    ryx = r[n_known:, :n_known]
    return float(np.real(np.trace(r[n_known:, n_known:] - ryx @ np.linalg.solve(rxx, ryx.conj().T)))) / n_unknown


@pytest.mark.parametrize(
    ("name", "params", "axis"),
    [("time-prediction", {"history": 8, "horizon": 8}, 1), ("frequency-prediction", {"known": 8, "target": 8}, 2)],
)
def test_wiener_reaches_the_mmse_of_a_noisy_stationary_process(tmp_path, name, params, axis):
    coef, snr_db = 0.9 * np.exp(0.6j), 10.0
    url = write_csi(tmp_path / "ar1.zarr", ar1_csi(160, (16, 16, 4, 1), coef, axis), block_size=32)
    task = get(name, snr_db=snr_db, **params)
    result = run_baselines(task, url, batch_size=32)["baselines"]
    theory = ar1_mmse(coef, 8, 8, 10 ** (-snr_db / 10))  # 0.597 (-2.2 dB); unit power: NMSE ~ MMSE
    assert result["wiener"]["nmse"] == pytest.approx(theory, rel=0.06)
    assert result["wiener"]["nmse"] < 0.5 * result["zoh"]["nmse"]
    assert result["wiener"]["nmse"] < result["ar-auto"]["nmse"]  # the best linear predictor knows the statistics


@pytest.mark.parametrize(("name", "axis"), [("time-prediction", 1), ("frequency-prediction", 2)])
def test_wiener_is_exact_on_a_deterministic_linear_relation(tmp_path, name, axis):
    g = torch.Generator().manual_seed(3)
    w0 = torch.complex(*(torch.randn(2, 4, 6, generator=g, dtype=torch.float64)))
    given = torch.complex(*(torch.randn(2, 40, 6, 8, 2, generator=g, dtype=torch.float64)))
    csi = torch.cat([given, torch.einsum("uk,bkmn->bumn", w0, given)], dim=1)  # [40, 10, 8, 2]: entries 6..9 = W0 x
    csi = csi.movedim(1, axis)[..., None]  # the relation along time (axis 1) or along subcarriers (axis 2)
    url = write_csi(tmp_path / "lin.zarr", csi.numpy(), block_size=16)
    params = {"history": 6, "horizon": 4} if axis == 1 else {"known": 6, "target": 4}
    task = get(name, **params)
    baseline = task.baselines()["wiener"]
    assert baseline.needs_fit
    baseline.fit(task.view(url, split="train", batch_size=16))
    fit = baseline.wiener.fits[baseline.task]
    assert (fit.n_known, fit.length) == (6, 10) and fit.sequences > 0
    assert torch.allclose(fit.weights, w0, atol=1e-4)
    assert score(task.view(url, split="test", batch_size=16), baseline.predict)["nmse"] < 1e-10


def test_wiener_refuses_to_predict_unfitted_or_on_another_shape(tmp_path):
    x = torch.randn(2, 2, 16, 4, 8)
    with pytest.raises(ConfigError, match="not fitted for the time task.*fit_view") as info:
        WienerPredictor()(x, "time", 8)
    assert "\n" not in str(info.value)
    eye = torch.eye(8, dtype=torch.complex128)
    w = WienerPredictor().fit_moments("time", eye, eye)  # y = x: 8 given -> 8 predicted
    assert torch.allclose(w(x, "time", 8)[:, :, 8:], x[:, :, :8], atol=1e-5)
    with pytest.raises(ConfigError, match="fitted on 8 given of 16 entries, asked for 4 of 8") as info:
        w(x[:, :, :8], "time", 4)
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="not fitted for the frequency task"):
        w(x, "frequency", 4)
    url = write_csi(tmp_path / "c.zarr", torch.ones(8, 8, 4, 2, 1, dtype=torch.complex64).numpy())
    task = get("time-prediction", history=4, horizon=4)
    with pytest.raises(ConfigError, match="not fitted"):
        score(task.view(url), task.baselines()["wiener"].predict)
    with pytest.raises(ConfigError, match="time- or frequency-prediction view"):
        WienerPredictor().fit_view(get("compression", url, keep=4))


# through the task views ---------------------------------------------------------------------------------------
def multipath(n, t, k, nbs, paths=3, seed=0):
    """Complex CSI [n, T, K, Nbs, 1]: plane waves with random Doppler, delay and angle per sample."""
    rng = np.random.default_rng(seed)
    tt, kk, bb = np.arange(t)[:, None, None], np.arange(k)[None, :, None], np.arange(nbs)[None, None, :]
    out = np.zeros((n, t, k, nbs), np.complex128)
    for i in range(n):
        for _ in range(paths):
            gain = rng.standard_normal() + 1j * rng.standard_normal()
            nu, tau, theta = rng.uniform(-0.05, 0.05), rng.uniform(0, 0.05), rng.uniform(-1, 1)
            out[i] += gain * np.exp(2j * np.pi * (nu * tt - tau * kk) + 1j * np.pi * theta * bb)
    return out[..., None].astype(np.complex64)


def test_run_baselines_reports_ar_auto_and_wiener_on_a_time_prediction_view(tmp_path):
    url = write_csi(tmp_path / "mp.zarr", multipath(64, 16, 16, 4), block_size=16)
    task = get("time-prediction", history=8, horizon=8, snr_db=10)
    result = run_baselines(task, url, batch_size=32)["baselines"]
    assert set(result) == {"zoh", "ar", "ar-auto", "wiener"}
    assert len({r["samples"] for r in result.values()}) == 1
    assert result["wiener"]["nmse_db"] < result["zoh"]["nmse_db"] - 3
    assert result["ar-auto"]["nmse_db"] < result["zoh"]["nmse_db"]
    again = run_baselines(task, url, batch_size=8)["baselines"]  # batch size does not change the fit or the scores
    for name in result:
        assert again[name]["nmse"] == pytest.approx(result[name]["nmse"], rel=1e-4)


def test_fit_wiener_serves_both_tasks_of_the_evaluation(tmp_path):
    evaluate = pytest.importorskip("wirelessdata.models.evaluate")
    url = write_csi(tmp_path / "mp.zarr", multipath(48, 8, 16, 2, seed=1), block_size=16)
    train, test = shard_info(url, np.arange(32)), shard_info(url, np.arange(32, 48))
    tasks = [evaluate.prediction_task(t, train.shape, snr_db=20.0, seed=0) for t in ("time", "frequency")]
    wiener = fit_wiener(tasks, [train], batch_size=16)
    assert set(wiener.fits) == {"time", "frequency"}
    per_shard = {"mp": {"wiener": wiener}}  # a fitted predictor of this shard, called for both tasks
    result = evaluate.evaluate({"zoh": zoh_predict}, [test], per_shard=per_shard, snr_db=20.0)
    for t in ("time", "frequency"):
        scores = result["shards"]["mp"][t]
        assert scores["wiener"]["nmse"] < scores["zoh"]["nmse"]
    # the same pairs through AxisPredictor: what evaluate scored
    view = tasks[0].view([test], batch_size=16)
    assert score(view, AxisPredictor(wiener, "time").predict)["nmse"] == pytest.approx(
        result["shards"]["mp"]["time"]["wiener"]["nmse"], rel=1e-6
    )
