"""wirelessdata train under torchrun: 2 gloo processes follow the 1-process loss curve for the same global batch,
resume exactly (with the same or another number of processes), refuse a batch they do not divide, and a hung rank
is named by the others instead of hanging the run."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import generate_root, tiny_recipe
from wirelessdata.cli import app
from wirelessdata.errors import ConfigError
from wirelessdata.mix.loader import MixtureDataset
from wirelessdata.mix.manifest import load_manifest
from wirelessdata.mix.spec import build_manifest, parse_spec
from wirelessdata.models import TrainConfig, load_checkpoint
from wirelessdata.models.data import RankRows
from wirelessdata.models.train import train_on_manifest

pytestmark = pytest.mark.usefixtures("one_thread")
runner = CliRunner()
BATCH = 4  # global batch: the plan of the corpus below has batches of 4, 4, 4, 4, 4, 1, 4, 3 samples an epoch
STEPS = 10  # over an epoch's end (8 batches)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp") / "root"
    recipe = tiny_recipe(
        {"name": "uma", "scenario": "UMa", "tags": ["pretrain"]},
        {"name": "umi", "scenario": "UMi", "tags": ["pretrain"]},
    )
    generate_root(root, recipe)
    path = root / "m.json"
    build_manifest(parse_spec({"sources": [{"name": "pre", "where": ["tag=pretrain"]}]}), str(root)).save(path)
    return path


def _args(manifest, out, *extra):
    return ["train", "--manifest", str(manifest), "--out", str(out), "--batch-size", str(BATCH), "--model", "tiny",
            "--steps", str(STEPS), "--eval-every", "4", "--keep-every", "5", "--threads", "1", *extra]  # fmt: skip


def _torchrun(*args, env=None, timeout=120):
    """``python -m torch.distributed.run --standalone --nproc-per-node 2 ARGS``: the finished process."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)


def _same_run(a, b):
    """Two runs' loss curves and held-out checks agree to float rounding."""
    assert a.step == b.step and len(a.losses) == len(b.losses) == a.step
    np.testing.assert_allclose(a.losses, b.losses, rtol=1e-4)
    assert [v["step"] for v in a.validation] == [v["step"] for v in b.validation]
    np.testing.assert_allclose([v["loss"] for v in a.validation], [v["loss"] for v in b.validation], rtol=1e-4)


def test_ranks_read_their_rows_of_every_batch(manifest):
    m = load_manifest(manifest)
    whole = list(MixtureDataset(m, "train", batch_size=BATCH))
    parts = [list(RankRows(m, "train", BATCH, rank, 2)) for rank in (0, 1)]
    assert len(parts[0]) == len(parts[1]) == len(whole)
    for full, *mine in zip(whole, *parts, strict=True):
        n = full["csi"].shape[0]
        real = [b for b in mine if b["rows"][0] < b["rows"][1]]
        assert all(b["rows"][2] == n for b in mine) and len(real) == min(n, 2)
        ids = np.concatenate([b["sample_id"].numpy() for b in real])
        np.testing.assert_array_equal(ids, full["sample_id"].numpy())  # the rows, in batch order
        np.testing.assert_array_equal(np.concatenate([b["csi"].numpy() for b in real]), full["csi"].numpy())
        for b in mine:
            lo, hi, _ = b["rows"]
            assert b["csi"].shape[0] == max(hi - lo, 1)  # a rank without rows of a 1-sample batch: one stand-in


def test_a_batch_the_processes_do_not_divide_is_refused(manifest, tmp_path, monkeypatch):
    for name, value in {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=r"batch size 5 is not divisible by the 2 processes .*multiple of 2"):
        train_on_manifest(manifest, TrainConfig(model="tiny", steps=2, warmup_steps=1), tmp_path, batch_size=5)
    assert not tmp_path.joinpath("checkpoint.pt").exists()


@pytest.mark.slow
def test_two_processes_follow_the_one_process_curve_and_resume(manifest, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    res = runner.invoke(app, _args(manifest, one))
    assert res.exit_code == 0, res.output
    done = _torchrun("-m", "wirelessdata.cli", *_args(manifest, two))
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("trained 10 steps") == 1  # rank 0 alone prints
    reference, ddp = load_checkpoint(one), load_checkpoint(two)
    assert len(reference.validation) == 3  # steps 4, 8, 10: rank 0 checks
    _same_run(reference, ddp)
    card = json.loads((two / "model_card.json").read_text())
    assert card["training"]["last_session"]["processes"] == 2
    assert (
        card["training"]["last_session"]["samples"]
        == json.loads((one / "model_card.json").read_text())["training"]["last_session"]["samples"]
    )  # the global batches: every sample once

    # resume the 2-process run's step-5 checkpoint with 2 processes, and with 1
    for name in ("again", "alone"):
        shutil.copytree(two / "snapshots" / "step-000005", tmp_path / name)
    done = _torchrun("-m", "wirelessdata.cli", *_args(manifest, tmp_path / "again", "--resume"))
    assert done.returncode == 0, done.stderr[-3000:]
    res = runner.invoke(app, _args(manifest, tmp_path / "alone", "--resume"))
    assert res.exit_code == 0, res.output
    for name in ("again", "alone"):
        _same_run(reference, load_checkpoint(tmp_path / name))


WORKER = """
import os, sys, time
from pathlib import Path
from wirelessdata.mix.manifest import load_manifest
from wirelessdata.models.config import TrainConfig
from wirelessdata.models.data import RankRows, training_stream
from wirelessdata.models.train import train

rank = int(os.environ["RANK"])
stream = training_stream(RankRows(load_manifest(sys.argv[1]), "train", 4, rank, int(os.environ["WORLD_SIZE"])))

def batches(start):
    for step, batch in enumerate(stream(start), start + 1):
        if rank == 1 and step == 3:
            time.sleep(100)  # rank 1 hangs reading the batch of step 3
        yield batch

train(batches, TrainConfig(model="tiny", steps=6, warmup_steps=1), Path(sys.argv[2]), checkpoint_every=1)
"""


@pytest.mark.slow
def test_a_hung_rank_is_named_by_the_others_after_the_timeout(manifest, tmp_path):
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER)
    done = _torchrun(str(worker), str(manifest), str(tmp_path / "run"), env={"WIRELESSDATA_DDP_TIMEOUT": "4"})
    assert done.returncode != 0
    assert "rank 0 of 2 lost contact with the other ranks at step 3" in done.stderr, done.stderr[-3000:]
    assert "behind it: rank 1 (at step 2)" in done.stderr
    assert load_checkpoint(tmp_path / "run").step == 2  # rank 0's last checkpoint is kept
