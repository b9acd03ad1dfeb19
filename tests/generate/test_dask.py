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


@pytest.mark.slow
def test_a_failing_plan_on_dask_stops_the_plans_not_started_and_is_raised(tmp_path, monkeypatch):
    """run_plans on a cluster: the first error in plan order is raised once the running plans finish, the plans
    before it are finished, and the plans not started when it failed are never started."""
    from distributed import Client, LocalCluster

    from wirelessdata.generate import run

    spec = {"configs": [{"scenario": "UMa", "name": f"c{i}"} for i in range(6)]}
    sets = drop_sets(spec, {**SMALL_OVERRIDES, "samples": 4, "bands": ["sub6"], "multiband": "independent"})
    plans = [DropSetPlan(d, str(tmp_path)) for d in sets]
    real = run.run_plan

    def fail_second(plan, *args):
        if plan is plans[1]:
            raise WirelessDataError("plan c1: injected")
        return real(plan, *args)

    monkeypatch.setattr(run, "run_plan", fail_second)
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as client,
        pytest.raises(WirelessDataError, match="plan c1: injected"),
    ):
        run_plans(plans, client=client)
    assert (tmp_path / "c0-sub6.zarr").exists() and not (tmp_path / "c1-sub6.zarr").exists()
    # c2 may have started in c1's thread as it failed; c3 onwards were dropped at once, not after c0 finished
    assert not any((tmp_path / f"c{i}-sub6.zarr").exists() for i in (3, 4, 5))
    assert run_plan(plans[0])[0].blocks_written == 0  # c0 was finished
