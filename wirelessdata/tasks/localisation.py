"""Localisation from CSI: the UE position relative to the BS.

- input: the observed CSI, complex64 ``[B, T, K, Nbs, Nue]``;
- target: ``ue_pos`` at the first snapshot minus ``bs_pos``, float32 ``[B, 3]`` (m, scene frame);
- metric: MAE (m) = the mean Euclidean distance between predicted and true positions;
- baseline ``knn``: k-NN regression (k = 5, distance-weighted) on the standardised angle-delay power profile
  and the mean channel power (dB), fitted on the training split.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from wirelessdata.tasks.base import Baseline, Task, TaskBatch
from wirelessdata.tasks.knn import FeatureKnn
from wirelessdata.tasks.metrics import abs_error


class Localisation(Task):
    name = "localisation"
    rank = 4
    summary = "estimate the UE position (relative to the BS) from its CSI"
    input_desc = "observed CSI: complex64 [B, T, K, Nbs, Nue]"
    target_desc = "ue_pos[:, 0] - bs_pos: float32 [B, 3], m"
    metric = "mae_m"
    metric_desc = "MAE (m): mean Euclidean distance error"
    baseline_desc = "knn (k-NN regression on angle-delay power profile and channel power)"
    labels = ("ue_pos", "bs_pos")

    def make(self, batch: TaskBatch) -> tuple[Tensor, Tensor]:
        rel = batch.labels["ue_pos"][:, 0] - batch.labels["bs_pos"]
        return batch.observed, torch.from_numpy(rel.astype(np.float32))

    def sample_scores(self, pred: Any, target: Tensor) -> dict[str, np.ndarray]:
        return {"error_m": abs_error(pred, target)}

    def summarise(self, scores: dict[str, np.ndarray]) -> dict[str, float]:
        return {"mae_m": float(np.mean(scores["error_m"]))}

    def baselines(self) -> dict[str, Baseline]:
        return {"knn": FeatureKnn(classify=False)}
