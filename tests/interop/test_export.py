"""Exports: WiFo .mat and WiFo-2 .pt read back with hdf5storage, h5py and torch; NumPy / HDF5 with sidecars."""

import json
import shutil
import subprocess
import sys
from dataclasses import replace

import h5py
import hdf5storage
import numpy as np
import pytest
import torch
import zarr
from typer.testing import CliRunner

from conftest import write_synthetic
from wirelessdata._testing import synthetic_block, synthetic_layout
from wirelessdata.catalog import register_shard
from wirelessdata.cli import app
from wirelessdata.errors import WirelessDataError
from wirelessdata.mix.spec import build_manifest, parse_spec, val_mask
from wirelessdata.shard.read import ShardReader
from wirelessdata.shard.stats import shard_stats
from wirelessdata.shard.store import create_shard
from wirelessdata.tasks.layout import csi_to_input

runner = CliRunner()
SIZES = {"time": 4, "subcarrier": 8, "bs_ant": 2, "ue_ant": 2}  # N_ant = 4: WiFo's multiples of 4


def make_shard(root, name, scenario="synthetic", seed=0, sizes=None, modalities=("csi",), flagged=(), n=20):
    """A committed synthetic shard ``name`` of ``n`` samples (sample ids 0..n-1), registered in ``root``'s catalog."""
    layout = synthetic_layout(num_samples=n, block_size=8, sizes=sizes or SIZES, modalities=modalities, seed=seed)
    layout = replace(layout, attrs={**layout.attrs, "scenario": scenario, "band": name.rsplit("-", 1)[-1]})
    shard = create_shard(str(root / f"{name}.zarr"), layout)
    for b in range(layout.num_blocks):
        data = synthetic_block(layout, b)
        data["quality_flags"][np.isin(data["sample_id"], flagged)] = 1
        shard.write_block(b, data)
    shard.commit(shard_stats(shard.group))
    register_shard(str(root), str(root / f"{name}.zarr"))
    return str(root / f"{name}.zarr")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Paired shards a-sub6 / a-28GHz (same sample ids, sample 3 flagged in both) and a held-out UMi shard."""
    root = tmp_path_factory.mktemp("export") / "root"
    root.mkdir()
    make_shard(root, "a-sub6", seed=1, flagged=(3,))
    make_shard(root, "a-28GHz", seed=2, flagged=(3,))
    make_shard(root, "h-sub6", scenario="UMi", seed=3, n=12)
    return root


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def shard_csi(url, indices):
    """Expected values: the shard's CSI of ``indices`` in WiFo's complex (N, T, N_ant, K) layout."""
    x = csi_to_input(torch.from_numpy(ShardReader(url).read(indices)["csi"])).numpy()
    return x[:, 0] + 1j * x[:, 1]


def expected(out, corpus, file):
    """The standardised values a file should hold, from the shards and the export's own record."""
    doc = json.loads((out / "export.json").read_text())
    norm = doc["normalisation"]
    mu, sigma = norm["mean_real"] + 1j * norm["mean_imag"], norm["std"]
    raw = np.concatenate(
        [shard_csi(str(corpus / f"{p['shard']}.zarr"), p["indices"]) for p in doc["files"][file]["shards"]]
    )
    return (raw - mu) / sigma, doc


def test_wifo_round_trip_hdf5storage_and_h5py(corpus, tmp_path):
    out = tmp_path / "dataset" / "D1"
    res = invoke(
        "export", "wifo", corpus / "a-sub6.zarr", corpus / "a-28GHz.zarr", "--out", out, "--val-fraction", 0.25
    )
    assert res.exit_code == 0, res.output
    assert {p.name for p in out.iterdir()} == {"X_train.mat", "X_val.mat", "X_test.mat", "README.md", "export.json"}
    everything = []
    for file, key in (("X_train.mat", "X_train"), ("X_val.mat", "X_val"), ("X_test.mat", "X_val")):
        mat = hdf5storage.loadmat(str(out / file))
        assert list(mat) == [key]
        x = mat[key]
        want, doc = expected(out, corpus, file)
        assert x.dtype == np.complex64 and x.shape == (len(want), 4, 4, 8)  # (N, T, N_ant, K)
        np.testing.assert_allclose(x, want, rtol=1e-5, atol=1e-5)
        everything.append(x)
        with open(out / file, "rb") as fh:
            assert fh.read(19) == b"MATLAB 7.3 MAT-file"
        with h5py.File(out / file, "r") as f:  # column-major on disk: (K, N_ant, T, N), MATLAB single complex
            ds = f[key]
            assert ds.shape == (8, 4, 4, len(want)) and ds.attrs["MATLAB_class"] == b"single"
            assert ds.dtype.names == ("real", "imag")
            np.testing.assert_allclose(ds[:, :, :, 0]["real"].T, want[0].real, atol=1e-5)
        assert f"`{key}`" in (out / "README.md").read_text()
    # standardised over everything exported: mean 0, mean |x|^2 = 1
    allx = np.concatenate(everything)
    assert abs(allx.mean()) < 1e-5 and np.mean(np.abs(allx) ** 2) == pytest.approx(1.0, rel=1e-4)
    # the split: disjoint, flagged sample 3 left out, paired drops on one side, as the hash rule says
    per_split = {f: {(p["shard"], i) for p in d["shards"] for i in p["indices"]} for f, d in doc["files"].items()}
    assert sum(map(len, per_split.values())) == len(set().union(*per_split.values())) == 2 * 19
    ids = np.arange(20, dtype=np.uint64)
    test = set(np.flatnonzero(val_mask(ids, 0.2, 0))) - {3}
    assert {i for s, i in per_split["X_test.mat"] if s == "a-sub6"} == test
    assert {i for s, i in per_split["X_test.mat"] if s == "a-28GHz"} == test


def test_wifo2_tensor_and_dict_match_the_wifo_export(corpus, tmp_path):
    assert invoke("export", "wifo", corpus / "a-sub6.zarr", "--out", tmp_path / "w1").exit_code == 0
    assert invoke("export", "wifo2", corpus / "a-sub6.zarr", "--out", tmp_path / "w2").exit_code == 0
    res = invoke("export", "wifo2", corpus / "a-sub6.zarr", "--out", tmp_path / "w3", "--dict")
    assert res.exit_code == 0, res.output
    mat = hdf5storage.loadmat(str(tmp_path / "w1" / "X_test.mat"))["X_val"]
    plain = torch.load(tmp_path / "w2" / "X_test.pt")
    wrapped = torch.load(tmp_path / "w3" / "X_test.pt")
    assert isinstance(plain, torch.Tensor) and plain.dtype == torch.float32 and plain.shape == (len(mat), 2, 4, 4, 8)
    assert set(wrapped) == {"test"} and torch.equal(wrapped["test"], plain)
    np.testing.assert_allclose(plain[:, 0].numpy() + 1j * plain[:, 1].numpy(), mat, atol=1e-6)
    assert not list((tmp_path / "w2").glob("*.scratch")) and not list((tmp_path / "w2").glob("*.partial"))


def test_normalise_none_keeps_the_shard_values(corpus, tmp_path):
    out = tmp_path / "raw"
    res = invoke("export", "wifo", corpus / "a-sub6.zarr", "--out", out, "--normalise", "none", "--keep-flagged")
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "export.json").read_text())
    assert doc["normalisation"] == {"mean_real": 0.0, "mean_imag": 0.0, "std": 1.0, "applied": False}
    idx = doc["files"]["X_train.mat"]["shards"][0]["indices"]
    assert 3 in {i for f in doc["files"].values() for p in f["shards"] for i in p["indices"]}
    x = hdf5storage.loadmat(str(out / "X_train.mat"))["X_train"]
    np.testing.assert_array_equal(x, shard_csi(str(corpus / "a-sub6.zarr"), idx))
    csi = ShardReader(str(corpus / "a-sub6.zarr")).read(idx)["csi"]  # (N, T, K, Nbs, Nue)
    for t, k, bs, ue in ((0, 0, 0, 0), (2, 5, 1, 0), (3, 7, 1, 1)):
        assert x[1, t, bs * 2 + ue, k] == csi[1, t, k, bs, ue]  # antenna n = bs * Nue + ue, (N, T, N_ant, K)


def test_manifest_splits_become_train_val_test(corpus, tmp_path):
    spec = {
        "seed": 1,
        "val_fraction": 0.25,
        "sources": [{"name": "a", "where": ["scenario=synthetic"]}],
        "holdout": [{"name": "zero-shot", "where": ["scenario=UMi"]}],
    }
    manifest = build_manifest(parse_spec(spec), str(corpus))
    manifest.save(tmp_path / "m.json")
    res = invoke("export", "wifo2", "--manifest", tmp_path / "m.json", "--out", tmp_path / "w")
    assert res.exit_code == 0, res.output
    sizes = {s: torch.load(tmp_path / "w" / f"X_{s}.pt").shape[0] for s in ("train", "val", "test")}
    assert sizes["train"] == manifest.split("train")[0].available
    assert sizes["val"] == manifest.split("val")[0].available
    assert sizes["test"] == manifest.split("zero-shot")[0].available == 12
    res = invoke("export", "numpy", "--manifest", tmp_path / "m.json", "--split", "val", "--out", tmp_path / "n")
    assert res.exit_code == 0, res.output
    sel = manifest.split("val")[0].selections[0]
    folder = tmp_path / "n" / manifest.shards[sel.shard].name
    np.testing.assert_array_equal(np.load(folder / "sample_index.npy"), sel.indices)
    np.testing.assert_array_equal(
        np.load(folder / "csi.npy"), ShardReader(manifest.shards[sel.shard].url).read(sel.indices)["csi"]
    )


def test_numpy_and_hdf5_with_sidecars(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    url = make_shard(root, "s-sub6", modalities=("csi", "lidar", "radar"), n=10)
    group_arrays = ShardReader(url, ("csi", "los", "ue_pos", "radar_cube", "lidar_count")).read_range(0, 10)
    assert invoke("export", "numpy", url, "--out", tmp_path / "np").exit_code == 0
    assert invoke("export", "hdf5", root, "--out", tmp_path / "h5").exit_code == 0
    side_np = json.loads((tmp_path / "np" / "s-sub6.json").read_text())
    side_h5 = json.loads((tmp_path / "h5" / "s-sub6.json").read_text())
    for side in (side_np, side_h5):
        assert side["attrs"]["carrier_frequency_hz"] == 3.5e9 and side["attrs"]["schema"] == "wirelessdata.csi"
        assert side["variables"]["csi"]["dims"] == ["sample", "time", "subcarrier", "bs_ant", "ue_ant"]
        assert side["variables"]["csi"]["dtype"] == "complex64" and side["variables"]["csi"]["shape"] == [
            10,
            4,
            8,
            2,
            2,
        ]
        assert side["variables"]["ue_pos"]["units"] == "m" and "block_checksum" not in side["variables"]
    with h5py.File(tmp_path / "h5" / "s-sub6.h5", "r") as f:
        assert f.attrs["band"] == "sub6" and json.loads(f.attrs["modalities"]) == ["csi", "lidar", "radar"]
        assert f["csi"].dtype == np.complex64 and json.loads(f["csi"].attrs["dims"])[0] == "sample"
        h5 = {k: f[k][...] for k in ("csi", "los", "ue_pos", "radar_cube", "lidar_count", "lidar_points", "time")}
    for name, want in group_arrays.items():
        np.testing.assert_array_equal(np.load(tmp_path / "np" / "s-sub6" / f"{name}.npy"), want)
        np.testing.assert_array_equal(h5[name], want)
    np.testing.assert_array_equal(h5["time"], np.arange(4) * 1e-3)
    assert h5["lidar_points"].shape == np.load(tmp_path / "np" / "s-sub6" / "lidar_points.npy").shape
    res = invoke("export", "hdf5", url, "--out", tmp_path / "some", "--variables", "csi,los")
    assert res.exit_code == 0, res.output
    with h5py.File(tmp_path / "some" / "s-sub6.h5", "r") as f:
        assert set(f) == {"csi", "los"}


def test_existing_output_is_refused_unless_overwrite(corpus, tmp_path):
    out = tmp_path / "o"
    assert invoke("export", "wifo2", corpus / "a-sub6.zarr", "--out", out).exit_code == 0
    res = invoke("export", "wifo2", corpus / "a-sub6.zarr", "--out", out)
    assert isinstance(res.exception, WirelessDataError) and "--overwrite" in str(res.exception)
    (out / "X_val.pt").write_bytes(b"stale")  # a file of the earlier export's kind, listed nowhere: kept
    res = invoke("export", "wifo2", corpus / "a-sub6.zarr", "--out", out, "--overwrite", "--test-fraction", "0")
    assert res.exit_code == 0, res.output
    assert not (out / "X_test.pt").exists() and (out / "X_train.pt").exists()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("keep me")
    res = invoke("export", "wifo", corpus / "a-sub6.zarr", "--out", foreign, "--overwrite")
    assert isinstance(res.exception, WirelessDataError) and "holds no wirelessdata export" in str(res.exception)
    assert (foreign / "thesis.tex").read_text() == "keep me"


def test_bad_inputs_are_one_line_errors(corpus, tmp_path):
    odd = tmp_path / "odd"
    odd.mkdir()
    make_shard(odd, "k6-sub6", sizes={**SIZES, "subcarrier": 6})
    other = tmp_path / "other"
    other.mkdir()
    make_shard(other, "t8-sub6", sizes={**SIZES, "time": 8})
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("x")
    zarr.open_group(str(tmp_path / "foreign.zarr"), mode="w")
    write_synthetic(str(tmp_path / "unfinished.zarr"), commit=False, blocks=[0], sizes=SIZES)
    cases = [
        (["wifo", odd / "k6-sub6.zarr"], "divisible by 4"),
        (["wifo", corpus / "a-sub6.zarr", other / "t8-sub6.zarr"], "differ in CSI shape"),
        (["wifo", empty], "no shard"),
        (["wifo", tmp_path / "nope.zarr"], "no such shard or folder"),
        (["wifo", empty / "notes.txt"], "no shard"),
        (["wifo", tmp_path / "foreign.zarr"], "not a wirelessdata shard"),
        (["wifo2", tmp_path / "unfinished.zarr"], "not complete"),
        (["numpy", tmp_path / "unfinished.zarr"], "not complete"),
        (["wifo"], "give SHARDS or --manifest"),
        (["wifo", corpus / "a-sub6.zarr", "--val-fraction", "0.9", "--test-fraction", "0.5"], "summing to at most 1"),
        (["wifo", corpus / "a-sub6.zarr", "--normalise", "minmax"], "choose standard or none"),
        (["numpy", corpus / "a-sub6.zarr", "--variables", "csi,rgb"], "no variable 'rgb'"),
        (["wifo", corpus, "--manifest", tmp_path / "m.json"], "give SHARDS or --manifest"),
    ]
    for args, message in cases:
        res = invoke("export", *args, "--out", tmp_path / "x")
        assert isinstance(res.exception, WirelessDataError), (args, res.output, res.exception)
        assert message in str(res.exception) and "\n" not in str(res.exception), str(res.exception)
    # a K of 6 is fine for WiFo-2 and NumPy
    assert invoke("export", "wifo2", odd, "--out", tmp_path / "k6").exit_code == 0


def test_cli_prints_error_and_exits_2(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "wirelessdata.cli", "export", "wifo", str(tmp_path), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_real_generated_shards_export_to_wifo(tmp_path):
    """`wirelessdata generate` (Sionna) with T=8, K=16, 2x2 BS, then `export wifo` read back as WiFo does."""
    root = tmp_path / "gen"
    small = ["--samples", "16", "--block-size", "8", "--time-steps", "8", "--subcarriers", "16", "--bs-array", "2x2"]
    subprocess.run(
        [sys.executable, "-m", "wirelessdata.cli", "generate", "--bands", "sub6", "--out", str(root), *small],
        check=True,
        capture_output=True,
    )
    out = tmp_path / "dataset" / "uma"
    assert invoke("export", "wifo", root, "--out", out, "--test-fraction", "1", "--val-fraction", "0").exit_code == 0
    x = hdf5storage.loadmat(str(out / "X_test.mat"))["X_val"]
    want, _ = expected(out, root, "X_test.mat")
    assert x.shape == (16, 8, 4, 16) and np.allclose(x, want, atol=1e-5)
    assert np.mean(np.abs(x) ** 2) == pytest.approx(1.0, rel=1e-4)
    # as WiFo's loader turns it into its input
    t = torch.tensor(np.array(x, dtype=complex)).unsqueeze(1)
    t = torch.cat((t.real, t.imag), dim=1).float()
    assert t.shape == (16, 2, 8, 4, 16)
    shutil.rmtree(root)
