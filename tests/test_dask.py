"""Block tasks on a real Dask LocalCluster give the same bytes as serial execution."""

import pytest

from conftest import SMALL_OVERRIDES
from wirelessdata.errors import WirelessDataError
from wirelessdata.plan import DropSetPlan
from wirelessdata.recipe import drop_sets
from wirelessdata.run import executor, run_plan


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


def test_unreachable_scheduler_is_one_line_error():
    with (
        pytest.raises(WirelessDataError, match="scheduler tcp://127.0.0.1:1: unreachable"),
        executor(scheduler="tcp://127.0.0.1:1", timeout="1s"),
    ):
        pass
