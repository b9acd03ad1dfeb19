"""Features shared by the classical baselines: of CSI, the angle-delay transform and profiles (compression, k-NN)
and a K-factor-like dominant-direction power share (LoS); of sensor data, coarse image / depth thumbnails and a
LiDAR bird's-eye-view histogram (k-NN on sensing inputs).

The angle-delay transform is the orthonormal 2-D DFT over (subcarrier, BS antenna): an inverse DFT over the
``K`` subcarriers gives ``K`` delay taps of ``1 / (K df)`` s, a DFT over the ``Nbs`` antenna indices gives
``Nbs`` spatial frequencies (directions for a uniform linear array; for a planar panel the flattened index
mixes the two axes, which the baselines tolerate). Orthonormal: the energy is preserved.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torch.nn.functional import adaptive_avg_pool2d

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


def image_features(images: Tensor, grid: tuple[int, int] = (12, 16), max_depth_m: float = 100.0) -> np.ndarray:
    """Camera images or depth maps as coarse thumbnails ``[B, C * rows * cols]`` float64: the mean over blocks of
    pixels (adaptive average pooling to ``grid`` = (rows, cols)). RGB ``[B, H, W, 3]`` uint8 is scaled to [0, 1]
    (C = 3); depth ``[B, H, W]`` float (m) is clipped at ``max_depth_m`` (no hit, ``inf``, counts as that far) and
    divided by it (C = 1)."""
    x = images.double()
    x = x.permute(0, 3, 1, 2) / 255 if images.dtype == torch.uint8 else x.clamp(max=max_depth_m)[:, None] / max_depth_m
    return adaptive_avg_pool2d(x, grid).flatten(1).numpy()


def bev_features(points: Sequence[Tensor], range_m: float = 64.0, cells: int = 32) -> np.ndarray:
    """LiDAR scans as bird's-eye-view histograms ``[B, 2 * cells * cells]`` float64, sensor frame: over the square
    ``|x|, |y| < range_m`` (m) in ``cells x cells`` cells, ``log(1 + returns)`` per cell, then the highest return's
    ``z`` (m; 0 for an empty cell). ``points``: per sample ``[N_i, 4]`` (x, y, z, intensity), m."""
    out = np.zeros((len(points), 2, cells, cells))
    for i, scan in enumerate(points):
        xyz = np.asarray(scan, np.float64)[:, :3]
        ij = np.floor((xyz[:, :2] + range_m) / (2 * range_m / cells)).astype(np.int64)
        keep = ((ij >= 0) & (ij < cells)).all(axis=1)
        ij, z = ij[keep], xyz[keep, 2]
        np.add.at(out[i, 0], (ij[:, 0], ij[:, 1]), 1.0)
        top = np.full((cells, cells), -np.inf)
        np.maximum.at(top, (ij[:, 0], ij[:, 1]), z)
        out[i, 0] = np.log1p(out[i, 0])
        out[i, 1] = np.where(np.isfinite(top), top, 0.0)
    return out.reshape(len(points), -1)
