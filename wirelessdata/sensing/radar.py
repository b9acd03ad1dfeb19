"""FMCW radar: point scatterers from the scene geometry and the moving bodies, the raw ADC cube, a range-Doppler map.

Model (assumptions in ``docs/raytrace.md``): one TX and ``num_rx`` RX antennas in a uniform linear array along the
sensor's y axis at half-wavelength spacing; ``num_chirps`` chirps of slope ``chirp_slope_hz_per_s``, one every
``chirp_period_s``, each sampled ``samples_per_chirp`` times at ``adc_rate_hz`` (complex IF). The scene is seen
through a grid of rays over the field of view, ``angular_step_deg`` apart; each ray's first hit is one point
scatterer (single bounce, no multipath). A scene patch has the RCS of a Lambertian surface,
``sigma = clutter_reflectivity * R^2 * dOmega * |cos(incidence)|``; a moving body (the UE) has the total RCS
``body_rcs_dbsm``, shared among its patches in the same proportions. A scatterer at range R, radial velocity v (positive
receding, relative to the radar) and direction u (sensor frame) adds to the cube

    a * exp(j 2 pi (2 S R / c) n / f_s) * exp(j 4 pi (R + v m T_c) / lambda) * exp(j pi r u_y)

for ADC sample n, chirp m and RX antenna r, with ``a^2`` its received power (radar equation, isotropic within the
field of view) over the thermal noise power ``k T0 F f_s``; complex white Gaussian noise of unit power is added, so
the cube is in units of the noise amplitude. Range migration and the motion during a frame are neglected; beat
frequencies above ``adc_rate_hz`` (ranges beyond :attr:`RadarParams.max_range_m`) are removed by the IF filter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wirelessdata.checks import fail, number, positive_int
from wirelessdata.constants import SPEED_OF_LIGHT
from wirelessdata.sensing import MOUNTS, STATIC, Box, Pose, SceneGeometry, SensorParams, rotation

BOLTZMANN = 1.380649e-23
T0_K = 290.0
BODY_RAYS = 16
"""Rays per axis over each moving body's angular extent."""


@dataclass(frozen=True)
class RadarParams(SensorParams):
    """FMCW radar; the defaults follow the DeepSense 6G radar (77 GHz, 4 RX, 256 samples, 128 chirps) with the
    DeepVerse 6G chirp slope and ADC rate.

    :param carrier_frequency_hz: Chirp start frequency [Hz]
    :param chirp_slope_hz_per_s: Frequency slope S [Hz/s]
    :param adc_rate_hz: Complex IF sampling rate f_s [Hz]
    :param samples_per_chirp: ADC samples N per chirp
    :param num_chirps: Chirps M per frame
    :param num_rx: RX antennas
    :param chirp_period_s: Chirp repetition interval T_c [s], at least ``samples_per_chirp / adc_rate_hz``
    :param fov_deg: (azimuth, elevation) full widths of the field of view [deg]
    :param angular_step_deg: Spacing of the scatterer rays [deg]
    :param clutter_reflectivity: Lambertian reflectivity of the scene's surfaces
    :param body_rcs_dbsm: Radar cross section of each moving body (the UE) [dBsm]; 10 dBsm is a car
    :param tx_power_dbm: Transmit power [dBm]
    :param antenna_gain_dbi: Gain of the TX and of each RX antenna [dBi]
    :param noise_figure_db: Receiver noise figure [dB]
    :param mount: ``"bs"`` (on the BS mast, facing the BS boresight), ``"ue"`` (on the UE, facing its heading) or
        ``"uav"`` (on the hovering UAV, along its heading and pitch)
    """

    FIELD = "radar"
    carrier_frequency_hz: float = 77e9
    chirp_slope_hz_per_s: float = 15e12
    adc_rate_hz: float = 15e6
    samples_per_chirp: int = 256
    num_chirps: int = 128
    num_rx: int = 4
    chirp_period_s: float = 20e-6
    fov_deg: tuple[float, float] = (120.0, 40.0)
    angular_step_deg: float = 2.0
    clutter_reflectivity: float = 0.1
    body_rcs_dbsm: float = 10.0
    tx_power_dbm: float = 12.0
    antenna_gain_dbi: float = 10.0
    noise_figure_db: float = 15.0
    mount: str = "bs"

    def __post_init__(self) -> None:
        for name in ("samples_per_chirp", "num_chirps", "num_rx"):
            positive_int(f"radar.{name}", getattr(self, name))
        for name in (
            "carrier_frequency_hz",
            "chirp_slope_hz_per_s",
            "adc_rate_hz",
            "chirp_period_s",
            "angular_step_deg",
            "clutter_reflectivity",
        ):
            if not number(f"radar.{name}", getattr(self, name)) > 0:
                fail(f"radar.{name}", f"{getattr(self, name)!r} is not positive", "a number > 0")
        for name in ("body_rcs_dbsm", "tx_power_dbm", "antenna_gain_dbi", "noise_figure_db"):
            number(f"radar.{name}", getattr(self, name))
        adc_time = self.samples_per_chirp / self.adc_rate_hz
        if self.chirp_period_s < adc_time:
            fail(
                "radar.chirp_period_s",
                f"{self.chirp_period_s:g} s is shorter than the ADC time {adc_time:g} s",
                "chirp_period_s >= samples_per_chirp / adc_rate_hz",
            )
        fov = self.fov_deg
        if not (isinstance(fov, tuple) and len(fov) == 2) or not (
            0 < number("radar.fov_deg", fov[0]) <= 360 and 0 < number("radar.fov_deg", fov[1]) <= 180
        ):
            fail("radar.fov_deg", f"{fov!r} is not (azimuth, elevation)", "0 < azimuth <= 360, 0 < elevation <= 180")
        if self.mount not in MOUNTS:
            fail("radar.mount", f"unknown mount {self.mount!r}", list(MOUNTS))

    @property
    def wavelength_m(self) -> float:
        """Carrier wavelength [m]."""
        return SPEED_OF_LIGHT / self.carrier_frequency_hz

    @property
    def range_resolution_m(self) -> float:
        """Range bin width ``c f_s / (2 S N)`` [m]."""
        return SPEED_OF_LIGHT * self.adc_rate_hz / (2 * self.chirp_slope_hz_per_s * self.samples_per_chirp)

    @property
    def max_range_m(self) -> float:
        """Largest range ``c f_s / (2 S)`` [m] (complex IF)."""
        return self.range_resolution_m * self.samples_per_chirp

    @property
    def velocity_resolution_mps(self) -> float:
        """Doppler bin width ``lambda / (2 M T_c)`` [m/s]."""
        return self.wavelength_m / (2 * self.num_chirps * self.chirp_period_s)

    @property
    def max_velocity_mps(self) -> float:
        """Unambiguous radial velocity ``lambda / (4 T_c)`` [m/s]: velocities lie in [-max, max)."""
        return self.wavelength_m / (4 * self.chirp_period_s)


@dataclass(frozen=True)
class Scatterers:
    """Point scatterers seen by the radar.

    :param range_m: [S], m
    :param radial_velocity_mps: [S], m/s, relative to the radar, positive receding
    :param direction: [S, 3], unit, sensor frame
    :param amplitude: [S], received amplitude over the noise amplitude (linear)
    """

    range_m: np.ndarray
    radial_velocity_mps: np.ndarray
    direction: np.ndarray
    amplitude: np.ndarray


def angular_grid(
    azimuth: tuple[float, float], elevation: tuple[float, float], shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Rays through the cell centres of an azimuth x elevation grid, sensor frame.

    :param azimuth: (low, high), rad; :param elevation: (low, high), rad
    :param shape: Cells (azimuth, elevation)
    :output directions: [S, 3], float64, unit (azimuth from +x towards +y, elevation towards +z)
    :output solid_angle: [S], sr, of each cell
    """
    (a0, a1), (e0, e1), (na, ne) = azimuth, elevation, shape
    da, de = (a1 - a0) / na, (e1 - e0) / ne
    az, el = np.meshgrid(a0 + (np.arange(na) + 0.5) * da, e0 + (np.arange(ne) + 0.5) * de, indexing="ij")
    az, el = az.ravel(), el.ravel()
    directions = np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=1)
    return directions, da * de * np.cos(el)


def _field_of_view(params: RadarParams) -> tuple[tuple[float, float], tuple[float, float]]:
    half_az, half_el = np.deg2rad(params.fov_deg[0]) / 2, np.deg2rad(params.fov_deg[1]) / 2
    return (-half_az, half_az), (-half_el, half_el)


def _body_rays(box: Box, pose: Pose, params: RadarParams) -> tuple[np.ndarray, np.ndarray]:
    """A :data:`BODY_RAYS` x :data:`BODY_RAYS` grid over the angular extent of a body within the field of view."""
    signs = np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1])).reshape(3, -1).T
    corners = pose.to_sensor(box.center + (signs * np.asarray(box.size) / 2) @ rotation([0.0, 0.0, box.yaw]).T)
    az = np.arctan2(corners[:, 1], corners[:, 0])
    el = np.arctan2(corners[:, 2], np.hypot(corners[:, 0], corners[:, 1]))
    (fa0, fa1), (fe0, fe1) = _field_of_view(params)
    a0, a1, e0, e1 = max(az.min(), fa0), min(az.max(), fa1), max(el.min(), fe0), min(el.max(), fe1)
    if a0 >= a1 or e0 >= e1 or (corners[:, 0] <= 0).any():  # outside the field of view, or beside the radar
        return np.zeros((0, 3)), np.zeros(0)
    return angular_grid((a0, a1), (e0, e1), (BODY_RAYS, BODY_RAYS))


def scatterers(
    geometry: SceneGeometry,
    pose: Pose,
    params: RadarParams,
    bodies: tuple[Box, ...] = (),
    velocity: np.ndarray | None = None,
) -> Scatterers:
    """Scatterers of the scene and of the moving ``bodies`` in the radar's field of view.

    The scene is sampled by rays ``angular_step_deg`` apart; each body, however far, by its own
    :data:`BODY_RAYS` x :data:`BODY_RAYS` rays over its angular extent (hits of the coarse rays on a body are
    replaced by these).

    :param geometry: Scene meshes (static)
    :param pose: Radar pose, scene frame
    :param params: Radar model
    :param bodies: Moving bodies besides the meshes (not the one carrying the radar)
    :param velocity: [3], m/s, the radar's own velocity (zeros if `None`)
    """
    azimuth, elevation = _field_of_view(params)
    step = np.deg2rad(params.angular_step_deg)
    shape = (max(1, round((azimuth[1] - azimuth[0]) / step)), max(1, round((elevation[1] - elevation[0]) / step)))
    rays = [(*angular_grid(azimuth, elevation, shape), STATIC)]
    rays += [(*_body_rays(box, pose, params), k) for k, box in enumerate(bodies)]
    directions, solid_angle, distance, normal, body = [], [], [], [], []
    for d, omega, wanted in rays:
        hits = geometry.cast(pose.position, d @ pose.rotation.T, bodies)
        keep = hits.hit & (hits.distance < params.max_range_m) & (hits.body == wanted)
        for out, value in zip(
            (directions, solid_angle, distance, normal, body),
            (d, omega, hits.distance, hits.normal, hits.body),
            strict=True,
        ):
            out.append(value[keep])
    directions, solid_angle, r, normal, body = (
        np.concatenate(x) for x in (directions, solid_angle, distance, normal, body)
    )
    world = directions @ pose.rotation.T
    table = np.stack([*(np.asarray(b.velocity, dtype=np.float64) for b in bodies), np.zeros(3)])
    own = np.zeros(3) if velocity is None else np.asarray(velocity, dtype=np.float64)
    radial = np.einsum("ij,ij->i", table[body] - own, world)  # STATIC (-1) picks the last row, at rest
    lambertian = r**2 * solid_angle * np.abs(np.einsum("ij,ij->i", normal, world))
    rcs = params.clutter_reflectivity * lambertian
    for k in range(len(bodies)):
        on = body == k
        if lambertian[on].sum() > 0:
            rcs[on] = 10 ** (params.body_rcs_dbsm / 10) * lambertian[on] / lambertian[on].sum()
    gain = 10 ** ((params.tx_power_dbm - 30 + 2 * params.antenna_gain_dbi) / 10)
    received = gain * params.wavelength_m**2 * rcs / ((4 * np.pi) ** 3 * r**4)
    noise = BOLTZMANN * T0_K * 10 ** (params.noise_figure_db / 10) * params.adc_rate_hz
    return Scatterers(r, radial, directions, np.sqrt(received / noise))


def cube(targets: Scatterers, params: RadarParams, rng: np.random.Generator | None) -> np.ndarray:
    """Raw FMCW ADC cube of the scatterers plus unit-power receiver noise.

    :param targets: Scatterers
    :param params: Radar model
    :param rng: Source of the noise; `None` for a noiseless cube
    :output cube: [num_rx, samples_per_chirp, num_chirps], complex64
    """
    n = np.arange(params.samples_per_chirp)
    m = np.arange(params.num_chirps)
    r = np.arange(params.num_rx)
    beat = 2 * params.chirp_slope_hz_per_s * targets.range_m / SPEED_OF_LIGHT
    fast = np.exp(2j * np.pi * np.outer(beat / params.adc_rate_hz, n))  # [S, N]
    path = targets.range_m[:, None] + np.outer(targets.radial_velocity_mps, m * params.chirp_period_s)
    slow = np.exp(4j * np.pi * path / params.wavelength_m)  # [S, M]
    spatial = np.exp(1j * np.pi * np.outer(targets.direction[:, 1], r))  # [S, R]
    weights = (targets.amplitude[:, None, None] * spatial[:, :, None] * fast[:, None, :]).reshape(len(beat), -1)
    out = (weights.T.astype(np.complex64) @ slow.astype(np.complex64)).reshape(len(r), len(n), len(m))
    if rng is not None:
        out += (rng.normal(size=out.shape) + 1j * rng.normal(size=out.shape)).astype(np.complex64) / np.sqrt(2)
    return out


def range_doppler_map(radar_cube: np.ndarray, params: RadarParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Range-Doppler map: Hann-windowed FFTs over fast and slow time, power summed over the RX antennas.

    :param radar_cube: [num_rx, samples_per_chirp, num_chirps], complex
    :param params: Radar model of the cube
    :output power_db: [samples_per_chirp, num_chirps], float64, dB (relative to the noise power per cell
        before the FFT gains)
    :output range_m: [samples_per_chirp], m, bin ranges
    :output velocity_mps: [num_chirps], m/s, bin radial velocities (positive receding)
    """
    _, num_samples, num_chirps = radar_cube.shape
    window = np.hanning(num_samples)[:, None] * np.hanning(num_chirps)[None, :]
    spectrum = np.fft.fftshift(np.fft.fft2(radar_cube * window, axes=(1, 2)), axes=2)
    power = (np.abs(spectrum) ** 2).sum(axis=0)
    range_m = np.arange(num_samples) * params.range_resolution_m
    velocity = (np.arange(num_chirps) - num_chirps // 2) * params.velocity_resolution_mps
    return 10 * np.log10(power + 1e-30), range_m, velocity
