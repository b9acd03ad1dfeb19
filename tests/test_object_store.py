"""Dataset roots in an object store: every command on ``s3://`` against a local S3 server (moto, started by the
tests), the catalog that follows the root (conditional writes, a second machine sees it), and bad input."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import s3fs
from typer.testing import CliRunner

from conftest import write_synthetic
from wirelessdata.catalog import home, ls, register_shard
from wirelessdata.catalog.db import CATALOG_FILE
from wirelessdata.catalog.home import _fetch, _put
from wirelessdata.cli import app
from wirelessdata.errors import StoreError, WirelessDataError
from wirelessdata.mix.loader import MixtureDataset
from wirelessdata.mix.manifest import load_manifest

SMALL = ["--samples", "8", "--block-size", "4", "--time-steps", "8", "--subcarriers", "16", "--bs-array", "2x2"]
SPEC = """
seed = 0
val_fraction = 0.25

[[sources]]
name = "all"
where = ["status=complete"]
"""


def run(*args: str):
    res = CliRunner().invoke(app, list(args))
    return res


def objects(root: str) -> list[str]:
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    return sorted(p.rsplit("/", 1)[-1] for p in fs.ls(root.removeprefix("s3://")))


def test_the_pipeline_runs_on_an_s3_root(s3_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may land in a local folder named "s3:"
    res = run("generate", "--bands", "sub6,28GHz", *SMALL, "--out", s3_root)
    assert res.exit_code == 0, res.output
    assert objects(s3_root) == [CATALOG_FILE, "tr38901-uma-28GHz.zarr", "tr38901-uma-sub6.zarr"]
    res = run("validate", s3_root)
    assert res.exit_code == 0 and res.output.count("PASS") == 2, res.output
    rows = ls(s3_root)
    assert [r["path"] for r in rows] == [f"{s3_root}/tr38901-uma-28GHz.zarr", f"{s3_root}/tr38901-uma-sub6.zarr"]
    assert all(r["status"] == "complete" and r["bytes"] > 10_000 for r in rows)
    # a second machine (another cache) pointed at the URL sees the same catalog
    monkeypatch.setenv("WIRELESSDATA_CACHE", str(tmp_path / "other-machine"))
    assert [r["checksum"] for r in ls(s3_root)] == [r["checksum"] for r in rows]
    res = run("catalog", "rebuild", s3_root)
    assert res.exit_code == 0 and "unchanged │     2" in res.output, res.output
    assert run("catalog", "stats", s3_root, "--by", "band").exit_code == 0
    res = run("catalog", "plot", s3_root, "-m", "delay_spread", "-o", str(tmp_path / "ds.png"))
    assert res.exit_code == 0 and (tmp_path / "ds.png").stat().st_size > 5_000, res.output
    res = run("catalog", "show", f"{s3_root}/tr38901-uma-sub6.zarr")
    assert res.exit_code == 0 and "tr38901-uma-sub6.zarr" in res.output, res.output

    (tmp_path / "spec.toml").write_text(SPEC)
    manifest = f"{s3_root}/manifest.json"
    res = run("mix", "build", str(tmp_path / "spec.toml"), "--root", s3_root, "--out", manifest)
    assert res.exit_code == 0, res.output
    assert run("mix", "show", manifest).exit_code == 0
    res = run("mix", "check", manifest)
    assert res.exit_code == 0 and "2 shards unchanged" in res.output, res.output
    loaded = load_manifest(manifest)
    batches = list(MixtureDataset(loaded, "train", batch_size=4))
    assert sum(len(b["sample_id"]) for b in batches) == sum(s.per_epoch for s in loaded.splits["train"])
    assert np.isfinite(np.asarray(batches[0]["csi"])).all()
    run_dir = tmp_path / "run"
    res = run("train", "--manifest", manifest, "--out", str(run_dir), "--steps", "2", "--batch-size", "4")
    assert res.exit_code == 0 and (run_dir / "checkpoint.pt").is_file(), res.output
    assert json.loads((run_dir / "model_card.json").read_text())["data"]["manifest"] == manifest

    assert run("curate", "run", s3_root).exit_code == 0
    res = run("export", "numpy", f"{s3_root}/tr38901-uma-sub6.zarr", "--out", str(tmp_path / "wifo"))
    assert res.exit_code == 0 and any((tmp_path / "wifo").iterdir()), res.output
    res = run("card", s3_root)
    assert res.exit_code == 0, res.output
    assert {"README.md", "croissant.json"} <= set(objects(s3_root))
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    card = json.loads(fs.cat(f"{s3_root.removeprefix('s3://')}/croissant.json"))
    assert {d["contentUrl"] for d in card["distribution"] if "contentUrl" in d} == {
        "tr38901-uma-28GHz.zarr/zarr.json",
        "tr38901-uma-sub6.zarr/zarr.json",
    }
    assert not (tmp_path / "s3:").exists()


def test_concurrent_writers_lose_no_catalog_row(s3_root, monkeypatch):
    """Four writers read the same catalog version, then write: the store refuses all but one (If-Match), and the
    others replay their change on the newer catalog."""
    urls = [f"{s3_root}/s{i}.zarr" for i in range(4)]
    for i, url in enumerate(urls):
        write_synthetic(url, num_samples=8, block_size=4, seed=i)
    errors: list[BaseException] = []
    barrier, refused, first = threading.Barrier(len(urls)), [], threading.local()

    def fetch_together(root):
        result = _fetch(root)
        if not getattr(first, "done", False):  # each writer's first read: all hold the same version
            first.done = True
            barrier.wait(timeout=30)
        return result

    def put_and_count(root, work, etag):
        written = _put(root, work, etag)
        if written is None:
            refused.append(etag)
        return written

    monkeypatch.setattr(home, "_fetch", fetch_together)
    monkeypatch.setattr(home, "_put", put_and_count)
    # the threads stand in for writer processes, each of which changes its catalog one change at a time
    monkeypatch.setattr(home, "_CHANGING", contextlib.nullcontext())

    def register(url: str) -> None:
        try:
            register_shard(s3_root, url)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(u,)) for u in urls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    monkeypatch.undo()
    assert not errors
    assert len(refused) >= len(urls) - 1  # the conflicts happened, and were replayed
    assert [r["path"] for r in ls(s3_root)] == urls
    etag, cache = _fetch(s3_root)
    assert _put(s3_root, cache, '"0123456789abcdef0123456789abcdef"') is None  # a stale ETag is refused


def test_bad_object_store_input_is_one_line(s3_root, s3_server, monkeypatch, tmp_path):
    bucket = s3_root.removeprefix("s3://").split("/")[0]
    res = run("generate", "--bands", "sub6", *SMALL, "--out", f"s3://{bucket}-missing/corpus")
    assert isinstance(res.exception, StoreError)
    assert "the bucket does not exist; create it or fix the URL" in str(res.exception)
    for command in (["catalog", "ls"], ["card"]):
        res = run(*command, f"s3://{bucket}-missing/corpus")
        assert isinstance(res.exception, WirelessDataError) and "nothing there" in str(res.exception), res.output
    res = run("validate", f"s3://{bucket}-missing/corpus")
    assert res.exit_code != 0 and "does not exist" in res.output
    # in a fresh process, as a user meets them (fsspec keeps one client per process)
    no_credentials = {k: v for k, v in os.environ.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    no_credentials.update(
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    server_down = {**os.environ, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"}
    exe = Path(sys.executable).parent / "wirelessdata"
    for env, message in ((no_credentials, "no credentials; set AWS_ACCESS_KEY_ID"), (server_down, "cannot reach")):
        res = subprocess.run(
            [str(exe), "generate", "--bands", "sub6", *SMALL, "--out", f"{s3_root}/x"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert res.returncode != 0 and message in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert not Path("s3:").exists()


def test_a_server_that_goes_away_mid_write_loses_nothing_and_a_rerun_resumes(s3_server, tmp_path, monkeypatch):
    """The store stops after two blocks: the write fails in one line naming the blocks, the committed blocks stay,
    and the same command rerun against the store (back up) resumes and gives the bytes of an uninterrupted run."""
    import socket

    from moto.server import ThreadedMotoServer

    from conftest import SMALL_OVERRIDES
    from wirelessdata.generate.plan import DropSetPlan
    from wirelessdata.generate.recipe import drop_sets
    from wirelessdata.generate.run import run_plan

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    s3fs.S3FileSystem.clear_instance_cache()
    try:
        s3fs.S3FileSystem().mkdir("flaky")
        (drops,) = drop_sets({}, SMALL_OVERRIDES)
        clean = run_plan(DropSetPlan(drops, str(tmp_path / "local")))
        done: list[int] = []

        def stop_after_two(plan, block):
            done.append(block)
            if len(done) == 2:
                server.stop()

        with pytest.raises(WirelessDataError) as failed:
            run_plan(DropSetPlan(drops, "s3://flaky/root"), on_block=stop_after_two)
        assert "\n" not in str(failed.value) and "rerun" in str(failed.value)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()  # the same in-process store, back up
        s3fs.S3FileSystem.clear_instance_cache()
        resumed = run_plan(DropSetPlan(drops, "s3://flaky/root"))
        assert all(r.blocks_skipped >= 2 for r in resumed)
        assert [r.checksum for r in resumed] == [r.checksum for r in clean]
    finally:
        server.stop()
        s3fs.S3FileSystem.clear_instance_cache()


def test_a_memory_root_works_like_any_other_url(tmp_path, monkeypatch):
    """fsspec's in-memory store (no conditional writes: the catalog is written last-writer-wins): shards found by
    listing are spelt as the root was given, so the catalog's rows stay the same through a rebuild."""
    monkeypatch.setenv("WIRELESSDATA_CACHE", str(tmp_path / "cache"))
    root = f"memory://wd-{tmp_path.name}/corpus"
    assert run("generate", "--bands", "sub6,28GHz", *SMALL, "--out", root).exit_code == 0
    res = run("validate", root)
    assert res.exit_code == 0 and res.output.count("PASS") == 2, res.output
    res = run("catalog", "rebuild", root)
    assert res.exit_code == 0 and "unchanged │     2" in res.output, res.output
    assert [r["path"] for r in ls(root)] == [f"{root}/tr38901-uma-28GHz.zarr", f"{root}/tr38901-uma-sub6.zarr"]
    assert run("catalog", "show", f"{root}/tr38901-uma-sub6.zarr").exit_code == 0
    res = run("card", root)
    assert res.exit_code == 0 and f"{root}/README.md" in res.output, res.output


def test_a_store_without_conditional_writes_refuses_a_second_catalog_writer(tmp_path, monkeypatch):
    """memory:// (like gs:// here) takes the writer lock ROOT/catalog.sqlite.lock: a writer that finds it is refused
    in one line naming the lock's holder, and nothing is written; once the lock is gone the write goes through."""
    import fsspec

    monkeypatch.setenv("WIRELESSDATA_CACHE", str(tmp_path / "cache"))
    root = f"memory://wd-lock-{tmp_path.name}/corpus"
    url = f"{root}/a.zarr"
    write_synthetic(url, num_samples=8, block_size=4)
    fs = fsspec.filesystem("memory")
    lock = f"/wd-lock-{tmp_path.name}/corpus/{CATALOG_FILE}.lock"
    fs.pipe_file(lock, b"PID 1 on elsewhere since 2026-12-04T10:00:00")
    with pytest.raises(WirelessDataError, match="being written by PID 1 on elsewhere") as refused:
        register_shard(root, url)
    assert "\n" not in str(refused.value) and not fs.exists(f"/wd-lock-{tmp_path.name}/corpus/{CATALOG_FILE}")
    fs.rm_file(lock)
    register_shard(root, url)
    assert [r["path"] for r in ls(root)] == [url] and not fs.exists(lock)
