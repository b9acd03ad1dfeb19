"""Band presets of the generators and their default bands, read from ``bands.toml`` (data, not code).

A *preset* names a carrier frequency, a default subcarrier spacing and the largest bandwidth accepted;
a :class:`Band` is a preset made concrete with a number of subcarriers (and optionally another spacing).
:data:`DEFAULT_BANDS` are the labels a configuration uses when it gives none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from wirelessdata.errors import ConfigError
from wirelessdata.generators.tables import load_table

GRID_KEYS = ("num_subcarriers", "subcarrier_spacing_hz", "carrier_frequency_hz")
"""Keys of a band's grid: in a band given as a mapping, or at the top of a configuration mapping, where they apply
to every band given by its label alone (``carrier_frequency_hz`` only to a single band)."""
BAND_KEYS = ("band", *GRID_KEYS)
"""Keys accepted in a band given as a mapping, e.g. ``{"band": "28GHz", "num_subcarriers": 128}``."""


@dataclass(frozen=True)
class BandPreset:
    """One table of ``bands.toml``.

    :param label: Band label, e.g. ``"sub6"``, ``"28GHz"``
    :param carrier_frequency_hz: Carrier frequency [Hz]
    :param subcarrier_spacing_hz: Default subcarrier spacing [Hz]
    :param max_bandwidth_hz: Largest accepted bandwidth ``num_subcarriers * subcarrier_spacing_hz`` [Hz]
    :param frequency_range: 3GPP frequency range (``"FR1"``, ``"FR2-1"``, ``"FR2-2"``)
    :param note: Example NR band, informational
    """

    label: str
    carrier_frequency_hz: float
    subcarrier_spacing_hz: float
    max_bandwidth_hz: float
    frequency_range: str
    note: str


@dataclass(frozen=True)
class Band:
    """A band of a configuration: a preset plus its OFDM grid.

    :param label: Preset label, e.g. ``"sub6"``
    :param carrier_frequency_hz: Carrier frequency [Hz]
    :param subcarrier_spacing_hz: Subcarrier spacing [Hz]
    :param num_subcarriers: Number of subcarriers K
    :param max_bandwidth_hz: Largest accepted bandwidth [Hz] (from the preset)
    """

    label: str
    carrier_frequency_hz: float
    subcarrier_spacing_hz: float
    num_subcarriers: int
    max_bandwidth_hz: float

    @property
    def bandwidth_hz(self) -> float:
        """Occupied bandwidth ``num_subcarriers * subcarrier_spacing_hz`` [Hz]."""
        return self.num_subcarriers * self.subcarrier_spacing_hz


@cache
def band_presets() -> Mapping[str, BandPreset]:
    """All presets of ``bands.toml`` (its tables), by label, in file order."""
    return {
        label: BandPreset(label=label, **fields)
        for label, fields in load_table("bands.toml").items()
        if isinstance(fields, dict) and label != "frequency_ranges_hz"
    }


@cache
def frequency_ranges() -> Mapping[str, tuple[float, float]]:
    """3GPP frequency ranges (``frequency_ranges_hz`` of ``bands.toml``): name -> (lowest, highest) carrier [Hz]."""
    return {name: (float(lo), float(hi)) for name, (lo, hi) in load_table("bands.toml")["frequency_ranges_hz"].items()}


def default_bands() -> tuple[str, ...]:
    """Labels of the default bands (``default_bands`` of ``bands.toml``), each a preset.

    :raises ConfigError: A label that is not a preset of the file
    """
    labels = tuple(load_table("bands.toml")["default_bands"])
    unknown = [label for label in labels if label not in band_presets()]
    if unknown or not labels:
        raise ConfigError(f"bands.toml: default_bands {list(labels)} must be presets of {list(band_presets())}")
    return labels


DEFAULT_BANDS: tuple[str, ...] = default_bands()
"""Labels of the bands of a configuration that gives none, e.g. ``("sub6", "28GHz")`` (from ``bands.toml``)."""


def make_band(spec: str | Mapping[str, Any] | Band, num_subcarriers: int = 64, field: str = "bands") -> Band:
    """Resolve a band given as a label, a mapping with :data:`BAND_KEYS`, or a :class:`Band`.

    :param spec: ``"28GHz"``, ``{"band": "28GHz", "num_subcarriers": 128, "subcarrier_spacing_hz": 60e3}``
        or a :class:`Band` (returned unchanged); ``carrier_frequency_hz`` moves the carrier anywhere inside the
        preset's 3GPP frequency range (``{"band": "sub6", "carrier_frequency_hz": 2.1e9}``)
    :param num_subcarriers: Number of subcarriers when ``spec`` does not give one
    :param field: Name of the configuration field, used in error messages
    :raises ConfigError: Unknown label or key, or a carrier outside the preset's frequency range
    """
    if isinstance(spec, Band):
        return spec
    if isinstance(spec, Mapping):
        unknown = sorted(set(spec) - set(BAND_KEYS))
        if unknown or "band" not in spec:
            problem = f"unknown key(s) {unknown}" if unknown else "missing key 'band'"
            raise ConfigError(f"{field}: {problem}; valid keys: {list(BAND_KEYS)}")
        label, overrides = spec["band"], spec
    else:
        label, overrides = spec, {}
    presets = band_presets()
    if not isinstance(label, str) or label not in presets:
        raise ConfigError(f"{field}: unknown band {label!r}; allowed: {list(presets)}")
    preset = presets[label]
    carrier = overrides.get("carrier_frequency_hz", preset.carrier_frequency_hz)
    where = f"{field} ({label}).carrier_frequency_hz"
    if isinstance(carrier, bool) or not isinstance(carrier, int | float):
        raise ConfigError(
            f"{where}: {carrier!r} is not a frequency; give a number in Hz (or a distribution in [space])"
        )
    low, high = frequency_ranges()[preset.frequency_range]
    if not low <= carrier <= high:
        raise ConfigError(
            f"{where}: {carrier / 1e9:g} GHz is outside {preset.frequency_range} ({low / 1e9:g}-{high / 1e9:g} GHz); "
            "give a carrier in that range or a band of another range"
        )
    return Band(
        label=label,
        carrier_frequency_hz=float(carrier),
        subcarrier_spacing_hz=overrides.get("subcarrier_spacing_hz", preset.subcarrier_spacing_hz),
        num_subcarriers=overrides.get("num_subcarriers", num_subcarriers),
        max_bandwidth_hz=preset.max_bandwidth_hz,
    )


def make_bands(bands: Any, grid: Mapping[str, Any], num_subcarriers: int = 64) -> Any:
    """Resolve the ``bands`` of a configuration mapping with the grid keys given beside them.

    :param bands: one band or a list of them (each as :func:`make_band` takes it), or labels joined by commas
        (``"sub6,28GHz"``); anything else is returned unchanged for the configuration to refuse
    :param grid: the configuration's top-level :data:`GRID_KEYS`; each applies to the bands that do not set it
    :param num_subcarriers: Number of subcarriers when neither the band nor ``grid`` gives one
    :returns: a tuple of :class:`Band`
    :raises ConfigError: ``carrier_frequency_hz`` beside more than one band, or what :func:`make_band` refuses
    """
    if isinstance(bands, str):
        bands = bands.split(",")
    elif isinstance(bands, Mapping | Band):
        bands = [bands]
    if not isinstance(bands, list | tuple):
        return bands
    if "carrier_frequency_hz" in grid and len(bands) != 1:
        raise ConfigError(
            f"carrier_frequency_hz: sets the carrier of a single band, not of {len(bands)}; "
            "give it inside each band ({band = ..., carrier_frequency_hz = ...})"
        )
    defaults = {"num_subcarriers": num_subcarriers, **grid}

    def with_grid(band: Any) -> Any:
        if isinstance(band, str):
            return {"band": band, **defaults}
        if isinstance(band, Mapping):
            return {**defaults, **band}
        return band

    return tuple(make_band(with_grid(b)) for b in bands)


def band_dict(band: Band) -> dict[str, Any]:
    """A band as a plain mapping accepted by :func:`make_band`; the carrier only when it is not the preset's."""
    d = {"band": band.label, "num_subcarriers": band.num_subcarriers}
    d["subcarrier_spacing_hz"] = band.subcarrier_spacing_hz
    if band.carrier_frequency_hz != band_presets()[band.label].carrier_frequency_hz:
        d["carrier_frequency_hz"] = band.carrier_frequency_hz
    return d
