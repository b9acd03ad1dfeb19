"""Seeded mutation harness: damage a copy of each kind of file the toolkit reads, run the command that reads it,
and classify the outcome (the test suite runs a seeded subset, benchmarks/fuzz.py the full run).

A case passes when the command ends with exit 0, 1 or 2 and, when it fails, with a one-line error of this package
(never an internal error, a traceback, "Aborted." or a hang), and when the finished data under the case's root
(shards and catalog) have the same bytes after the command as before it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from typer.testing import CliRunner

from wirelessdata.cli import app
from wirelessdata.errors import WirelessDataError

TEXT_KINDS = ("manifest", "spec", "recipe", "params")
MUTATIONS = ("truncate", "empty", "flip", "junk", "value")
HOSTILE_VALUES = (
    None, True, -1, 0, 1e308, float("nan"), float("inf"), "", "x" * 300, "../../escape", "/etc/passwd",
    "memory://other/x.zarr", [], {}, [1, "a"], {"a": {"b": [None]}}, 2**63, -(2**63) - 1,
)  # fmt: skip


@dataclass
class Case:
    """One mutated input: the kind, the mutation, the seed, and the command outcome."""

    kind: str
    mutation: str
    seed: int
    exit_code: int = 0
    outcome: str = ""  # ok, error, internal, aborted, hang, changed, escaped
    message: str = ""
    seconds: float = 0.0


@dataclass
class Fixture:
    """A kind of file: where the pristine input lives, which file is damaged, and the command that reads it."""

    kind: str
    make: Callable[[Path], Path]  # writes a pristine copy under the case folder; returns the file to damage
    command: Callable[[Path, Path], list[str]]  # (case folder, damaged file) -> CLI arguments
    guarded: Callable[[Path], list[Path]] = field(default=lambda case: [])  # finished data that must not change
    outputs: tuple[str, ...] = ()  # what the command may create or change, relative to the case folder


def mutate_bytes(data: bytes, mutation: str, rng: np.random.Generator) -> bytes:
    """``data`` damaged by ``mutation`` (truncate, empty, flip, junk) with draws from ``rng``."""
    if mutation == "empty" or not data:
        return b""
    if mutation == "truncate":
        return data[: int(rng.integers(0, len(data)))]
    if mutation == "flip":
        out = bytearray(data)
        for i in rng.choice(len(data), size=max(1, min(len(data), int(rng.integers(1, 16)))), replace=False):
            out[i] ^= int(rng.integers(1, 256))
        return bytes(out)
    at = int(rng.integers(0, len(data) + 1))
    return data[:at] + rng.bytes(int(rng.integers(1, 64))) + data[at:]


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside nested dicts and lists."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:8]):
            out += _paths(v, (*prefix, i))
    return out


def mutate_document(doc: Any, rng: np.random.Generator) -> Any:
    """``doc`` (parsed JSON or TOML) with one value replaced by a hostile one, or one unexpected key added."""
    paths = _paths(doc)
    if not paths or rng.random() < 0.15:
        return (
            {**doc, "unexpected_key": HOSTILE_VALUES[int(rng.integers(len(HOSTILE_VALUES)))]}
            if isinstance(doc, dict)
            else doc
        )
    path = paths[int(rng.integers(len(paths)))]
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    parent[path[-1]] = HOSTILE_VALUES[int(rng.integers(len(HOSTILE_VALUES)))]
    return doc


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for root in paths:
        for p in sorted(root.rglob("*")) if root.is_dir() else [root]:
            if p.is_file() and not p.name.endswith((".lock", "-journal")):
                h.update(str(p.relative_to(root.parent)).encode())
                h.update(p.read_bytes())
    return h.hexdigest()


def _tree(work: Path) -> set[str]:
    """Every path under the harness's folder (the cases' parent): where a command could write by escaping."""
    return {str(p) for p in work.parent.rglob("*")} if work.parent.exists() else set()


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout


def run_case(fixture: Fixture, mutation: str, seed: int, work: Path, timeout_s: int = 60) -> Case:
    """Damage a fresh copy of ``fixture``'s file by ``mutation`` (seeded), run its command, classify the outcome."""
    case = Case(fixture.kind, mutation, seed)
    folder = work / f"{fixture.kind}-{mutation}-{seed}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    target = fixture.make(folder)
    rng = np.random.default_rng([seed, MUTATIONS.index(mutation), len(fixture.kind)])
    if mutation == "value":
        text = target.read_text()
        if target.suffix == ".toml":
            target.write_text(mutate_toml(text, rng))
        else:
            target.write_text(json.dumps(mutate_document(json.loads(text), rng)))
    else:
        target.write_bytes(mutate_bytes(target.read_bytes(), mutation, rng))
    guarded = fixture.guarded(folder)
    before = _digest(guarded)
    listing = _tree(work)
    began = time.perf_counter()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout_s)
    try:
        res = CliRunner().invoke(app, fixture.command(folder, target), catch_exceptions=True)
        signal.alarm(0)
        case.exit_code = res.exit_code
        exc = res.exception
        output = res.output or ""
        if isinstance(exc, _Timeout):
            case.outcome, case.message = "hang", f"no answer in {timeout_s} s"
        elif isinstance(exc, WirelessDataError):
            case.exit_code, case.message = 2, str(exc)
            case.outcome = "error" if "\n" not in str(exc) and "internal" not in str(exc) else "internal"
        elif exc is not None and not isinstance(exc, SystemExit):
            case.outcome, case.message = "internal", f"{type(exc).__name__}: {exc}"[:300]
        elif "Aborted" in output or "Traceback" in output:
            case.outcome, case.message = "aborted", output.strip().splitlines()[-1][:300]
        elif res.exit_code not in (0, 1, 2):
            case.outcome, case.message = "internal", f"exit {res.exit_code}: {output[-300:]}"
        else:
            case.outcome = "ok" if res.exit_code == 0 else "error"
            case.message = output.strip().splitlines()[-1][:300] if output.strip() else ""
    except _Timeout:
        case.outcome, case.message = "hang", f"no answer in {timeout_s} s"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    case.seconds = time.perf_counter() - began
    if case.outcome in ("ok", "error") and _digest(guarded) != before:
        case.outcome, case.message = "changed", "finished data changed: " + case.message
    allowed = [(folder / o).resolve() for o in fixture.outputs]
    created = [Path(p).resolve() for p in _tree(work) - listing]
    if escaped := [p for p in created if not any(p == a or p.is_relative_to(a) for a in allowed)]:
        case.outcome, case.message = "escaped", f"created {escaped[0]} outside its output: {case.message}"
    return case


TOML_VALUES = (
    "nan",
    "inf",
    "-1",
    "0",
    "1e308",
    "true",
    '""',
    '"../../escape"',
    '"/etc/passwd"',
    "[]",
    "{}",
    "9223372036854775807",
    '"' + "x" * 300 + '"',
    '[1, "a"]',
    "{ a = { b = [] } }",
)


def mutate_toml(text: str, rng: np.random.Generator) -> str:
    """``text`` with the value of one ``key = value`` line replaced by a hostile TOML literal (or a key added)."""
    lines = text.splitlines()
    keyed = [i for i, line in enumerate(lines) if "=" in line and not line.lstrip().startswith(("#", "["))]
    value = TOML_VALUES[int(rng.integers(len(TOML_VALUES)))]
    if not keyed or rng.random() < 0.15:
        return f"unexpected_key = {value}\n" + text
    i = keyed[int(rng.integers(len(keyed)))]
    lines[i] = lines[i].split("=", 1)[0] + "= " + value
    return "\n".join(lines) + "\n"


def summarise(cases: list[Case]) -> dict[str, dict[str, Any]]:
    """Per kind: cases, outcomes by name and exit code counts."""
    out: dict[str, dict[str, Any]] = {}
    for kind in sorted({c.kind for c in cases}):
        mine = [c for c in cases if c.kind == kind]
        out[kind] = {
            "cases": len(mine),
            "outcomes": dict(Counter(c.outcome for c in mine)),
            "exit_codes": dict(Counter(c.exit_code for c in mine)),
        }
    return out


FAILURES = ("internal", "aborted", "hang", "changed", "escaped")


def make_pristine(base: Path) -> dict[str, Path]:
    """The inputs every kind is damaged from: a small generated root with its catalog, a mixture spec and its
    manifest, the recipe, a trained run, and a DeepMIMO v4 folder (tests/data/deepmimo)."""
    import importlib.util

    from wirelessdata.generate.plan import DropSetPlan
    from wirelessdata.generate.recipe import drop_sets, load_recipe
    from wirelessdata.generate.run import run_plan
    from wirelessdata.mix.loader import MixtureDataset
    from wirelessdata.mix.spec import build_manifest, load_spec
    from wirelessdata.models import TrainConfig, train
    from wirelessdata.models.data import training_stream

    base.mkdir(parents=True, exist_ok=True)
    recipe = base / "recipe.toml"
    recipe.write_text(
        'generator = "tr38901"\nsamples = 16\nseed = 1\nblock_size = 8\n\n[defaults]\nnum_time_steps = 8\n'
        'num_subcarriers = 16\nbs_array = "2x2"\nmultiband = "independent"\n\n[[configs]]\nname = "uma"\n'
        'scenario = "UMa"\nbands = ["sub6"]\ntags = ["pretrain"]\n\n[[configs]]\nname = "umi"\nscenario = "UMi"\n'
        'bands = ["sub6"]\ntags = ["zero-shot"]\n'
    )
    root = base / "root"
    for drops in drop_sets(load_recipe(recipe)):
        run_plan(DropSetPlan(drops, str(root)))
    (paired,) = drop_sets({}, PAIR_OVERRIDES)
    run_plan(DropSetPlan(paired, str(base / "pair")))
    spec = base / "spec.toml"
    spec.write_text(
        'seed = 0\nval_fraction = 0.25\n\n[[sources]]\nname = "pre"\nwhere = ["tag=pretrain"]\nmax_epochs = 2.0\n\n'
        '[[holdout]]\nname = "zero-shot"\nwhere = ["tag=zero-shot"]\n'
    )
    manifest = base / "manifest.json"
    build_manifest(load_spec(spec), str(root)).save(manifest)
    run = base / "run"
    from wirelessdata.mix.manifest import load_manifest

    ds = MixtureDataset(load_manifest(manifest), "train", batch_size=4)
    cfg = TrainConfig(model="tiny", steps=2, warmup_steps=1, eval_every=2)
    train(training_stream(ds), cfg, run, device="cpu")

    def fixture_module(name: str) -> Any:
        data = Path(__file__).parent / "data" / name / "data.py"
        module_spec = importlib.util.spec_from_file_location(f"fuzz_{name}_fixture", data)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        return module

    deepmimo = fixture_module("deepmimo").make_scenario(base / "deepmimo")
    deepsense = fixture_module("deepsense").make_all(base / "deepsense")["scenario31"]
    return {
        "root": root,
        "pair": base / "pair",
        "spec": spec,
        "manifest": manifest,
        "recipe": recipe,
        "run": run,
        "deepmimo": deepmimo,
        "deepsense": deepsense,
    }


PAIR_OVERRIDES = {
    "samples": 8,
    "block_size": 4,
    "num_time_steps": 4,
    "num_subcarriers": 16,
    "bs_array": "1x2",
    "bands": ["sub6", "28GHz"],
}
"""A paired drop set (two shards, whose statistics and validation run as Dask tasks under ``--workers 2``)."""
PAIR_FLAGS = ["--samples", "8", "--block-size", "4", "--time-steps", "4", "--subcarriers", "16", "--bs-array", "1x2"]
"""The same drop set as ``generate`` flags (with ``--bands sub6,28GHz``)."""


def _copy(src: Path, dst: Path) -> Path:
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
    return dst


CATALOG_FILES = (
    "root/catalog.sqlite",
    "root/catalog.sqlite-wal",
    "root/catalog.sqlite-shm",
    "root/catalog.sqlite-journal",
)
"""The catalog of a case's root and SQLite's side files: what a command that updates the catalog may write."""


def _case_manifest(p: dict[str, Path], case: Path) -> Path:
    """The pristine manifest pointing at the case's copy of the root (``case/m.json``)."""
    text = p["manifest"].read_text().replace(str(p["root"]), str(case / "root"))
    (case / "m.json").write_text(text)
    return case / "m.json"


def _root_copy(p: dict[str, Path], case: Path) -> Path:
    """A copy of the pristine root with its catalog (the case damages one of its files)."""
    return _copy(p["root"], case / "root")


def fixtures(p: dict[str, Path | None]) -> list[Fixture]:
    """Every kind of file the harness damages, with the command that reads it and the data that must not change."""
    root, manifest = str(p["root"]), str(p["manifest"])
    shard = "uma-sub6.zarr"

    def guard_root(case: Path) -> list[Path]:
        return [p["root"]]

    def other_shard(case: Path) -> list[Path]:
        return [case / "root" / "umi-sub6.zarr"]

    def chunk(case: Path) -> Path:
        chunks = sorted(
            f for f in (_root_copy(p, case) / shard / "csi").rglob("*") if f.is_file() and f.name != "zarr.json"
        )
        return chunks[len(chunks) // 2]

    return [
        Fixture(
            "manifest", lambda c: _copy(p["manifest"], c / "m.json"), lambda c, f: ["mix", "show", str(f)], guard_root
        ),
        Fixture(
            "spec",
            lambda c: _copy(p["spec"], c / "spec.toml"),
            lambda c, f: ["mix", "build", str(f), "--root", root, "--out", str(c / "out.json")],
            guard_root,
            ("out.json", "out.json.tmp"),
        ),
        Fixture(
            "recipe",
            lambda c: _copy(p["recipe"], c / "recipe.toml"),
            lambda c, f: ["generate", "--recipe", str(f), "--samples", "2", "--out", str(c / "out")],
            outputs=("out",),
        ),
        Fixture(
            "checkpoint",
            lambda c: _copy(p["run"], c / "run") / "checkpoint.pt",
            lambda c, f: ["evaluate", str(c / "run"), "--manifest", manifest, "--threads", "1"],
            guard_root,
            ("run",),
        ),
        Fixture(
            "model-card",
            lambda c: _copy(p["run"], c / "run") / "model_card.json",
            lambda c, f: ["evaluate", str(c / "run"), "--manifest", manifest, "--threads", "1"],
            lambda c: [p["root"], c / "run" / "checkpoint.pt"],
            ("run",),
        ),
        Fixture(
            "catalog",
            lambda c: _root_copy(p, c) / "catalog.sqlite",
            lambda c, f: ["catalog", "ls", str(c / "root")],
            other_shard,
            CATALOG_FILES,
        ),
        Fixture(
            "zarr-metadata",
            lambda c: _root_copy(p, c) / shard / "csi" / "zarr.json",
            lambda c, f: ["validate", str(c / "root")],
            other_shard,
        ),
        Fixture(
            "zarr-group",
            lambda c: _root_copy(p, c) / shard / "zarr.json",
            lambda c, f: ["validate", str(c / "root")],
            other_shard,
        ),
        Fixture("zarr-chunk", chunk, lambda c, f: ["validate", str(c / "root")], other_shard),
        Fixture(
            "chunk-export",
            chunk,
            lambda c, f: ["export", "numpy", str(c / "root" / shard), "--out", str(c / "out")],
            other_shard,
            ("out",),
        ),
        Fixture(
            "chunk-curate",
            chunk,
            lambda c, f: ["curate", "run", str(c / "root")],
            outputs=(f"root/{shard}", "root/umi-sub6.zarr", *CATALOG_FILES),  # curate flags every shard
        ),
        Fixture(
            "chunk-train",
            lambda c: chunk(_case_manifest(p, c).parent),
            lambda c, f: (
                ["train", "--out", str(c / "run"), "--manifest", str(c / "m.json"), "--model", "tiny"]
                + ["--steps", "2", "--batch-size", "4", "--eval-every", "0", "--eval-samples", "8", "--threads", "1"]
            ),
            other_shard,
            ("run",),
        ),
        Fixture(
            "dask-resume",
            lambda c: sorted(
                f
                for f in (_copy(p["pair"], c / "pair") / "tr38901-uma-sub6.zarr" / "csi").rglob("*")
                if f.is_file() and f.name != "zarr.json"
            )[0],
            lambda c, f: ["generate", "--bands", "sub6,28GHz", *PAIR_FLAGS, "--out", str(c / "pair"), "--workers", "2"],
            lambda c: [c / "pair" / "tr38901-uma-28GHz.zarr"],
            tuple(name.replace("root/", "pair/") for name in CATALOG_FILES),
        ),
        Fixture(
            "group-rebuild",
            lambda c: _root_copy(p, c) / shard / "zarr.json",
            lambda c, f: ["catalog", "rebuild", str(c / "root")],
            other_shard,
            CATALOG_FILES,
        ),
        Fixture(
            "deepmimo-npz",
            lambda c: _copy(p["deepmimo"], c / "city") / "power_t000_tx001_r001.npz",
            lambda c, f: ["import", "deepmimo", str(c / "city"), "--out", str(c / "out")],
            outputs=("out",),
        ),
        Fixture(
            "deepmimo-params",
            lambda c: _copy(p["deepmimo"], c / "city") / "params.json",
            lambda c, f: ["import", "deepmimo", str(c / "city"), "--out", str(c / "out")],
            outputs=("out",),
        ),
    ] + [
        Fixture(
            f"deepsense-{name}",
            lambda c, pattern=pattern: sorted(_copy(p["deepsense"], c / "scenario31").glob(pattern))[0],
            lambda c, f: ["import", "deepsense", str(c / "scenario31"), "--out", str(c / "out")],
            outputs=("out",),
        )
        for name, pattern in DEEPSENSE_FILES.items()
    ]


DEEPSENSE_FILES = {
    "csv": "scenario31.csv",
    "image": "unit1/camera_data/image_BS1_1_*.jpg",
    "lidar": "unit1/lidar_data/lidar_data_1.ply",
    "radar": "unit1/radar_data/radar_data_1.npy",
    "gps": "unit2/GPS_data/gps_location_1.txt",
    "power": "unit1/mmWave_data/mmWave_power_1.txt",
}
"""The DeepSense 6G scenario-31 fixture files (glob patterns) the harness damages, one of each kind it reads."""


def mutations_for(kind: str) -> tuple[str, ...]:
    """The mutations that apply to a kind (documents also get hostile values and keys)."""
    text = kind in ("manifest", "spec", "recipe", "model-card", "zarr-metadata", "zarr-group", "deepmimo-params")
    return MUTATIONS if text else MUTATIONS[:-1]


MAX_CASES = {"dask-resume": 40}
"""Kinds whose cases are costly (each starts a Dask LocalCluster): at most this many in a run."""


def run_all(p: dict[str, Path], work: Path, per_kind: int, kinds: tuple[str, ...] | None = None) -> list[Case]:
    """``per_kind`` seeded cases of every kind (mutations in turn; :data:`MAX_CASES` for the costly ones), in order."""
    cases = []
    for fixture in fixtures(p):
        if kinds and fixture.kind not in kinds:
            continue
        muts = mutations_for(fixture.kind)
        for seed in range(min(per_kind, MAX_CASES.get(fixture.kind, per_kind))):
            cases.append(run_case(fixture, muts[seed % len(muts)], seed, work))
            shutil.rmtree(work / f"{fixture.kind}-{muts[seed % len(muts)]}-{seed}", ignore_errors=True)
    return cases
