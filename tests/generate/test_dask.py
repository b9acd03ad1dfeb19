"""Block tasks on a real Dask LocalCluster give the same bytes as serial execution."""

import pytest

from conftest import SMALL_OVERRIDES
from wirelessdata.errors import WirelessDataError
from wirelessdata.generate.plan import DropSetPlan
from wirelessdata.generate.recipe import drop_sets
from wirelessdata.generate.run import executor, run_plan, run_plans


@pytest.mark.slow
def test_two_workers_write_the_same_bytes_as_one_process(tmp_path):
    (drops,) = drop_sets({}, SMALL_OVERRIDES)
    serial = run_plan(DropSetPlan(drops, str(tmp_path / "serial")))
    with executor(workers=2) as client:
        assert client is not None
        parallel = run_plan(DropSetPlan(drops, str(tmp_path / "dask")), client=client)
    assert [r.checksum for r in parallel] == [r.checksum for r in serial]
    assert all(r.report.ok for r in parallel)
    assert [r.blocks_written for r in parallel] == [3, 3]


@pytest.mark.slow
def test_plans_run_at_once_on_dask_give_the_bytes_of_one_process(tmp_path):
    """run_plans keeps several plans in flight on a cluster (driver threads): same shards, same bytes, plan order,
    every shard registered once, and a rerun keeps them all."""
    from wirelessdata.catalog import ls

    spec = {"configs": [{"scenario": s} for s in ("UMa", "UMi", "InH")]}
    sets = drop_sets(spec, {**SMALL_OVERRIDES, "samples": 6})
    serial = run_plans([DropSetPlan(d, str(tmp_path / "serial")) for d in sets])
    with executor(workers=2) as client:
        parallel = run_plans([DropSetPlan(d, str(tmp_path / "dask")) for d in sets], client=client)
        again = run_plans([DropSetPlan(d, str(tmp_path / "dask")) for d in sets], client=client)
    assert [r.url.rsplit("/", 1)[-1] for r in parallel] == [r.url.rsplit("/", 1)[-1] for r in serial]
    assert [r.checksum for r in parallel] == [r.checksum for r in serial]
    assert all(r.report.ok for r in parallel) and len(parallel) == 6
    assert [r.blocks_written for r in again] == [0] * 6
    rows = ls(str(tmp_path / "dask"), [])
    assert sorted(r["shard"] for r in rows) == sorted(r.url.rsplit("/", 1)[-1] for r in parallel)


def test_unreachable_scheduler_is_one_line_error():
    with (
        pytest.raises(WirelessDataError, match="scheduler tcp://127.0.0.1:1: unreachable"),
        executor(scheduler="tcp://127.0.0.1:1", timeout="1s"),
    ):
        pass


@pytest.mark.slow
def test_generate_killed_with_sigkill_resumes_to_identical_bytes(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    import numpy as np
    import zarr

    overrides = {**SMALL_OVERRIDES, "samples": 64}
    args = ["--samples", "64", "--block-size", "4", "--time-steps", "4", "--subcarriers", "16", "--bs-array", "2x2"]
    proc = subprocess.Popen([sys.executable, "-m", "wirelessdata.cli", "generate", "--out", str(tmp_path / "k"), *args])
    shard = tmp_path / "k" / "tr38901-uma-sub6.zarr"
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline and proc.poll() is None:
        try:
            done = int(np.count_nonzero(zarr.open_group(str(shard), mode="r")["block_checksum"][:]))
        except Exception:
            done = 0
        if done >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 3 <= done < 16, "the run should be killed mid-way"
    (drops,) = drop_sets({}, overrides)
    resumed = run_plan(DropSetPlan(drops, str(tmp_path / "k")))
    # sub6 had >= 3 blocks done; 28GHz (written right after sub6 in each block) at least one fewer
    assert resumed[0].blocks_skipped >= 3 and resumed[1].blocks_skipped >= 2
    assert all(r.blocks_written + r.blocks_skipped == 16 for r in resumed)
    full = run_plan(DropSetPlan(drops, str(tmp_path / "f")))
    assert [r.checksum for r in resumed] == [r.checksum for r in full]
