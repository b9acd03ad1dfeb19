"""Channel estimation from pilots on a time x frequency grid (pilots on every antenna).

Pilots ``"DTxDK"`` sit on snapshots ``0, DT, 2 DT, ...`` and subcarriers ``0, DK, 2 DK, ...`` (WiFo-2: ``4x12``).
With unit pilot symbols, the least-squares estimate at a pilot resource element is the received value
``Y / x = H_obs`` (the observed, impaired channel there).

- input: LS pilot estimates, complex64 ``[B, ceil(T / DT), ceil(K / DK), Nbs, Nue]``;
- target: the clean channel on the whole grid, complex64 ``[B, T, K, Nbs, Nue]``;
- metric: NMSE (dB) over the whole grid;
- baselines: LS + separable interpolation in (time, subcarrier): ``ls-linear`` (bilinear) and ``ls-spline``
  (cubic spline, degree lowered where there are fewer than 4 pilots), both extrapolating past the last pilot.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from scipy.interpolate import make_interp_spline
from torch import Tensor

from wirelessdata.tasks.base import Baseline, NmseTask, Param, TaskBatch
from wirelessdata.tasks.impairments import Region
from wirelessdata.tasks.source import ShardSamples


def parse_pilots(value: Any) -> tuple[int, int]:
    """``"4x12"`` (or ``(4, 12)``) -> (time spacing in snapshots, subcarrier spacing in subcarriers), both >= 1."""
    parts = value.lower().split("x") if isinstance(value, str) else list(value)
    dt, dk = (int(p) for p in parts)
    if len(parts) != 2 or dt < 1 or dk < 1:
        raise ValueError("want two positive integers")
    return dt, dk


def interpolate(pilots: Tensor, spacing: tuple[int, int], size: tuple[int, int], degree: int) -> Tensor:
    """Interpolate pilot values ``[B, Tp, Kp, ...]`` on the grid ``spacing`` to ``[B, T, K, ...]`` (``size``),
    separably (time, then subcarrier) with B-splines of ``degree`` (1 linear, 3 cubic), extrapolating at the ends."""
    values = pilots.numpy()
    for axis, (step, n) in enumerate(zip(spacing, size, strict=True), start=1):
        m = values.shape[axis]
        where = np.arange(m) * step
        if m == 1:
            values = np.repeat(values, n, axis=axis)
            continue
        spline = make_interp_spline(where, values, k=min(degree, m - 1), axis=axis)
        values = spline(np.arange(n), extrapolate=True)
    return torch.from_numpy(np.ascontiguousarray(values, dtype=np.complex64))


class Interpolation(Baseline):
    """LS pilot estimates interpolated to the grid (:func:`interpolate`)."""

    def __init__(self, spacing: tuple[int, int], degree: int) -> None:
        self.spacing, self.degree = spacing, degree

    def predict(self, inp: Tensor, meta: Any) -> Tensor:
        return interpolate(inp, self.spacing, tuple(meta.target_shape[1:3]), self.degree)


class ChannelEstimation(NmseTask):
    name = "channel-estimation"
    rank = 2
    summary = "estimate the whole time-frequency grid from LS estimates on a pilot grid"
    input_desc = "LS estimates on the pilot grid: complex64 [B, ceil(T/DT), ceil(K/DK), Nbs, Nue]"
    target_desc = "clean CSI: complex64 [B, T, K, Nbs, Nue]"
    metric_desc = "NMSE (dB) over the whole grid"
    baseline_desc = "ls-linear (bilinear interpolation), ls-spline (cubic spline) in (time, subcarrier)"
    params: ClassVar[dict[str, Param]] = {
        "pilots": Param("4x12", "pilot spacing 'DTxDK': every DT-th snapshot x every DK-th subcarrier", parse_pilots),
    }

    def definition(self) -> dict[str, Any]:
        d = super().definition()
        d["params"]["pilots"] = "{}x{}".format(*self.values["pilots"])
        return d

    def region(self, shard: ShardSamples) -> Region:
        dt, dk = self.values["pilots"]
        return slice(None, None, dt), slice(None, None, dk)

    def make(self, batch: TaskBatch) -> tuple[Tensor, Tensor]:
        return batch.observed, batch.csi

    def baselines(self) -> dict[str, Baseline]:
        pilots = self.values["pilots"]
        return {"ls-linear": Interpolation(pilots, 1), "ls-spline": Interpolation(pilots, 3)}
