"""End-to-end generation through the CLI with the real Sionna engine, on small sizes."""

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from conftest import SMALL_OVERRIDES
from wirelessdata.cli import app
from wirelessdata.errors import WirelessDataError
from wirelessdata.generate.plan import DropSetPlan
from wirelessdata.generate.recipe import drop_sets, load_recipe
from wirelessdata.generate.run import run_plan
from wirelessdata.shard.validate import validate_path

SMALL = ["--samples", "12", "--block-size", "4", "--time-steps", "4", "--subcarriers", "16", "--bs-array", "2x2"]
runner = CliRunner()


def generate(out, *args):
    return runner.invoke(app, ["generate", "--out", str(out), *SMALL, *args])


def checksums(root):
    return {p.name: xr.open_zarr(p).attrs["checksum"] for p in sorted(root.glob("*.zarr"))}


def test_default_command_writes_paired_valid_shards(tmp_path):
    res = generate(tmp_path, "--bands", "sub6,28GHz")
    assert res.exit_code == 0, res.output
    assert all(r.ok for r in validate_path(str(tmp_path)))
    a = xr.open_zarr(tmp_path / "tr38901-uma-sub6.zarr")
    b = xr.open_zarr(tmp_path / "tr38901-uma-28GHz.zarr")
    assert a.csi.shape == (12, 4, 16, 4, 1) and a.csi.dtype == np.complex64
    np.testing.assert_array_equal(a.sample_id.values, b.sample_id.values)
    np.testing.assert_array_equal(a.ue_pos.values, b.ue_pos.values)
    np.testing.assert_array_equal(a.los.values, b.los.values)
    assert a.attrs["multiband"] == "correlated" and a.attrs["recipe_hash"] == b.attrs["recipe_hash"]
    assert a.attrs["carrier_frequency_hz"] == 3.5e9 and b.attrs["subcarrier_spacing_hz"] == 120e3
    assert not np.array_equal(a.csi.values, b.csi.values)
    assert a.attrs["stats"]["metrics"]["path_gain"]["count"] == 12


def test_same_seed_same_checksums_and_rerun_keeps_blocks(tmp_path):
    assert generate(tmp_path / "a", "--bands", "sub6,28GHz").exit_code == 0
    assert generate(tmp_path / "b", "--bands", "sub6,28GHz").exit_code == 0
    assert checksums(tmp_path / "a") == checksums(tmp_path / "b")
    again = generate(tmp_path / "a", "--bands", "sub6,28GHz")
    assert again.exit_code == 0
    assert checksums(tmp_path / "a") == checksums(tmp_path / "b")
    (drops,) = drop_sets({}, SMALL_OVERRIDES)  # the same recipe through the API: nothing left to write
    assert [r.blocks_written for r in run_plan(DropSetPlan(drops, str(tmp_path / "a")))] == [0, 0]
    other = generate(tmp_path / "c", "--bands", "sub6,28GHz", "--seed", "1")
    assert other.exit_code == 0 and checksums(tmp_path / "c") != checksums(tmp_path / "a")


def test_the_old_name_snapshots_still_works_with_a_warning(tmp_path):
    old = [a if a != "--time-steps" else "--snapshots" for a in SMALL]
    res = runner.invoke(app, ["generate", "--out", str(tmp_path / "old"), *old, "--bands", "sub6"])
    assert res.exit_code == 0, res.output
    assert "warning: --snapshots is now called --time-steps" in res.output
    assert generate(tmp_path / "new", "--bands", "sub6").exit_code == 0
    assert checksums(tmp_path / "old") == checksums(tmp_path / "new")
    both = runner.invoke(app, ["generate", "--out", str(tmp_path / "x"), *SMALL, "--snapshots", "4"])
    assert both.exit_code != 0 and "give --time-steps only" in str(both.exception)


def test_interrupted_run_resumes_to_identical_bytes(tmp_path):
    (drops,) = drop_sets({}, SMALL_OVERRIDES)
    plan = DropSetPlan(drops, str(tmp_path / "r"))

    def die_after_first(_plan, block):
        if block == 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_plan(plan, on_block=die_after_first)
    assert {r.rule for r in validate_path(str(tmp_path / "r"))[0].findings} == {"blocks.complete"}
    results = run_plan(plan)
    assert [(r.blocks_written, r.blocks_skipped) for r in results] == [(2, 1), (2, 1)]
    assert all(r.report.ok for r in results)
    full = run_plan(DropSetPlan(drops, str(tmp_path / "f")))
    assert [r.checksum for r in results] == [r.checksum for r in full]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bands", "sub6,29GHz"], "unknown band '29GHz'"),
        (["--scenario", "UMx"], "unknown scenario 'UMx'"),
        (["--scenario", "RMa", "--bands", "28GHz"], "outside the RMa validity range"),
        (["--bands", "sub6", "--subcarriers", "5000"], "exceeds the band's 100 MHz"),
        (["--bands", "sub6", "--multiband", "correlated"], "'correlated' needs two bands"),
        (["--los", "sometimes"], "los_policy: unknown value 'sometimes'"),
        (["--speed-kmh", "fast"], "--speed-kmh"),
    ],
)
def test_bad_flags_give_one_line_errors(tmp_path, args, message):
    proc = subprocess.run(
        [sys.executable, "-m", "wirelessdata.cli", "generate", "--out", str(tmp_path), "--samples", "4", *args],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert not list(tmp_path.glob("*.zarr"))


def test_recipe_typo_and_existing_shard_of_another_recipe(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('samples = 4\n[[configs]]\nscenario = "UMa"\nbands = ["sub6", "28GHz"]\nnum_time_step = 4\n')
    with pytest.raises(WirelessDataError, match="unknown key\\(s\\) \\['num_time_step'\\]"):
        drop_sets(load_recipe(bad))
    res = runner.invoke(app, ["generate", "--recipe", str(bad), "--out", str(tmp_path)])
    assert res.exit_code != 0
    with pytest.raises(WirelessDataError, match="not valid TOML"):
        bad.write_text("samples = = 4")
        load_recipe(bad)
    assert generate(tmp_path / "o", "--bands", "sub6,28GHz").exit_code == 0
    before = checksums(tmp_path / "o")
    with pytest.raises(WirelessDataError, match="exists with another recipe"):
        (drops,) = drop_sets({}, {**SMALL_OVERRIDES, "seed": 7})
        run_plan(DropSetPlan(drops, str(tmp_path / "o")))
    assert checksums(tmp_path / "o") == before


@pytest.mark.parametrize("name", ["../../escape", "a/b", "..", "/abs", "", "x" * 200])
def test_a_recipe_name_never_leads_outside_the_output_root(tmp_path, name):
    recipe = {"configs": [{"name": name, "scenario": "UMa", "bands": ["sub6"], "multiband": "independent"}]}
    if name == "":
        assert drop_sets(recipe)[0].name == "tr38901-uma"  # no name: the default one
        return
    with pytest.raises(WirelessDataError, match=r"configs\[0\]\.name: .* is not a shard name"):
        drop_sets(recipe)
    bad = tmp_path / "a" / "b" / "r.toml"
    bad.parent.mkdir(parents=True)
    bad.write_text(f'[[configs]]\nname = "{name}"\nscenario = "UMa"\nbands = ["sub6"]\nmultiband = "independent"\n')
    res = runner.invoke(app, ["generate", "--recipe", str(bad), "--out", str(tmp_path / "a" / "b" / "out")])
    assert res.exit_code != 0 and not list(tmp_path.rglob("*.zarr"))


def test_wifo_recipe_plans_the_19_configurations():
    table = {  # D: (fc label, K, scs kHz, T, dt ms, UPA elements, scenario)
        1: ("1.5GHz", 128, 90, 24, 1, 4, "UMi"),
        4: ("1.5GHz", 32, 180, 16, 0.5, 32, "UMa"),
        8: ("2.5GHz", 64, 90, 16, 1, 16, "InH"),
        13: ("5.9GHz", 64, 90, 24, 0.5, 16, "RMa"),
        17: ("sub6", 32, 180, 16, 0.5, 32, "UMa"),
        19: ("28GHz", 32, 360, 16, 0.25, 32, "UMa"),
    }
    sets = drop_sets(load_recipe(_repo() / "generators" / "wifo.toml"))
    assert [d.name for d in sets] == [f"wifo-d{i:02d}" for i in range(1, 20)]
    assert all(d.num_samples == 12000 for d in sets)
    for d_index, (band, k, scs, t, dt, nbs, scenario) in table.items():
        cfg = sets[d_index - 1].config
        (b,) = cfg.bands
        assert (b.label, b.num_subcarriers, b.subcarrier_spacing_hz) == (band, k, scs * 1e3)
        assert (cfg.num_time_steps, cfg.snapshot_interval_s) == (t, dt * 1e-3)
        assert cfg.bs_array[0] * cfg.bs_array[1] == nbs and cfg.scenario == scenario
    assert sets[18].tags == ("wifo", "zero-shot")


@pytest.mark.slow
def test_wifo_recipe_writes_19_valid_shards(tmp_path):
    res = runner.invoke(
        app,
        ["generate", "--recipe", str(_repo() / "generators" / "wifo.toml"), "--samples", "64", "--out", str(tmp_path)],
    )
    assert res.exit_code == 0, res.output
    reports = validate_path(str(tmp_path))
    assert len(reports) == 19 and all(r.ok for r in reports)
    d19 = xr.open_zarr(tmp_path / "wifo-d19-28GHz.zarr")
    assert d19.csi.shape == (64, 16, 32, 32, 1)


def _repo():
    from pathlib import Path

    return Path(__file__).resolve().parents[2]


def test_a_second_writer_of_the_same_shards_is_refused(tmp_path):
    from wirelessdata.shard.lock import shard_locks

    (drops,) = drop_sets({}, SMALL_OVERRIDES)
    plan = DropSetPlan(drops, str(tmp_path))
    with (
        shard_locks([plan.shards["sub6"].url]),  # as another generate would hold it
        pytest.raises(WirelessDataError, match=r"locked by PID \d+ on .*; wait for it"),
    ):
        run_plan(plan)
    assert [r.report.ok for r in run_plan(plan)] == [True, True]  # released: the run goes through


@pytest.mark.parametrize("value", ["{ a = { b = [] } }", "[]", "3", '"sionna"'])
def test_a_generator_that_is_not_a_name_is_a_one_line_error(tmp_path, value):
    # fuzz case "recipe value seed 169" (2026-12-04): a table as the generator reached the plug-in registry as a
    # dict key (TypeError: unhashable type) before the recipe check ran
    bad = tmp_path / "r.toml"
    bad.write_text(f'generator = {value}\n[[configs]]\nscenario = "UMa"\nbands = ["sub6"]\n')
    res = runner.invoke(app, ["generate", "--recipe", str(bad), "--samples", "2", "--out", str(tmp_path / "out")])
    assert isinstance(res.exception, WirelessDataError), res.exception  # the CLI prints it in one line, exit 2
    assert str(res.exception).startswith("recipe.generator: unknown generator") and not (tmp_path / "out").exists()
