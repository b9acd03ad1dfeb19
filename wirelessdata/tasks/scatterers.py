"""Scatterer localisation from a LiDAR scan (LLM4SG-style; ray-traced shards generated with ``lidar`` in sensing
and ``scatterers = true``).

Inputs and targets are ragged: a batch is a list of ``B`` tensors each.

- input: the sample's LiDAR scan ``lidar_points``, per sample float32 ``[N_i, 4]`` (x, y, z in m, intensity),
  sensor frame;
- target: the interaction points of the sample's traced paths in the same LiDAR frame (``scatterer_points_lidar``),
  per sample float32 ``[M_i, 3]`` (m); with ``first_bounce_only`` (default true) only the first interaction of
  each path from the BS (``scatterer_depth == 1``). A line-of-sight-only drop has no point (``M_i = 0``);
- metric: symmetric Chamfer distance (m, :func:`~wirelessdata.tasks.metrics.chamfer`: the mean of the two mean
  nearest-point distances), averaged over the samples with at least one target point (the others are not scored;
  ``scored`` counts them), and recall@1m: the share of a sample's target points with a predicted point within 1 m,
  averaged likewise. A prediction is a list of ``B`` arrays ``[P_i, 3]`` (m, LiDAR frame); an empty one scores
  Chamfer ``inf`` and recall 0;
- baseline ``nearest-drop``: the training sample whose UE position relative to the BS (``ue_pos`` at the first
  snapshot minus ``bs_pos``) is nearest, among those with target points; its points, taken to the scene frame with
  its LiDAR pose and into this sample's LiDAR frame with this one's (:class:`wirelessdata.sensing.Pose`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from wirelessdata.errors import ConfigError
from wirelessdata.sensing import Pose
from wirelessdata.tasks.base import Baseline, Param, Task, TaskBatch, flag, no_impairments, require
from wirelessdata.tasks.batch import Meta
from wirelessdata.tasks.metrics import chamfer, recall_within
from wirelessdata.tasks.source import ShardSamples, shard_labels

RECALL_RADIUS_M = 1.0
"""Radius of recall@1m (m)."""
SIDE = ("ue_pos", "bs_pos", "lidar_pos", "lidar_orientation")
"""What the nearest-drop baseline looks up per sample."""


class NearestDrop(Baseline):
    """The scatterers of the training drop with the nearest UE position (module doc)."""

    needs_fit: ClassVar[bool] = True

    def __init__(self) -> None:
        self.keys = np.zeros((0, 3))
        self.points: list[np.ndarray] = []

    @staticmethod
    def side(meta: Meta) -> tuple[np.ndarray, list[Pose]]:
        """UE positions relative to the BS ``[B, 3]`` (m) and the LiDAR poses of a batch."""
        s = shard_labels(meta.shard.url, SIDE, meta.shard.attrs.get("checksum")).take(meta.sample_id)
        pairs = zip(s["lidar_pos"], s["lidar_orientation"], strict=True)
        poses = [Pose(p.astype(np.float64), o.astype(np.float64)) for p, o in pairs]
        return (s["ue_pos"][:, 0] - s["bs_pos"]).astype(np.float64), poses

    def fit(self, view: Any) -> None:
        keys, self.points = [], []
        for _, target, meta in view.batches():
            rel, poses = self.side(meta)
            for key, pose, points in zip(rel, poses, target, strict=True):
                if len(points):
                    keys.append(key)
                    self.points.append(pose.to_scene(points.numpy()))
        if not keys:
            raise ConfigError("nearest-drop baseline: no training sample with scatterer points; give more drops")
        self.keys = np.stack(keys)

    def predict(self, inp: Any, meta: Meta) -> list[np.ndarray]:
        rel, poses = self.side(meta)
        nearest = np.linalg.norm(rel[:, None] - self.keys[None], axis=-1).argmin(axis=1)
        return [pose.to_sensor(self.points[j]).astype(np.float32) for pose, j in zip(poses, nearest, strict=True)]


class Scatterers(Task):
    name = "scatterers"
    rank = 9
    reads_csi = False
    summary = "locate the scatterers of the drop's propagation paths from its LiDAR scan (ray-traced)"
    input_desc = "lidar_points: list of B float32 [N_i, 4] (x, y, z m, intensity), sensor frame"
    target_desc = "scatterer_points_lidar (first bounces by default): list of B float32 [M_i, 3], m, LiDAR frame"
    metric = "chamfer_m"
    metric_desc = "symmetric Chamfer distance (m) and recall@1m, mean over samples with target points"
    baseline_desc = "nearest-drop (scatterers of the training drop with the nearest UE position, in this LiDAR frame)"
    params: ClassVar[dict[str, Param]] = {
        "first_bounce_only": Param(True, "only the first interaction of each path (scatterer_depth == 1)", flag),
    }
    labels = ("lidar_points", "scatterer_points_lidar", "scatterer_depth")

    def validate(self) -> None:
        no_impairments(self)

    def check(self, shard: ShardSamples) -> None:
        fix = "generate ray-traced shards with lidar in sensing and scatterers = true (--sensing lidar --scatterers)"
        require(shard, self.labels, fix)

    def make(self, batch: TaskBatch) -> tuple[list[Tensor], list[Tensor]]:
        inp = [torch.from_numpy(np.asarray(scan, np.float32)) for scan in batch.labels["lidar_points"]]
        pairs = zip(batch.labels["scatterer_points_lidar"], batch.labels["scatterer_depth"], strict=True)
        first = self.values["first_bounce_only"]
        target = [torch.from_numpy(np.asarray(p[d == 1] if first else p, np.float32)) for p, d in pairs]
        return inp, target

    def sample_scores(self, pred: Any, target: Any) -> dict[str, np.ndarray]:
        if len(pred) != len(target):
            raise ValueError(f"{len(pred)} predicted point sets for {len(target)} samples")
        pairs = list(zip(pred, target, strict=True))
        return {
            "chamfer_m": np.array([chamfer(p, t) for p, t in pairs]),
            "recall_1m": np.array([recall_within(p, t, RECALL_RADIUS_M) for p, t in pairs]),
        }

    def summarise(self, scores: dict[str, np.ndarray]) -> dict[str, float]:
        scored = ~np.isnan(scores["chamfer_m"])
        if not scored.any():
            return {"chamfer_m": np.nan, "recall_1m": np.nan, "scored": 0.0}
        return {
            "chamfer_m": float(np.mean(scores["chamfer_m"][scored])),
            "recall_1m": float(np.mean(scores["recall_1m"][scored])),
            "scored": float(scored.sum()),
        }

    def baselines(self) -> dict[str, Baseline]:
        return {"nearest-drop": NearestDrop()}
