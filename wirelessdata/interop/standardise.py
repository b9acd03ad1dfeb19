"""The model layout of CSI and its standardisation with a dataset's mean and variance.

Layout: WiFo's real ``[b, 2, T, N, K]`` float32 (real, imaginary channel second; antenna ``n = bs * Nue + ue``),
made by :func:`wirelessdata.models.wifo.csi_to_input`, so exports and the reference model agree on axis order.
Standardisation: ``x = (h - mu) / sigma`` with ``mu`` the mean complex value and ``sigma**2`` the mean of
``|h - mu|**2`` over every element of every exported sample, measured in one streaming pass (float64 sums).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from wirelessdata.errors import StoreError
from wirelessdata.interop.sources import Part, batches


def model_layout(csi: np.ndarray) -> np.ndarray:
    """Complex CSI ``[b, T, K, Nbs, Nue]`` → float32 ``[b, 2, T, N, K]``, ``N = Nbs * Nue`` (one-line error on NaN)."""
    import torch

    from wirelessdata.tasks.layout import csi_to_input

    return csi_to_input(torch.from_numpy(np.ascontiguousarray(csi))).numpy()


@dataclass(frozen=True)
class Standardisation:
    """``x = (h - mean) / std``; the identity is ``Standardisation(0, 1)``."""

    mean: complex = 0j
    std: float = 1.0

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Standardise ``x`` ``[b, 2, ...]`` float32 (real/imaginary channel second), in place; returns it."""
        x[:, 0] -= np.float32(self.mean.real)
        x[:, 1] -= np.float32(self.mean.imag)
        x /= np.float32(self.std)
        return x

    def to_json(self) -> dict[str, float]:
        """The constants, to undo it: ``h = x * std + (mean_real + 1j * mean_imag)``."""
        return {"mean_real": self.mean.real, "mean_imag": self.mean.imag, "std": self.std}


def measure(parts: Iterable[Part]) -> Standardisation:
    """Mean and standard deviation of the complex CSI of every sample of ``parts`` (one streaming pass)."""
    total, power, count = 0j, 0.0, 0
    for part in parts:
        for batch in batches(part, ("csi",)):
            h = batch["csi"].astype(np.complex128)
            total += complex(h.sum())
            power += float(np.vdot(h, h).real)
            count += h.size
    if count == 0:
        raise StoreError("no CSI values to measure the mean and variance on; the export selects no sample")
    mean = total / count
    var = power / count - abs(mean) ** 2
    if not np.isfinite(var) or var <= 0:
        raise StoreError(
            f"the exported CSI has variance {var:g}; it cannot be standardised (pass --normalise none to export as is)"
        )
    return Standardisation(complex(mean), float(np.sqrt(var)))
