import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import zarr

from conftest import chunk_file, write_synthetic
from wirelessdata.shard.validate import validate_path, validate_shard


def rules(report):
    return {f.rule for f in report.findings}


@pytest.fixture
def shard_url(tmp_path):
    url = str(tmp_path / "root" / "good.zarr")
    write_synthetic(url, num_samples=20, block_size=8, modalities=("csi", "lidar", "rgb", "radar"))
    return url


def test_good_shard_passes(shard_url):
    report = validate_shard(shard_url)
    assert report.ok, report.findings
    assert report.num_samples == 20 and report.status == "complete"


def test_directory_of_shards(tmp_path, shard_url):
    write_synthetic(str(tmp_path / "root" / "other.zarr"), num_samples=5, block_size=5)
    reports = validate_path(str(tmp_path / "root"))
    assert [os.path.basename(r.shard) for r in reports] == ["good.zarr", "other.zarr"]
    assert all(r.ok for r in reports)


def test_missing_path_and_empty_directory(tmp_path):
    assert rules(validate_path(str(tmp_path / "nope"))[0]) == {"path.missing"}
    assert rules(validate_path(str(tmp_path))[0]) == {"path.no_shards"}


def test_not_a_shard(tmp_path):
    zarr.open_group(str(tmp_path / "x.zarr"), mode="w", zarr_format=3)
    assert rules(validate_shard(str(tmp_path / "x.zarr"))) == {"schema.name"}
    (tmp_path / "y.zarr").mkdir()
    assert rules(validate_shard(str(tmp_path / "y.zarr"))) == {"store.open"}


def test_newer_schema_version(shard_url):
    zarr.open_group(shard_url, mode="r+").attrs["schema_version"] = "2.0.0"
    report = validate_shard(shard_url)
    assert rules(report) == {"schema.version"}
    assert "upgrade wirelessdata" in report.findings[0].message


def test_missing_variable(shard_url):
    shutil.rmtree(os.path.join(shard_url, "los"))
    _reconsolidate(shard_url)
    report = validate_shard(shard_url)
    assert "var.missing" in rules(report)
    assert any(f.variable == "los" for f in report.findings)


def test_wrong_dtype(shard_url):
    g = zarr.open_group(shard_url, mode="r+", use_consolidated=False)
    del g["path_gain_db"]
    g.create_array(
        "path_gain_db",
        shape=(20,),
        dtype="float64",
        dimension_names=("sample",),
        attributes={"units": "dB", "long_name": "x"},
    )
    _reconsolidate(shard_url)
    assert "var.dtype" in rules(validate_shard(shard_url))


def test_missing_units(shard_url):
    g = zarr.open_group(shard_url, mode="r+", use_consolidated=False)
    g["ue_vel"].attrs["units"] = "km/h"
    _reconsolidate(shard_url)
    assert "var.units" in rules(validate_shard(shard_url))


def test_corrupt_chunk(shard_url):
    chunk = chunk_file(shard_url, "csi", 0)
    with open(chunk, "r+b") as f:
        f.truncate(100)
    report = validate_shard(shard_url)
    assert "chunk.readable" in rules(report)
    assert any(f.variable == "csi" for f in report.findings)


def test_flipped_byte_fails_checksum(shard_url):
    chunk = chunk_file(shard_url, "csi", 1)
    with open(chunk, "r+b") as f:
        f.seek(40)
        b = f.read(1)
        f.seek(40)
        f.write(bytes([b[0] ^ 0xFF]))
    report = validate_shard(shard_url)
    assert rules(report) == {"blocks.checksum"}
    assert "block 1" in report.findings[0].message


def test_deleted_chunk_file(shard_url):
    """Every chunk is written (also one equal to the fill value): a missing chunk file is damage, named as such
    (Zarr would read the fill value in its place)."""
    os.remove(chunk_file(shard_url, "ue_vel", 0))
    report = validate_shard(shard_url)
    assert rules(report) == {"chunk.readable"}
    (finding,) = report.findings
    assert finding.variable == "ue_vel" and "block 0: cannot read" in finding.message
    assert "chunk 0 of 'ue_vel'" in finding.message and "No such file or directory" in finding.message


def test_interrupted_shard_is_incomplete(tmp_path):
    url = str(tmp_path / "i.zarr")
    write_synthetic(url, commit=False, blocks=[0], num_samples=20, block_size=8)
    report = validate_shard(url)
    assert rules(report) == {"blocks.complete"}
    assert "2 of 3 blocks unwritten" in report.findings[0].message


def test_non_monotonic_time(shard_url):
    zarr.open_group(shard_url, mode="r+")["time"][:] = [0.0, 2e-3, 1e-3, 3e-3]
    assert "coord.monotonic" in rules(validate_shard(shard_url))


def test_nan_csi_duplicate_ids_misaligned_sensing_bad_offsets(shard_url):
    g = zarr.open_group(shard_url, mode="r+")
    g["csi"][3, 0, 0, 0, 0] = np.nan
    g["sample_id"][5] = 0
    g["radar_time"][2] = 0.5
    g["lidar_start"][1] = g["lidar_start"][0]
    g["lidar_count"][0] = 32
    g["lidar_count"][1] = 32
    found = rules(validate_shard(shard_url))
    assert {"values.finite", "sample_id.unique", "sensing.aligned", "ragged.offsets", "blocks.checksum"} <= found


def test_cli_validate_exit_codes_and_json(shard_url, tmp_path):
    from typer.testing import CliRunner

    from wirelessdata.cli import app

    runner = CliRunner()
    ok = runner.invoke(app, ["validate", shard_url, "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["ok"] is True
    bad = runner.invoke(app, ["validate", str(tmp_path / "missing.zarr")])
    assert bad.exit_code == 1
    assert "path.missing" in bad.output


def _reconsolidate(url):
    """Refresh the consolidated metadata after a hand edit, so the edit is what readers see."""
    zarr.consolidate_metadata(url)


def test_curation_flags_may_change_after_commit(shard_url):
    g = zarr.open_group(shard_url, mode="r+")
    g["quality_flags"][3] = 1 << 7
    assert validate_shard(shard_url).ok
    g["path_gain_db"][3] = 0.0
    assert rules(validate_shard(shard_url)) == {"blocks.checksum"}


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (lambda path: path.write_text("{not json"), "unreadable (JSONDecodeError)"),
        (lambda path: path.unlink(), "unreadable (FileNotFoundError)"),
        (lambda path: path.write_text("[1, 2]"), "unreadable (not a JSON object)"),
        (lambda path: path.write_text(path.read_text().replace('"NaN"', '"Infinity"')), "differs from the group's"),
    ],
)
def test_an_arrays_own_metadata_document_damaged(shard_url, damage, why):
    """Readers of the group see the consolidated metadata, an array opened alone its own document: both must agree."""
    damage(Path(shard_url) / "ue_vel" / "zarr.json")
    report = validate_shard(shard_url)
    assert rules(report) == {"store.metadata"}
    (finding,) = report.findings
    assert finding.variable == "ue_vel" and why in finding.message
    assert "restore it or generate it again" in finding.message
