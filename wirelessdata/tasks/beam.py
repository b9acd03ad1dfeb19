"""Sub-6 GHz -> mmWave best-beam prediction on paired shards (one drop set generated at both bands).

- input: the observed CSI of the source band (default ``sub6``), complex64 ``[B, T, K, Nbs, Nue]``;
- target: ``best_beam`` of the same drop (same ``sample_id``) in the target-band shard (default ``28GHz``),
  int64 ``[B]``: the index of its strongest BS DFT beam (codebook in the shard's ``beam_codebook`` attribute);
- metric: top-1 and top-3 accuracy; a prediction is a score per beam ``[B, C]``;
- baseline ``knn``: k-NN (k = 5, distance-weighted) on the standardised angle-delay power profile of the sub-6
  CSI, fitted on the training split.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from wirelessdata.tasks.base import Baseline, Param, Task, TaskBatch
from wirelessdata.tasks.knn import FeatureKnn
from wirelessdata.tasks.metrics import topk_hits
from wirelessdata.tasks.source import ShardSamples, find_partner


class BeamPrediction(Task):
    name = "beam-prediction"
    rank = 3
    summary = "predict the best mmWave beam from sub-6 GHz CSI of the same drop (paired shards)"
    input_desc = "observed source-band CSI: complex64 [B, T, K, Nbs, Nue]"
    target_desc = "best_beam of the same sample_id in the target-band shard: int64 [B]"
    metric = "top1"
    metric_desc = "top-1 and top-3 accuracy of the scores [B, beams]"
    baseline_desc = "knn (k-NN on the sub-6 angle-delay power profile)"
    params: ClassVar[dict[str, Param]] = {
        "source_band": Param("sub6", "band label of the input shards", str),
        "target_band": Param("28GHz", "band label of the paired shards giving best_beam", str),
    }
    labels = ("best_beam",)

    def uses(self, shard: ShardSamples) -> bool:
        return shard.attrs.get("band") == self.values["source_band"]

    def label_shard(self, shard: ShardSamples, candidates: list[ShardSamples]) -> ShardSamples:
        return find_partner(shard, candidates, self.values["target_band"])

    def make(self, batch: TaskBatch) -> tuple[Tensor, Tensor]:
        return batch.observed, torch.from_numpy(batch.labels["best_beam"].astype(np.int64))

    def sample_scores(self, pred: Any, target: Tensor) -> dict[str, np.ndarray]:
        return {"top1": topk_hits(pred, target, 1), "top3": topk_hits(pred, target, 3)}

    def summarise(self, scores: dict[str, np.ndarray]) -> dict[str, float]:
        return {"top1": float(np.mean(scores["top1"])), "top3": float(np.mean(scores["top3"]))}

    def baselines(self) -> dict[str, Baseline]:
        return {"knn": FeatureKnn(classify=True)}
