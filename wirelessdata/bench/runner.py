"""Running a bench: every mixture trained with the frozen recipe for the same budget, per seed, and scored on the
same held-out samples; resumable run by run.

Layout of a bench directory ``BENCH``::

    BENCH/manifests/<mixture>.json        the resolved mixture (its checksum is in the leaderboard)
    BENCH/runs/<mixture>/seed-<s>/        a train run directory (checkpoint.pt, model_card.json) and
    BENCH/runs/<mixture>/seed-<s>/result.json   its score, written last: a run with it is finished
    BENCH/baselines.json                  the classical predictors (or probe baselines) on the held-out samples

Everything is checked before the first step of training: each mixture resolves (leakage check included), all
hold out the same samples, the recipe can patch every training shape, and the budget fits every source's
repetition cap (``max_epochs``: the most passes over a source's distinct samples in the whole run).
A killed bench reruns only its unfinished runs (a started run resumes from its checkpoint, exactly).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from wirelessdata.bench.tracks import BenchSpec, Entry
from wirelessdata.curate.leakage import refuse_leaks
from wirelessdata.errors import ConfigError, WirelessDataError
from wirelessdata.mix.manifest import Manifest, load_manifest
from wirelessdata.mix.spec import build_manifest

RESULT = "result.json"
BASELINES = "baselines.json"


def frozen_recipe() -> dict[str, dict[str, Any]]:
    """The frozen recipe (``wirelessdata/bench/recipe.toml``): ``{"train": ..., "prediction": ..., "beam": ...}``."""
    return tomllib.loads(resources.files("wirelessdata.bench").joinpath("recipe.toml").read_text())


@dataclass(frozen=True)
class Planned:
    """A mixture ready to run: its resolved manifest and where it is saved."""

    entry: Entry
    manifest: Manifest
    path: Path
    checksum: str


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def heldout_digest(manifest: Manifest, heldout: str) -> str:
    """Checksum of the held-out samples of a manifest: its seed, and the shards (checksums) and indices it holds out."""
    sels = [
        (manifest.shards[s.shard].checksum, s.indices.tolist())
        for src in manifest.split(heldout)
        for s in src.selections
    ]
    return _digest([manifest.seed, sorted(sels)])


def safe_name(name: str) -> str:
    """A mixture name as one path component (``track/mixture`` -> ``track--mixture``)."""
    return name.replace("/", "--")


def _train_config(recipe: Mapping[str, Any], budget: int, seed: int) -> Any:
    from wirelessdata.models import TrainConfig

    r = recipe["train"]
    steps = max(1, math.ceil(budget / r["batch_size"]))
    return TrainConfig(
        model=r["model"],
        steps=steps,
        lr=r["lr"],
        warmup_steps=max(1, round(steps * r["warmup_fraction"])),
        mask_ratio=r["mask_ratio"],
        snr_db=r["snr_db"],
        eval_every=steps,
        seed=seed,
    )


def _check_budget(entry: Entry, manifest: Manifest, budget: int) -> None:
    """Refuse a budget that draws more from a source than its ``max_epochs`` passes over its distinct samples."""
    sources = manifest.split("train")
    epoch = sum(s.per_epoch for s in sources)
    caps = {s.name: s.max_epochs for s in entry.spec.sources}
    for src in sources:
        draws = budget * src.per_epoch / epoch
        allowed = src.available * caps[src.name]
        if draws > allowed + 1e-9:
            raise ConfigError(
                f"mixture {entry.name}: a budget of {budget} samples draws {draws:.0f} from source '{src.name}', "
                f"which has {src.available} distinct samples and max_epochs {caps[src.name]:g} (at most "
                f"{allowed:.0f}); lower --budget or raise that source's max_epochs"
            )


def _check_shapes(entry: Entry, manifest: Manifest, recipe: Mapping[str, Any]) -> None:
    from wirelessdata.models.finetune import check_shape

    cfg = _train_config(recipe, 1, 0)
    used = {sel.shard for src in manifest.split("train") for sel in src.selections}
    for i in sorted(used):
        shard = manifest.shards[i]
        try:
            check_shape(shard.name, cfg, shard.shape, use="trained")
        except WirelessDataError as exc:
            raise ConfigError(f"mixture {entry.name}: {exc}; the bench recipe takes shapes divisible by it") from None


def plan(bench: BenchSpec, root: str, budget: int, out: Path) -> list[Planned]:
    """Resolve and check every mixture (module doc) and save its manifest; nothing is trained.

    :raises ConfigError: a mixture that does not resolve or leaks, held-out sets that differ, shapes the recipe
        cannot take, a budget beyond a repetition cap, or a saved manifest that differs from the resolved one.
    """
    if budget < 1:
        raise ConfigError(f"--budget must be a positive number of samples, got {budget}")
    recipe = frozen_recipe()
    planned: list[Planned] = []
    digests: dict[str, str] = {}
    for entry in bench.entries:
        try:
            manifest = build_manifest(entry.spec, root)
            refuse_leaks(manifest)
        except WirelessDataError as exc:
            raise type(exc)(f"mixture {entry.name}: {exc}") from None
        digests[entry.name] = heldout_digest(manifest, bench.heldout)
        _check_shapes(entry, manifest, recipe)
        _check_budget(entry, manifest, budget)
        planned.append(
            Planned(entry, manifest, out / "manifests" / f"{safe_name(entry.name)}.json", manifest.checksum())
        )
    if len(set(digests.values())) > 1:
        first = next(iter(digests))
        other = next(n for n, d in digests.items() if d != digests[first])
        raise ConfigError(
            f"mixtures {first} and {other} hold out different samples of {bench.heldout!r}; give every mixture the "
            "same seed and [[holdout]] filters"
        )
    for p in planned:
        if p.path.exists():
            if load_manifest(p.path).checksum() != p.checksum:
                raise ConfigError(
                    f"{p.path} holds another resolution of mixture {p.entry.name} (the specs or the shards changed); "
                    "use another --out or delete the bench directory"
                )
        else:
            p.manifest.save(p.path)
    return planned


def _run_key(p: Planned, bench: BenchSpec, recipe: Mapping[str, Any], budget: int, seed: int) -> dict[str, Any]:
    return {
        "mixture": p.entry.name,
        "manifest": p.checksum,
        "heldout": bench.heldout,
        "heldout_samples": heldout_digest(p.manifest, bench.heldout),
        "evaluation": bench.evaluation,
        "recipe": recipe,
        "budget": budget,
        "seed": seed,
    }


def _prediction_scores(
    predictors: Mapping[str, Any], manifest: Manifest, heldout: str, settings: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """Per predictor: zero-shot NMSE dB per held-out ``shard/task`` cell and their mean (the score)."""
    from wirelessdata.models import evaluate
    from wirelessdata.models.data import target_shards
    from wirelessdata.tasks.source import shard_info

    test = [shard_info(t.url, t.evaluated, t.name) for t in target_shards(manifest, heldout, settings["eval_fraction"])]
    metrics = evaluate(predictors, test, snr_db=settings["snr_db"], seed=manifest.seed)
    out = {}
    for name in predictors:
        cells = {
            f"{shard}/{task}": res[task][name]["nmse_db"]
            for shard, res in metrics["shards"].items()
            for task in metrics["tasks"]
        }
        out[name] = {"score": sum(cells.values()) / len(cells), "cells": cells}
    return out


def _heldout_urls(manifest: Manifest, heldout: str) -> list[str]:
    return sorted({manifest.shards[s.shard].url for src in manifest.split(heldout) for s in src.selections})


def _beam_results(
    model: Any, manifest: Manifest, heldout: str, settings: Mapping[str, Any], seed: int
) -> dict[str, Any]:
    """``probe_tasks``'s results of the beam task on the held-out paired shards: ``{predictor: {metric: ...}}``."""
    from wirelessdata.models.probing import probe_tasks

    return probe_tasks(
        model,
        {"beam-prediction": _heldout_urls(manifest, heldout)},
        label_fraction=settings["label_fraction"],
        steps=settings["steps"],
        snr_db=settings["snr_db"],
        seeds=[seed],
        split_seed=manifest.seed,
    )["beam-prediction"]["results"]


def _beam_score(result: Mapping[str, Any]) -> dict[str, Any]:
    top1, top3 = result["top1"]["mean"], result["top3"]["mean"]
    return {"score": top1, "cells": {"top1": top1, "top3": top3}}


def baselines(bench: BenchSpec, manifest: Manifest) -> dict[str, Any]:
    """Reference scores on the held-out samples, the same for every mixture: the classical predictors (mean NMSE dB
    over the cells) for ``prediction``; k-NN on every training label and a random frozen encoder for ``beam``."""
    recipe = frozen_recipe()
    if bench.evaluation == "beam":
        from wirelessdata.models import WiFo

        model = WiFo(_train_config(recipe, 1, 0).model_config())
        results = _beam_results(model, manifest, bench.heldout, recipe["beam"], 0)
        return {name: _beam_score(r) for name, r in results.items() if name != "wifo-frozen"}
    from wirelessdata.models import BASELINES as PREDICTORS

    return _prediction_scores(PREDICTORS, manifest, bench.heldout, recipe["prediction"])


def run_one(p: Planned, bench: BenchSpec, budget: int, seed: int, out: Path) -> dict[str, Any]:
    """Train (or resume) and score one mixture at one seed; returns its result (also written to ``result.json``).

    :raises ConfigError: the run directory holds a run of another recipe, budget or data.
    """
    from wirelessdata.mix.loader import MixtureDataset
    from wirelessdata.models import load_checkpoint, train
    from wirelessdata.models.checkpoint import CHECKPOINT
    from wirelessdata.models.data import training_stream

    recipe = frozen_recipe()
    key = _run_key(p, bench, recipe, budget, seed)
    run_dir = out / "runs" / safe_name(p.entry.name) / f"seed-{seed}"
    done = run_dir / RESULT
    if done.exists():
        result = json.loads(done.read_text())
        if result.get("key") != key:
            raise ConfigError(
                f"{run_dir} holds a run of another recipe, budget or data; use another --out or delete it"
            )
        return result
    cfg = _train_config(recipe, budget, seed)
    began = time.perf_counter()
    ds = MixtureDataset(p.manifest, "train", batch_size=recipe["train"]["batch_size"])
    trained = train(
        training_stream(ds),
        cfg,
        run_dir,
        resume=(run_dir / CHECKPOINT).exists(),
        data={"manifest": str(p.path), "manifest_checksum": p.checksum, "bench_key": _digest(key)},
    )
    train_seconds = time.perf_counter() - began
    model = load_checkpoint(run_dir).model
    began = time.perf_counter()
    if bench.evaluation == "beam":
        scored = _beam_score(_beam_results(model, p.manifest, bench.heldout, recipe["beam"], seed)["wifo-frozen"])
    else:
        from wirelessdata.models import model_predictor

        predictor = {"wifo": model_predictor(model)}
        scored = _prediction_scores(predictor, p.manifest, bench.heldout, recipe["prediction"])["wifo"]
    result = {
        "key": key,
        **scored,
        "steps": trained.step,
        "final_loss": trained.losses[-1],
        "seconds": {"train": train_seconds, "evaluate": time.perf_counter() - began},
    }
    tmp = done.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(done)
    return result


def run_bench(
    bench: BenchSpec,
    root: str,
    out: Path,
    *,
    budget: int,
    seeds: int,
    on_run: Callable[[str, int, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Plan, run every (mixture, seed) not yet finished, and return the bench's raw results.

    :param on_run: called after every run with the mixture name, the seed and its result.
    :returns: ``{"planned": [Planned], "results": {mixture: [result per seed]}, "baselines": {...},
        "seconds": {"total", "train", "evaluate"}}`` (the training and evaluation seconds of this invocation's
        runs only).
    """
    if seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {seeds}")
    began = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    planned = plan(bench, root, budget, out)
    base_path = out / BASELINES
    if base_path.exists():
        reference = json.loads(base_path.read_text())
    else:
        reference = baselines(bench, planned[0].manifest)
        base_path.write_text(json.dumps(reference, indent=1))
    results: dict[str, list[dict[str, Any]]] = {}
    spent = {"train": 0.0, "evaluate": 0.0}
    for p in planned:
        for seed in range(seeds):
            finished = (out / "runs" / safe_name(p.entry.name) / f"seed-{seed}" / RESULT).exists()
            result = run_one(p, bench, budget, seed, out)
            if not finished:
                spent = {k: spent[k] + result["seconds"][k] for k in spent}
            results.setdefault(p.entry.name, []).append(result)
            if on_run is not None:
                on_run(p.entry.name, seed, result)
    seconds = {"total": time.perf_counter() - began, **spent}
    return {"planned": planned, "results": results, "baselines": reference, "seconds": seconds}
