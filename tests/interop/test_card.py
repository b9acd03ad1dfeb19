"""Dataset cards: Croissant 1.1 JSON-LD (checked with mlcroissant and against the spec's required fields), HF card."""

import hashlib
import json

import pytest
import yaml
from test_export import make_shard
from typer.testing import CliRunner

from conftest import write_synthetic
from wirelessdata.catalog import register_shard
from wirelessdata.cli import app
from wirelessdata.errors import WirelessDataError
from wirelessdata.interop.card import MARKER, size_category

runner = CliRunner()


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "corpus"
    r.mkdir()
    make_shard(r, "a-sub6", seed=1)
    make_shard(r, "b-28GHz", scenario="UMi", seed=2, modalities=("csi", "lidar"), n=12)
    write_synthetic(str(r / "unfinished.zarr"), commit=False)  # incomplete: left out of the card
    register_shard(str(r), str(r / "unfinished.zarr"))
    return r


def card(*args):
    return runner.invoke(app, ["card", *[str(a) for a in args]])


def test_croissant_has_the_required_fields_and_checksums(root):
    res = card(root, "--license", "CC-BY-4.0", "--name", "tiny corpus", "--url", "https://example.org/tiny")
    assert res.exit_code == 0, res.output
    doc = json.loads((root / "croissant.json").read_text())
    # Croissant 1.x required / recommended dataset properties
    assert doc["@type"] == "sc:Dataset" and doc["conformsTo"] == "http://mlcommons.org/croissant/1.1"
    assert (
        doc["@context"]["cr"] == "http://mlcommons.org/croissant/"
        and doc["@context"]["@vocab"] == "https://schema.org/"
    )
    assert doc["name"] == "tiny corpus" and doc["description"].startswith("2 shards, 32 samples")
    assert doc["license"] == "https://spdx.org/licenses/CC-BY-4.0.html" and doc["url"] == "https://example.org/tiny"
    assert {"datePublished", "version", "citeAs"} <= set(doc)
    objects = [d for d in doc["distribution"] if d["@type"] == "cr:FileObject"]
    sets = [d for d in doc["distribution"] if d["@type"] == "cr:FileSet"]
    assert [o["@id"] for o in objects] == ["a-sub6/zarr.json", "b-28GHz/zarr.json"] and len(sets) == 2
    for o in objects:  # every FileObject: contentUrl, encodingFormat and checksums of the real file
        data = (root / o["contentUrl"]).read_bytes()
        assert o["sha256"] == hashlib.sha256(data).hexdigest() and o["md5"] == hashlib.md5(data).hexdigest()
        assert o["encodingFormat"] == "application/json"
    assert all(s["includes"].endswith(".zarr/**") and s["encodingFormat"] for s in sets)
    records = {r["@id"]: r for r in doc["recordSet"]}
    # per shard: its samples, its coordinates and per-shard arrays, and a record set per ragged dimension (LiDAR)
    assert set(records) == {"a-sub6", "a-sub6/shard", "b-28GHz", "b-28GHz/shard", "b-28GHz/point"}
    points = {f["name"]: f for f in records["b-28GHz/point"]["field"]}
    assert points["lidar_points"]["arrayShape"] == "4" and "lidar_start" in records["b-28GHz/point"]["description"]
    coords = {f["name"]: f for f in records["a-sub6/shard"]["field"]}
    assert coords["subcarrier"]["arrayShape"] == "8" and "key" not in records["a-sub6/shard"]
    fields = {f["name"]: f for f in records["a-sub6"]["field"]}
    assert fields["csi"]["dataType"] == "cr:Float32" and fields["csi"]["isArray"] is True
    assert fields["csi"]["arrayShape"] == "4,8,2,2,2"  # (time, subcarrier, bs_ant, ue_ant, real/imag) per sample
    assert fields["ue_pos"]["arrayShape"] == "4,3" and fields["los"]["dataType"] == "sc:Boolean"
    assert "arrayShape" not in fields["sample_id"] and fields["sample_id"]["dataType"] == "cr:UInt64"
    assert all(f["source"]["fileSet"]["@id"] == "a-sub6/files" for f in fields.values())
    assert "lidar_count" in {f["name"] for f in records["b-28GHz"]["field"]}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_croissant_validates_with_mlcroissant(root):
    mlc = pytest.importorskip("mlcroissant")
    assert card(root).exit_code == 0
    dataset = mlc.Dataset(jsonld=str(root / "croissant.json"))
    issues = dataset.metadata.ctx.issues
    assert not issues.errors and not issues.warnings, issues.report()
    shapes = {f.name: f.array_shape_tuple for f in dataset.metadata.record_sets[0].fields}
    assert shapes["csi"] == (4, 8, 2, 2, 2)
    bad = json.loads((root / "croissant.json").read_text())
    del bad["distribution"][0]["sha256"], bad["distribution"][0]["md5"]
    with pytest.raises(mlc.ValidationError, match="sha256"):  # the validator does check what we rely on
        mlc.Dataset(jsonld=bad)


def test_markdown_card_front_matter(root):
    assert card(root, "--out", root / "card", "--where", "band=sub6").exit_code == 0
    text = (root / "card" / "README.md").read_text()
    assert text.startswith("---\n") and MARKER in text
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["license"] == "other" and front["size_categories"] == ["n<1K"]
    assert front["task_categories"] and "sub6" in front["tags"]
    assert front["configs"] == [
        {"config_name": "a-sub6", "data_files": [{"split": "train", "path": "../a-sub6.zarr/**"}]}
    ]
    assert "| `a-sub6.zarr` | synthetic | sub6 | synthetic | 20 | 4x8x2x2 | csi |" in text
    assert "| `csi` | time, subcarrier, bs_ant, ue_ant | complex64 | 1 |" in text
    doc = json.loads((root / "card" / "croissant.json").read_text())
    assert doc["distribution"][0]["contentUrl"] == "../a-sub6.zarr/zarr.json"  # relative to the card


def test_size_categories():
    assert [size_category(n) for n in (10, 999, 1000, 54_321, 2_000_000)] == [
        "n<1K",
        "n<1K",
        "1K<n<10K",
        "10K<n<100K",
        "1M<n<10M",
    ]


def test_bad_roots_and_foreign_cards(root, tmp_path):
    res = card(tmp_path / "nothing")
    assert isinstance(res.exception, WirelessDataError) and "no such folder" in str(res.exception)
    empty = tmp_path / "empty"
    empty.mkdir()
    res = card(empty)
    assert isinstance(res.exception, WirelessDataError) and "catalog rebuild" in str(res.exception)
    only = tmp_path / "only-unfinished"
    only.mkdir()
    write_synthetic(str(only / "u.zarr"), commit=False)
    register_shard(str(only), str(only / "u.zarr"))
    res = card(only)
    assert isinstance(res.exception, WirelessDataError) and "no complete shard" in str(res.exception)
    (root / "README.md").write_text("# my own notes\n")
    res = card(root)
    assert isinstance(res.exception, WirelessDataError) and "--overwrite" in str(res.exception)
    assert (root / "README.md").read_text() == "# my own notes\n"
    assert card(root, "--overwrite").exit_code == 0
    assert card(root).exit_code == 0  # our own card is regenerated without --overwrite
