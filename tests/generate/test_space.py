"""Recipes that sample configurations ([space], generate/space.py): marginals, determinism, constraints, errors."""

from __future__ import annotations

import json
import math
import tomllib

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from wirelessdata.catalog.coverage import drawn
from wirelessdata.cli import app
from wirelessdata.errors import ConfigError
from wirelessdata.generate.recipe import drop_sets, load_recipe
from wirelessdata.generate.space import expand

DRAWS = 1000


def test_each_parameter_is_drawn_from_its_declared_distribution():
    space = {
        "scenario": {"choice": ["UMa", "UMi", "RMa"], "weights": [1, 2, 1]},
        "indoor_ratio": {"uniform": [0.1, 0.9]},
        "snapshot_interval_s": {"loguniform": [5e-4, 2e-3]},
        "num_ue_ant": {"int": [1, 4]},
        "link": "uplink",
    }
    tables = expand(space, DRAWS, seed=3, complete=dict)
    assert len(tables) == DRAWS and tables[0]["name"] == "draw-00000" and all(t["link"] == "uplink" for t in tables)
    counts = [sum(t["scenario"] == s for t in tables) for s in ("UMa", "UMi", "RMa")]
    assert stats.chisquare(counts, np.array([0.25, 0.5, 0.25]) * DRAWS).pvalue > 0.01
    assert stats.kstest([t["indoor_ratio"] for t in tables], stats.uniform(0.1, 0.8).cdf).pvalue > 0.01
    logs = [math.log(t["snapshot_interval_s"]) for t in tables]
    assert stats.kstest(logs, stats.uniform(math.log(5e-4), math.log(4)).cdf).pvalue > 0.01
    ants = [sum(t["num_ue_ant"] == k for t in tables) for k in (1, 2, 3, 4)]
    assert stats.chisquare(ants).pvalue > 0.01
    assert expand(space, 20, seed=3, complete=dict) == tables[:20]  # a pure function of the seed
    assert expand(space, 20, seed=4, complete=dict) != tables[:20]


SPACE_RECIPE = {
    "generator": "tr38901",
    "configs": 40,
    "seed": 11,
    "samples": 4,
    "block_size": 4,
    "defaults": {"multiband": "independent", "num_time_steps": 4},
    "space": {
        "scenario": {"choice": ["UMa", "RMa", "InH"]},
        "bands": {"choice": [["1.5GHz"], ["28GHz"]]},
        "num_subcarriers": {"choice": [16, 32]},
        "bs_array": {"choice": ["1x2", [2, 2], "4x8"]},  # as text or as [rows, columns]
        "constraints": {"max_csi_points": 4 * 32 * 4},
    },
}


def test_drawn_configurations_respect_the_generator_and_the_constraints():
    sets = drop_sets(SPACE_RECIPE)
    assert [s.name for s in sets] == [f"draw-{i:05d}" for i in range(40)]
    for s in sets:
        cfg = s.config
        rows, cols = cfg.bs_array
        assert cfg.num_time_steps * cfg.bands[0].num_subcarriers * rows * cols <= 4 * 32 * 4
        assert not (cfg.scenario == "RMa" and cfg.bands[0].label == "28GHz")  # RMa is valid up to 7 GHz
        assert s.recipe()["origin"] == {
            "space": SPACE_RECIPE["space"],
            "configs": 40,
            "seed": 11,
            "draw": s.origin["draw"],
        }
    assert [s.recipe() for s in drop_sets(SPACE_RECIPE)] == [s.recipe() for s in sets]
    assert {s.config.bs_array for s in sets} == {(1, 2), (2, 2)}  # 4x8 never fits the budget


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"space": {"scenario": {"gauss": [0, 1]}}}, r"space.scenario: .* is not one distribution"),
        ({"space": {"num_ue_ant": {"int": [3, 1]}}}, r"space.num_ue_ant.int: give \[low, high\] with low <= high"),
        ({"space": {"scenario": {"choice": []}}}, "space.scenario.choice: give a non-empty list"),
        (
            {"space": {"scenario": "UMa", "constraints": {"max_bytes": 1}}},
            r"space.constraints: unknown \['max_bytes'\]",
        ),
        ({"configs": [{}]}, "with \\[space\\], the number of configurations to draw"),
        (
            {"space": {"scenario": "RMa", "bands": ["28GHz"]}},
            r"space: 0 of 40 configurations after 8000 draws \(8000 refused as: .*RMa",
        ),
        (
            {"space": {"bs_array": "4x8", "constraints": {"max_csi_points": 10}}},
            "refused as: more CSI points than max_csi_points 10",
        ),
        ({"space": {"num_subcarrier": {"choice": [16]}}}, r"unknown key\(s\) \['num_subcarrier'\]"),
    ],
)
def test_a_bad_space_is_one_line(change, message):
    with pytest.raises(ConfigError, match=message):
        drop_sets({**SPACE_RECIPE, **change})


SPACE_TOML = """
generator = "tr38901"
configs = 3
seed = 11
samples = 4
block_size = 4

[defaults]
multiband = "independent"
num_time_steps = 4

[space]
scenario = { choice = ["UMa", "RMa", "InH"] }
bands = { choice = [["1.5GHz"], ["28GHz"]] }
num_subcarriers = { choice = [16, 32] }
bs_array = { choice = ["1x2", "2x2", "4x8"] }

[space.constraints]
max_csi_points = 512
"""


def test_a_space_recipe_generates_valid_catalogued_shards(tmp_path):
    from wirelessdata.catalog import ls

    path = tmp_path / "space.toml"
    path.write_text(SPACE_TOML)
    runner = CliRunner()
    res = runner.invoke(app, ["generate", "--recipe", str(path), "--out", str(tmp_path / "root")])
    assert res.exit_code == 0, res.output
    assert runner.invoke(app, ["validate", str(tmp_path / "root")]).exit_code == 0
    rows = ls(str(tmp_path / "root"), columns=None)
    assert len(rows) == 3 and sorted(json.loads(r["recipe"])["origin"]["draw"] for r in rows) == [0, 1, 2]
    res = runner.invoke(app, ["catalog", "coverage", str(tmp_path / "root"), "-o", str(tmp_path / "cov.png")])
    assert res.exit_code == 0 and "3 drawn configurations, 4 parameters" in res.output, res.output
    assert (tmp_path / "cov.png").stat().st_size > 1000
    values = drawn(str(tmp_path / "root"))[1]
    assert sorted(values) == ["bands", "bs_array", "num_subcarriers", "scenario"]
    assert sorted(values["scenario"]) == sorted(d.config.scenario for d in drop_sets(tomllib.loads(SPACE_TOML)))
    assert runner.invoke(app, ["card", str(tmp_path / "root")]).exit_code == 0
    card = (tmp_path / "root" / "README.md").read_text()
    assert "## Configuration space" in card and "3 configurations were drawn from one space" in card
    assert '| `scenario` | `{"choice": ["UMa", "RMa", "InH"]}` |' in card
    plain = tmp_path / "plain"
    assert (
        runner.invoke(
            app,
            [
                "generate",
                "--samples",
                "2",
                "--time-steps",
                "2",
                "--subcarriers",
                "8",
                "--bs-array",
                "1x2",
                "--bands",
                "sub6",
                "--out",
                str(plain),
            ],
        ).exit_code
        == 0
    )
    assert runner.invoke(app, ["card", str(plain)]).exit_code == 0
    assert "## Configuration space" not in (plain / "README.md").read_text()
    res = runner.invoke(app, ["catalog", "coverage", str(plain), "-o", str(tmp_path / "x.png")])
    assert "was drawn from a [space]" in str(res.exception) and not (tmp_path / "x.png").exists()
    bad = tmp_path / "bad.toml"
    bad.write_text(SPACE_TOML.replace("max_csi_points = 512", "max_csi_points = 8"))
    res = runner.invoke(app, ["generate", "--recipe", str(bad), "--out", str(tmp_path / "out")])
    assert isinstance(res.exception, ConfigError) and "max_csi_points 8" in str(res.exception)
    assert "\n" not in str(res.exception) and not (tmp_path / "out").exists()


def test_scale_shrinks_a_drawn_corpus_to_a_prefix_of_its_configurations():
    """--scale s keeps the first round(N sqrt(s)) draws of the full space and shrinks the drops by the rest, so the
    total shrinks by about s; listed configurations keep their count and shrink their drops."""
    full = drop_sets(SPACE_RECIPE)
    small = drop_sets(SPACE_RECIPE, {"scale": 0.25})
    assert [s.config for s in small] == [s.config for s in full[:20]]  # round(40 x 0.5) = 20: the same draws
    assert small[0].num_samples == max(1, round(4 * 0.25 * 40 / 20))
    listed = drop_sets({"configs": [{"name": "a"}, {"name": "b"}], "samples": 100}, {"scale": 0.1})
    assert [d.num_samples for d in listed] == [10, 10]
    for bad in (0, 1.5, -1, "x"):
        with pytest.raises(ConfigError, match="--scale"):
            drop_sets(SPACE_RECIPE, {"scale": bad})


def test_the_shipped_wifo2_scale_space_holds_wifo2s_corpus_size():
    """generators/wifo2-scale.toml: at least 11.6 billion complex CSI points at full size (WiFo-2's corpus)."""
    from wirelessdata.generate.recipe import load_recipe

    sets = drop_sets(load_recipe("wifo2-scale"))
    points = sum(
        d.num_samples
        * d.config.num_time_steps
        * sum(b.num_subcarriers for b in d.config.bands)
        * int(np.prod(d.config.bs_array))
        * d.config.num_ue_ant
        for d in sets
    )
    assert len(sets) == 2000 and points >= 11.6e9
    assert len({d.num_samples for d in sets}) > 100 and 115 < np.mean([d.num_samples for d in sets]) < 135
    carriers = [b.carrier_frequency_hz for d in sets for b in d.config.bands]
    assert len(set(carriers)) == len(carriers)  # continuous carriers
    assert {d.config.multiband for d in sets if len(d.config.bands) == 2} == {"correlated", "independent"}


NESTED = {
    "scenario": {"choice": ["UMa", "UMi"]},
    "bands": {
        "choice": [
            [{"band": "sub6", "carrier_frequency_hz": {"loguniform": [0.7e9, 6e9]}}],
            [{"band": "28GHz", "carrier_frequency_hz": {"uniform": [24.25e9, 40e9]}}],
        ],
        "weights": [3, 1],
    },
    "samples": {"int": [2, 9]},
}


def test_nested_distributions_and_drawn_samples_follow_their_declared_distributions():
    """A band's carrier drawn inside a choice (continuous carriers) and the drops per configuration drawn."""
    recipe = {"configs": DRAWS, "seed": 5, "space": NESTED, "defaults": {"multiband": "independent"}}
    sets = drop_sets(recipe)
    low = [d.config.bands[0].carrier_frequency_hz for d in sets if d.config.bands[0].label == "sub6"]
    high = [d.config.bands[0].carrier_frequency_hz for d in sets if d.config.bands[0].label == "28GHz"]
    assert stats.binomtest(len(low), DRAWS, 0.75).pvalue > 0.01
    assert stats.kstest(np.log(low), stats.uniform(math.log(0.7e9), math.log(6e9 / 0.7e9)).cdf).pvalue > 0.01
    assert stats.kstest(high, stats.uniform(24.25e9, 40e9 - 24.25e9).cdf).pvalue > 0.01
    counts = np.bincount([d.num_samples for d in sets], minlength=10)[2:]
    assert stats.chisquare(counts).pvalue > 0.01
    first = sets[0].recipe()
    assert first["samples"] == sets[0].num_samples and "carrier_frequency_hz" in first["config"]["bands"][0]
    assert [d.recipe() for d in drop_sets(recipe)][:50] == [d.recipe() for d in sets[:50]]  # same seed, same draws
    assert drop_sets(recipe, {"samples": 3})[0].num_samples == 3  # --samples fixes them again
    # a space without nested distributions draws as it did before they existed (same rng stream)
    flat = {"scenario": {"choice": ["UMa", "UMi"]}, "num_ue_ant": {"int": [1, 4]}}
    assert [t["num_ue_ant"] for t in expand(flat, 30, 1, dict)] == [
        t["num_ue_ant"] for t in expand({**flat, "bands": ["sub6"]}, 30, 1, dict)
    ]


def test_a_band_carries_its_own_carrier_inside_its_frequency_range(tmp_path):
    import xarray as xr

    from wirelessdata.generators.tr38901 import Tr38901Config

    cfg = Tr38901Config.from_dict({"bands": "sub6", "carrier_frequency_hz": 2.1e9, "multiband": "independent"})
    assert cfg.bands[0].carrier_frequency_hz == 2.1e9 and cfg.bands[0].subcarrier_spacing_hz == 30e3
    assert Tr38901Config.from_dict(cfg.to_dict()) == cfg
    assert "carrier_frequency_hz" not in Tr38901Config().to_dict()["bands"][0]  # a preset's carrier is implied
    spec = {"bands": "sub6", "carrier_frequency_hz": 2.1e9}
    with pytest.raises(ConfigError, match=r"bands \(sub6\).carrier_frequency_hz: 30 GHz is outside FR1"):
        Tr38901Config.from_dict({**spec, "carrier_frequency_hz": 30e9, "multiband": "independent"})
    with pytest.raises(ConfigError, match="sets the carrier of a single band, not of 2"):
        Tr38901Config.from_dict({**spec, "bands": ["sub6", "28GHz"]})
    with pytest.raises(ConfigError, match="outside the RMa validity range"):
        Tr38901Config.from_dict(
            {"scenario": "RMa", "bands": [{"band": "28GHz", "carrier_frequency_hz": 30e9}], "multiband": "independent"}
        )
    recipe = tmp_path / "one.toml"
    recipe.write_text(
        'samples = 2\n[[configs]]\nname = "low"\nmultiband = "independent"\nnum_time_steps = 2\nbs_array = "1x2"\n'
        'bands = [{ band = "sub6", carrier_frequency_hz = 2.1e9, num_subcarriers = 8 }]\n'
    )
    res = CliRunner().invoke(app, ["generate", "--recipe", str(recipe), "--out", str(tmp_path / "r2")])
    assert res.exit_code == 0, res.output
    ds = xr.open_zarr(tmp_path / "r2" / "low-sub6.zarr")
    assert float(ds.attrs["carrier_frequency_hz"]) == 2.1e9


@pytest.mark.parametrize(
    ("space", "top", "message"),
    [
        ({**NESTED, "samples": {"uniform": [2, 9]}}, {}, "space.samples: draw whole numbers"),
        ({**NESTED, "samples": {"int": [0, 9]}}, {}, "space.samples: draw whole numbers"),
        (NESTED, {"samples": 4}, r"samples: given at the top and in \[space\]"),
        (
            {"bands": {"choice": [[{"band": "sub6", "carrier_frequency_hz": {"gauss": [1, 2]}}]]}},
            {},
            r"refused as: space: bands \(sub6\).carrier_frequency_hz: \{'gauss': \[1, 2\]\} is not a frequency",
        ),
        (
            {"bands": [{"band": "sub6", "carrier_frequency_hz": {"uniform": [8e9, 9e9]}}]},
            {},
            r"refused as: space: bands \(sub6\).carrier_frequency_hz: .* is outside FR1",
        ),
    ],
)
def test_bad_drawn_samples_and_carriers_are_one_line(space, top, message):
    with pytest.raises(ConfigError, match=message):
        drop_sets({"configs": 5, "space": space, "defaults": {"multiband": "independent"}, **top})


def test_the_documented_space_example_plans():
    """The [space] example of docs/generate.md is a recipe that plans (same parser as `generate`)."""
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "generate.md").read_text()
    section = text.split("## Sampling a space of configurations", 1)[1]
    example = tomllib.loads(section.split("```toml\n", 1)[1].split("```", 1)[0])
    sets = drop_sets(example)
    assert len(sets) == 200 and {d.config.bands[0].label for d in sets} == {"sub6", "28GHz"}
    assert all(32 <= d.num_samples <= 96 for d in sets)


def test_the_shipped_space_draws_the_same_configurations_release_after_release():
    """Same recipe and seed, same configurations (hence the same bytes): the first 200 draws of wifo2-scale are
    pinned by a digest of their names, configurations, drop counts and seeds (a change of the sampler that moves
    any draw fails here)."""
    import dataclasses
    import hashlib

    sets = drop_sets(load_recipe("wifo2-scale"))[:200]
    doc = [[d.name, dataclasses.asdict(d.config), d.num_samples, d.seed] for d in sets]
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()
    assert digest[:16] == "c2a39dc9799f0181"
