"""Shipped recipes, mixture specs and bench tracks: listed by `wirelessdata examples`, usable by name, all valid,
and in the wheel (pyproject.toml's force-include) so that an installed package finds them too."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wirelessdata.bench.tracks import load_bench
from wirelessdata.cli import app
from wirelessdata.errors import ConfigError
from wirelessdata.generate.recipe import drop_sets, load_recipe
from wirelessdata.mix.spec import load_spec
from wirelessdata.shipped import KINDS, shipped

REPO = Path(__file__).resolve().parents[1]


def test_examples_lists_every_shipped_file_and_each_one_is_valid():
    res = CliRunner().invoke(app, ["examples", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    names = {(r["kind"], r["name"]) for r in rows}
    assert {("recipe", "wifo"), ("recipe", "default"), ("mixture", "pretrain-small"), ("track", "diversity")} <= names
    assert all(r["what"] for r in rows)  # every shipped file says what it is in its first comment line
    for r in rows:  # each parses as what it is, found by its name alone
        if r["kind"] == "recipe":
            assert drop_sets(load_recipe(r["name"]))
        elif r["kind"] == "mixture":
            assert load_spec(r["name"]).sources
        else:
            assert load_bench([r["name"]]).entries


def test_a_name_finds_the_shipped_file_and_an_unknown_one_lists_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not from a clone's root: the name alone must do
    assert load_recipe("wifo") == load_recipe(REPO / "generators" / "wifo.toml")
    assert load_recipe("wifo.toml") == load_recipe("wifo")
    with pytest.raises(ConfigError, match=r"recipe wif: no such file; .*shipped one by name: .*wifo"):
        load_recipe("wif")
    with pytest.raises(ConfigError, match="no such file"):
        load_recipe("generators/wifo.toml")  # a path is a path: relative to where the user is
    res = CliRunner().invoke(app, ["generate", "--recipe", "nope", "--out", str(tmp_path / "o")])
    assert res.exit_code != 0 and "shipped one by name" in str(res.exception)
    assert not (tmp_path / "o").exists()


def test_the_wheel_carries_every_kind_of_shipped_file():
    include = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"][
        "force-include"
    ]
    for kind, (inside, checkout) in KINDS.items():
        assert shipped(kind), kind
        top, _, rest = checkout.partition("/")
        assert include.get(top) == f"wirelessdata/{inside.removesuffix('/' + rest) if rest else inside}", kind
