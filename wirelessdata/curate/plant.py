"""Planted data for calibrating and testing curation: cheap multipath CSI (its noisy, phase-rotated copies are
:func:`wirelessdata.generate.planting.near_copy`, shared with the defects planted into generated blocks).

:func:`multipath_csi` is not a channel model to train on: it draws :data:`PATHS` paths with
exponential power-delay profile, Laplacian azimuths around a random mean and one Doppler shift per path,
over a uniform linear BS array, so that distinct samples look like distinct drops of one configuration
(sparse in angle and delay, correlated across snapshots) at a fraction of a generator's cost.
"""

from __future__ import annotations

import numpy as np

PATHS = 24
"""Paths per sample."""


def multipath_csi(
    rng: np.random.Generator,
    n: int,
    shape: tuple[int, int, int, int],
    delay_spread_s: float = 100e-9,
    angle_spread_rad: float = 0.2,
    subcarrier_spacing_hz: float = 30e3,
    snapshot_interval_s: float = 1e-3,
    max_doppler_hz: float = 50.0,
) -> np.ndarray:
    """complex64 [n, T, K, N_bs, N_ue]: ``n`` independent sum-of-paths channels of unit mean power.

    :param shape: ``(T, K, N_bs, N_ue)``.
    :param delay_spread_s: mean of the exponential path delays, s.
    :param angle_spread_rad: scale of the Laplacian path azimuths around each sample's mean azimuth, rad.
    :param max_doppler_hz: largest Doppler shift, Hz (each path gets ``max * cos(uniform angle)``).
    """
    t, k, nbs, nue = shape
    delays = rng.exponential(delay_spread_s, (n, PATHS))
    power = np.exp(-delays / delay_spread_s) * rng.exponential(1.0, (n, PATHS))
    gains = np.sqrt(power / power.sum(axis=1, keepdims=True)) * np.exp(2j * np.pi * rng.random((n, PATHS)))
    azimuth = rng.uniform(-np.pi / 3, np.pi / 3, (n, 1)) + rng.laplace(0, angle_spread_rad, (n, PATHS))
    doppler = max_doppler_hz * np.cos(rng.uniform(0, 2 * np.pi, (n, PATHS)))
    ue_phase = np.exp(2j * np.pi * rng.random((n, PATHS, nue)))
    time = np.arange(t) * snapshot_interval_s
    freq = (np.arange(k) - k // 2) * subcarrier_spacing_hz
    steer = np.exp(1j * np.pi * np.arange(nbs)[None, None, :] * np.sin(azimuth)[..., None])  # [n, P, N_bs]
    h = np.einsum(
        "np,npt,npk,npb,npu->ntkbu",
        gains,
        np.exp(2j * np.pi * doppler[..., None] * time),
        np.exp(-2j * np.pi * delays[..., None] * freq),
        steer,
        ue_phase,
    )
    return h.astype(np.complex64)
