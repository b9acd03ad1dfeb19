"""The near-duplicate threshold follows the configuration's resolution: narrow-band drops of the TR 38.901 generator."""

import numpy as np
import pytest
from test_curate import shard

from wirelessdata.curate.duplicates import (
    NARROW_DUPLICATE_DISTANCE,
    NEAR_DUPLICATE_DISTANCE,
    fingerprints,
    near_threshold,
    resolvable_bins,
)
from wirelessdata.curate.pipeline import curate
from wirelessdata.curate.scan import shard_threshold
from wirelessdata.generate.plan import DropSetPlan
from wirelessdata.generate.planting import near_copy
from wirelessdata.generate.recipe import drop_sets
from wirelessdata.generate.run import run_plan
from wirelessdata.shard.info import shard_info
from wirelessdata.shard.read import ShardReader

NARROW = {"num_time_steps": 4, "num_subcarriers": 16, "bs_array": "2x2"}  # RMa at 1.5 GHz: 16 x 15 kHz
DROPS = 64


@pytest.fixture(scope="module")
def narrow_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("narrow") / "root"
    recipe = {
        "samples": DROPS,
        "block_size": 16,
        "configs": [{"name": "rma", "scenario": "RMa", "bands": ["1.5GHz"], "multiband": "independent"}],
    }
    for drops in drop_sets(recipe, NARROW):
        run_plan(DropSetPlan(drops, str(root)))
    return root


def test_threshold_grows_with_the_resolvable_bins():
    assert resolvable_bins((4, 16, 4, 1), 15e3) == 4  # 240 kHz: one delay bin within 1 us
    assert resolvable_bins((24, 64, 32, 1), 30e3) == 64  # the default sub6 band: 2 delay bins
    assert resolvable_bins((24, 64, 32, 1), 120e3) == 256  # the default 28 GHz band: 8 delay bins
    assert resolvable_bins((1, 64, 8, 2), None) == 16  # no subcarrier spacing: one delay bin
    assert near_threshold(1) == near_threshold(4) == NARROW_DUPLICATE_DISTANCE
    assert near_threshold(64) == near_threshold(4096) == NEAR_DUPLICATE_DISTANCE
    assert NARROW_DUPLICATE_DISTANCE < near_threshold(8) < near_threshold(32) < NEAR_DUPLICATE_DISTANCE


@pytest.mark.slow  # the generator: about 25 s
def test_distinct_narrow_band_drops_are_kept_and_30db_copies_flagged(narrow_root, tmp_path):
    (url,) = [str(p) for p in sorted(narrow_root.glob("*.zarr"))]
    info = shard_info(url)
    assert info.csi_shape == (4, 16, 4, 1) and shard_threshold(info) == NARROW_DUPLICATE_DISTANCE
    csi = ShardReader(url, ("csi",)).read_range(0, DROPS)["csi"]
    f = fingerprints(csi)
    closest = min(np.sort(np.linalg.norm(f[:, None, v] - f[None, :, v], axis=-1), axis=1)[:, 1].min() for v in range(2))
    assert NARROW_DUPLICATE_DISTANCE < closest < NEAR_DUPLICATE_DISTANCE  # the default's threshold would flag them

    report = curate(str(narrow_root))
    assert report.groups == [] and report.totals()["any"] == 0

    planted = near_copy(csi[:16], 30.0, np.random.default_rng(0))
    copies = shard(
        narrow_root,
        "planted",
        planted,
        np.arange(16) + 10_000,
        band="1.5GHz",
        sizes=dict(zip(("time", "subcarrier", "bs_ant", "ue_ant"), info.csi_shape, strict=True)),
    )
    report = curate(str(narrow_root))
    assert sorted(sorted(g) for g in report.groups) == [sorted([(url, i), (copies, i)]) for i in range(16)]
    assert report.totals()["near_duplicate"] == 16 and report.totals()["any"] == 16
