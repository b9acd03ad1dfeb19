"""wirelessdata bench on a small generated corpus: leaderboard, bit-identical reruns, resume, and the bad input
refused before any training."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from conftest import generate_root, tiny_recipe
from wirelessdata.bench import load_bench, run_bench
from wirelessdata.catalog import register_shard
from wirelessdata.cli import app
from wirelessdata.errors import ConfigError, WirelessDataError

pytestmark = pytest.mark.usefixtures("one_thread")
runner = CliRunner()

TRACK = """
track = "toy"
heldout = "zero-shot"
evaluation = "prediction"

[common]
seed = 0
val_fraction = 0.2
holdout = [{ name = "zero-shot", where = ["tag=zero-shot"] }]

[[mixtures]]
name = "one"
sources = [{ name = "a", where = ["recipe_name=uma"], max_epochs = 8 }]

[[mixtures]]
name = "two"
sources = [{ name = "ab", where = ["recipe_name=uma,rma"], max_fraction = 0.5, max_epochs = 8 }]
"""


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    r = tmp_path_factory.mktemp("bench") / "root"
    recipe = tiny_recipe(
        {"name": "uma", "scenario": "UMa", "tags": ["pretrain"]},
        {"name": "rma", "scenario": "RMa", "tags": ["pretrain"]},
        {"name": "umi", "scenario": "UMi", "tags": ["zero-shot"]},
        {"name": "odd", "scenario": "UMa", "tags": ["odd"], "num_time_steps": 6},
    )
    return generate_root(r, recipe)


@pytest.fixture
def track(tmp_path):
    path = tmp_path / "toy.toml"
    path.write_text(TRACK)
    return path


def bench_args(track, root, out, budget=64, seeds=2):
    return ["bench", str(track), "--root", str(root), "--out", str(out), "--budget", str(budget), "--seeds", str(seeds)]


def test_leaderboard_is_bit_identical_and_a_killed_bench_reruns_only_its_unfinished_runs(root, track, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    res = runner.invoke(app, bench_args(track, root, first))
    assert res.exit_code == 0, res.output
    board = json.loads((first / "leaderboard.json").read_text())
    assert [r["mixture"] for r in board["rows"]] and {r["mixture"] for r in board["rows"]} == {"toy/one", "toy/two"}
    row = board["rows"][0]
    assert len(row["score"]["values"]) == 2 and row["steps"] == 2 and len(row["manifest_checksum"]) == 64
    assert set(row["cells"]) == {"umi-sub6/time", "umi-sub6/frequency"}
    assert board["budget_samples"] == 64 and board["recipe"]["train"]["model"] == "tiny"
    assert set(board["reference"]) == {"zoh", "ar", "ar-auto"}
    assert (first / "leaderboard.png").stat().st_size > 0 and "| 1 | toy/" in (first / "leaderboard.md").read_text()
    scores = board["rows"][0]["score"]["values"] + board["rows"][1]["score"]["values"]
    assert len(set(scores)) > 1  # the seeds and the data change the score

    res = runner.invoke(app, bench_args(track, root, second))
    assert res.exit_code == 0, res.output
    for name in ("leaderboard.json", "leaderboard.md"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name

    # a bench killed after one run's training: its result is missing, the other runs are finished
    killed = first / "runs" / "toy--two" / "seed-1"
    (killed / "result.json").unlink()
    stamps = {p: p.stat().st_mtime_ns for p in first.glob("runs/*/*/result.json")}
    before = (first / "leaderboard.json").read_bytes()
    ran = []
    raw = run_bench(load_bench([track]), str(root), first, budget=64, seeds=2, on_run=lambda *a: ran.append(a[:2]))
    assert len(ran) == 4 and (killed / "result.json").exists()
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())  # the finished runs were not touched
    assert raw["seconds"]["evaluate"] > 0 and raw["seconds"]["train"] >= 0
    res = runner.invoke(app, bench_args(track, root, first))
    assert res.exit_code == 0 and (first / "leaderboard.json").read_bytes() == before

    # the same directory with another budget is refused, nothing overwritten
    res = runner.invoke(app, bench_args(track, root, first, budget=96))
    assert isinstance(res.exception, ConfigError) and "another recipe, budget or data" in str(res.exception)
    assert (first / "leaderboard.json").read_bytes() == before


def refused(track_text, root, tmp_path, match, budget=64, heldout=None):
    path = tmp_path / "bad.toml"
    path.write_text(track_text)
    out = tmp_path / "out"
    with pytest.raises(WirelessDataError, match=match) as err:
        run_bench(load_bench([path], heldout), str(root), out, budget=budget, seeds=1)
    assert "\n" not in str(err.value)
    assert not (out / "runs").exists()  # refused before any training


def test_bad_input_is_refused_before_training(root, tmp_path):
    refused(TRACK, root, tmp_path, r"mixture toy/one: a budget of 100000 samples draws 100000 .*max_epochs 8", 100000)
    odd = TRACK.replace('where = ["recipe_name=uma"]', 'where = ["recipe_name=odd"]')
    refused(odd, root, tmp_path, r"mixture toy/one: shard odd-sub6 cannot be trained with patch \(4, 4, 8\)")
    other = TRACK.replace(
        'name = "two"\n', 'name = "two"\nholdout = [{ name = "zero-shot", where = ["recipe_name=umi,odd"] }]\n'
    )
    refused(other, root, tmp_path, r"mixtures toy/one and toy/two hold out different samples of 'zero-shot'")
    refused(TRACK, root, tmp_path, r"mixture toy/one has no \[\[holdout\]\] named 'nowhere'", heldout="nowhere")
    refused(TRACK.replace('"prediction"', '"vibes"'), root, tmp_path, r"evaluation 'vibes' is not one of")
    refused(TRACK.replace("recipe_name=uma,rma", "recipe_name=nothing"), root, tmp_path, r"mixture toy/two: source")
    with pytest.raises(ConfigError, match="no such file"):
        load_bench([tmp_path / "missing.toml"])
    for name in ("..", "../../x", "a/b"):  # mixture names name folders of the bench directory
        path = tmp_path / "names.toml"
        path.write_text(TRACK.replace('name = "one"', f'name = "{name}"'))
        with pytest.raises(ConfigError, match=r"mixtures\[0\] needs a name of letters"):
            load_bench([path])


def test_a_mixture_that_leaks_into_the_held_out_set_is_refused(root, tmp_path):
    leaky = tmp_path / "leaky"
    shutil.copytree(root, leaky)
    shutil.copytree(leaky / "uma-sub6.zarr", leaky / "leak-sub6.zarr")  # training drops again, held out
    register_shard(str(leaky), str(leaky / "leak-sub6.zarr"))
    text = TRACK.replace('where = ["tag=zero-shot"]', 'where = ["shard=leak-sub6.zarr"]')
    refused(text, leaky, tmp_path, r"mixture toy/one: the mixture leaks: .* training sample")


def test_the_built_in_tracks_parse():
    from pathlib import Path

    tracks = sorted(Path(__file__).parents[2].joinpath("catalog", "bench").glob("*.toml"))
    assert len(tracks) >= 3
    for path in tracks:
        spec = load_bench([path])
        assert spec.entries and spec.heldout


@pytest.fixture(scope="module")
def bench_root(tmp_path_factory):
    """The built-in tracks' corpora at smoke size, generated and curated as docs/benchmark.md says."""
    from pathlib import Path

    from wirelessdata.generate.recipe import load_recipe

    repo = Path(__file__).parents[2]
    r = tmp_path_factory.mktemp("bench-smoke") / "root"
    for recipe, samples in (("wifo.toml", 24), ("bench-multiband.toml", 48), ("bench-curation.toml", 96)):
        generate_root(r, load_recipe(repo / "generators" / recipe), {"samples": samples})
    from wirelessdata.curate import curate

    curate(str(r))
    return r


@pytest.mark.slow
@pytest.mark.parametrize("track", ["diversity", "temperature", "balance", "curation", "multiband"])
def test_the_built_in_tracks_run_at_smoke_size(bench_root, track, tmp_path):
    from pathlib import Path

    path = Path(__file__).parents[2] / "catalog" / "bench" / f"{track}.toml"
    res = runner.invoke(app, bench_args(path, bench_root, tmp_path / track, budget=64, seeds=2))
    assert res.exit_code == 0, (res.output, res.exception)
    board = json.loads((tmp_path / track / "leaderboard.json").read_text())
    expected = len(load_bench([path]).entries)
    assert len(board["rows"]) == expected and all(len(r["score"]["values"]) == 2 for r in board["rows"])
    assert board["tracks"] == [track] and board["reference"]
    if track == "diversity":  # the same distinct samples in every mixture, from 1 to 16 configurations
        sizes = {r["mixture"]: (r["train_shards"], r["train_samples"]) for r in board["rows"]}
        assert sorted(s for s, _ in sizes.values()) == [1, 2, 4, 8, 16]
        assert max(n for _, n in sizes.values()) - min(n for _, n in sizes.values()) <= 16
    if track == "curation":  # the curated mixture leaves the flagged (planted) samples out
        sizes = {r["mixture"]: r["train_samples"] for r in board["rows"]}
        assert sizes["curation/curated"] < 0.85 * sizes["curation/uncurated"]
