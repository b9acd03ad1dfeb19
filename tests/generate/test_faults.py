"""Faults on the way to the shards: disk full, permission denied, a block that always fails, a worker killed.

Faults are injected where they happen for real: the writer of the chunk files (the CSI is written straight to
them) raises the ``OSError`` of a full or read-only disk, or the generator raises for one block. On Dask the same
patches are installed inside the worker processes by a worker plugin (re-installed in a worker that its nanny
restarts).
"""

import errno
import importlib.metadata
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import zarr
from distributed import WorkerPlugin

from conftest import SMALL_OVERRIDES, chunk_file
from wirelessdata.cli import main
from wirelessdata.errors import StoreError, WirelessDataError
from wirelessdata.generate import run
from wirelessdata.generate.plan import DropSetPlan
from wirelessdata.generate.recipe import drop_sets
from wirelessdata.generate.run import TASK_RETRIES, executor, run_plan
from wirelessdata.shard import chunks
from wirelessdata.shard.stats import shard_stats
from wirelessdata.shard.store import open_group
from wirelessdata.source.writer import BlockError

SMALL_ARGS = ["--samples", "12", "--block-size", "4", "--time-steps", "4", "--subcarriers", "16", "--bs-array", "2x2"]
"""The CLI flags of SMALL_OVERRIDES (sub6 + 28GHz is the default)."""


def full_disk_write(code: int, first_chunk: int):
    """The chunk-file writer (``chunks.write_partial``: ``os.open`` and ``os.write`` of a chunk's temporary file)
    raising ``OSError(code)`` for ``csi`` chunks from ``first_chunk`` on (the disk is full from there, or the
    directory not writable)."""
    original = chunks.write_partial

    def write(path, data, direct=False):
        folder, name = os.path.split(path)
        if os.path.basename(folder) == "csi" and name.startswith("c.") and int(name.split(".")[1]) >= first_chunk:
            raise OSError(code, os.strerror(code), f"{path}.partial")
        return original(path, data, direct)

    return write


def logged_generate(log: str, fail: int | None = None):
    """``DropSetPlan.generate`` that appends ``"<pid> <block>"`` to ``log`` at every attempt and raises for ``fail``."""
    original = DropSetPlan.generate

    def generate(plan, block):
        with open(log, "a") as f:
            f.write(f"{os.getpid()} {block}\n")
        if block == fail:
            raise RuntimeError("injected fault")
        return original(plan, block)

    return generate


def dying_generate(block: int):
    """``DropSetPlan.generate`` that kills its own process (as the OOM killer would) when it reaches ``block``."""
    original = DropSetPlan.generate

    def generate(plan, b):
        if b == block:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(plan, b)

    return generate


def attempts(log) -> list[tuple[int, int]]:
    """(pid, block) of every generate attempt logged by :func:`logged_generate`."""
    return [tuple(map(int, line.split())) for line in log.read_text().splitlines()] if log.exists() else []


_real_version = importlib.metadata.version


def old_wirelessdata(name: str) -> str:
    """``importlib.metadata.version`` of a worker with another wirelessdata installed."""
    return "0.0.1" if name == "wirelessdata" else _real_version(name)


class Patch(WorkerPlugin):
    """Sets ``owner.name = value`` in every worker process (also one restarted later); undone when unregistered."""

    def __init__(self, owner, name, value):
        self.owner, self.name, self.value = owner, name, value

    def setup(self, worker):
        self.original = getattr(self.owner, self.name)
        setattr(self.owner, self.name, self.value)

    def teardown(self, worker):
        setattr(self.owner, self.name, self.original)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Checksums of a clean serial run of SMALL_OVERRIDES."""
    (drops,) = drop_sets({}, SMALL_OVERRIDES)
    return [r.checksum for r in run_plan(DropSetPlan(drops, str(tmp_path_factory.mktemp("ref"))))]


def cli(capsys, monkeypatch, out, *args):
    """Run ``wirelessdata generate`` through the console entry point; return (exit code, error lines)."""
    monkeypatch.setattr(sys, "argv", ["wirelessdata", "generate", "--out", str(out), *SMALL_ARGS, *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return exit_.value.code, [line for line in err.splitlines() if line.strip()]


def done_blocks(shard) -> list[int]:
    """Blocks marked done in ``shard`` (none while it is being created)."""
    try:
        marks = zarr.open_array(str(shard / "block_checksum"), mode="r")[:]
    except FileNotFoundError:
        return []
    return [int(b) for b in np.flatnonzero(marks)]


@pytest.mark.parametrize(
    ("code", "reason", "fix"),
    [
        (errno.ENOSPC, "No space left on device", "free space there"),
        (errno.EACCES, "Permission denied", "make it writable"),
    ],
)
def test_disk_full_or_permission_denied_is_one_line_and_a_rerun_resumes(
    tmp_path, capsys, monkeypatch, reference, code, reason, fix
):
    out = tmp_path / "out"
    with monkeypatch.context() as m:
        m.setattr(chunks, "write_partial", full_disk_write(code, first_chunk=1))
        status, lines = cli(capsys, monkeypatch, out)
    sub6 = out / "tr38901-uma-sub6.zarr"
    assert status == 2
    assert lines == [
        f"error: {sub6}: cannot write block 1 ({reason}); {fix} or choose another --out, "
        "then rerun the same command to resume (finished blocks are kept)"
    ]
    assert zarr.open_array(str(sub6 / "csi"), mode="r").chunks[0] == 4  # chunk index == block index here
    assert done_blocks(sub6) == [0]
    (drops,) = drop_sets({}, SMALL_OVERRIDES)
    resumed = run_plan(DropSetPlan(drops, str(out)))
    assert [r.blocks_skipped for r in resumed] == [1, 1]
    assert [r.checksum for r in resumed] == reference


def test_output_directory_that_cannot_be_written_fails_before_any_block(tmp_path, capsys, monkeypatch):
    real_open = os.open

    def denied(path, *args, **kwargs):  # as for a directory without write permission (tests may run as root)
        if str(path).endswith(".lock"):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_open(path, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(os, "open", denied)
        status, lines = cli(capsys, monkeypatch, tmp_path / "ro")
    assert status == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: {tmp_path}/ro/tr38901-uma-sub6.zarr: cannot create its lock file")
    assert "(Permission denied); make it writable or choose another --out" in lines[0]
    assert not list((tmp_path / "ro").glob("*.zarr"))
    (tmp_path / "file").write_text("not a directory")  # a real failure of the same path
    with monkeypatch.context() as m:
        m.setattr(run, "local_client", lambda *a: pytest.fail("a cluster was started for an unwritable --out"))
        status, lines = cli(capsys, monkeypatch, tmp_path / "file" / "out", "--workers", "2")
    assert lines == [
        f"error: {tmp_path}/file/out: cannot write into it (Not a directory); check the storage or choose another "
        "--out, then rerun the same command to resume (finished blocks are kept)"
    ]
    assert status == 2


def test_block_that_always_fails_is_named_and_the_other_blocks_are_kept(tmp_path, monkeypatch, reference):
    (drops,) = drop_sets({}, SMALL_OVERRIDES)
    plan = DropSetPlan(drops, str(tmp_path))
    with monkeypatch.context() as m:
        m.setattr(DropSetPlan, "generate", logged_generate(str(tmp_path / "attempts"), fail=1))
        with pytest.raises(BlockError) as err:
            run_plan(plan)
    sub6, mmw = plan.shards["sub6"].url, plan.shards["28GHz"].url
    assert str(err.value) == (
        f"block 1 of {sub6}, {mmw} failed once (RuntimeError: injected fault); the other blocks are written, "
        "fix the cause and rerun the same command to resume"
    )
    assert done_blocks(tmp_path / "tr38901-uma-sub6.zarr") == [0, 2]
    resumed = run_plan(plan)
    assert [r.blocks_written for r in resumed] == [1, 1]
    assert [r.checksum for r in resumed] == reference


@pytest.mark.slow
def test_dask_retries_a_failing_block_then_names_it_and_stops_on_a_full_disk(tmp_path, reference):
    (drops,) = drop_sets({}, SMALL_OVERRIDES)
    log = tmp_path / "attempts"
    with executor(workers=2) as client:
        assert client is not None
        client.register_plugin(Patch(DropSetPlan, "generate", logged_generate(str(log), fail=1)), name="fail")
        plan = DropSetPlan(drops, str(tmp_path / "a"))
        with pytest.raises(BlockError, match=r"^block 1 of .*sub6.zarr, .*28GHz.zarr failed 3 times \(RuntimeError: "):
            run_plan(plan, client=client)
        assert [b for _, b in attempts(log)].count(1) == TASK_RETRIES + 1  # every attempt ran, in the workers
        assert done_blocks(tmp_path / "a" / "tr38901-uma-sub6.zarr") == [0, 2]
        client.unregister_worker_plugin("fail")
        assert [r.blocks_written for r in run_plan(plan, client=client)] == [1, 1]

        client.register_plugin(Patch(chunks, "write_partial", full_disk_write(errno.ENOSPC, 1)), name="full")
        plan = DropSetPlan(drops, str(tmp_path / "b"))
        with pytest.raises(StoreError, match=r"sub6.zarr: cannot write block [12] \(No space left on device\); free"):
            run_plan(plan, client=client)
        client.unregister_worker_plugin("full")
        resumed = run_plan(plan, client=client)

        with executor(scheduler=client.scheduler.address) as same:  # an existing cluster: versions are checked
            assert same is not None
        client.register_plugin(Patch(importlib.metadata, "version", old_wirelessdata), name="old")
        mismatch = rf"^worker tcp://127.0.0.1:\d+: wirelessdata 0.0.1, {_real_version('wirelessdata')} here; install"
        with pytest.raises(WirelessDataError, match=mismatch), executor(scheduler=client.scheduler.address):
            pass
    assert resumed[0].blocks_skipped >= 1
    assert [r.checksum for r in resumed] == reference


@pytest.mark.slow
def test_worker_process_killed_mid_run_still_gives_identical_bytes(tmp_path):
    (drops,) = drop_sets({}, {**SMALL_OVERRIDES, "samples": 48})  # 12 blocks
    serial = run_plan(DropSetPlan(drops, str(tmp_path / "serial")))
    shard = tmp_path / "dask" / "tr38901-uma-sub6.zarr"
    log = tmp_path / "attempts"
    with executor(workers=2) as client, ThreadPoolExecutor(1) as driver:
        assert client is not None
        client.register_plugin(Patch(DropSetPlan, "generate", logged_generate(str(log))), name="log")
        pids = set(client.run(os.getpid).values())
        run = driver.submit(run_plan, DropSetPlan(drops, str(tmp_path / "dask")), client=client)
        victim, at_kill = None, 0
        deadline = time.time() + 300
        while victim is None and time.time() < deadline and not run.done():
            done = set(done_blocks(shard))
            running = [(pid, b) for pid, b in attempts(log) if b not in done and pid in pids]
            if len(done) >= 2 and running:
                victim, at_kill = running[-1], len(done)
                os.kill(victim[0], signal.SIGKILL)  # the worker dies while it generates or writes this block
            time.sleep(0.02)
        results = run.result(timeout=300)
        assert victim is not None and 2 <= at_kill < 12, "the worker should die mid-run"
        assert [b for _, b in attempts(log)].count(victim[1]) >= 2  # its block was run again
        client.wait_for_workers(2, timeout=120)  # the nanny started a new worker process
        assert victim[0] not in client.run(os.getpid).values()

        # a block that kills every worker running it is given up after TASK_RETRIES + 1 deaths, by name
        client.unregister_worker_plugin("log")
        client.register_plugin(Patch(DropSetPlan, "generate", dying_generate(0)), name="die")
        (small,) = drop_sets({}, SMALL_OVERRIDES)
        with pytest.raises(BlockError, match=r"^block 0 of .*sub6.zarr, .*28GHz.zarr failed 3 times \(KilledWorker: "):
            run_plan(DropSetPlan(small, str(tmp_path / "dies")), client=client)
        client.unregister_worker_plugin("die")
    assert [r.blocks_written for r in results] == [12, 12]
    assert [r.checksum for r in results] == [r.checksum for r in serial]
    assert all(r.report.ok for r in results)


def test_new_shards_are_read_once_and_commit_the_statistics_of_a_separate_pass(tmp_path, reference):
    """The pass over a new shard's blocks before its commit also measures its statistics: they are those a separate
    read (shard_stats) measures, and the shards validate."""
    (drops,) = drop_sets({}, SMALL_OVERRIDES)
    results = run_plan(DropSetPlan(drops, str(tmp_path)))
    assert [r.checksum for r in results] == reference and all(r.report.ok for r in results)
    for r in results:
        group = open_group(r.url)
        assert group.attrs["stats"] == shard_stats(group)
        assert group.attrs["stats"]["metrics"]["csi_power"]["count"] == 12


def test_a_chunk_damaged_before_the_commit_leaves_its_shard_uncommitted_and_named(tmp_path, capsys, monkeypatch):
    """A chunk file truncated after its block was written (disk corruption, a tamperer) is found by the pass before
    the commit: that shard stays uncommitted and the command names the chunk; the other band's shard is finished."""
    original = run.write_block

    def write_then_damage(plan, block, bands, data):
        written = original(plan, block, bands, data)
        if block == 2:
            path = chunk_file(plan.shards["sub6"].url, "path_gain_db", 0)
            with open(path, "r+b") as f:
                f.truncate(3)
        return written

    monkeypatch.setattr(run, "write_block", write_then_damage)
    code, lines = cli(capsys, monkeypatch, tmp_path)
    assert code == 1
    text = " ".join(lines)  # the console wraps long lines
    assert "tr38901-uma-sub6.zarr: chunk.readable: block 0: cannot read" in text and "path_gain_db/c.0" in text, text
    assert "never committed" in text
    assert lines[-1].startswith("error: 1 shard(s) failed validation")
    sub6, mmw = (zarr.open_group(str(tmp_path / f"tr38901-uma-{b}.zarr"), mode="r") for b in ("sub6", "28GHz"))
    assert sub6.attrs["status"] == "incomplete" and "stats" not in sub6.attrs
    assert mmw.attrs["status"] == "complete"
