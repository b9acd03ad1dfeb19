"""Frozen-encoder task heads on the task views: LoS/NLoS (F1), localisation (MAE, m), sub-6 → mmWave best beam.

A :class:`ProbePredictor` is a baseline of :mod:`wirelessdata.tasks` like the classical ones: ``fit`` reads a
training view, keeps a deterministic ``label_fraction`` of its samples (by a hash of ``sample_id`` salted apart
from the split's hash: the few labels a downstream user has), encodes them with the frozen encoder and trains an
attentive probe (:mod:`wirelessdata.models.heads`); ``predict`` encodes a batch and applies the probe.
``probe_tasks`` scores it with a pretrained encoder and with a randomly initialised encoder of the same architecture
(the control), next to the task's classical baselines (fitted on every training label), on the same test view.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from wirelessdata.errors import ConfigError
from wirelessdata.mix.spec import val_mask
from wirelessdata.models.heads import ProbeConfig, encoder_features, fit_probe, probe_predict
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


class ProbePredictor(Baseline):
    """An attentive probe on ``model``'s frozen encoder, fitted on ``label_fraction`` of a training view.

    The view applies the task's impairments to the input, so the encoder sees it as given (no extra noise).
    """

    needs_fit = True

    def __init__(self, model: WiFo, task: str, label_fraction: float = 0.2, steps: int = 300, seed: int = 0) -> None:
        if task not in PROBE_TASKS:
            raise ConfigError(f"no frozen-encoder head for task {task!r}; choose one of {', '.join(PROBE_TASKS)}")
        if not 0 < label_fraction <= 1:
            raise ConfigError(f"label_fraction {label_fraction} must lie in (0, 1]")
        self.model, self.task, self.label_fraction, self.steps, self.seed = model, task, label_fraction, steps, seed
        self.probe: Any = None
        self.labelled = 0

    def fit(self, view: Any) -> None:
        inputs, targets = [], []
        for inp, target, meta in view.batches():
            ids = np.asarray(meta.sample_id)
            keep = torch.from_numpy(val_mask(ids, self.label_fraction, LABEL_SALT + self.seed))
            inputs.append(inp[keep])
            targets.append(target[keep])
        x, y = torch.cat(inputs), torch.cat(targets)
        if len(y) < 2:
            raise ConfigError(
                f"{self.task}: {len(y)} labelled sample(s) at label_fraction {self.label_fraction}; "
                "give a larger source or a larger fraction"
            )
        tokens, power = encoder_features(self.model, x, snr_db=None)
        if PROBE_TASKS[self.task] == "regress":
            cfg = ProbeConfig("regress", y.shape[1], steps=self.steps, seed=self.seed)
        else:
            y = y.long()
            cfg = ProbeConfig("classify", max(2, int(y.max()) + 1), steps=self.steps, seed=self.seed)
        self.probe = fit_probe(tokens, power, y, cfg)
        self.labelled = len(y)

    def predict(self, inp: Tensor, meta: Any) -> Any:
        tokens, power = encoder_features(self.model, inp, snr_db=None)
        out = probe_predict(self.probe, tokens, power)
        if self.task == "los-classification":
            return out.argmax(1).numpy().astype(bool)
        return out.numpy()


def probe_tasks(
    model: WiFo,
    sources: dict[str, Any],
    *,
    label_fraction: float = 0.2,
    steps: int = 300,
    snr_db: float | None = 20.0,
    batch_size: int = 64,
    seed: int = 0,
) -> dict[str, Any]:
    """Frozen-encoder heads (``model`` and a random encoder of its architecture) and the classical baselines.

    :param sources: task name → source of its view (shard paths, a root, or a manifest; for beam prediction the
        paired source/target-band shards as the task expects).
    :returns: ``{task: {"definition": ..., "labelled": n, "results": {predictor: metrics}}}``; the predictors are
        ``wifo-frozen``, ``random-frozen`` and the task's classical baselines.
    """
    from wirelessdata.tasks import get
    from wirelessdata.tasks.evaluation import score

    torch.manual_seed(seed)
    random_encoder = WiFo(model.cfg).eval()
    report: dict[str, Any] = {}
    for name, source in sources.items():
        task = get(name, seed=seed, **({} if snr_db is None else {"snr_db": snr_db}))
        train = task.view(source, split="train", batch_size=batch_size)
        test = task.view(source, split="test", batch_size=batch_size)
        predictors: dict[str, Baseline] = {
            "wifo-frozen": ProbePredictor(model, name, label_fraction, steps, seed),
            "random-frozen": ProbePredictor(random_encoder, name, label_fraction, steps, seed),
            **task.baselines(),
        }
        results = {}
        for pname, predictor in predictors.items():
            if predictor.needs_fit:
                predictor.fit(train)
            results[pname] = score(test, predictor.predict)
        labelled = predictors["wifo-frozen"].labelled  # type: ignore[attr-defined]
        report[name] = {"definition": test.definition(), "labelled": labelled, "results": results}
    return report
