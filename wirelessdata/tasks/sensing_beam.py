"""Best-beam prediction from a sensor of the drop (camera image, depth map or LiDAR scan; ray-traced shards).

- input (parameter ``modality``), read from the input shards (band ``source_band``, default the target band; the
  sensor variables are the same in every band's shard of a drop set):

  - ``rgb``: camera ``camera`` (default 0, the first of the rig's ``camera.mounts``), uint8 ``[B, H, W, 3]`` sRGB;
  - ``depth``: camera ``camera``'s depth map, float32 ``[B, H, W]``, m along the optical axis, ``inf`` = no hit;
  - ``lidar``: the LiDAR scan, a list of ``B`` float32 tensors ``[N_i, 4]`` (x, y, z in m, intensity), sensor frame;
- target: ``best_beam`` of the same drop (same ``sample_id``) at ``target_band`` (default ``28GHz``): from the
  shard itself when it is of that band, else from its paired shard of that band (same ``recipe_hash``), int64
  ``[B]``, the index of the strongest BS DFT beam (codebook in the shard's ``beam_codebook`` attribute);
- metric: top-1 and top-3 accuracy; a prediction is a score per beam ``[B, C]``;
- baseline ``knn``: k-NN (k = 5, distance-weighted) on standardised coarse features, fitted on the training split:
  images and depth maps average-pooled to 12 x 16 (RGB per channel in [0, 1], depth clipped at 100 m, ``inf``
  included, over 100 m; :func:`~wirelessdata.tasks.features.image_features`), LiDAR scans as a 32 x 32
  bird's-eye-view histogram of 4 m cells over +-64 m in the sensor frame (log(1 + returns) and the highest ``z``
  per cell; :func:`~wirelessdata.tasks.features.bev_features`);
- baseline ``foreground-knn`` (:class:`ForegroundKnn`): the classical detect-then-look-up pipeline of vision-aided
  beam prediction. The background is the per-cell median of the training inputs on a finer grid (images and depth
  maps 24 x 32, LiDAR the 32 x 32 histogram): for a sensor that stays put (the BS or UAV mount) it is the scene
  without the UE, which moves from drop to drop. A sample's foreground is its absolute difference from the
  background, summed over channels, less a noise floor (the 99th percentile of the training cells' differences: 0
  for noiseless sensors); its mass, centroid (row, column) and spread (row, column) on the grid are the five
  features of the k-NN (standardised, k = 5, distance-weighted): where the UE appears, hence its direction from
  the BS (centroid and spread -1 when nothing stands out: the UE hidden or out of view, whose beams the sensor
  cannot see). A moving sensor (the UE-following camera) has no common background, and the baseline says little.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from wirelessdata.errors import ConfigError
from wirelessdata.tasks.base import Baseline, Param, TaskBatch, no_impairments, non_negative, require
from wirelessdata.tasks.beam import BeamPrediction
from wirelessdata.tasks.features import bev_features, image_features
from wirelessdata.tasks.knn import FeatureKnn
from wirelessdata.tasks.source import ShardSamples, find_partner

VARIABLES = {"rgb": "rgb", "depth": "depth", "lidar": "lidar_points"}
"""The shard variable of each modality."""


class SensingBeam(BeamPrediction):
    """:class:`~wirelessdata.tasks.beam.BeamPrediction`'s target and metric, a sensor's data as input."""

    name = "sensing-beam"
    rank = 7
    reads_csi = False
    summary = "predict the best mmWave beam from a camera image, depth map or LiDAR scan of the drop (ray-traced)"
    input_desc = (
        "modality rgb: uint8 [B, H, W, 3]; depth: float32 [B, H, W] m (inf = no hit), of camera `camera`; "
        "lidar: list of B float32 [N_i, 4] (x, y, z m, intensity), sensor frame"
    )
    target_desc = "best_beam of the same sample_id at the target band: int64 [B]"
    baseline_desc = (
        "knn (k-NN on 12x16 pooled images / depth, or a 32x32 LiDAR bird's-eye-view histogram); foreground-knn "
        "(k-NN on where the sample departs from the training median: the UE against the static background)"
    )
    params: ClassVar[dict[str, Param]] = {
        "modality": Param("rgb", "input sensor: rgb, depth or lidar", str),
        "camera": Param(0, "camera index (rgb, depth) in the shard's camera rig (camera.mounts order)", non_negative),
        "target_band": Param("28GHz", "band label of the shards giving best_beam", str),
        "source_band": Param("", "band label of the input shards (empty: the target band)", str),
    }

    def validate(self) -> None:
        no_impairments(self)
        if self.values["modality"] not in VARIABLES:
            raise ConfigError(
                f"task {self.name}: modality={self.values['modality']!r} is unknown; allowed: {', '.join(VARIABLES)}"
            )
        self.inputs = (VARIABLES[self.values["modality"]],)

    @property
    def source_band(self) -> str:
        """The band of the input shards."""
        return self.values["source_band"] or self.values["target_band"]

    def uses(self, shard: ShardSamples) -> bool:
        return shard.attrs.get("band") == self.source_band

    def check(self, shard: ShardSamples) -> None:
        modality, (variable,) = self.values["modality"], self.inputs
        fix = f"generate ray-traced shards with {modality} in sensing (--sensing {modality})"
        group = require(shard, (variable,), fix)
        cameras = group[variable].shape[1]
        if modality != "lidar" and self.values["camera"] >= cameras:
            raise ConfigError(
                f"task {self.name}: camera={self.values['camera']} but shard {shard.name} has {cameras} camera(s); "
                f"allowed: 0..{cameras - 1}"
            )

    def label_shard(self, shard: ShardSamples, candidates: list[ShardSamples]) -> ShardSamples:
        band = self.values["target_band"]
        return shard if shard.attrs.get("band") == band else find_partner(shard, candidates, band)

    def make(self, batch: TaskBatch) -> tuple[Any, Tensor]:
        data = batch.labels[self.inputs[0]]
        if self.values["modality"] == "lidar":
            inp: Any = [torch.from_numpy(np.asarray(scan, np.float32)) for scan in data]
        else:
            inp = torch.from_numpy(np.ascontiguousarray(data[:, self.values["camera"]]))
        return inp, torch.from_numpy(batch.labels["best_beam"].astype(np.int64))

    def baselines(self) -> dict[str, Baseline]:
        if self.values["modality"] == "lidar":  # foreground of the returns per cell of the 32 x 32 histogram
            return {
                "knn": FeatureKnn(classify=True, features=bev_features),
                "foreground-knn": ForegroundKnn(
                    lambda scans: bev_features(scans).reshape(len(scans), 2, 32, 32)[:, :1]
                ),
            }
        return {
            "knn": FeatureKnn(classify=True, features=image_features),
            "foreground-knn": ForegroundKnn(
                lambda images: image_features(images, FINE).reshape(len(images), -1, *FINE)
            ),
        }


FINE = (24, 32)
"""Grid (rows, columns) of the image and depth thumbnails of :class:`ForegroundKnn`."""


class ForegroundKnn(Baseline):
    """k-NN on where a sample departs from the training inputs' median (the static background): the foreground's
    mass, centroid and spread on the thumbnail grid (module docstring).

    :param thumbnails: a batch input to ``[B, C, rows, cols]`` float thumbnails
    """

    needs_fit: ClassVar[bool] = True

    def __init__(self, thumbnails: Callable[[Any], np.ndarray], neighbours: int = 5) -> None:
        self.thumbnails = thumbnails
        self.background: np.ndarray | None = None
        self.floor = 0.0
        self.knn = FeatureKnn(classify=True, neighbours=neighbours, features=self.features)

    def foreground(self, inp: Any) -> np.ndarray:
        """``[B, rows, cols]``: the absolute difference from the background, summed over channels, less the floor."""
        assert self.background is not None, "fit the baseline first"
        return np.abs(self.thumbnails(inp) - self.background).sum(axis=1)

    def features(self, inp: Any) -> np.ndarray:
        """``[B, 5]``: foreground mass, centroid row and column, spread (std) over rows and columns (grid cells);
        centroid and spread -1 where nothing stands out (the UE hidden or out of view: such samples look alike)."""
        fg = np.maximum(self.foreground(inp) - self.floor, 0.0)
        mass = fg.sum(axis=(1, 2))
        weights = fg / np.maximum(mass, 1e-12)[:, None, None]
        rows, cols = np.arange(fg.shape[1])[:, None], np.arange(fg.shape[2])[None, :]
        r, c = (weights * rows).sum(axis=(1, 2)), (weights * cols).sum(axis=(1, 2))
        sr = np.sqrt((weights * (rows - r[:, None, None]) ** 2).sum(axis=(1, 2)))
        sc = np.sqrt((weights * (cols - c[:, None, None]) ** 2).sum(axis=(1, 2)))
        where = np.where((mass > 0)[:, None], np.stack([r, c, sr, sc], axis=1), -1.0)
        return np.column_stack([mass, where])

    def fit(self, view: Any) -> None:
        self.background = np.median(np.concatenate([self.thumbnails(inp) for inp, _ in view]), axis=0)
        # the noise floor: what a cell differs from the background in 99 % of the training cells (a UE covers
        # far fewer; 0 for noiseless sensors such as the ray-cast camera or depth maps)
        self.floor = float(np.quantile(np.concatenate([self.foreground(inp).ravel() for inp, _ in view]), 0.99))
        self.knn.fit(view)

    def predict(self, inp: Any, meta: Any) -> np.ndarray:
        return self.knn.predict(inp, meta)
