"""Mixture specs resolved against a real generated corpus and its catalog; the manifest streamed to torch."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import generate_root
from wirelessdata.cli import app
from wirelessdata.curate.leakage import refuse_leaks
from wirelessdata.errors import ConfigError
from wirelessdata.mix.loader import MixtureDataset
from wirelessdata.mix.manifest import ManifestError, load_manifest
from wirelessdata.mix.spec import build_manifest, parse_spec

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
    return generate_root(r, recipe, SMALL)


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
    assert doc["manifest_version"] == 2 and len(doc["shards"]) == 4
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
        refuse_leaks(build_manifest(parse_spec(spec), str(leaky)))


# distribution balancing ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def skewed_root(tmp_path_factory):
    """Synthetic shards whose delay spread is uniform in 10 ns..1 us: about 19 % of samples below 200 ns."""
    from conftest import write_synthetic
    from wirelessdata.catalog import register_shard

    r = tmp_path_factory.mktemp("skewed") / "root"
    r.mkdir()
    for name, n, seed in (("a", 96, 1), ("b", 64, 2), ("held", 32, 3)):
        write_synthetic(str(r / f"{name}.zarr"), num_samples=n, block_size=16, seed=seed)
        register_shard(str(r), str(r / f"{name}.zarr"))
    return r


DS_EDGES = [1e-8, 2e-7, 1e-6]
BALANCED = {
    "seed": 5,
    "val_fraction": 0.2,
    "balance": {"statistic": "delay_spread", "edges": DS_EDGES, "target": "uniform"},
    "sources": [
        {"name": "a", "where": ["shard=a.zarr"], "weight": 1.0, "max_epochs": 4.0},
        {
            "name": "b",
            "where": ["shard=b.zarr"],
            "weight": 1.0,
            "max_epochs": 3.0,
            "balance": {"statistic": "los", "target": [1, 3]},  # default edges: the catalog's, NLoS | LoS
        },
    ],
    "holdout": [{"name": "held", "where": ["shard=held.zarr"]}],
}


def streamed_bins(root, batches, label, edges):
    """Per shard name, the histogram over ``edges`` of ``label`` of the samples streamed in ``batches``."""
    import zarr

    values = {name: zarr.open_group(str(root / f"{name}.zarr"), mode="r")[label][:] for name in ("a", "b")}
    hists = {}
    for name in ("a", "b"):
        idx = np.concatenate([(b["sample_id"].numpy() & 0xFFFFFFFF) for b in batches if b["shard"] == name])
        hists[name] = np.histogram(values[name][idx].astype(float), edges)[0]
    return hists


def test_balanced_stream_follows_the_target_histogram(skewed_root, tmp_path):
    m = build_manifest(parse_spec(BALANCED), str(skewed_root))
    m.save(tmp_path / "m.json")
    m = load_manifest(tmp_path / "m.json")  # the balancing survives the JSON round trip
    a, b = m.split("train")
    bal = a.info["balance"]
    natural = np.array(bal["natural"]) / (sum(bal["natural"]) + bal["outside"])
    assert natural[0] < 0.35  # the corpus is skewed: few short delay spreads
    assert sum(a.quota) == a.per_epoch and a.quota == tuple(bal["quota"])
    assert np.allclose(bal["realised"], 0.5, atol=1 / a.per_epoch)
    ds = MixtureDataset(m, batch_size=8, buffer=16)
    for epoch in range(2):
        batches = list(ds)
        assert {x["epoch"] for x in batches} == {epoch}
        assert {x["shard"] for x in batches} == {"a", "b"}  # the held-out shard never reaches training
        ds_hist = streamed_bins(skewed_root, batches, "delay_spread_s", DS_EDGES)["a"]
        los_hist = streamed_bins(skewed_root, batches, "los", [-0.5, 0.5, 1.5])["b"]
        assert ds_hist.tolist() == list(a.quota) and los_hist.tolist() == list(b.quota)
        assert abs(ds_hist[0] / ds_hist.sum() - 0.5) <= 1 / a.per_epoch
        assert abs(los_hist[1] / los_hist.sum() - 0.75) <= 1 / b.per_epoch
    # the over-represented bin is sub-sampled differently each epoch, the same way for the same seed
    again = build_manifest(parse_spec(BALANCED), str(skewed_root))
    assert again.to_json()["splits"] == m.to_json()["splits"]
    e0, e1 = (MixtureDataset(m, batch_size=8).plan(e)[1] for e in (0, 1))
    assert {(x.shard, i) for x in e0 for i in x.indices} != {(x.shard, i) for x in e1 for i in x.indices}


def test_balanced_resume_is_exact_and_val_keeps_its_distribution(skewed_root):
    m = build_manifest(parse_spec(BALANCED), str(skewed_root))
    full = [x["sample_id"].tolist() for x in MixtureDataset(m, batch_size=5, buffer=12)]
    ds = MixtureDataset(m, batch_size=5, buffer=12)
    it = iter(ds)
    head = [next(it)["sample_id"].tolist() for _ in range(9)]
    resumed = MixtureDataset(m, batch_size=5, buffer=12)
    resumed.load_state_dict(ds.state_dict())
    assert head + [x["sample_id"].tolist() for x in resumed] == full
    val = {src.name: src for src in m.split("val")}
    train_a = set(np.concatenate([s.indices for s in m.split("train")[0].selections]).tolist())
    assert val["a"].selections[0].bins is None and not train_a & set(val["a"].selections[0].indices.tolist())


@pytest.mark.parametrize(
    ("balance", "source_a", "message"),
    [
        (
            {"statistic": "delay_spread", "edges": [1e-9, 5e-9, 1e-6]},
            {},
            r"source 'a': cannot balance delay_spread: bin \[1e-09, 5e-09\) has target",
        ),
        (
            {"statistic": "k_factor", "edges": [-10, 0, 10]},
            {},
            "source 'a': cannot balance k_factor: shard a has no per-sample label k_factor_db",
        ),
        (
            {"statistic": "delay_spread", "edges": DS_EDGES},
            {"max_epochs": 1.0},
            r"source 'a': balancing delay_spread needs \d+ samples an epoch from bin \[1e-08, 2e-07\)",
        ),
        ({"statistic": "speed"}, {}, r"balance.statistic: 'speed' is not a per-sample statistic"),
        ({"statistic": "los", "target": [1, 2, 3]}, {}, "balance.target: give 'uniform' or 2 non-negative weights"),
        ({"statistic": "los", "edges": [1, 0]}, {}, "balance.edges: give at least two increasing numbers"),
        ({"statistic": "los", "bins": 3}, {}, r"balance: unknown key\(s\) \['bins'\]"),
    ],
)
def test_unreachable_or_malformed_balance_is_a_one_line_error(skewed_root, balance, source_a, message):
    from wirelessdata.errors import WirelessDataError

    spec = {**BALANCED, "balance": balance, "sources": [{**BALANCED["sources"][0], **source_a}]}
    with pytest.raises(WirelessDataError, match=message) as info:
        build_manifest(parse_spec(spec), str(skewed_root))
    assert "\n" not in str(info.value)


def test_cli_show_and_plot_a_balanced_manifest(skewed_root, tmp_path):
    out = tmp_path / "m.json"
    build_manifest(parse_spec(BALANCED), str(skewed_root)).save(out)
    runner = CliRunner()
    res = runner.invoke(app, ["mix", "show", str(out)])
    assert res.exit_code == 0 and "balance" in res.output and "delay_spread" in res.output and "50.0%" in res.output
    res = runner.invoke(app, ["mix", "plot", str(out), "-o", str(tmp_path / "b.png")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"
    plain = tmp_path / "plain.json"
    unbalanced = [{k: v for k, v in src.items() if k != "balance"} for src in BALANCED["sources"]]
    build_manifest(parse_spec({**BALANCED, "balance": False, "sources": unbalanced}), str(skewed_root)).save(plain)
    res = runner.invoke(app, ["mix", "plot", str(plain)])
    assert res.exit_code != 0 and isinstance(res.exception, ManifestError)


def test_the_catalog_specs_parse():
    from pathlib import Path

    from wirelessdata.mix.spec import load_spec

    specs = {p.name: load_spec(p) for p in sorted((Path(__file__).parents[2] / "catalog").glob("*.toml"))}
    assert {"pretrain-small.toml", "pretrain-balanced.toml"} <= set(specs)
    for name, spec in specs.items():  # the WiFo zero-shot configurations D17-D19 are held out of every example
        if name != "default.toml":  # over the default corpus alone, which has no WiFo configuration
            assert ("zero-shot", ("tag=zero-shot",)) in spec.holdout
    assert specs["default.toml"].val_fraction > 0  # train reports its held-out loss on the val split
    wifo, default = specs["pretrain-balanced.toml"].sources
    assert wifo.balance is not None and wifo.balance.statistic == "delay_spread" and default.balance is None
