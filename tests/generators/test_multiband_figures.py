"""Common angular grid and angular power spectra (wirelessdata.generators.angular): known answers."""

import numpy as np
import pytest

from wirelessdata.generators.angular import (
    SPEED_OF_LIGHT_MPS,
    AngularGrid,
    angular_power_spectrum,
    steering_vectors,
    strongest_direction,
)

GRID = AngularGrid(azimuth_deg=np.arange(-60.0, 60.1, 5.0), zenith_deg=np.arange(80.0, 130.1, 10.0))


def panel(rows: int, cols: int, carrier_hz: float) -> np.ndarray:
    """[rows * cols, 3] element positions [m] of a half-wavelength panel in the y-z plane (boresight +x)."""
    d = SPEED_OF_LIGHT_MPS / carrier_hz / 2
    z, y = np.meshgrid((np.arange(rows) - (rows - 1) / 2) * -d, (np.arange(cols) - (cols - 1) / 2) * d, indexing="ij")
    return np.column_stack([np.zeros(rows * cols), y.ravel(), z.ravel()])


def plane_wave_csi(ant_pos: np.ndarray, carrier_hz: float, azimuth_deg: float, zenith_deg: float) -> np.ndarray:
    """[1, T=2, K=3, Nbs, 1] channel of one plane wave of unit amplitude and random phase per (t, k)."""
    a = steering_vectors(ant_pos, carrier_hz, np.radians([azimuth_deg]), np.radians([zenith_deg]))[0]
    phases = np.exp(2j * np.pi * np.random.default_rng(0).uniform(size=(1, 2, 3, 1, 1)))
    return (phases * np.sqrt(len(ant_pos)) * a[None, None, None, :, None]).astype(np.complex64)


@pytest.mark.parametrize("carrier_hz", [3.5e9, 28e9])
@pytest.mark.parametrize(("azimuth_deg", "zenith_deg"), [(-45.0, 100.0), (0.0, 90.0), (25.0, 120.0)])
def test_a_plane_wave_peaks_at_its_direction_at_every_band(carrier_hz, azimuth_deg, zenith_deg):
    ant_pos = panel(4, 8, carrier_hz)
    csi = plane_wave_csi(ant_pos, carrier_hz, azimuth_deg, zenith_deg)
    power = angular_power_spectrum(csi, ant_pos, carrier_hz, GRID)
    assert power.shape == (1, GRID.size)
    azimuth, zenith = GRID.directions_rad()
    g = strongest_direction(power)[0]
    assert np.degrees([azimuth[g], zenith[g]]) == pytest.approx([azimuth_deg, zenith_deg], abs=1e-6)
    # all of the mean |h|^2 summed over antennas (= Nbs) is found at the wave's own direction
    assert power[0, g] == pytest.approx(len(ant_pos), rel=1e-5)


def test_the_same_direction_has_the_same_spectrum_at_both_bands():
    """Half-wavelength panels at their own carriers: grid point g is one physical direction at both bands."""
    spectra = []
    for carrier_hz in (3.5e9, 28e9):
        ant_pos = panel(4, 8, carrier_hz)
        spectra.append(
            angular_power_spectrum(plane_wave_csi(ant_pos, carrier_hz, 15.0, 100.0), ant_pos, carrier_hz, GRID)
        )
    np.testing.assert_allclose(spectra[0], spectra[1], rtol=1e-4, atol=1e-4)


def test_grid_is_zenith_major():
    azimuth, zenith = GRID.directions_rad()
    assert GRID.shape == (6, 25) and GRID.size == 150 == len(azimuth) == len(zenith)
    assert np.degrees(azimuth[1]) == pytest.approx(-55.0) and np.degrees(zenith[25]) == pytest.approx(90.0)


def test_spectrum_matches_the_shard_array_of_the_generator():
    """Steering vectors on ``bs_ant_pos`` of a real layout: a plane wave there still peaks at its direction."""
    pytest.importorskip("sionna")
    from wirelessdata.generators.tr38901 import Tr38901Config, shard_layouts

    cfg = Tr38901Config.from_dict({"bands": ["sub6", "28GHz"], "bs_array": [4, 8], "num_time_steps": 1})
    for layout in shard_layouts(cfg).values():
        ant_pos, carrier_hz = layout.coords["bs_ant_pos"], layout.attrs["carrier_frequency_hz"]
        np.testing.assert_allclose(np.sort(ant_pos, axis=0), np.sort(panel(4, 8, carrier_hz), axis=0), atol=1e-6)
        csi = plane_wave_csi(ant_pos, carrier_hz, -30.0, 110.0)
        g = strongest_direction(angular_power_spectrum(csi, ant_pos, carrier_hz, GRID))[0]
        azimuth, zenith = GRID.directions_rad()
        assert np.degrees([azimuth[g], zenith[g]]) == pytest.approx([-30.0, 110.0], abs=1e-6)
