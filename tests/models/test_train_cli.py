"""wirelessdata train / evaluate end to end on a tiny generated corpus and its manifest."""

import json

import pytest
from typer.testing import CliRunner

from conftest import generate_root, tiny_recipe
from wirelessdata.cli import app
from wirelessdata.errors import WirelessDataError
from wirelessdata.mix.spec import build_manifest, parse_spec
from wirelessdata.models import load_checkpoint

runner = CliRunner()


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    root = tmp_path_factory.mktemp("train") / "root"
    recipe = tiny_recipe(
        {"name": "uma", "scenario": "UMa", "tags": ["pretrain"]},
        {"name": "umi", "scenario": "UMi", "tags": ["zero-shot"]},
    )
    generate_root(root, recipe)
    spec = {
        "sources": [{"name": "pre", "where": ["tag=pretrain"]}],
        "holdout": [{"name": "zero-shot", "where": ["tag=zero-shot"]}],
    }
    path = root / "m.json"
    build_manifest(parse_spec(spec), str(root)).save(path)
    return path


def test_train_resume_and_evaluate(manifest, tmp_path):
    run = tmp_path / "run"
    common = ["--manifest", str(manifest), "--out", str(run), "--batch-size", "4", "--threads", "1"]
    res = runner.invoke(app, ["train", *common, "--steps", "3", "--keep-every", "2"])
    assert res.exit_code == 0, res.output
    assert load_checkpoint(run).step == 3
    assert load_checkpoint(run / "snapshots" / "step-000002").step == 2
    again = runner.invoke(app, ["train", *common, "--steps", "3"])
    assert again.exit_code != 0  # an existing run needs --resume
    res = runner.invoke(app, ["train", *common, "--steps", "5", "--resume"])
    assert res.exit_code != 0  # a different config (steps) is refused on resume
    res = runner.invoke(app, ["train", *common, "--steps", "3", "--resume"])
    assert res.exit_code == 0, res.output
    out = runner.invoke(
        app,
        [
            "evaluate",
            str(run),
            "--manifest",
            str(manifest),
            "--full-shot",
            "--few-shot",
            "4",
            "--tune-steps",
            "3",
            "--batch-size",
            "4",
            "--threads",
            "1",
            "--json",
            "-o",
            str(tmp_path / "f.png"),
        ],
    )
    assert out.exit_code == 0, out.output
    metrics = json.loads(out.output)
    shard = metrics["shards"]["umi-sub6"]
    assert 0 < shard["samples"] < 16
    for task in ("time", "frequency"):
        assert set(shard[task]) == {"wifo", "zoh", "ar", "ar-auto", "wiener", "few-shot-4", "full-shot"}
        assert all(v["nmse"] > 0 for v in shard[task].values())
        definition = metrics["definitions"]["umi-sub6"][task]  # read through the task views
        assert definition["task"] == f"{task}-prediction" and definition["impairments"]["snr_db"] == 20.0
        assert definition["source"]["samples"] == shard["samples"]
        assert len(definition["source"]["shards"][0]["checksum"]) == 64  # the shard checksum (sha256 hex)
    losses = metrics["reconstruction"]["umi-sub6"]
    assert set(losses) == {"random", "temporal", "frequency"}
    assert all(v["model"] > 0 and 0 < v["zeros"] < 1 for v in losses.values())
    assert (tmp_path / "f.png").stat().st_size > 1000
    card = json.loads((run / "model_card.json").read_text())
    assert card["metrics"]["evaluation"]["shards"]["umi-sub6"]["samples"] == shard["samples"]


def test_finetune_command_and_its_bad_input(manifest, tmp_path):
    run = tmp_path / "run"
    common = ["--batch-size", "4", "--threads", "1"]
    res = runner.invoke(app, ["train", "--manifest", str(manifest), "--out", str(run), "--steps", "2", *common])
    assert res.exit_code == 0, res.output
    args = ["finetune", str(run), "--manifest", str(manifest), "--shard", "umi-sub6", *common, "--steps", "4"]
    res = runner.invoke(app, [*args, "--samples", "4", "--out", str(tmp_path / "ft")])
    assert res.exit_code == 0, res.output
    assert "fine-tuned on" in res.output and "temporal mask on the" in res.output
    ckpt = (tmp_path / "ft" / "checkpoint.pt").read_bytes()
    pre = (run / "checkpoint.pt").read_bytes()
    for extra, message in [
        (["--samples", "4", "--out", str(tmp_path / "ft")], "already holds a model"),
        (["--samples", "400", "--out", str(tmp_path / "big")], "larger than the training split"),
        (["--samples", "4", "--out", str(run)], "is the pretrained run itself"),
        (["--samples", "4", "--out", str(tmp_path / "x"), "--shard", "nope"], "no shard 'nope'"),
    ]:
        res = runner.invoke(app, [*args, *extra])  # the console entry point turns the exception into one line
        assert isinstance(res.exception, WirelessDataError) and message in str(res.exception), res.output
    assert (tmp_path / "ft" / "checkpoint.pt").read_bytes() == ckpt and (run / "checkpoint.pt").read_bytes() == pre
    assert not (tmp_path / "big").exists()
