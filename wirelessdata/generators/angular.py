"""Angular power spectra of BS arrays on a common azimuth/zenith grid, comparable across bands.

A band's DFT codebook (:func:`~wirelessdata.generators.tr38901.beam_codebook`) is defined in the spatial
frequencies of its own array, so beam ``i`` of one band and beam ``i`` of another need not point the same
way. Here every band is evaluated on the *same* directions: the steering vector of a direction is computed
from the band's element positions (``bs_ant_pos`` of its shard, metres) and its carrier wavelength, so
grid point ``g`` is the same physical direction at every band.

Conventions (TR 38.901 §7.5, eq. 7.5-22, as in Sionna): global coordinates with the BS array frame's x axis
as boresight; azimuth ``phi`` from +x towards +y, zenith ``theta`` from +z; unit vector
``r = [sin theta cos phi, sin theta sin phi, cos theta]``; a plane wave leaving (or reaching) the array in
direction ``r`` has element response ``exp(2j pi r . p / lambda)`` at element position ``p``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SPEED_OF_LIGHT_MPS = 299_792_458.0


@dataclass(frozen=True)
class AngularGrid:
    """Product grid of directions, zenith-major (grid point ``g = i_zenith * num_azimuth + i_azimuth``).

    :param azimuth_deg: [A], azimuths [deg]
    :param zenith_deg: [Z], zenith angles [deg] (90 = horizon, > 90 below the horizon)
    """

    azimuth_deg: np.ndarray
    zenith_deg: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """``(Z, A)``: a spectrum ``[..., G]`` reshapes to ``[..., Z, A]``."""
        return len(self.zenith_deg), len(self.azimuth_deg)

    @property
    def size(self) -> int:
        """Number of directions G = Z * A."""
        return len(self.zenith_deg) * len(self.azimuth_deg)

    def directions_rad(self) -> tuple[np.ndarray, np.ndarray]:
        """:output azimuth, zenith: [G] each, float64 [rad], zenith-major."""
        zenith, azimuth = np.meshgrid(np.radians(self.zenith_deg), np.radians(self.azimuth_deg), indexing="ij")
        return azimuth.ravel(), zenith.ravel()


def unit_vectors(azimuth_rad: np.ndarray, zenith_rad: np.ndarray) -> np.ndarray:
    """Direction unit vectors.

    :param azimuth_rad: [...], azimuths [rad]
    :param zenith_rad: [...], zenith angles [rad], same shape
    :output r: [..., 3], float64
    """
    sin_zenith = np.sin(zenith_rad)
    return np.stack([sin_zenith * np.cos(azimuth_rad), sin_zenith * np.sin(azimuth_rad), np.cos(zenith_rad)], -1)


def steering_vectors(
    ant_pos_m: np.ndarray, carrier_frequency_hz: float, azimuth_rad: np.ndarray, zenith_rad: np.ndarray
) -> np.ndarray:
    """Unit-norm array responses ``a_g[n] = exp(2j pi r_g . p_n / lambda) / sqrt(N)`` (isotropic elements).

    :param ant_pos_m: [N, 3], element positions [m]
    :param carrier_frequency_hz: Carrier frequency [Hz] (wavelength ``c / f``)
    :param azimuth_rad: [G], azimuths [rad]
    :param zenith_rad: [G], zenith angles [rad]
    :output a: [G, N], complex128
    """
    wavelength_m = SPEED_OF_LIGHT_MPS / carrier_frequency_hz
    phase = 2 * np.pi * unit_vectors(azimuth_rad, zenith_rad) @ np.asarray(ant_pos_m, np.float64).T / wavelength_m
    return np.exp(1j * phase) / np.sqrt(len(ant_pos_m))


def bs_covariance(csi: np.ndarray) -> np.ndarray:
    """BS-side spatial covariance ``R = mean over t, k, ue of h h^H``, with h the BS-antenna vector.

    :param csi: [n, T, K, Nbs, Nue], complex: channel frequency response (a shard's ``csi``)
    :output covariance: [n, Nbs, Nbs], complex128, Hermitian
    """
    n, num_t, num_k, num_bs, num_ue = csi.shape
    h = np.moveaxis(np.asarray(csi, np.complex128), 3, -1).reshape(n, num_t * num_k * num_ue, num_bs)
    return np.einsum("nmi,nmj->nij", h, h.conj()) / (num_t * num_k * num_ue)


def angular_power_spectrum(
    csi: np.ndarray, ant_pos_m: np.ndarray, carrier_frequency_hz: float, grid: AngularGrid
) -> np.ndarray:
    """Bartlett angular power spectrum ``P_g = a_g^H R a_g`` of the BS array on a grid of directions.

    :param csi: [n, T, K, Nbs, Nue], complex: channel frequency response
    :param ant_pos_m: [Nbs, 3], BS element positions [m] (a shard's ``bs_ant_pos``)
    :param carrier_frequency_hz: Carrier frequency of the band [Hz]
    :param grid: Directions
    :output power: [n, G], float64, in the units of ``|csi|^2`` (equals the mean ``|csi|^2`` summed over
        BS antennas for a single plane wave from a grid direction)
    """
    a = steering_vectors(ant_pos_m, carrier_frequency_hz, *grid.directions_rad())  # [G, Nbs]
    return np.einsum("gi,nig->ng", a.conj(), bs_covariance(csi) @ a.T).real


def strongest_direction(power: np.ndarray) -> np.ndarray:
    """Index of the strongest grid direction.

    :param power: [n, G], angular power spectra
    :output index: [n], int64, in ``0..G-1``
    """
    return np.argmax(power, axis=-1)
