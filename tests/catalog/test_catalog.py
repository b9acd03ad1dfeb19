"""The catalog: registration, filters, rebuild, aggregation, plot, export, bad input, concurrent writers."""

import csv
import io
import json
import multiprocessing
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from conftest import write_synthetic
from wirelessdata._testing import synthetic_block, synthetic_layout
from wirelessdata.catalog import (
    CATALOG_FILE,
    Catalog,
    CatalogError,
    catalog_path,
    export,
    group_stats,
    ls,
    plot,
    rebuild,
    register_shard,
    row_from_attrs,
    show,
)
from wirelessdata.cli.catalog import catalog_app
from wirelessdata.shard.stats import METRIC_BY_NAME, shard_stats, summarize
from wirelessdata.shard.store import create_shard

app = typer.Typer()
app.add_typer(catalog_app, name="catalog")
app.callback()(lambda: None)
runner = CliRunner()


def make_shard(root, name, band="sub6", scenario="UMa", delay_spread=1e-7, modalities=("csi",), seed=0, commit=True):
    """A synthetic shard of 16 samples whose delay spread is ``delay_spread`` for every sample."""
    layout = synthetic_layout(num_samples=16, block_size=8, modalities=modalities, seed=seed)
    layout = replace(layout, attrs={**layout.attrs, "band": band, "scenario": scenario})
    url = str(root / f"{name}.zarr")
    shard = create_shard(url, layout, overwrite=True)
    for b in range(layout.num_blocks):
        data = synthetic_block(layout, b)
        if "csi" in modalities:
            data["delay_spread_s"] = np.full(8, delay_spread, np.float32)
        shard.write_block(b, data)
    if commit:
        shard.commit(shard_stats(shard.group))
    return url


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Four complete shards, one with LiDAR, registered one by one as generators do at commit."""
    r = tmp_path_factory.mktemp("corpus") / "root"
    urls = [
        make_shard(r, "a-sub6", "sub6", "UMa", 1e-7),
        make_shard(r, "a-28GHz", "28GHz", "UMa", 2e-7),
        make_shard(r, "b-28GHz", "28GHz", "UMi", 5e-7),
        make_shard(r, "c-lidar", "sub6", "UMi", 4e-7, modalities=("csi", "lidar")),
    ]
    for url in urls:
        register_shard(str(r), url)
    return r


@pytest.fixture
def root(corpus, tmp_path):
    """A private copy of the corpus with its catalog (shard keys are relative, so the copy is valid)."""
    return shutil.copytree(corpus, tmp_path / "root")


def names(rows):
    return [row["shard"] for row in rows]


def test_registration_records_configuration_and_distributions(root):
    rows = ls(str(root))
    assert names(rows) == ["a-28GHz.zarr", "a-sub6.zarr", "b-28GHz.zarr", "c-lidar.zarr"]
    a = rows[0]
    assert (a["band"], a["scenario"], a["status"], a["generator"]) == ("28GHz", "UMa", "complete", "synthetic")
    assert (a["num_samples"], a["num_time_steps"], a["num_subcarriers"], a["num_bs_ant"], a["num_ue_ant"]) == (
        16,
        4,
        8,
        4,
        1,
    )
    assert a["modalities"] == "csi" and rows[3]["modalities"] == "csi,lidar"
    assert a["delay_spread_count"] == 16 and a["delay_spread_p50"] == pytest.approx(2e-7)
    assert a["bytes"] > 16 * 4 * 8 * 4 * 8 and a["checksum"] and a["path"] == str(root / "a-28GHz.zarr")
    assert 0 <= a["los_mean"] <= 1 and a["doppler_mean"] > 0 and a["schema_version"] == "1.2.0"


@pytest.mark.parametrize(
    "where, expect",
    [
        (["band=28GHz"], ["a-28GHz.zarr", "b-28GHz.zarr"]),
        (["band=28ghz"], ["a-28GHz.zarr", "b-28GHz.zarr"]),  # text compares case-insensitively
        (["band=sub6,28GHz", "scenario=UMi"], ["b-28GHz.zarr", "c-lidar.zarr"]),
        (["delay_spread_p50>3e-7"], ["b-28GHz.zarr", "c-lidar.zarr"]),
        (["delay_spread_p50 <= 2.5e-7", "band!=sub6"], ["a-28GHz.zarr"]),
        (["has=lidar"], ["c-lidar.zarr"]),
        (["has!=lidar", "scenario=UMa"], ["a-28GHz.zarr", "a-sub6.zarr"]),
        (["band=28GHz", "delay_spread_p50>3e-7", "num_samples>=16"], ["b-28GHz.zarr"]),
        (["scenario=RMa"], []),
    ],
)
def test_filters(root, where, expect):
    assert names(ls(str(root), where)) == expect


@pytest.mark.parametrize(
    "where, message",
    [
        (["bnd=28GHz"], "unknown filter field 'bnd' (did you mean band?); valid: has, tag, shard, status"),
        (["delay_spread_median>1"], "METRIC_STAT with METRIC in path_gain"),
        (["band"], "is malformed"),
        (["band=>3"], "is malformed"),
        (["delay_spread_p50>fast"], "'fast' is not a number"),
        (["band>sub6"], "band is text, use = or !="),
        (["has=wifi"], "has=MODALITY"),
        (["band=a,,b"], "empty value"),
        (["recipe=x"], "unknown filter field 'recipe'"),
    ],
)
def test_bad_filters_are_one_line_errors(root, where, message):
    with pytest.raises(CatalogError) as err:
        ls(str(root), where)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_rebuild_after_deleting_the_catalog_gives_the_same_rows(root):
    before = export(str(root), "json")
    (root / CATALOG_FILE).unlink()
    report = rebuild(str(root))
    assert len(report.added) == 4 and not report.changed and not report.missing
    assert export(str(root), "json") == before
    again = rebuild(str(root))
    assert len(again.unchanged) == 4 and not again.added and not again.changed


def test_rebuild_detects_changed_deleted_incomplete_and_tampered_shards(root):
    old = show(str(root / "a-sub6.zarr"))
    make_shard(root, "a-sub6", seed=7)  # regenerated in place with another seed: other bytes, other checksum
    shutil.rmtree(root / "b-28GHz.zarr")
    with pytest.raises(CatalogError, match="gone from disk but listed as complete"):
        show(str(root / "b-28GHz.zarr"))
    make_shard(root, "d-partial", commit=False)
    make_shard(root, "e-tampered")
    meta = json.loads((root / "e-tampered.zarr" / "zarr.json").read_text())
    meta["attributes"]["checksum"] = "0" * 64
    (root / "e-tampered.zarr" / "zarr.json").write_text(json.dumps(meta))
    make_shard(root, "f-broken")
    (root / "f-broken.zarr" / "zarr.json").write_text("{not json")
    write_synthetic(str(root / "g-truncated.zarr"), num_samples=8, block_size=8)  # committed without stats
    for chunk in (root / "g-truncated.zarr" / "path_gain_db").glob("c.*"):
        chunk.write_bytes(b"")  # damaged data under intact metadata and checksums
    report = rebuild(str(root))
    assert report.changed == ["a-sub6.zarr"] and report.missing == ["b-28GHz.zarr"]
    assert sorted(report.added) == ["d-partial.zarr", "e-tampered.zarr", "f-broken.zarr", "g-truncated.zarr"]
    rows = {r["shard"]: r for r in ls(str(root))}
    assert rows["a-sub6.zarr"]["checksum"] != old["checksum"]
    assert rows["b-28GHz.zarr"]["status"] == "missing" and "gone from disk" in rows["b-28GHz.zarr"]["problem"]
    assert rows["d-partial.zarr"]["status"] == "incomplete" and rows["d-partial.zarr"]["delay_spread_count"] is None
    assert rows["e-tampered.zarr"]["status"] == "invalid" and "checksum" in rows["e-tampered.zarr"]["problem"]
    assert rows["f-broken.zarr"]["status"] == "invalid" and "not a Zarr v3 shard" in rows["f-broken.zarr"]["problem"]
    assert rows["g-truncated.zarr"]["status"] == "invalid" and "cannot read" in rows["g-truncated.zarr"]["problem"]
    assert show(str(root / "b-28GHz.zarr"))["status"] == "missing"  # marked: shown again
    assert names(ls(str(root), ["status=complete"])) == ["a-28GHz.zarr", "a-sub6.zarr", "c-lidar.zarr"]


def test_show_decodes_recipe_and_histograms(root):
    row = show(str(root / "c-lidar.zarr"))
    assert row["recipe"]["generator"] == "synthetic" and row["recipe"]["modalities"] == ["csi", "lidar"]
    ds = row["stats"]["metrics"]["delay_spread"]
    assert sum(ds["hist"]) == 16 and ds["edges"]["scale"] == "log"


def test_group_stats_sums_histograms(root):
    groups = group_stats(str(root), by=["band"], metrics=["delay_spread"])
    assert [g["group"] for g in groups] == [{"band": "28GHz"}, {"band": "sub6"}]
    g28 = groups[0]
    assert (g28["shards"], g28["samples"]) == (2, 32)
    ds = g28["metrics"]["delay_spread"]
    expect = summarize(METRIC_BY_NAME["delay_spread"], np.float32([2e-7] * 16 + [5e-7] * 16))
    assert ds["count"] == 32 and ds["hist"] == expect["hist"]
    assert ds["mean"] == pytest.approx(expect["mean"], rel=1e-6) and ds["std"] == pytest.approx(expect["std"], rel=1e-5)
    (everything,) = group_stats(str(root))
    assert everything["group"] == {} and everything["shards"] == 4 and everything["metrics"]["path_gain"]["count"] == 64
    with pytest.raises(CatalogError, match="cannot group by 'colour'"):
        group_stats(str(root), by=["colour"])
    with pytest.raises(CatalogError, match="unknown metric 'spread'"):
        group_stats(str(root), metrics=["spread"])


def test_plot_renders_a_png(root, tmp_path):
    out = plot(str(root), "delay_spread", str(tmp_path / "fig.png"), by=["scenario"])
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    with pytest.raises(CatalogError, match="nothing to plot"):
        plot(str(root), "k_factor", str(tmp_path / "k.png"))  # synthetic shards have no K-factor


def test_export_csv_and_json(root):
    rows = list(csv.DictReader(io.StringIO(export(str(root), "csv", ["band=28GHz"]))))
    assert [r["shard"] for r in rows] == ["a-28GHz.zarr", "b-28GHz.zarr"]
    assert float(rows[1]["delay_spread_p50"]) == pytest.approx(5e-7) and "stats" not in rows[0]
    full = json.loads(export(str(root), "json"))
    assert len(full) == 4 and full[0]["stats"]["metrics"]["path_gain"]["count"] == 16
    with pytest.raises(CatalogError, match="choose json or csv"):
        export(str(root), "parquet")


def test_cli_ls_json_table_and_errors(root):
    res = runner.invoke(
        app, ["catalog", "ls", str(root), "--where", "band=28GHz", "-w", "delay_spread_p50>3e-7", "--json"]
    )
    assert res.exit_code == 0, res.output
    assert names(json.loads(res.output)) == ["b-28GHz.zarr"]
    res = runner.invoke(app, ["catalog", "ls", str(root)])
    assert res.exit_code == 0 and "c-lidar.zarr" in res.output and "4 shards" in res.output
    res = runner.invoke(app, ["catalog", "stats", str(root), "--by", "band,scenario", "-m", "los"])
    assert res.exit_code == 0 and "28GHz" in res.output and "UMi" in res.output
    res = runner.invoke(app, ["catalog", "show", str(root / "a-sub6.zarr")])
    assert res.exit_code == 0 and "delay_spread" in res.output
    res = runner.invoke(app, ["catalog", "ls", str(root), "-w", "nope=1"])
    assert isinstance(res.exception, CatalogError) and "valid: has, tag, shard" in str(res.exception)


def test_no_catalog_missing_root_and_outside_shard(tmp_path):
    with pytest.raises(CatalogError, match="no catalog at .*catalog rebuild"):
        ls(str(tmp_path))
    assert not (tmp_path / CATALOG_FILE).exists()  # a read never creates the catalog
    with pytest.raises(CatalogError, match="no such folder"):
        ls(str(tmp_path / "nope"))
    with pytest.raises(CatalogError, match="no such folder"):
        rebuild(str(tmp_path / "nope"))
    url = make_shard(tmp_path, "lonely")
    with pytest.raises(CatalogError, match="is a shard; give the folder"):
        rebuild(url)
    with pytest.raises(CatalogError, match=f"no {CATALOG_FILE} in any folder above"):
        show(url)
    with pytest.raises(CatalogError, match="moved or deleted"):
        register_shard(str(tmp_path), str(tmp_path / "gone.zarr"))


def test_newer_foreign_and_corrupt_catalogs_are_refused(root, tmp_path):
    with sqlite3.connect(root / CATALOG_FILE) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'catalog_version'")
    with pytest.raises(CatalogError, match="catalog version 99, this wirelessdata reads version 3; upgrade"):
        ls(str(root))
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(CatalogError, match="not a wirelessdata catalog"):
        ls(str(root), catalog=str(foreign))
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(CatalogError, match="not a readable catalog"):
        ls(str(root), catalog=str(junk))
    assert junk.read_bytes() == b"not sqlite at all" * 100  # untouched


def test_a_version_2_catalog_is_migrated_and_the_old_field_name_still_filters(root):
    """Catalog version 3 renamed num_snapshots to num_time_steps (one name from config to CLI to catalog)."""
    before = ls(str(root))
    with sqlite3.connect(root / CATALOG_FILE) as conn:
        conn.execute("ALTER TABLE shards RENAME COLUMN num_time_steps TO num_snapshots")
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'catalog_version'")
    with pytest.warns(FutureWarning, match="num_snapshots is now called num_time_steps"):
        old = ls(str(root), ["num_snapshots>=1"])
    assert old == before and all(r["num_time_steps"] for r in ls(str(root), columns=None))
    with sqlite3.connect(root / CATALOG_FILE) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'catalog_version'").fetchone() == ("3",)


def test_shared_catalog_outside_the_root(root, tmp_path, monkeypatch):
    shared = tmp_path / "team" / "catalog.sqlite"
    monkeypatch.setenv("WIRELESSDATA_CATALOG", str(shared))
    assert catalog_path(str(root)) == shared
    rebuild(str(root))
    rows = ls(str(root), ["band=28GHz"])
    assert [r["path"] for r in rows] == [str(root / "a-28GHz.zarr"), str(root / "b-28GHz.zarr")]
    assert rows[0]["shard"] == str(root / "a-28GHz.zarr")  # outside the catalog's folder: absolute keys
    assert ls(str(tmp_path / "team")) == []  # another root of the shared catalog: its own rows only


def _register_many(root, worker, count, barrier):
    """One real shard registered on commit, then ``count`` fabricated rows, one transaction each."""
    layout = synthetic_layout(num_samples=8, block_size=8, seed=worker)
    url = str(root / f"real{worker}.zarr")
    shard = create_shard(url, layout)
    shard.write_block(0, synthetic_block(layout, 0))
    shard.commit(shard_stats(shard.group))
    barrier.wait()  # all writers start together, the catalog does not exist yet
    register_shard(str(root), url)
    with Catalog(root / CATALOG_FILE, create=True) as cat:
        for i in range(count):
            cat.upsert([row_from_attrs(f"w{worker}/s{i}.zarr", {**layout.attrs, "num_samples": i})])


def test_concurrent_registration_loses_no_row(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(6)
    procs = [ctx.Process(target=_register_many, args=(tmp_path, w, 40, barrier)) for w in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * 6
    with Catalog(tmp_path / CATALOG_FILE) as cat:
        rows = cat.select(columns=["shard", "num_samples", "status"])
        mode = cat.conn.execute("PRAGMA journal_mode").fetchone()[0]
    fabricated = {f"w{w}/s{i}.zarr" for w in range(6) for i in range(40)}
    assert len(rows) == 246 and {r["shard"] for r in rows} == fabricated | {f"real{w}.zarr" for w in range(6)}
    assert all(r["status"] == "complete" for r in rows) and mode == "wal"


def test_real_generated_corpus(tmp_path):
    """`wirelessdata generate` (Sionna), then the catalog: 2 shards with configuration and distributions."""
    out = tmp_path / "out"
    small = ["--samples", "16", "--block-size", "8", "--time-steps", "4", "--subcarriers", "16", "--bs-array", "2x2"]
    cmd = [sys.executable, "-m", "wirelessdata.cli", "generate", "--bands", "sub6,28GHz", "--out", str(out), *small]
    subprocess.run(cmd, check=True, capture_output=True)
    rebuild(str(out))
    rows = {r["band"]: r for r in ls(str(out), ["status=complete"])}
    assert set(rows) == {"sub6", "28GHz"}
    for band, fc in (("sub6", 3.5e9), ("28GHz", 28e9)):
        r = rows[band]
        assert r["carrier_frequency_hz"] == fc and r["generator"] == "tr38901" and r["los_policy"] == "random"
        assert (r["num_time_steps"], r["num_subcarriers"], r["num_bs_ant"], r["bs_array"]) == (4, 16, 4, "2x2")
        assert r["path_gain_count"] == 16 and -200 < r["path_gain_p50"] < -40
        assert r["delay_spread_count"] == 16 and 1e-9 < r["delay_spread_p50"] < 1e-5
        assert 0 <= r["angular_spread_mean"] < 0.75  # 4 BS antennas: at most 1 - 1/4
        assert r["csi_power_mean"] == pytest.approx(r["path_gain_mean"], abs=0.5)  # path_gain_db = CSI power
    # paired drops: same UE speeds in both bands, Doppler scales with the carrier
    assert rows["sub6"]["ue_speed_mean"] == pytest.approx(rows["28GHz"]["ue_speed_mean"])
    assert rows["28GHz"]["doppler_mean"] == pytest.approx(rows["sub6"]["doppler_mean"] * 8, rel=1e-6)
    assert names(ls(str(out), ["band=28GHz"])) == [rows["28GHz"]["shard"]]


def test_curation_counts_and_tags_are_filterable(root):
    import zarr

    url = str(root / "b-28GHz.zarr")
    g = zarr.open_group(url, mode="r+")
    g.attrs["curation"] = {"counts": {"any": 3, "near_duplicate": 2, "zero_power": 1}}
    g.attrs["tags"] = ["zero-shot", "wifo"]
    register_shard(str(root), url)
    assert names(ls(str(root), ["flagged>0"])) == ["b-28GHz.zarr"]
    assert names(ls(str(root), ["flag_near_duplicate>=2", "tag=wifo"])) == ["b-28GHz.zarr"]
    assert names(ls(str(root), ["tag!=zero-shot"])) == ["a-28GHz.zarr", "a-sub6.zarr", "c-lidar.zarr"]


def _open_fresh(path, barrier):
    barrier.wait()
    with Catalog(path, create=True) as cat:
        cat.select()


def test_many_processes_creating_one_catalog_at_once(tmp_path):
    """Creating a catalog switches its journal to WAL; SQLite answers that race with "locked" at once (was flaky)."""
    ctx = multiprocessing.get_context("fork")
    for round_ in range(15):
        barrier = ctx.Barrier(8)
        path = tmp_path / f"r{round_}" / CATALOG_FILE
        procs = [ctx.Process(target=_open_fresh, args=(path, barrier)) for _ in range(8)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0] * 8, f"round {round_}"
