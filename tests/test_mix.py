"""Mixture specs resolved against a real generated corpus and its catalog; the manifest streamed to torch."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from wirelessdata.cli import app
from wirelessdata.errors import ConfigError
from wirelessdata.mix.loader import MixtureDataset
from wirelessdata.mix.manifest import ManifestError, load_manifest
from wirelessdata.mix.spec import build_manifest, parse_spec
from wirelessdata.plan import DropSetPlan
from wirelessdata.recipe import drop_sets
from wirelessdata.run import run_plan

SMALL = {"num_time_steps": 4, "num_subcarriers": 16, "bs_array": "2x2"}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    r = tmp_path_factory.mktemp("mix") / "root"
    recipe = {
        "samples": 24,
        "block_size": 8,
        "configs": [
            {"name": "uma", "scenario": "UMa", "bands": ["sub6", "28GHz"], "tags": ["pretrain"]},
            {  # wide enough a band that distinct RMa drops are not near duplicates of each other
                "name": "rma",
                "scenario": "RMa",
                "bands": [{"band": "1.5GHz", "num_subcarriers": 64, "subcarrier_spacing_hz": 120e3}],
                "multiband": "independent",
                "tags": ["pretrain"],
            },
            {"name": "umi", "scenario": "UMi", "bands": ["sub6"], "multiband": "independent", "tags": ["zero-shot"]},
        ],
    }
    for drops in drop_sets(recipe, SMALL):
        run_plan(DropSetPlan(drops, str(r)))
    return r


SPEC = {
    "seed": 3,
    "val_fraction": 0.25,
    "sources": [
        {"name": "uma", "where": ["recipe_name=uma"], "weight": 3.0, "max_epochs": 2.0},
        {"name": "rma", "where": ["recipe_name=rma"], "weight": 1.0},
    ],
    "holdout": [{"name": "zero-shot", "where": ["tag=zero-shot"]}],
}


def test_manifest_splits_proportions_and_pairing(root):
    m = build_manifest(parse_spec(SPEC), str(root))
    assert set(m.splits) == {"train", "val", "zero-shot"}
    names = {i: s.name for i, s in enumerate(m.shards)}
    train = {src.name: src for src in m.split("train")}
    assert {names[s.shard] for s in train["uma"].selections} == {"uma-sub6", "uma-28GHz"}
    assert [names[s.shard] for s in m.split("zero-shot")[0].selections] == ["umi-sub6"]
    # weights 3:1 over an epoch the size of the two sources' usable samples
    total = train["uma"].available + train["rma"].available
    assert train["uma"].per_epoch == round(0.75 * total) and train["rma"].per_epoch == round(0.25 * total)
    assert train["uma"].info["realised_fraction"] == pytest.approx(0.75, abs=0.01)
    # paired drops stay on the same side of the validation split
    val = {names[s.shard]: s.indices.tolist() for src in m.split("val") for s in src.selections}
    assert val["uma-sub6"] == val["uma-28GHz"] and 0 < len(val["uma-sub6"]) < 24


def test_held_out_shards_never_reach_training_batches(root):
    m = build_manifest(parse_spec(SPEC), str(root))
    batches = list(MixtureDataset(m, batch_size=4, buffer=8, output="real", normalize="sample"))
    assert {b["shard"] for b in batches} == {"uma-sub6", "uma-28GHz", "rma-1.5GHz"}
    held = list(MixtureDataset(m, split="zero-shot", batch_size=8))
    assert {b["shard"] for b in held} == {"umi-sub6"} and sum(len(b["sample_id"]) for b in held) == 24
    # the loader feeds a model: a few optimiser steps on a linear map over the flattened CSI of one shape
    same = [b["csi"] for b in batches if b["shard"] == "uma-sub6"]
    model = torch.nn.Linear(same[0][0].numel(), 1)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    for x in same:
        loss = model(x.flatten(1)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert torch.isfinite(loss)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sources": [{"name": "x", "where": ["band=60GHz"]}]}, "source 'x': filters .* match no complete"),
        ({"sources": [{"name": "x", "where": ["tag=zero-shot"]}]}, "match no complete, non-held-out shard"),
        ({"holdout": [{"name": "h", "where": ["scenario=InH"]}]}, "holdout 'h': its filters match no complete"),
        (
            {
                "sources": [
                    {"name": "uma", "where": ["recipe_name=uma"], "weight": 1.0},
                    {"name": "rma", "where": ["recipe_name=rma"], "weight": 3.0},
                ]
            },
            "source 'rma': needs",
        ),
        (
            {"sources": [{"name": "a", "where": ["band=sub6"]}, {"name": "b", "where": ["scenario=UMa"]}]},
            "matches sources 'a' and 'b'",
        ),
        ({"sources": [{"name": "a", "where": ["band=sub6"], "weight": "lots"}]}, "weight: 'lots' is not a number"),
        ({"sources": [{"name": "a", "wher": ["band=sub6"]}]}, "unknown key\\(s\\) \\['wher'\\]"),
        ({"sources": [{"name": "a", "where": ["bnd=sub6"]}]}, "unknown filter field 'bnd'"),
    ],
)
def test_bad_specs_are_one_line_errors(root, change, message):
    from wirelessdata.errors import WirelessDataError

    with pytest.raises(WirelessDataError, match=message) as info:
        build_manifest(parse_spec({**SPEC, **change}), str(root))
    assert "\n" not in str(info.value)


def test_cli_build_show_check(root, tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(
        'seed = 3\nval_fraction = 0.25\n[[sources]]\nname = "all"\nwhere = ["tag=pretrain"]\n'
        '[[holdout]]\nname = "zero-shot"\nwhere = ["tag=zero-shot"]\n'
    )
    runner = CliRunner()
    out = tmp_path / "m.json"
    res = runner.invoke(app, ["mix", "build", str(spec), "--root", str(root), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "zero-shot" in res.output and "100.0%" in res.output
    doc = json.loads(out.read_text())
    assert doc["manifest_version"] == 1 and len(doc["shards"]) == 4
    assert runner.invoke(app, ["mix", "show", str(out)]).exit_code == 0
    assert runner.invoke(app, ["mix", "check", str(out)]).exit_code == 0
    m = load_manifest(out)
    bad = tmp_path / "bad.json"
    bad.write_text(out.read_text().replace(m.shards[0].checksum, "f" * 64))
    res = runner.invoke(app, ["mix", "check", str(bad)])
    assert res.exit_code != 0 and isinstance(res.exception, ManifestError)


def test_spec_parse_errors():
    with pytest.raises(ConfigError, match="no \\[\\[sources\\]\\]"):
        parse_spec({})
    with pytest.raises(ConfigError, match="weight or count, not both"):
        parse_spec({"sources": [{"where": ["band=sub6"], "weight": 1, "count": 3}]})
    assert np.isclose(parse_spec({"sources": [{"where": "band=sub6"}]}).val_fraction, 0.1)


def test_a_leaking_mixture_is_refused(root, tmp_path):
    import shutil

    from wirelessdata.catalog import register_shard

    leaky = tmp_path / "root"
    shutil.copytree(root, leaky)
    shutil.copytree(leaky / "uma-sub6.zarr", leaky / "leak-sub6.zarr")  # the same drops under another name
    register_shard(str(leaky), str(leaky / "leak-sub6.zarr"))
    spec = {
        "sources": [{"name": "uma", "where": ["recipe_name=uma"]}],
        "holdout": [{"name": "held", "where": ["shard=leak-sub6.zarr"]}],
    }
    with pytest.raises(ConfigError, match="the mixture leaks: .* training sample"):
        build_manifest(parse_spec(spec), str(leaky))
