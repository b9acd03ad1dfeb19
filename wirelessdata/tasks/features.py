"""CSI features shared by the classical baselines: angle-delay transform and profiles (compression, k-NN) and a
K-factor-like dominant-direction power share (LoS).

The angle-delay transform is the orthonormal 2-D DFT over (subcarrier, BS antenna): an inverse DFT over the
``K`` subcarriers gives ``K`` delay taps of ``1 / (K df)`` s, a DFT over the ``Nbs`` antenna indices gives
``Nbs`` spatial frequencies (directions for a uniform linear array; for a planar panel the flattened index
mixes the two axes, which the baselines tolerate). Orthonormal: the energy is preserved.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from wirelessdata.generators.angular import bs_covariance


def angle_delay(csi: Tensor) -> Tensor:
    """``[B, T, K, Nbs, Nue]`` complex -> the same shape, (delay, angle) in place of (subcarrier, antenna)."""
    return torch.fft.fft(torch.fft.ifft(csi, dim=2, norm="ortho"), dim=3, norm="ortho")


def from_angle_delay(coef: Tensor) -> Tensor:
    """Inverse of :func:`angle_delay`."""
    return torch.fft.fft(torch.fft.ifft(coef, dim=3, norm="ortho"), dim=2, norm="ortho")


def power_profile(csi: Tensor) -> np.ndarray:
    """Angle-delay power ``[B, K, Nbs]``: ``|angle_delay(csi)|^2`` averaged over snapshots and UE antennas."""
    return angle_delay(csi).abs().square().mean(dim=(1, 4)).double().numpy()


def peak_ratio(csi: Tensor) -> np.ndarray:
    """K-factor-like ``[B]`` in (0, 1]: the largest eigenvalue of the BS spatial covariance (mean of ``h h^H`` over
    snapshots, subcarriers and UE antennas) over its trace, i.e. the power share of the strongest direction. One
    plane wave (any array geometry, any delay) gives 1; power spread over many directions gives about ``1 / Nbs``.
    """
    cov = bs_covariance(csi.numpy())
    eig = np.linalg.eigvalsh(cov)  # ascending, real
    return eig[:, -1] / np.maximum(eig.sum(axis=1), np.finfo(np.float64).tiny)


def knn_features(csi: Tensor, floor_db: float = -40.0) -> np.ndarray:
    """``[B, Nbs + K + 1]`` float64: the angle and delay power profiles (dB relative to the total, floored at
    ``floor_db``) and the total mean power (dB)."""
    p = power_profile(csi)
    total = np.maximum(p.sum(axis=(1, 2)), np.finfo(np.float64).tiny)
    angle = p.sum(axis=1) / total[:, None]
    delay = p.sum(axis=2) / total[:, None]
    rel = np.maximum(10 * np.log10(np.maximum(np.concatenate([angle, delay], 1), 1e-30)), floor_db)
    return np.concatenate([rel, 10 * np.log10(total / (p.shape[1] * p.shape[2]))[:, None]], axis=1)
