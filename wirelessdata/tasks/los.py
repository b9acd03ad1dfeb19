"""LoS / NLoS classification from CSI.

- input: the observed CSI, complex64 ``[B, T, K, Nbs, Nue]``;
- target: ``los``, bool ``[B]``;
- metric: F1 of the LoS class;
- baseline ``peak-ratio``: LoS when the K-factor-like ratio of the strongest angle-delay bin's power to the total
  (:func:`wirelessdata.tasks.features.peak_ratio`) reaches a threshold, the threshold maximising F1 on the
  training split.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.metrics import precision_recall_curve
from torch import Tensor

from wirelessdata.errors import ConfigError
from wirelessdata.tasks.base import Baseline, Task, TaskBatch
from wirelessdata.tasks.features import peak_ratio
from wirelessdata.tasks.metrics import f1


class PeakRatio(Baseline):
    """LoS when ``peak_ratio >= threshold``; ``fit`` picks the F1-maximising threshold."""

    needs_fit: ClassVar[bool] = True

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold

    def fit(self, view: Any) -> None:
        ratios, labels = [], []
        for inp, target in view:
            ratios.append(peak_ratio(inp))
            labels.append(np.asarray(target, bool))
        r, y = np.concatenate(ratios), np.concatenate(labels)
        if not y.any():
            raise ConfigError("peak-ratio baseline: no LoS sample in the training split; give a larger source")
        precision, recall, thresholds = precision_recall_curve(y, r)
        score = 2 * precision * recall / np.maximum(precision + recall, np.finfo(float).tiny)
        self.threshold = float(thresholds[int(np.argmax(score[:-1]))])

    def predict(self, inp: Tensor, meta: Any) -> np.ndarray:
        return peak_ratio(inp) >= self.threshold


class LosClassification(Task):
    name = "los-classification"
    rank = 5
    summary = "classify the link as line-of-sight or not from its CSI"
    input_desc = "observed CSI: complex64 [B, T, K, Nbs, Nue]"
    target_desc = "los: bool [B]"
    metric = "f1"
    metric_desc = "F1 score of the LoS class"
    baseline_desc = "peak-ratio (angle-delay peak-to-total power ratio, threshold fitted on training data)"
    labels = ("los",)

    def make(self, batch: TaskBatch) -> tuple[Tensor, Tensor]:
        return batch.observed, torch.from_numpy(batch.labels["los"].astype(bool))

    def sample_scores(self, pred: Any, target: Tensor) -> dict[str, np.ndarray]:
        return {"pred": np.asarray(pred, bool), "true": np.asarray(target, bool)}

    def summarise(self, scores: dict[str, np.ndarray]) -> dict[str, float]:
        return {"f1": f1(scores["pred"], scores["true"]), "accuracy": float(np.mean(scores["pred"] == scores["true"]))}

    def baselines(self) -> dict[str, Baseline]:
        return {"peak-ratio": PeakRatio()}
