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

BAND_KEYS = ("band", "num_subcarriers", "subcarrier_spacing_hz")
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
        if isinstance(fields, dict)
    }


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
        or a :class:`Band` (returned unchanged)
    :param num_subcarriers: Number of subcarriers when ``spec`` does not give one
    :param field: Name of the configuration field, used in error messages
    :raises ConfigError: Unknown label or unknown key
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
    return Band(
        label=label,
        carrier_frequency_hz=preset.carrier_frequency_hz,
        subcarrier_spacing_hz=overrides.get("subcarrier_spacing_hz", preset.subcarrier_spacing_hz),
        num_subcarriers=overrides.get("num_subcarriers", num_subcarriers),
        max_bandwidth_hz=preset.max_bandwidth_hz,
    )
