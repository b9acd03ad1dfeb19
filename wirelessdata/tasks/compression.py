"""CSI compression / reconstruction, as used for CSI feedback.

- input: the observed CSI, complex64 ``[B, T, K, Nbs, Nue]`` (what the UE measures);
- target: the clean CSI, same shape (what the BS should recover);
- ``keep``: the feedback budget, complex coefficients per snapshot;
- metric: NMSE (dB) of the reconstruction;
- baseline ``dft-topM``: per snapshot, keep the ``keep`` largest coefficients of the angle-delay transform
  (:func:`wirelessdata.tasks.features.angle_delay`), zero the rest, transform back.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from wirelessdata.tasks.base import Baseline, NmseTask, Param, TaskBatch, positive
from wirelessdata.tasks.features import angle_delay, from_angle_delay


def truncate(csi: Tensor, keep: int) -> Tensor:
    """``csi`` ``[B, T, K, Nbs, Nue]`` rebuilt from its ``keep`` largest angle-delay coefficients per snapshot."""
    coef = angle_delay(csi)
    flat = coef.flatten(2)
    keep = min(keep, flat.shape[2])
    idx = flat.abs().topk(keep, dim=2).indices
    kept = torch.zeros_like(flat).scatter_(2, idx, flat.gather(2, idx))
    return from_angle_delay(kept.reshape(coef.shape))


class TopM(Baseline):
    """Truncated angle-delay DFT (:func:`truncate`)."""

    def __init__(self, keep: int) -> None:
        self.keep = keep

    def predict(self, inp: Tensor, meta: Any) -> Tensor:
        return truncate(inp, self.keep)


class Compression(NmseTask):
    name = "compression"
    rank = 6
    summary = "compress the CSI to a budget of coefficients per snapshot and reconstruct it"
    input_desc = "observed CSI: complex64 [B, T, K, Nbs, Nue]"
    target_desc = "clean CSI: complex64 [B, T, K, Nbs, Nue]"
    metric_desc = "NMSE (dB) of the reconstruction"
    baseline_desc = "dft-topM (keep the largest `keep` angle-delay DFT coefficients per snapshot)"
    params: ClassVar[dict[str, Param]] = {
        "keep": Param(32, "feedback budget: complex coefficients per snapshot", positive),
    }

    def make(self, batch: TaskBatch) -> tuple[Tensor, Tensor]:
        return batch.observed, batch.csi

    def baselines(self) -> dict[str, Baseline]:
        return {"dft-topM": TopM(self.values["keep"])}
