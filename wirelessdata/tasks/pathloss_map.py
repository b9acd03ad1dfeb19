"""Path-gain map prediction around the UE (LLM4PG-style) from the shard's top view and height map (ray-traced
shards generated with ``--radio-map``).

The maps are per shard (one BS per configuration; ``docs/raytrace.md``, *Radio maps*); each sample contributes the
square tile of ``tile`` x ``tile`` cells centred on the cell nearest its UE (``ue_pos`` at the first snapshot; the
centre is tile row/column ``tile // 2``). Cells of the tile outside the map are padded.

- input: float32 ``[B, 7, tile, tile]``: channels 0-2 the ``top_view`` tile in [0, 1] (sRGB / 255), channel 3 the
  ``height_map`` tile (m, scene frame), both 0 outside the map (and height 0 where the map has none), channels 4-6
  the cell centre minus the BS position (x, y, z; m, scene frame; the centre at the radio map's plane, attribute
  ``radio_map_height_m``; continued outside the map): the BS position relative to every cell of the tile;
- target: the ``radio_map`` tile, float32 ``[B, tile, tile]``, path gain in dB; NaN where no ray reached the cell
  (``-inf`` in the shard) or the cell lies outside the map: such cells are not scored;
- metric: RMSE (dB) over the valid cells of all the tiles (each valid cell weighs the same), and their MAE (dB);
- baseline ``log-distance``: path gain ``a + b log10(d) + G(BS -> cell)``, ``d`` the 3D BS-cell distance (m, at
  least 1 m) and ``G`` the gain (dBi) of the BS element towards the cell: the TR 38.901 element pattern of the
  map's transmitter (Table 7.3-1: 65 deg half-power beamwidths, 30 dB side-lobe and front-back limits, 8 dBi),
  in the BS frame given by the shard's ``bs_yaw_deg`` and ``bs_downtilt_deg``. ``a`` and ``b`` are fitted by least
  squares on the training split's valid cells (of ``gain - G``) per band, separately for the cells in line of
  sight of the BS and the others (a class with fewer than 2 training cells takes the band's pooled fit). Line of
  sight is decided over the shard's whole height map (the BS may lie outside the tile): a cell sees the BS when
  no point of the straight segment BS -> cell centre, sampled every half cell, lies below the height map there
  (NaN heights and points off the map block nothing); computed once per shard.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from wirelessdata.errors import ConfigError
from wirelessdata.sensing import rotation
from wirelessdata.shard.read import ShardReader
from wirelessdata.shard.store import open_group
from wirelessdata.tasks.base import Baseline, Param, Task, TaskBatch, no_impairments, positive, require
from wirelessdata.tasks.batch import Meta
from wirelessdata.tasks.source import ShardSamples

MAPS = ("map_x", "map_y", "top_view", "height_map", "radio_map")
"""The per-shard map variables read (``docs/raytrace.md``)."""
MIN_DISTANCE_M = 1.0
"""Distances below this are taken as this in the log-distance model (m)."""
ELEMENT_38901 = {"beamwidth_deg": 65.0, "side_lobe_db": 30.0, "front_back_db": 30.0, "max_gain_dbi": 8.0}
"""TR 38.901 Table 7.3-1: the BS antenna element of the radio maps (``docs/raytrace.md``)."""


def element_gain_db(offset: np.ndarray, yaw_deg: float, downtilt_deg: float) -> np.ndarray:
    """Gain (dBi) of the TR 38.901 BS element towards ``offset`` ``[..., 3]`` (target - BS, m, scene frame).

    The element looks along the BS boresight (azimuth ``yaw_deg`` from +x counter-clockwise, tilted
    ``downtilt_deg`` down); zenith ``theta`` and azimuth ``phi`` are taken in that frame:
    ``A = -min(12 ((theta - 90) / 65)^2 + 12 (phi / 65)^2 capped at 30 each, 30) + 8``.
    """
    e = ELEMENT_38901
    local = np.asarray(offset, np.float64) @ rotation(np.deg2rad([0.0, downtilt_deg, yaw_deg]))
    norm = np.maximum(np.linalg.norm(local, axis=-1), 1e-9)
    theta = np.degrees(np.arccos(np.clip(local[..., 2] / norm, -1.0, 1.0)))
    phi = np.degrees(np.arctan2(local[..., 1], local[..., 0]))
    vertical = np.minimum(12 * ((theta - 90) / e["beamwidth_deg"]) ** 2, e["side_lobe_db"])
    horizontal = np.minimum(12 * (phi / e["beamwidth_deg"]) ** 2, e["front_back_db"])
    return e["max_gain_dbi"] - np.minimum(vertical + horizontal, e["front_back_db"])


@dataclass
class ShardMaps:
    """The per-shard maps of a ray-traced shard and its BS.

    :param x: ``[nx]`` cell centres (m, scene frame, increasing); :param y: ``[ny]``; :param cell_m: cell side (m).
    :param top_view: ``[ny, nx, 3]`` uint8 sRGB; :param height: ``[ny, nx]`` float32 m (NaN: no surface).
    :param gain_db: ``[ny, nx]`` float32 path gain (dB), NaN where no ray reached the cell.
    :param plane_m: height of the radio map's plane (m); :param bs: ``[3]`` BS position (m, scene frame).
    """

    x: np.ndarray
    y: np.ndarray
    cell_m: float
    top_view: np.ndarray
    height: np.ndarray
    gain_db: np.ndarray
    plane_m: float
    bs: np.ndarray

    def index(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, column) ``[...]`` int64 of the cell nearest each point ``xy`` ``[..., 2]`` (m), past the map's edges
        for points outside it."""
        col = np.rint((xy[..., 0] - self.x[0]) / self.cell_m).astype(np.int64)
        return np.rint((xy[..., 1] - self.y[0]) / self.cell_m).astype(np.int64), col

    def tiles(self, values: np.ndarray, rows: np.ndarray, cols: np.ndarray, tile: int, fill: float) -> np.ndarray:
        """``[B, tile, tile, ...]`` tiles of the map ``values`` ``[ny, nx, ...]`` centred on cells ``rows``, ``cols``
        ``[B]`` (centre at ``tile // 2``), ``fill`` outside the map."""
        r = rows[:, None] + np.arange(tile) - tile // 2
        c = cols[:, None] + np.arange(tile) - tile // 2
        ny, nx = self.height.shape
        out = values[np.clip(r, 0, ny - 1)[:, :, None], np.clip(c, 0, nx - 1)[:, None, :]]
        inside = ((r >= 0) & (r < ny))[:, :, None] & ((c >= 0) & (c < nx))[:, None, :]
        out[~inside] = fill
        return out

    @functools.cached_property
    def los(self) -> np.ndarray:
        """``[ny, nx]`` bool: the cell centre (at the plane) sees the BS over the height map (module doc)."""
        ny, nx = self.height.shape
        blocker = np.where(np.isnan(self.height), -np.inf, self.height)
        xx, yy = np.meshgrid(self.x, self.y)
        reach = np.hypot(xx - self.bs[0], yy - self.bs[1]).max()
        t = np.linspace(0.0, 1.0, math.ceil(reach / (self.cell_m / 2)) + 1)[:, None]
        out = np.empty((ny, nx), bool)
        for row in range(ny):  # one row of cells at a time: [steps, nx] points
            cells = np.stack([self.x, np.full(nx, self.y[row]), np.full(nx, self.plane_m)], axis=1)
            points = self.bs + t[..., None] * (cells - self.bs)
            r, c = self.index(points[..., :2])
            inside = (r >= 0) & (r < ny) & (c >= 0) & (c < nx)
            ground = np.where(inside, blocker[np.clip(r, 0, ny - 1), np.clip(c, 0, nx - 1)], -np.inf)
            out[row] = ~(ground > points[..., 2]).any(axis=0)
        return out


@functools.lru_cache(maxsize=16)
def shard_maps(url: str, checksum: str | None) -> ShardMaps:
    """The maps of the shard at ``url``, read once per process and shard ``checksum`` (a shard written again at the
    same url is read again), with its BS: ``bs_pos`` of sample 0."""
    group = open_group(url)
    data = {name: np.asarray(group[name][...]) for name in MAPS}
    gain = data["radio_map"].astype(np.float32)
    bs = ShardReader(url, ("bs_pos",)).read_range(0, 1)["bs_pos"][0].astype(np.float64)
    return ShardMaps(
        x=data["map_x"].astype(np.float64),
        y=data["map_y"].astype(np.float64),
        cell_m=float(group.attrs["radio_map_grid_cell_m"]),
        top_view=data["top_view"],
        height=data["height_map"].astype(np.float32),
        gain_db=np.where(np.isfinite(gain), gain, np.nan),
        plane_m=float(group.attrs["radio_map_height_m"]),
        bs=bs,
    )


class LogDistance(Baseline):
    """Path gain ``a + b log10(d) + G`` (``G`` the BS element's gain towards the cell) per band and line-of-sight
    class, ``a`` and ``b`` by least squares on the training cells."""

    needs_fit: ClassVar[bool] = True

    def __init__(self) -> None:
        self.coef: dict[tuple[str, bool | None], np.ndarray] = {}

    @staticmethod
    def features(inp: Tensor, meta: Meta) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``log10(d)``, line of sight (bool) and the BS element's gain (dBi) of the input's cells, each
        ``[B, tile, tile]``."""
        maps = shard_maps(meta.shard.url, meta.shard.attrs.get("checksum"))
        attrs = meta.shard.attrs
        offset = inp[:, 4:7].permute(0, 2, 3, 1).double().numpy()  # cell - BS, [B, tile, tile, 3]
        rows, cols = maps.index(offset[..., :2] + maps.bs[:2])
        ny, nx = maps.height.shape
        inside = (rows >= 0) & (rows < ny) & (cols >= 0) & (cols < nx)
        los = inside & maps.los[np.clip(rows, 0, ny - 1), np.clip(cols, 0, nx - 1)]
        gain = element_gain_db(offset, float(attrs.get("bs_yaw_deg", 0.0)), float(attrs.get("bs_downtilt_deg", 0.0)))
        return np.log10(np.maximum(np.linalg.norm(offset, axis=-1), MIN_DISTANCE_M)), los, gain

    def fit(self, view: Any) -> None:
        self.coef = {}
        cells: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
        for inp, target, meta in view.batches():
            logd, los, gain = self.features(inp, meta)
            valid = np.isfinite(target.numpy())
            cells.setdefault(meta.shard.attrs.get("band"), []).append(
                (logd[valid], los[valid], target.numpy()[valid].astype(np.float64) - gain[valid])
            )
        for band, parts in cells.items():
            logd, los, gain = (np.concatenate(p) for p in zip(*parts, strict=True))
            if len(gain) < 2:
                raise ConfigError(f"log-distance baseline: {len(gain)} valid training cell(s) at band {band}")
            self.coef[band, None] = _line(logd, gain)
            for cls in (True, False):
                pick = los == cls
                self.coef[band, cls] = _line(logd[pick], gain[pick]) if pick.sum() >= 2 else self.coef[band, None]

    def predict(self, inp: Tensor, meta: Meta) -> np.ndarray:
        band = meta.shard.attrs.get("band")
        if (band, None) not in self.coef:
            raise ConfigError(f"log-distance baseline: no training cells at band {band}; give shards of every band")
        logd, los, gain = self.features(inp, meta)
        a_los, b_los = self.coef[band, True]
        a_nlos, b_nlos = self.coef[band, False]
        return (np.where(los, a_los + b_los * logd, a_nlos + b_nlos * logd) + gain).astype(np.float32)


def _line(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares ``(a, b)`` of ``y = a + b x``."""
    return np.linalg.lstsq(np.stack([np.ones_like(x), x], axis=1), y, rcond=None)[0]


class PathLossMap(Task):
    name = "path-loss-map"
    rank = 8
    reads_csi = False
    summary = "predict the path-gain map around the UE from the top view and height map (ray-traced radio maps)"
    input_desc = (
        "float32 [B, 7, tile, tile]: top_view RGB / 255, height_map (m), cell centre - BS position (x, y, z; m)"
    )
    target_desc = "radio_map tile around the UE: float32 [B, tile, tile], dB, NaN = not scored (no ray, off the map)"
    metric = "rmse_db"
    metric_desc = "RMSE (dB) over the valid cells of all tiles; also their MAE (dB)"
    baseline_desc = (
        "log-distance (a + b log10 d + the TR 38.901 BS element gain towards the cell, a and b fitted per band for "
        "LoS and NLoS cells, LoS from the height map)"
    )
    params: ClassVar[dict[str, Param]] = {"tile": Param(32, "tile side, cells (centred on the UE's cell)", positive)}
    labels = ("ue_pos",)

    def validate(self) -> None:
        no_impairments(self)

    def check(self, shard: ShardSamples) -> None:
        require(shard, ("radio_map",), "generate it with --radio-map (radio_map = true in the config)", "radio map")

    def make(self, batch: TaskBatch) -> tuple[Tensor, Tensor]:
        maps, tile = shard_maps(batch.shard.url, batch.shard.attrs.get("checksum")), self.values["tile"]
        rows, cols = maps.index(batch.labels["ue_pos"][:, 0, :2].astype(np.float64))
        top = maps.tiles(maps.top_view / 255.0, rows, cols, tile, 0.0).transpose(0, 3, 1, 2)
        height = maps.tiles(np.nan_to_num(maps.height, nan=0.0), rows, cols, tile, 0.0)
        span = np.arange(tile) - tile // 2
        dx = maps.x[0] + (cols[:, None] + span) * maps.cell_m - maps.bs[0]  # [B, tile], continued past the edges
        dy = maps.y[0] + (rows[:, None] + span) * maps.cell_m - maps.bs[1]
        b = len(rows)
        offset = np.stack(
            [
                np.broadcast_to(dx[:, None, :], (b, tile, tile)),
                np.broadcast_to(dy[:, :, None], (b, tile, tile)),
                np.full((b, tile, tile), maps.plane_m - maps.bs[2]),
            ],
            axis=1,
        )
        inp = np.concatenate([top, height[:, None], offset], axis=1).astype(np.float32)
        target = maps.tiles(maps.gain_db, rows, cols, tile, np.nan)
        return torch.from_numpy(inp), torch.from_numpy(target.astype(np.float32))

    def sample_scores(self, pred: Any, target: Tensor) -> dict[str, np.ndarray]:
        t = target.numpy().astype(np.float64)
        p = np.asarray(pred, np.float64)
        if p.shape != t.shape:
            raise ValueError(f"prediction shape {p.shape} differs from the target's {t.shape}")
        valid = np.isfinite(t)
        err = np.where(valid, p - np.where(valid, t, 0.0), 0.0).reshape(len(t), -1)
        return {"se": (err**2).sum(1), "ae": np.abs(err).sum(1), "cells": valid.reshape(len(t), -1).sum(1)}

    def summarise(self, scores: dict[str, np.ndarray]) -> dict[str, float]:
        n = float(np.sum(scores["cells"]))
        if not n:
            return {"rmse_db": math.nan, "mae_db": math.nan, "cells": 0.0}
        return {
            "rmse_db": math.sqrt(float(np.sum(scores["se"])) / n),
            "mae_db": float(np.sum(scores["ae"])) / n,
            "cells": n,
        }

    def baselines(self) -> dict[str, Baseline]:
        return {"log-distance": LogDistance()}
