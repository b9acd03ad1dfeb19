"""Defects planted into generated blocks (generate.planting): what curation then flags, and what it leaves."""

from __future__ import annotations

import numpy as np
import pytest

from wirelessdata.curate import curate
from wirelessdata.curate.flags import counts as flag_counts
from wirelessdata.errors import ConfigError
from wirelessdata.generate.plan import DropSetPlan
from wirelessdata.generate.planting import PlantSpec, parse_plant, plant_block
from wirelessdata.generate.recipe import drop_sets
from wirelessdata.generate.run import run_plan
from wirelessdata.shard.read import ShardReader

SMALL = {"num_time_steps": 4, "num_subcarriers": 32, "bs_array": "2x2"}


def recipe(plant=None):
    config = {"name": "p", "scenario": "UMi", "bands": ["sub6", "28GHz"], "multiband": "correlated"}
    if plant is not None:
        config["plant"] = plant
    return {"samples": 64, "block_size": 32, "seed": 3, "configs": [config]}


def test_plant_block_replaces_the_chosen_drops_in_every_band():
    rng = np.random.default_rng(0)
    n = 40
    block = {
        band: {
            "csi": (rng.standard_normal((n, 2, 4, 2, 1)) + 1j * rng.standard_normal((n, 2, 4, 2, 1))).astype(
                np.complex64
            ),
            "los": rng.random(n) > 0.5,
            "beam_codebook": np.arange(3),  # not per sample: left alone
        }
        for band in ("sub6", "28GHz")
    }
    spec = PlantSpec(exact=0.1, near=0.1, dead=0.1)
    out = plant_block(block, spec, seed=5)
    assert out["sub6"]["csi"].shape == block["sub6"]["csi"].shape
    assert np.array_equal(plant_block(block, spec, seed=5)["28GHz"]["csi"], out["28GHz"]["csi"])  # pure
    changed = {b: np.flatnonzero((out[b]["csi"] != block[b]["csi"]).any(axis=(1, 2, 3, 4))) for b in out}
    assert np.array_equal(changed["sub6"], changed["28GHz"]) and changed["sub6"].size == 12  # the same drops
    csi = out["sub6"]["csi"]
    rows = {csi[i].tobytes() for i in range(n)}
    assert len(rows) == n - 4  # four exact copies of other drops
    power = (np.abs(csi) ** 2).mean(axis=(1, 2, 3, 4))
    assert (power < 1e-10 * np.median(power)).sum() == 4  # four dead samples
    assert np.array_equal(out["sub6"]["beam_codebook"], np.arange(3))
    assert np.array_equal(block["sub6"]["csi"], block["sub6"]["csi"])  # the input is not modified in place


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"exact": 0.4, "near": 0.2}, "sum to at most 0.5"),
        ({"exact": -0.1}, "must be >= 0"),
        ({"copies": 0.1}, r"unknown key\(s\) \['copies'\]"),
        ({"exact": "many"}, "is not a number"),
        (0.1, "give a table"),
    ],
)
def test_bad_plant_tables_are_one_line_errors(raw, message):
    with pytest.raises(ConfigError, match=message):
        parse_plant("configs[0].plant", raw)
    with pytest.raises(ConfigError, match=r"configs\[0\]\.plant"):
        drop_sets(recipe(raw), SMALL)


def test_curation_flags_the_planted_defects_and_clean_recipes_keep_their_bytes(tmp_path):
    clean = drop_sets(recipe(), SMALL)[0]
    assert "plant" not in clean.recipe()  # a clean recipe hashes as before planting existed
    planted = drop_sets(recipe({"exact": 0.125, "near": 0.125, "dead": 0.0625}), SMALL)[0]
    assert planted.recipe()["plant"]["exact"] == 0.125
    root = tmp_path / "root"
    run_plan(DropSetPlan(planted, str(root)))
    curate(str(root))
    for band in ("sub6", "28GHz"):
        url = str(root / f"p-{band}.zarr")
        counts = flag_counts(ShardReader(url, ("quality_flags",)).read_range(0, 64)["quality_flags"])
        assert counts["exact_duplicate"] >= 8  # 4 per block of 32
        assert counts["near_duplicate"] >= 8
        assert counts["zero_power"] >= 4
