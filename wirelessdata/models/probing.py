"""Frozen-encoder task heads on the task views: LoS/NLoS (F1), localisation (MAE, m), sub-6 → mmWave best beam.

A :class:`ProbePredictor` is a baseline of :mod:`wirelessdata.tasks` like the classical ones: ``fit`` reads a
training view, keeps a deterministic ``label_fraction`` of its drops (``labelled_mask``: by a hash of
``sample_id`` salted apart from the split's hash and seeded by ``seed``: the few labels a downstream user has),
encodes them with the frozen encoder and trains an attentive probe (:mod:`wirelessdata.models.heads`); ``predict``
encodes a batch and applies the probe.

``probe_tasks`` scores it with a pretrained encoder and with a randomly initialised encoder of the same architecture
(the control), next to the task's classical baselines (fitted on every training label), on the same test view, once
per seed of ``seeds``. The train/test split and the view's impairments follow ``split_seed`` and are the same for
every seed; a seed changes the labelled subset, the head's initialisation and batches, and the random encoder. The
report gives, per predictor and metric, the mean and standard deviation over the seeds and the per-seed values.
The classical baselines see every training label and are deterministic given the split: they run once.
``probe_run`` is ``wirelessdata probe``: ``probe_tasks`` of a run's model, recorded in its model card.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import MutableMapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from wirelessdata.errors import ConfigError
from wirelessdata.models.checkpoint import load_checkpoint, read_model_card, update_model_card
from wirelessdata.models.heads import (
    AttentiveProbe,
    ProbeConfig,
    check_pooling,
    encoder_features,
    fit_probe,
    probe_predict,
)
from wirelessdata.models.wifo import WiFo
from wirelessdata.tasks.base import Baseline

#: Added to the seed of the labelled subset's hash, so that it is independent of the train/test split's hash.
LABEL_SALT = 7919

#: The tasks a frozen-encoder head serves, and how its target maps to a probe: (kind, what predict returns).
PROBE_TASKS: dict[str, str] = {
    "los-classification": "classify",
    "localisation": "regress",
    "beam-prediction": "classify",
}

#: The names of the two frozen-encoder predictors in a report.
PRETRAINED, RANDOM = "wifo-frozen", "random-frozen"


def labelled_mask(sample_ids: np.ndarray, label_fraction: float, seed: int) -> np.ndarray:
    """Which training samples a head sees: bool ``[S]``.

    The ``ceil(label_fraction * n)`` of the ``n`` distinct ``sample_ids`` with the smallest hash of ``(LABEL_SALT +
    seed, sample_id)`` (salted apart from the split's hash; another seed, another subset), so every seed labels the
    same number of drops. Samples sharing a ``sample_id`` (one drop at several bands) are labelled together.
    """
    ids = np.asarray(sample_ids, dtype=np.uint64)
    unique = np.unique(ids)
    if unique.size == 0:
        return np.zeros(0, bool)
    keys = np.array(
        [
            int.from_bytes(hashlib.blake2b(f"{LABEL_SALT + seed}:{int(i)}".encode(), digest_size=8).digest(), "little")
            for i in unique
        ],
        dtype=np.uint64,
    )
    count = min(unique.size, max(1, math.ceil(label_fraction * unique.size)))
    chosen = unique[np.argsort(keys, kind="stable")[:count]]
    return np.isin(ids, chosen)


def random_encoder(model: WiFo, seed: int) -> WiFo:
    """A randomly initialised WiFo of ``model``'s architecture (the control), drawn from ``seed``, on its device."""
    device = next(model.parameters()).device
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return WiFo(model.cfg).to(device).eval()


def _head_config(task: str, targets: Tensor, steps: int, seed: int, pooling: str) -> tuple[ProbeConfig, Tensor]:
    """The head of ``task`` for the labelled ``targets`` and the targets in the form ``fit_probe`` takes."""
    if PROBE_TASKS[task] == "regress":
        return ProbeConfig("regress", targets.shape[1], steps=steps, seed=seed, pooling=pooling), targets
    targets = targets.long()
    return ProbeConfig("classify", max(2, int(targets.max()) + 1), steps=steps, seed=seed, pooling=pooling), targets


def _as_prediction(task: str, out: Tensor) -> Any:
    """Head outputs ``[S, C]`` → the task's prediction (LoS: bool ``[S]``; else the logits or values, numpy)."""
    if task == "los-classification":
        return out.argmax(1).numpy().astype(bool)
    return out.numpy()


class ProbePredictor(Baseline):
    """An attentive probe on ``model``'s frozen encoder, fitted on ``label_fraction`` of a training view.

    The view applies the task's impairments to the input, so the encoder sees it as given (no extra noise).
    ``seed`` chooses the labelled subset and seeds the head; ``pooling`` (``heads.POOLINGS``) how the features
    treat a sample's global phase.
    """

    needs_fit = True

    def __init__(
        self,
        model: WiFo,
        task: str,
        label_fraction: float = 0.2,
        steps: int = 300,
        seed: int = 0,
        pooling: str = "attentive",
    ) -> None:
        if task not in PROBE_TASKS:
            raise ConfigError(f"no frozen-encoder head for task {task!r}; choose one of {', '.join(PROBE_TASKS)}")
        if not 0 < label_fraction <= 1:
            raise ConfigError(f"label_fraction {label_fraction} must lie in (0, 1]")
        self.model, self.task, self.label_fraction, self.steps, self.seed = model, task, label_fraction, steps, seed
        self.pooling = check_pooling(pooling)
        self.probe: AttentiveProbe | None = None
        self.labelled = 0

    def fit(self, view: Any) -> None:
        ids = np.concatenate([np.asarray(meta.sample_id) for _, _, meta in view.batches()])
        chosen = np.unique(ids[labelled_mask(ids, self.label_fraction, self.seed)])
        inputs, targets = [], []
        for inp, target, meta in view.batches():
            keep = torch.from_numpy(np.isin(np.asarray(meta.sample_id), chosen))
            inputs.append(inp[keep])
            targets.append(target[keep])
        x, y = torch.cat(inputs), torch.cat(targets)
        _check_labelled(self.task, len(y), self.label_fraction)
        tokens, power = encoder_features(self.model, x, snr_db=None, pooling=self.pooling)
        cfg, y = _head_config(self.task, y, self.steps, self.seed, self.pooling)
        self.probe = fit_probe(tokens, power, y, cfg)
        self.labelled = len(y)

    def predict(self, inp: Tensor, meta: Any) -> Any:
        if self.probe is None:
            raise ConfigError(f"{self.task}: fit the frozen-encoder head before predicting")
        tokens, power = encoder_features(self.model, inp, snr_db=None, pooling=self.pooling)
        return _as_prediction(self.task, probe_predict(self.probe, tokens, power))


def _check_labelled(task: str, count: int, label_fraction: float) -> None:
    if count < 2:
        raise ConfigError(
            f"{task}: {count} labelled sample(s) at label_fraction {label_fraction}; "
            "give a larger source or a larger fraction"
        )


def _seed_list(seeds: int | Sequence[int]) -> list[int]:
    """``seeds`` as a list: a count ``n`` gives ``0..n-1``; a sequence is taken as is (distinct, non-negative)."""
    out = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not out or len(set(out)) != len(out) or min(out) < 0:
        raise ConfigError(f"seeds must be a positive count or distinct non-negative integers, got {seeds!r}")
    return out


def summarise_seeds(per_seed: Sequence[dict[str, float]]) -> dict[str, Any]:
    """Per-seed metric dicts (``{metric: value, "samples": n}``, one per seed) → ``{metric: {"mean", "std",
    "values"}, "samples": n}``; ``std`` is the sample standard deviation (``ddof=1``) over the seeds, 0 for one."""
    out: dict[str, Any] = {}
    for key in per_seed[0]:
        values = [float(m[key]) for m in per_seed]
        if key == "samples":
            out[key] = int(values[0])
            continue
        std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
        out[key] = {"mean": float(np.mean(values)), "std": std, "values": values}
    return out


def fingerprint(encoder: WiFo) -> str:
    """A digest of ``encoder``'s architecture and weights (16 hex digits): the key of its features in a memo."""
    h = hashlib.blake2b(repr(encoder.cfg).encode(), digest_size=8)
    for name, tensor in encoder.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


class FrozenFeatures:
    """The features (``encoder_features``) of one frozen encoder and pooling, memoised by the sample's content.

    The task views of one source draw the same impairments for a sample whatever the task (they depend on the
    split seed, the shard and the sample id), so LoS, localisation and beam prediction share most inputs: each is
    encoded once. ``memo`` (default a new dict) maps ``"{fingerprint}/{pooling}/{sample digest}"`` to
    ``(tokens [L, D], power_db [])``; a persistent mapping reuses encodings across calls.
    """

    def __init__(
        self,
        encoder: WiFo,
        pooling: str,
        batch_size: int = 64,
        memo: MutableMapping[str, tuple[Tensor, Tensor]] | None = None,
    ) -> None:
        self.encoder, self.pooling, self.batch_size = encoder, check_pooling(pooling), batch_size
        self.prefix = f"{fingerprint(encoder)}/{pooling}/"
        self.memo: MutableMapping[str, tuple[Tensor, Tensor]] = {} if memo is None else memo
        self.encoded = 0  # samples encoded by this object (not found in the memo)

    def keys(self, inp: Tensor) -> list[str]:
        """The memo keys of the samples of ``inp`` ``[B, ...]`` (a digest of each sample's bytes)."""
        flat = inp.detach().cpu().contiguous().reshape(inp.shape[0], -1)
        return [self.prefix + hashlib.blake2b(_bytes(row), digest_size=16).hexdigest() for row in flat]

    def add(self, inp: Tensor) -> list[str]:
        """Encode the samples of ``inp`` ``[B, T, K, Nbs, Nue]`` not in the memo yet; their keys, in order."""
        keys = self.keys(inp)
        new = {k: i for i, k in enumerate(keys) if k not in self.memo}
        if new:
            tokens, power = encoder_features(
                self.encoder, inp[list(new.values())], snr_db=None, batch_size=self.batch_size, pooling=self.pooling
            )
            for j, key in enumerate(new):
                self.memo[key] = (tokens[j].clone(), power[j].clone())
            self.encoded += len(new)
        return keys

    def stack(self, keys: Sequence[str]) -> tuple[Tensor, Tensor]:
        """``(tokens [S, L, D], power_db [S])`` of the memoised samples ``keys``."""
        pairs = [self.memo[k] for k in keys]
        return torch.stack([t for t, _ in pairs]), torch.stack([p for _, p in pairs])


def _bytes(row: Tensor) -> bytes:
    return row.view(torch.uint8).numpy().tobytes() if row.dtype != torch.bool else row.numpy().tobytes()


def _pass(view: Any, features: FrozenFeatures) -> tuple[list[str], Tensor, np.ndarray]:
    """One pass of ``view`` through ``features``: memo keys ``[S]``, targets ``[S, ...]``, sample ids ``[S]``."""
    keys, targets, ids = [], [], []
    for inp, target, meta in view.batches():
        keys += features.add(inp)
        targets.append(target)
        ids.append(np.asarray(meta.sample_id))
    if not keys:
        raise ConfigError(f"task {view.task.name}: the view has no samples")
    return keys, torch.cat(targets), np.concatenate(ids)


def probe_tasks(
    model: WiFo,
    sources: dict[str, Any],
    *,
    label_fraction: float = 0.2,
    steps: int = 300,
    snr_db: float | None = 20.0,
    batch_size: int = 64,
    seeds: int | Sequence[int] = 3,
    split_seed: int = 0,
    pooling: str = "attentive",
    memo: MutableMapping[str, tuple[Tensor, Tensor]] | None = None,
) -> dict[str, Any]:
    """Frozen-encoder heads (``model`` and a random encoder of its architecture) and the classical baselines.

    :param sources: task name → source of its view (shard paths, a root, or a manifest; for beam prediction the
        paired source/target-band shards as the task expects).
    :param seeds: the head seeds (a count ``n``: ``0..n-1``). Each seed draws its labelled subset, the heads'
        initialisation and batches, and the random encoder (``random_encoder(model, seed)``).
    :param split_seed: the task seed: train/test split and impairments (noise at ``snr_db``), fixed over ``seeds``.
    :param pooling: how the heads' features treat a sample's global phase (``heads.POOLINGS``).
    :param memo: encoder features by sample (see :class:`FrozenFeatures`); default: a new one per encoder, dropped
        after it. Every sample is encoded once per encoder (the pretrained one and one random one per seed).
    :returns: ``{task: {"definition": the test view's definition, "split_seed": int, "seeds": [int],
        "pooling": str, "label_fraction": float, "labelled": [int per seed],
        "results": {predictor: {metric: {"mean": float, "std": float, "values": [float per run]},
        "samples": test samples}}}}``. The predictors are ``wifo-frozen``, ``random-frozen`` (one value per seed)
        and the task's classical baselines (all training labels, deterministic given the split: one run, one
        value, std 0). ``std`` is the sample standard deviation over the seeds (``ddof=1``).
    """
    from wirelessdata.tasks import get

    if unknown := [name for name in sources if name not in PROBE_TASKS]:
        raise ConfigError(f"no frozen-encoder head for task {unknown[0]!r}; choose one of {', '.join(PROBE_TASKS)}")
    if not 0 < label_fraction <= 1:
        raise ConfigError(f"label_fraction {label_fraction} must lie in (0, 1]")
    check_pooling(pooling)
    seed_list = _seed_list(seeds)
    settings = {} if snr_db is None else {"snr_db": snr_db}
    tasks = {name: get(name, seed=split_seed, **settings) for name in sources}
    views = {
        name: (
            task.view(sources[name], split="train", batch_size=batch_size),
            task.view(sources[name], split="test", batch_size=batch_size),
        )
        for name, task in tasks.items()
    }
    runs: dict[str, dict[str, list[dict[str, float]]]] = {name: {PRETRAINED: [], RANDOM: []} for name in tasks}
    labelled: dict[str, list[int]] = {name: [] for name in tasks}
    encoders = [(PRETRAINED, model, seed_list)] + [(RANDOM, random_encoder(model, s), [s]) for s in seed_list]
    for pname, encoder, encoder_seeds in encoders:  # one encoder's features in memory at a time
        features = FrozenFeatures(encoder, pooling, batch_size, memo)
        for name, task in tasks.items():
            train, test = views[name]
            train_keys, train_y, train_ids = _pass(train, features)
            test_keys, test_y, _ = _pass(test, features)
            test_tokens, test_power = features.stack(test_keys)
            for seed in encoder_seeds:
                keep = labelled_mask(train_ids, label_fraction, seed)
                _check_labelled(name, int(keep.sum()), label_fraction)
                if pname == PRETRAINED:
                    labelled[name].append(int(keep.sum()))
                cfg, y = _head_config(name, train_y[torch.from_numpy(keep)], steps, seed, pooling)
                tokens, power = features.stack([k for k, kept in zip(train_keys, keep, strict=True) if kept])
                probe = fit_probe(tokens, power, y, cfg)
                pred = _as_prediction(name, probe_predict(probe, test_tokens, test_power))
                scores = {k: np.asarray(v) for k, v in task.sample_scores(pred, test_y).items()}
                runs[name][pname].append(task.summarise(scores) | {"samples": len(test_y)})
        del features
    report: dict[str, Any] = {}
    for name, task in tasks.items():
        train, test = views[name]
        classical = {key: summarise_seeds([m]) for key, m in _classical(task, train, test).items()}
        report[name] = {
            "definition": test.definition(),
            "split_seed": split_seed,
            "seeds": seed_list,
            "pooling": pooling,
            "label_fraction": label_fraction,
            "labelled": labelled[name],
            "results": {pname: summarise_seeds(per_seed) for pname, per_seed in runs[name].items()} | classical,
        }
    return report


def _classical(task: Any, train: Any, test: Any) -> dict[str, dict[str, float]]:
    """The task's classical baselines, fitted on every training label where they need it, scored in one pass."""
    from wirelessdata.tasks.evaluation import score_many

    baselines: dict[str, Baseline] = task.baselines()
    for baseline in baselines.values():
        if baseline.needs_fit:
            baseline.fit(train)
    return score_many(test, {name: b.predict for name, b in baselines.items()})


def probe_run(run: Path, sources: dict[str, Any], **options: Any) -> dict[str, Any]:
    """:func:`probe_tasks` of the model of the run directory ``run`` (``options``: its keyword options), merged into
    the run's model card as ``frozen_encoder_heads``; returns the report.

    :raises WirelessDataError: no loadable checkpoint, or a damaged model card (refused before any head is trained).
    """
    model = load_checkpoint(run).model
    read_model_card(run)  # a damaged card is refused before the heads are trained, not after
    report = probe_tasks(model, sources, **options)
    update_model_card(run, {"frozen_encoder_heads": report})
    return report
