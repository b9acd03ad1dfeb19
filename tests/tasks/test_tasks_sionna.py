"""Task views and baselines on tiny real TR 38.901 (Sionna) paired shards: the physics trends (slow: the generator)."""

import json

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from wirelessdata.cli import app
from wirelessdata.tasks import get, run_baselines, score

pytestmark = pytest.mark.slow  # the generator: about 30 s

SMALL = ["--samples", "160", "--block-size", "32", "--time-steps", "8", "--subcarriers", "48", "--bs-array", "4x4"]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    out = tmp_path_factory.mktemp("sionna")
    res = CliRunner().invoke(app, ["generate", "--out", str(out), "--bands", "sub6,28GHz", *SMALL])
    assert res.exit_code == 0, res.output
    return out


def nmse_db(name, source, baseline, **settings):
    task = get(name, **settings)
    return score(task.view(source, batch_size=16), task.baselines()[baseline].predict)["nmse_db"]


def test_estimation_on_real_channels(root):
    sub6 = str(root / "tr38901-uma-sub6.zarr")
    assert nmse_db("channel-estimation", sub6, "ls-linear", pilots="1x1") < -100  # noiseless, pilots everywhere
    by_snr = [nmse_db("channel-estimation", sub6, "ls-linear", pilots="1x2", snr_db=s) for s in (0, 10, 20)]
    assert by_snr[0] > by_snr[1] > by_snr[2]
    by_density = [nmse_db("channel-estimation", sub6, "ls-linear", pilots=p, snr_db=20) for p in ("4x12", "2x6", "1x2")]
    assert by_density[0] > by_density[1] > by_density[2]


def test_beam_targets_are_the_28ghz_labels(root):
    ds = xr.open_zarr(root / "tr38901-uma-28GHz.zarr")
    position = {int(s): i for i, s in enumerate(ds.sample_id.values)}
    view = get("beam-prediction", str(root), batch_size=16, snr_db=10)
    seen = 0
    for _, y, meta in view.batches():
        expected = ds.best_beam.values[[position[int(s)] for s in meta.sample_id]]
        np.testing.assert_array_equal(y.numpy(), expected)
        seen += len(y)
    assert seen == 160


def test_localisation_knn_beats_the_mean_position(root):
    result = run_baselines(get("localisation"), str(root))
    train = get("localisation", str(root), split="train")
    mean = np.concatenate([y.numpy() for _, y in train]).mean(0)
    test = np.concatenate([y.numpy() for _, y in get("localisation", str(root), split="test")])
    assert result["baselines"]["knn"]["mae_m"] < np.linalg.norm(test - mean, axis=1).mean()


def test_probe_command_scores_frozen_heads_against_a_random_encoder(root, tmp_path):
    import torch

    from wirelessdata.models import TrainConfig, train
    from wirelessdata.shard.read import ShardReader

    csi = ShardReader(str(root / "tr38901-uma-sub6.zarr"), ("csi",)).read(np.arange(16))["csi"]
    run = tmp_path / "run"
    batches = [{"csi": torch.from_numpy(np.ascontiguousarray(csi)), "sample_id": torch.arange(16), "shard": "s"}]
    train(batches, TrainConfig(model="tiny", steps=1, warmup_steps=1), run)
    args = ["probe", str(run), str(root), "--steps", "20", "--label-fraction", "0.5", "--seeds", "2", "--json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert set(report) == {"los-classification", "localisation", "beam-prediction"}
    for name, metric in (("los-classification", "f1"), ("localisation", "mae_m"), ("beam-prediction", "top1")):
        results = report[name]["results"]
        assert {"wifo-frozen", "random-frozen"} <= set(results) and len(results) == 3  # + the classical baseline
        assert all(np.isfinite(r[metric]["mean"]) and r["samples"] > 0 for r in results.values())
        assert len(results["wifo-frozen"][metric]["values"]) == 2 and report[name]["seeds"] == [0, 1]
        assert min(report[name]["labelled"]) > 0
    card = json.loads((run / "model_card.json").read_text())
    assert "frozen_encoder_heads" in card["metrics"]
    bad = CliRunner().invoke(app, ["probe", str(run), str(root), "--tasks", "compression"])
    assert "no frozen-encoder head for task 'compression'" in str(bad.exception)  # main() prints it as one line
