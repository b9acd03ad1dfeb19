"""Curation on small corpora with planted defects: flags, duplicates, pairing, leakage, distances, CLI."""

import dataclasses
import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from wirelessdata._testing import synthetic_block, synthetic_layout
from wirelessdata.catalog import CatalogError, ls, register_shard
from wirelessdata.cli.curate import curate_app
from wirelessdata.curate.distance import feature_distance, shard_features
from wirelessdata.curate.duplicates import fingerprints
from wirelessdata.curate.leakage import find_leaks, refuse_leaks
from wirelessdata.curate.lsp import lsp_stats
from wirelessdata.curate.pipeline import curate
from wirelessdata.curate.plant import multipath_csi
from wirelessdata.errors import WirelessDataError
from wirelessdata.generate.planting import near_copy
from wirelessdata.mix.manifest import Manifest, ManifestShard, Selection, Source
from wirelessdata.mix.spec import build_manifest, parse_spec, val_mask
from wirelessdata.shard.read import ShardReader
from wirelessdata.shard.schema import load_schema
from wirelessdata.shard.store import create_shard, open_group
from wirelessdata.shard.validate import validate_shard

SIZES = {"time": 4, "subcarrier": 16, "bs_ant": 8, "ue_ant": 1}
SHAPE = tuple(SIZES.values())
N, BLOCK = 24, 8
SCALE = 1e-4  # path gain -80 dB
runner = CliRunner()


def shard(root, name, csi, ids, band="sub6", modalities=("csi",), attrs=None, arrays=None, sizes=SIZES):
    """Write and register a committed shard of ``csi`` [n, *SHAPE] with ``ids``; ``arrays`` override variables."""
    n = len(csi)
    layout = synthetic_layout(num_samples=n, block_size=BLOCK, sizes=sizes, modalities=modalities)
    optional = ("delay_spread_s", *(k for k in (arrays or {}) if k in ("k_factor_db", "indoor")))
    layout = dataclasses.replace(layout, attrs={**layout.attrs, "band": band, **(attrs or {})}, optional=optional)
    url = str(root / f"{name}.zarr")
    sh = create_shard(url, layout)
    gain = 10 * np.log10(np.mean(np.abs(csi) ** 2, axis=(1, 2, 3, 4)))
    full = {"csi": csi, "sample_id": np.asarray(ids, np.uint64), "path_gain_db": gain, **(arrays or {})}
    for b in range(layout.num_blocks):
        start, stop = layout.block_range(b)
        sh.write_block(b, {**synthetic_block(layout, b), **{k: v[start:stop] for k, v in full.items()}})
    sh.commit({})
    register_shard(str(root), url)
    return url


def clean(seed, n=N):
    return multipath_csi(np.random.default_rng(seed), n, SHAPE) * SCALE


def flag_names(url):
    flags = ShardReader(url, ("quality_flags",)).read_range(0, N)["quality_flags"]
    names = list(load_schema().quality_flags)
    return {i: [m for b, m in enumerate(names) if f >> b & 1] for i, f in enumerate(flags) if f}


def csi_bytes(url):
    return ShardReader(url, ("csi",)).read_range(0, N)["csi"].tobytes()


def test_planted_defects_are_flagged_and_named(tmp_path):
    rng = np.random.default_rng(1)
    a_csi, b_csi = clean(10), clean(11)
    b_csi[3] = a_csi[5]  # exact duplicate, new sample id
    b_csi[4] = near_copy(a_csi[6:7], 30.0, rng)[0]  # 30 dB AWGN, random common phase
    a_csi[1, 0, 0, 0, 0] = np.nan
    a_csi[2] *= 1e-7  # 140 dB below its peers: under the shard's floor (median - 100 dB)
    rgb_time = np.zeros((N, 1))
    rgb_time[7] = 0.5  # snapshots at 0..3 ms, tolerance 1 ms
    qf = np.zeros(N, np.uint32)
    qf[10] = 1 << 6  # the importer's bit, carried forward
    stats = lsp_stats("UMa", "LoS", 3.5e9)
    assert stats is not None, "the TR 38.901 tables are read from Sionna"
    ds = np.full(N, 10**stats.mu_lgds, np.float32)
    ds[11] *= 10 ** (5 * stats.sigma_lgds)
    k = np.full(N, stats.mu_k_db, np.float32)
    k[12] += 5 * stats.sigma_k_db
    a = shard(
        tmp_path,
        "a",
        a_csi,
        np.arange(N),
        modalities=("csi", "rgb"),
        attrs={"scenario": "UMa"},
        arrays={
            "rgb_time": rgb_time,
            "quality_flags": qf,
            "delay_spread_s": ds,
            "k_factor_db": k,
            "los": np.ones(N, bool),
            "indoor": np.zeros(N, bool),
        },
    )
    gain = 10 * np.log10(np.mean(np.abs(b_csi) ** 2, axis=(1, 2, 3, 4)))
    gain[9] = 10.0  # a passive channel never amplifies
    b = shard(tmp_path, "b", b_csi, np.arange(N) + 1000, arrays={"path_gain_db": gain})
    before = {u: csi_bytes(u) for u in (a, b)}
    findings = [(f.rule, f.variable) for f in validate_shard(a).findings]  # the planted NaN and timestamp
    assert {r for r, _ in findings} == {"values.finite", "sensing.aligned"}

    report = curate(str(tmp_path))

    assert flag_names(a) == {
        1: ["non_finite"],
        2: ["zero_power"],
        7: ["sensing_misaligned"],
        10: ["importer_defect"],
        11: ["delay_spread_outlier"],
        12: ["k_factor_outlier"],
    }
    assert flag_names(b) == {3: ["exact_duplicate"], 4: ["near_duplicate"], 9: ["path_gain_out_of_range"]}
    assert sorted(report.groups) == [[(a, 5), (b, 3)], [(a, 6), (b, 4)]]
    assert report.totals()["any"] == 9
    # flags only: CSI and checksums untouched, curation recorded in attrs, catalog row still complete
    assert {u: csi_bytes(u) for u in (a, b)} == before
    assert validate_shard(b).ok
    assert [(f.rule, f.variable) for f in validate_shard(a).findings] == findings  # nothing new, checksums hold
    assert open_group(b).attrs["curation"]["counts"]["exact_duplicate"] == 1
    assert {r["status"] for r in ls(str(tmp_path))} == {"complete"}
    # a rerun changes nothing; a bit outside curation's set is kept
    open_group(b, mode="r+")["quality_flags"][0] = np.uint32(1 << 20)
    assert sum(s.changed for s in curate(str(tmp_path)).shards) == 0
    assert ShardReader(b, ("quality_flags",)).read([0])["quality_flags"][0] == 1 << 20


@pytest.mark.slow
def test_dask_workers_give_the_same_flags(tmp_path):
    csi = clean(60)
    csi[5] = csi[2]
    urls = [shard(tmp_path, "w", csi, np.arange(N)), shard(tmp_path, "z", clean(61), np.arange(N) + 99)]
    serial, parallel = curate(str(tmp_path)), curate(str(tmp_path), workers=2)
    assert parallel.groups == serial.groups and parallel.totals() == serial.totals()
    assert flag_names(urls[0]) == {5: ["exact_duplicate"]}


def test_clean_corpus_and_paired_bands_get_no_duplicate_flag(tmp_path):
    rng = np.random.default_rng(2)
    sub6 = clean(20)
    paired = near_copy(sub6, 30.0, rng)  # the same drops at another band: as close as a near duplicate
    paired[0] = sub6[0]  # even bit-identical
    shard(tmp_path, "d-sub6", sub6, np.arange(N), band="sub6")
    shard(tmp_path, "d-28GHz", paired, np.arange(N), band="28GHz")
    shard(tmp_path, "e-sub6", clean(21), np.arange(N) + 500)
    report = curate(str(tmp_path))
    assert report.groups == [] and report.totals()["any"] == 0
    # the same sample ids in the same band are a copied shard: duplicates
    shard(tmp_path, "f-copy", sub6, np.arange(N), band="sub6")
    report = curate(str(tmp_path))
    assert report.totals()["exact_duplicate"] == N and report.totals()["any"] == N


def test_fingerprint_is_phase_and_scale_invariant_and_separates_drops():
    csi = multipath_csi(np.random.default_rng(3), 64, SHAPE)
    f = fingerprints(csi)
    g = fingerprints(csi * np.complex64(3e-5 * np.exp(1.3j)))
    assert np.abs(f - g).max() < 1e-4
    assert f.shape == (64, 2, 64)
    for v in range(2):
        d = np.linalg.norm(f[:, None, v] - f[None, :, v], axis=-1)[np.triu_indices(64, 1)]
        assert d.min() > 0.1
    assert np.isnan(fingerprints(np.zeros((1, *SHAPE), np.complex64))).all()


def manifest(urls, train, val):
    shards = tuple(ManifestShard(f"s{i}", u, "", N, SHAPE) for i, u in enumerate(urls))
    return Manifest(
        seed=0,
        shards=shards,
        splits={
            "train": (Source("src", tuple(Selection(s, np.array(ix)) for s, ix in train), 0),),
            "val": (Source("src", tuple(Selection(s, np.array(ix)) for s, ix in val), 0),),
        },
    )


def test_find_leaks_names_the_train_sample_and_its_val_twin(tmp_path):
    csi = clean(30)
    csi[3] = csi[20]
    csi[4] = near_copy(csi[21:22], 30.0, np.random.default_rng(4))[0]
    url = shard(tmp_path, "leaky", csi, np.arange(N))
    leaks = find_leaks(manifest([url], [(0, list(range(16)))], [(0, list(range(16, N)))]))
    assert [(x.train.index, x.other.index, x.kind, x.split) for x in leaks] == [
        (3, 20, "exact", "val"),
        (4, 21, "near", "val"),
    ]
    assert str(leaks[0]).startswith("train s0[3] duplicates val s0[20] (exact")
    assert find_leaks(manifest([url], [(0, [0, 1, 2, 5])], [(0, list(range(16, N)))])) == []


def test_find_leaks_on_a_built_manifest(tmp_path):
    ids = np.arange(N, dtype=np.uint64) + 7
    is_val = val_mask(ids, 0.5, seed=0)
    csi = clean(40)
    t, v = np.flatnonzero(~is_val)[0], np.flatnonzero(is_val)[0]
    csi[t] = csi[v]
    shard(tmp_path, "m", csi, ids)
    spec = parse_spec({"seed": 0, "val_fraction": 0.5, "sources": [{"name": "all", "where": ["band=sub6"]}]})
    with pytest.raises(WirelessDataError, match="the mixture leaks: 1 training sample"):
        refuse_leaks(build_manifest(spec, str(tmp_path)))
    leaks = find_leaks(build_manifest(spec, str(tmp_path)))
    assert [(x.train.index, x.other.index, x.kind) for x in leaks] == [(t, v, "exact")]
    curate(str(tmp_path))  # the later copy is flagged, so a default build leaves it out
    assert find_leaks(build_manifest(spec, str(tmp_path))) == []


def test_compare_separates_scenarios_more_than_halves_of_a_shard(tmp_path):
    rng = np.random.default_rng(5)
    narrow = multipath_csi(rng, 64, SHAPE, delay_spread_s=30e-9, angle_spread_rad=0.05, max_doppler_hz=10.0)
    wide = multipath_csi(rng, 64, SHAPE, delay_spread_s=1e-6, angle_spread_rad=0.6, max_doppler_hz=200.0)
    fa = shard_features(shard(tmp_path, "narrow", narrow * SCALE, np.arange(64)))
    fb = shard_features(shard(tmp_path, "wide", wide * SCALE, np.arange(64) + 100))
    across, within = feature_distance(fa, fb), feature_distance(fa[:32], fa[32:])
    assert across.frechet > 5 * within.frechet and across.mmd2 > 5 * abs(within.mmd2)
    assert across.mean_a["delay_spread"] < across.mean_b["delay_spread"]
    assert across.mean_a["angular_spread"] < across.mean_b["angular_spread"]
    with pytest.raises(WirelessDataError, match="no feature measured"):
        feature_distance(np.full((4, 5), np.nan), fb)


def host_app():
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """A host app, registering the sub-app as wirelessdata does."""

    app.add_typer(curate_app, name="curate")
    return app


def test_cli_default_command_compare_and_errors(tmp_path):
    app = host_app()
    csi = clean(50)
    csi[1] = csi[0]
    a = shard(tmp_path, "x", csi, np.arange(N))
    b = shard(tmp_path, "y", multipath_csi(np.random.default_rng(6), N, SHAPE, delay_spread_s=1e-6), np.arange(N))
    res = runner.invoke(app, ["curate", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "exact_duplicate" in res.output and "x[0] = x[1]" in res.output
    assert runner.invoke(app, ["curate", "run", str(tmp_path)]).exit_code == 0
    fig = tmp_path / "cmp.png"
    res = runner.invoke(app, ["curate", "compare", a, b, "-o", str(fig), "--max-samples", "16"])
    assert res.exit_code == 0, res.output
    assert "Fréchet" in res.output and fig.stat().st_size > 10_000
    assert isinstance(runner.invoke(app, ["curate", str(tmp_path / "nope")]).exception, CatalogError)
    empty = tmp_path / "empty"
    empty.mkdir()
    res = runner.invoke(app, ["curate", str(empty)])
    assert isinstance(res.exception, CatalogError) and "catalog rebuild" in str(res.exception)
    res = runner.invoke(app, ["curate", "compare", a, str(empty)])
    assert "no shard (*.zarr group with zarr.json) there" in str(res.exception)
    assert "threshold 5.0" in str(runner.invoke(app, ["curate", str(tmp_path), "--threshold", "5"]).exception)


def tiny_checkpoint(run):
    """A tiny WiFo trained for 2 steps on SHAPE samples, written by the project's own training loop."""
    torch = pytest.importorskip("torch")
    from wirelessdata.models.train import TrainConfig, train

    batches = [{"csi": torch.from_numpy(clean(70 + i, 8)), "sample_id": torch.arange(8), "shard": "c"} for i in (0, 1)]
    train(batches, TrainConfig(model="tiny", steps=2, warmup_steps=1, masks=("random",)), run, device="cpu")
    return run


def test_embedding_distance_from_a_checkpoint(tmp_path):
    from wirelessdata.curate.embedding import embedding_frechet, load_encoder, shard_embeddings

    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    run = tiny_checkpoint(tmp_path / "run")
    rng = np.random.default_rng(5)
    narrow = multipath_csi(rng, 257, SHAPE, delay_spread_s=30e-9, angle_spread_rad=0.05, max_doppler_hz=10.0)
    wide = multipath_csi(rng, 256, SHAPE, delay_spread_s=1e-6, angle_spread_rad=0.6, max_doppler_hz=200.0)
    narrow[3, 0, 0, 0, 0] = np.nan  # no embedding: left out
    a = shard(tmp_path, "narrow", narrow * SCALE, np.arange(257))
    b = shard(tmp_path, "wide", wide * SCALE, np.arange(256) + 300)
    encoder = load_encoder(run, "cpu")
    assert encoder.dim == 64 and encoder.step == 2
    ea, eb = shard_embeddings(a, encoder), shard_embeddings(b, encoder)
    assert ea.shape == (256, 64) and eb.shape == (256, 64) and np.isfinite(ea).all()
    # equal set sizes on both sides (the Fréchet distance of few samples in 64 dims is biased upwards)
    across, within = embedding_frechet(ea[::2], eb[::2]), embedding_frechet(ea[::2], ea[1::2])
    assert across > 3 * within, (across, within)

    app = host_app()
    res = runner.invoke(app, ["curate", "compare", a, b, "--checkpoint", str(run), "--device", "cpu", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["embedding_frechet"] > 0 and json.loads(res.output)["embedding_dim"] == 64
    fig = tmp_path / "emb.png"
    res = runner.invoke(app, ["curate", "compare", a, b, "--checkpoint", str(run), "--device", "cpu", "-o", str(fig)])
    assert res.exit_code == 0 and "embedding Fréchet distance" in res.output and fig.stat().st_size > 10_000


def test_embedding_distance_bad_inputs(tmp_path):
    from wirelessdata.curate.distance import compare

    torch = pytest.importorskip("torch")
    run = tiny_checkpoint(tmp_path / "run")
    a = shard(tmp_path, "a", clean(80), np.arange(N))
    odd = shard(tmp_path, "odd", clean(81)[:, :, :10], np.arange(N), sizes={**SIZES, "subcarrier": 10})

    def refused(checkpoint, b=a, match=""):
        with pytest.raises(WirelessDataError, match=match) as err:
            compare([a], [b], checkpoint=checkpoint, device="cpu")
        assert "\n" not in str(err.value)

    refused(tmp_path / "nowhere", match="no checkpoint at")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    refused(tmp_path / "junk.pt", match="corrupt or not a wirelessdata checkpoint")
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    state["model"]["patch_embed.weight"] = state["model"]["patch_embed.weight"][:, :, :2]  # another model's shape
    torch.save(state, tmp_path / "other.pt")
    refused(tmp_path / "other.pt", match="does not match the model code")
    refused(run, b=odd, match=r"odd.zarr: CSI shape \(time 4, antennas 8, subcarriers 10\) is not divisible")
