"""DeepSense 6G and DeepMIMO v4 importers on generated fixture folders (tests/data/*/data.py)."""

import importlib.util
import io
import json
from pathlib import Path

import numpy as np
import pytest
import typer
import xarray as xr
from typer.testing import CliRunner

from wirelessdata.catalog import ls
from wirelessdata.cli.importers import import_app
from wirelessdata.errors import WirelessDataError
from wirelessdata.importers import (
    ChannelConfig,
    DeepSenseOptions,
    SourceError,
    StrictError,
    import_deepmimo,
    import_deepsense,
)
from wirelessdata.importers.deepmimo import channel_block, element_positions
from wirelessdata.importers.deepsense import read_ply
from wirelessdata.shard.schema import SCHEMA_FILE, load_schema, schema_dir
from wirelessdata.shard.store import StoreError
from wirelessdata.shard.validate import validate_path

DATA = Path(__file__).parents[1] / "data"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"fixture_{name}", DATA / name / "data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ds_data = _load("deepsense")
dm_data = _load("deepmimo")
app = typer.Typer()
app.add_typer(import_app, name="import")
app.callback()(lambda: None)
runner = CliRunner()

PROPOSED_VARIABLES = {
    "seq_index": {
        "modality": "core",
        "required": False,
        "dims": ["sample"],
        "dtype": "int64",
        "units": "1",
        "long_name": "index of the source sequence (trajectory, pass) the sample belongs to; -1 where unknown",
        "fill_value": -1,
    },
    "sample_time": {
        "modality": "core",
        "required": False,
        "dims": ["sample"],
        "dtype": "float64",
        "units": "s",
        "long_name": "acquisition time of the sample, seconds since the instant in attrs time_origin "
        "(NaN where unknown)",
    },
    "gps_enu": {
        "modality": "gps",
        "required": False,
        "dims": ["sample", "xyz"],
        "dtype": "float32",
        "units": "m",
        "long_name": "UE GNSS position in the local east-north-up frame around attrs enu_origin_latlon",
    },
}
"""The schema entries the importers write when the schema has them (proposed for schemas/csi-v1.json)."""


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("sources")
    return {**ds_data.make_all(root), "city_3p5": dm_data.make_scenario(root)}


@pytest.fixture(scope="module")
def imported(sources, tmp_path_factory):
    """Every fixture imported into one dataset root."""
    root = tmp_path_factory.mktemp("out")
    results = {name: import_deepsense(sources[name], str(root)) for name in ("scenario31", "scenario9", "scenario36")}
    results["city_3p5"] = import_deepmimo(sources["city_3p5"], str(root), config=ChannelConfig(bs_array=(4, 2)))
    return root, results


def listed(result):
    return {(d.row, d.source, d.code, d.action) for d in result.defects}


def test_deepsense_lists_each_fixture_defect_by_row_and_reason(imported):
    _, results = imported
    power = "unit1_pwr_60ghz"
    assert listed(results["scenario31"]) == {
        (None, "time_stamp", "timestamp_no_date", "noted"),
        (None, "time_stamp", "timestamp_no_zone", "noted"),
        (ds_data.NAN_POWER, power, "power_nan", "flagged"),
        (ds_data.ALL_NAN_POWER, power, "power_all_nan", "skipped"),
        (ds_data.MISSING_JPEG, "unit1_rgb", "missing_file", "skipped"),
        (ds_data.TRUNCATED_PLY, "unit1_lidar", "ply_truncated", "skipped"),
        (ds_data.STALE_GPS, "unit2_loc", "gps_stale", "flagged"),
    }
    assert listed(results["scenario9"]) == {
        (None, "unit1_lidar", "missing_folder", "dropped"),
        (None, "time_stamp[UTC]", "timestamp_no_date", "noted"),
    }
    r = results["scenario31"]
    assert (r.rows_total, r.num_samples, r.rows_flagged) == (14, 11, 2)
    truncated = next(d for d in r.defects if d.code == "ply_truncated")
    assert "header says 48 vertices" in truncated.detail


def test_deepsense_beam_labels_agree_with_nanargmax(imported):
    root, results = imported
    for name, base, beams in (("scenario31", 1, 64), ("scenario9", 1, 64), ("scenario36", 0, 256)):
        ds = xr.open_zarr(results[name].url)
        power = ds.beam_power.values
        assert power.shape[1] == beams
        np.testing.assert_array_equal(ds.beam_index.values, np.nanargmax(power, axis=1))
        assert ds.attrs["source_label_base"] == base
    ds = xr.open_zarr(results["scenario31"].url)
    row = int(np.flatnonzero(ds.sample_id.values == ds_data.NAN_POWER)[0])
    assert np.isnan(ds.beam_power.values[row]).sum() == 3
    flag = load_schema().flag_bit("importer_defect")
    flagged = set(ds.sample_id.values[(ds.quality_flags.values & flag) > 0].tolist())
    assert flagged == {ds_data.NAN_POWER, ds_data.STALE_GPS}


def test_outputs_validate_and_are_catalogued(imported):
    root, results = imported
    assert all(r.report.ok for r in results.values())
    assert all(r.ok for r in validate_path(str(root)))
    rows = {Path(r["shard"]).name: r for r in ls(str(root))}
    assert set(rows) == {Path(r.url).name for r in results.values()}
    assert rows["deepsense-scenario31.zarr"]["modalities"] == "beam,rgb,lidar,radar,gps"
    assert rows["deepsense-scenario9.zarr"]["modalities"] == "beam,rgb,radar,gps"
    assert rows["deepmimo-city_3p5.zarr"]["band"] == "3.5GHz"


def test_deepsense_values_are_the_source_files(imported, sources):
    from PIL import Image

    _, results = imported
    folder = sources["scenario31"]
    ds = xr.open_zarr(results["scenario31"].url)
    ids = ds.sample_id.values.tolist()
    assert ids == [1, 2, 3, 4, 5, 8, 10, 13, 14, 15, 16]  # 1-based, gaps kept; 7, 9, 11 skipped
    i = ids.index(3)
    rgb = np.asarray(Image.open(folder / "unit1/camera_data/image_BS1_3_11_44_02.jpg").convert("RGB"))
    np.testing.assert_array_equal(ds.rgb.values[i, 0], rgb)
    start, count = int(ds.lidar_start.values[i]), int(ds.lidar_count.values[i])
    np.testing.assert_array_equal(
        ds.lidar_points.values[start : start + count], read_ply(folder / "unit1/lidar_data/lidar_data_3.ply")
    )
    np.testing.assert_array_equal(ds.radar_cube.values[i], np.load(folder / "unit1/radar_data/radar_data_3.npy"))
    lat, lon = (float(v) for v in (folder / "unit2/GPS_data/gps_location_3.txt").read_text().split())
    np.testing.assert_array_equal(ds.gps_latlon.values[i], [lat, lon])
    assert ds.attrs["enu_origin_latlon"] == list(ds_data.BS_LATLON)
    radar9 = xr.open_zarr(results["scenario9"].url).radar_cube
    assert radar9.shape[1:] == (4, 16, 8) and radar9.dtype == np.complex64


def test_deepmimo_lists_each_fixture_defect_by_row_and_reason(imported):
    _, results = imported
    found = {(d.source, d.row): d.code for d in results["city_3p5"].defects}
    assert found == dm_data.DEFECTS
    actions = {d.code: d.action for d in results["city_3p5"].defects}
    assert actions["no_path"] == "skipped" and actions["delay_beyond_symbol"] == "flagged"
    r = results["city_3p5"]
    assert (r.rows_total, r.num_samples, r.rows_flagged) == (72, 45, 2)  # 3 BS x 24 users


def test_deepmimo_shard_has_no_zero_channel_and_the_geometry(imported):
    _, results = imported
    ds = xr.open_zarr(results["city_3p5"].url)
    assert ds.csi.shape == (45, 1, 64, 8, 1)  # 2 readable pairs x 24 receivers - 3 skipped
    power = np.mean(np.abs(ds.csi.values) ** 2, axis=(1, 2, 3, 4))
    assert (power > 0).all() and np.isfinite(ds.path_gain_db.values).all()
    np.testing.assert_allclose(ds.path_gain_db.values, 10 * np.log10(power), atol=1e-3)
    ids = ds.sample_id.values
    pair, rx = ids // 10**9, ids % 10**9
    assert set(pair.tolist()) == {1, 1001}  # (tx_set 0, tx 0 | 1, rx_set 1)
    users = dm_data.users()
    np.testing.assert_allclose(ds.ue_pos.values[:, 0], users[rx], atol=1e-4)
    blocked = (users[rx, 0] > 30 + 5 * (pair // 1000)) & (rx != 9)  # rx 9 of pair 0 lost its strongest path's power
    np.testing.assert_array_equal(ds.los.values, ~blocked)
    np.testing.assert_allclose(ds.distance_m.values, np.linalg.norm(ds.ue_pos.values[:, 0] - ds.bs_pos.values, axis=1))


def test_deepmimo_channel_of_one_path_is_the_textbook_formula():
    power_dbw, phase, delay, zen_d, az_d, zen_a, az_a = -80.0, 30.0, 1e-6, 80.0, 20.0, 95.0, -150.0
    nan4 = [np.nan] * 4
    m = {
        "power": np.array([[power_dbw, *nan4]]),
        "phase": np.array([[phase, *nan4]]),
        "delay": np.array([[delay, *nan4]]),
        "aod_el": np.array([[zen_d, *nan4]]),
        "aod_az": np.array([[az_d, *nan4]]),
        "aoa_el": np.array([[zen_a, *nan4]]),
        "aoa_az": np.array([[az_a, *nan4]]),
        "inter": np.array([[0.0, *nan4]]),
        "rx_pos": np.array([[10.0, 0.0, 0.0]]),
        "tx_pos": np.array([0.0, 0.0, 0.0]),
    }
    cfg = ChannelConfig(bs_array=(2, 2), ue_array=(2, 1), num_subcarriers=8, subcarrier_spacing_hz=120e3)
    out = channel_block(m, np.array([0]), cfg)

    def resp(panel, zen, az):
        u = np.array(
            [
                np.sin(np.radians(zen)) * np.cos(np.radians(az)),
                np.sin(np.radians(zen)) * np.sin(np.radians(az)),
                np.cos(np.radians(zen)),
            ]
        )
        return np.exp(2j * np.pi * element_positions(panel, 0.5) @ u)

    k = np.arange(8) * 120e3
    want = (10 ** (power_dbw / 20) * np.exp(1j * np.radians(phase)) * np.exp(-2j * np.pi * k * delay))[:, None, None]
    want = want * resp((2, 2), zen_d, az_d)[None, :, None] * resp((2, 1), zen_a, az_a)[None, None, :]
    np.testing.assert_allclose(out["csi"][0, 0], want, rtol=1e-5)
    assert out["los"][0] and out["delay_spread_s"][0] == 0
    np.testing.assert_allclose(out["path_gain_db"][0], power_dbw, atol=1e-4)  # |a| = 1 per element: gain = P


@pytest.mark.parametrize("which", ["deepsense", "deepmimo"])
def test_strict_fails_before_writing(sources, tmp_path, which):
    name = "scenario31" if which == "deepsense" else "city_3p5"
    res = runner.invoke(app, ["import", which, str(sources[name]), "--out", str(tmp_path / "root"), "--strict"])
    assert res.exit_code != 0 and isinstance(res.exception, StrictError)
    assert "\n" not in str(res.exception) and "rerun without --strict" in str(res.exception)
    assert not (tmp_path / "root").exists()


def test_strict_passes_a_clean_source(tmp_path):
    folder = dm_data.make_scenario(tmp_path / "src", defects=False)
    res = runner.invoke(app, ["import", "deepmimo", str(folder), "--out", str(tmp_path / "root"), "--strict", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["ok"] and out["num_samples"] == 72 and out["defects"] == []


class Interrupt(Exception):
    pass


def test_interrupted_import_resumes_and_matches_a_straight_one(sources, tmp_path):
    opts = DeepSenseOptions(block_size=3)

    def stop_after_two(stage, done, total):
        if stage == "write" and done == 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        import_deepsense(sources["scenario31"], str(tmp_path / "a"), options=opts, progress=stop_after_two)
    assert not validate_path(str(tmp_path / "a"))[0].ok  # incomplete: 2 of 4 blocks
    resumed = import_deepsense(sources["scenario31"], str(tmp_path / "a"), options=opts)
    assert (resumed.blocks_written, resumed.blocks_skipped) == (2, 2) and resumed.report.ok
    straight = import_deepsense(sources["scenario31"], str(tmp_path / "b"), options=opts)
    assert straight.checksum == resumed.checksum
    again = import_deepsense(sources["scenario31"], str(tmp_path / "a"), options=opts)
    assert (again.blocks_written, again.checksum) == (0, straight.checksum)


def test_a_shard_being_written_is_locked(sources, tmp_path):
    from wirelessdata.shard.lock import shard_locks

    first = import_deepsense(sources["scenario31"], str(tmp_path))
    with shard_locks([first.url]), pytest.raises(WirelessDataError, match=r"locked by PID \d+ on .*; wait for it"):
        import_deepsense(sources["scenario31"], str(tmp_path))  # as while another import writes it
    assert import_deepsense(sources["scenario31"], str(tmp_path)).checksum == first.checksum  # released


def test_other_options_need_overwrite(sources, tmp_path):
    root = str(tmp_path / "root")
    import_deepmimo(sources["city_3p5"], root, config=ChannelConfig(num_subcarriers=8))
    with pytest.raises(StoreError, match="another recipe"):
        import_deepmimo(sources["city_3p5"], root, config=ChannelConfig(num_subcarriers=16))
    r = import_deepmimo(sources["city_3p5"], root, config=ChannelConfig(num_subcarriers=16), overwrite=True)
    assert xr.open_zarr(r.url).csi.shape[2] == 16


def test_rgb_resize(sources, tmp_path):
    r = import_deepsense(sources["scenario36"], str(tmp_path), options=DeepSenseOptions(rgb_size=(12, 8)))
    ds = xr.open_zarr(r.url)
    assert ds.rgb.shape == (6, 4, 8, 12, 3) and ds.attrs["rgb_resize"].startswith("12x8")


@pytest.fixture
def proposed_schema(tmp_path, monkeypatch):
    """The schema with :data:`PROPOSED_VARIABLES` added, as schemas/csi-v1.json would have them."""
    raw = json.loads((schema_dir() / SCHEMA_FILE).read_text())
    raw["variables"].update(PROPOSED_VARIABLES)
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / SCHEMA_FILE).write_text(json.dumps(raw))
    monkeypatch.setattr("wirelessdata.shard.schema.schema_dir", lambda: tmp_path / "schema")
    load_schema.cache_clear()
    yield
    load_schema.cache_clear()


def test_proposed_variables_are_written_when_the_schema_has_them(sources, tmp_path, proposed_schema):
    r = import_deepsense(sources["scenario31"], str(tmp_path / "a"))
    assert r.report.ok
    ds = xr.open_zarr(r.url)
    rows = np.array([0, 1, 2, 3, 4, 6, 8, 10, 11, 12, 13])  # fixture rows n kept; sequence 1 + n // 7
    np.testing.assert_array_equal(ds.seq_index.values, 1 + rows // 7)
    assert ds.sample_time.values[0] == pytest.approx(11 * 3600 + 44 * 60 + 30)
    assert ds.attrs["time_origin"].startswith("midnight")
    enu = ds.gps_enu.values  # the UE drives east on a street ~20 m north of the base station
    np.testing.assert_allclose(enu[:, 1], 20 / 111_000 * 110_900, rtol=0.01)
    assert (np.diff(enu[:, 0]) >= 0).all() and np.abs(enu[:, 2]).max() < 0.1
    dated = import_deepsense(sources["scenario9"], str(tmp_path / "b"), options=DeepSenseOptions(date="2022-03-15"))
    ds9 = xr.open_zarr(dated.url)
    assert ds9.sample_time.values[0] == pytest.approx(1647344670.0)  # 2022-03-15T11:44:30Z
    assert "timestamp_no_date" not in {d.code for d in dated.defects}


def _one_line_error(args):
    res = runner.invoke(app, ["import", *args])
    assert res.exit_code != 0
    assert isinstance(res.exception, WirelessDataError), res.exception
    assert "\n" not in str(res.exception)
    return str(res.exception)


def test_bad_inputs_give_one_line_errors(sources, tmp_path):
    out = ["--out", str(tmp_path / "root")]
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "empty").mkdir()
    bad_csv = tmp_path / "badcsv"
    bad_csv.mkdir()
    (bad_csv / "badcsv.csv").write_text("a,b\n1,2\n")
    assert "does not exist" in _one_line_error(["deepsense", str(tmp_path / "nope"), *out])
    assert "is not a folder" in _one_line_error(["deepsense", str(tmp_path / "file.txt"), *out])
    assert "no *.csv" in _one_line_error(["deepsense", str(tmp_path / "empty"), *out])
    assert "not a DeepSense scenario CSV" in _one_line_error(["deepsense", str(bad_csv), *out])
    s9 = str(sources["scenario9"])
    assert "--rgb-size" in _one_line_error(["deepsense", s9, *out, "--rgb-size", "big"])
    assert "--date" in _one_line_error(["deepsense", s9, *out, "--date", "15/03/2022"])
    assert "--timezone" in _one_line_error(["deepsense", s9, *out, "--timezone", "Mars/Olympus"])
    assert "params.json" in _one_line_error(["deepmimo", str(tmp_path / "empty"), *out])
    v3 = tmp_path / "v3"
    v3.mkdir()
    (v3 / "params.mat").write_bytes(b"MATLAB")
    assert "v3" in _one_line_error(["deepmimo", str(v3), *out])
    for name, params in {
        "old": {"version": "3.0", "rt_params": {"frequency": 3.5e9}, "txrx_sets": {}},
        "dynamic": {"version": "4.0.5", "rt_params": {"frequency": 3.5e9}, "txrx_sets": {}, "scene": {"num_scenes": 3}},
        "nofreq": {"version": "4.0.5", "rt_params": {}, "txrx_sets": {}},
        "nopairs": {"version": "4.0.5", "rt_params": {"frequency": 3.5e9}, "txrx_sets": {}},
    }.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "params.json").write_text(json.dumps(params))
        _one_line_error(["deepmimo", str(tmp_path / name), *out])
    (tmp_path / "garbled").mkdir()
    (tmp_path / "garbled" / "params.json").write_text("{not json")
    assert "not a DeepMIMO params.json" in _one_line_error(["deepmimo", str(tmp_path / "garbled"), *out])
    city = str(sources["city_3p5"])
    assert "--bs-array" in _one_line_error(["deepmimo", city, *out, "--bs-array", "eight"])
    assert "--subcarriers" in _one_line_error(["deepmimo", city, *out, "--subcarriers", "0"])
    assert not (tmp_path / "root").exists()


def test_a_source_with_no_good_row_is_an_error(tmp_path):
    folder = ds_data.make_scenario9(tmp_path)
    for p in (folder / "unit1" / "mmWave_data").iterdir():
        p.write_text("nan\n" * 64)
    with pytest.raises(SourceError, match="no row can be imported"):
        import_deepsense(folder, str(tmp_path / "root"))


def test_json_report_lists_every_defect(sources, tmp_path):
    res = runner.invoke(app, ["import", "deepsense", str(sources["scenario31"]), "--out", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    out = json.load(io.StringIO(res.output))
    assert out["ok"] and out["num_samples"] == 11 and len(out["defects"]) == 7
    assert out["defect_counts"]["ply_truncated"] == 1


# --- damaged DeepMIMO files: a seeded mutation loop (issue: corrupt and hostile input) ---------------------------


def _damaged_npz(data: bytes, kind: str, rng: np.random.Generator) -> bytes:
    if kind == "empty":
        return b""
    if kind == "truncated":
        return data[: int(rng.integers(0, len(data)))]
    flipped = bytearray(data)
    for i in rng.choice(len(data), size=max(1, len(data) // 50), replace=False):
        flipped[i] ^= int(rng.integers(1, 256))
    return bytes(flipped)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("kind", ["empty", "truncated", "flipped"])
def test_a_damaged_deepmimo_npz_skips_its_pair_and_nothing_else(sources, tmp_path, kind, seed):
    import shutil

    from wirelessdata.importers.deepmimo import scan

    folder = tmp_path / "city"
    shutil.copytree(sources["city_3p5"], folder)
    rng = np.random.default_rng([seed, len(kind)])
    matrix = str(rng.choice(["power", "phase", "delay", "aoa_az", "inter", "rx_pos"]))
    path = folder / f"{matrix}_{dm_data.PAIR1}.npz"
    path.write_bytes(_damaged_npz(path.read_bytes(), kind, rng))
    try:
        result = scan(folder, ChannelConfig(bs_array=(4, 2)))
    except WirelessDataError as exc:  # damage that leaves nothing to import is a one-line error
        assert "\n" not in str(exc)
        return
    codes = {(d.source, d.code) for d in result.defects if d.row is None}
    assert (dm_data.PAIR2, "pair_unreadable") in codes  # the fixture's own missing file
    damaged = [d for d in result.defects if d.source == dm_data.PAIR1 and d.code == "pair_unreadable"]
    if kind != "flipped":  # an empty or cut file is always caught
        assert damaged and path.name in damaged[0].detail
    elif damaged:  # flipped bytes are caught by the zip's CRC, unless they hit only bytes numpy reads past
        assert path.name in damaged[0].detail


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: [p], "a JSON list, not an object"),
        (lambda p: p | {"txrx_sets": [1, 2]}, "txrx_sets is a list"),
        (lambda p: p | {"rt_params": "3.5 GHz"}, "rt_params is a str"),
        (lambda p: p | {"scene": {"num_scenes": "many"}}, "scene.num_scenes 'many' is not a count"),
        (lambda p: p | {"rt_params": {"frequency": True}}, "rt_params.frequency True is not a frequency"),
        (lambda p: {**p, "txrx_sets": {**p["txrx_sets"], "txrx_set_1": 7}}, "txrx_sets.txrx_set_1 is a int"),
        (
            lambda p: {
                **p,
                "txrx_sets": {**p["txrx_sets"], "txrx_set_1": {**p["txrx_sets"]["txrx_set_1"], "num_points": -3}},
            },
            "txrx_set_1.num_points -3 is not a count",
        ),
    ],
)
def test_a_malformed_deepmimo_params_json_is_a_one_line_error(sources, tmp_path, change, message):
    import shutil

    folder = tmp_path / "city"
    shutil.copytree(sources["city_3p5"], folder)
    params = json.loads((folder / "params.json").read_text())
    (folder / "params.json").write_text(json.dumps(change(params)))
    error = _one_line_error(["deepmimo", str(folder), "--out", str(tmp_path / "root")])
    assert message in error
    assert not (tmp_path / "root").exists()


def test_a_ply_body_that_is_not_ascii_is_a_row_defect_and_the_rest_imports(sources, tmp_path):
    import shutil

    folder = tmp_path / "scenario31"
    shutil.copytree(sources["scenario31"], folder)
    ply = sorted(folder.glob("unit1/lidar_data/lidar_data_1.ply"))[0]
    data = ply.read_bytes()
    at = data.find(b"end_header") + 12
    ply.write_bytes(data[:at] + b"\xe5\x98\x81" + data[at:])  # once an internal UnicodeDecodeError mid-import
    result = import_deepsense(folder, str(tmp_path / "root"))
    found = [d for d in result.defects if d.code == "ply_unreadable" and ply.name in d.detail]
    assert found and "not ASCII" in found[0].detail and result.num_samples > 0


def _break_jpeg_body(path: Path) -> None:
    """A marker in the middle of the entropy-coded data: header and end-of-image marker intact, the scan's checks
    pass, Pillow's decoder fails ("broken data stream")."""
    data = path.read_bytes()
    mid = (data.find(b"\xff\xda") + len(data)) // 2
    path.write_bytes(data[:mid] + b"\xff\xc4" + data[mid + 2 :])


def test_a_jpeg_body_that_cannot_be_decoded_is_a_row_defect_and_the_rest_imports(sources, tmp_path):
    import shutil

    folder = tmp_path / "scenario31"
    shutil.copytree(sources["scenario31"], folder)
    options = DeepSenseOptions(block_size=3)
    clean = import_deepsense(folder, str(tmp_path / "clean"), options=options)
    images = sorted((folder / "unit1" / "camera_data").glob("*.jpg"))
    broken = images[len(images) // 2]  # a row of a later block: blocks before it are written when it fails
    _break_jpeg_body(broken)
    result = import_deepsense(folder, str(tmp_path / "root"), options=options)
    found = [d for d in result.defects if d.code == "image_corrupt"]
    assert len(found) == 1 and broken.name in found[0].detail and found[0].action == "skipped"
    assert result.num_samples == clean.num_samples - 1 and result.report.ok
    want, got = xr.open_zarr(clean.url), xr.open_zarr(result.url)
    keep = ~np.isin(want.sample_id.values, [found[0].row])
    assert found[0].row in want.sample_id.values and found[0].row not in got.sample_id.values
    np.testing.assert_array_equal(got.sample_id.values, want.sample_id.values[keep])
    np.testing.assert_array_equal(got.rgb.values, want.rgb.values[keep])


def test_strict_mode_stops_at_a_jpeg_body_found_unreadable_while_writing(tmp_path):
    folder = ds_data.make_scenario31(tmp_path, defects=False)
    _break_jpeg_body(sorted((folder / "unit1" / "camera_data").glob("*.jpg"))[0])
    options = DeepSenseOptions(date="2024-05-01", timezone="UTC")
    with pytest.raises(StrictError, match="1 defects with --strict .*image_corrupt: .*cannot be decoded"):
        import_deepsense(folder, str(tmp_path / "root"), strict=True, options=options)
