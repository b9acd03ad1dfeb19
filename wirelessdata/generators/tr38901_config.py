"""Configuration of the statistical TR 38.901 generator: :class:`Tr38901Config` and the scenario defaults.

The scenario defaults (:class:`ScenarioSpec`) are data, read once from ``scenarios.toml``; the band presets
and the default bands come from ``bands.toml`` (:mod:`wirelessdata.generators.bands`). This module needs
neither Sionna nor torch, so that configurations can be validated without them; the generator itself is
:mod:`wirelessdata.generators.tr38901`, its Sionna engine :mod:`wirelessdata.generators.multiband`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from wirelessdata.checks import fail, number, positive_int
from wirelessdata.errors import ConfigError
from wirelessdata.generators.bands import DEFAULT_BANDS, GRID_KEYS, Band, band_dict, make_band, make_bands
from wirelessdata.generators.tables import load_table
from wirelessdata.source.contract import check_keys

LOS_POLICIES = ("random", "los", "nlos")
LINKS = ("uplink", "downlink")
MULTIBAND_MODES = ("correlated", "independent")
O2I_MODELS = ("low", "high")
DEFAULT_NUM_SUBCARRIERS = 64


@dataclass(frozen=True)
class ScenarioSpec:
    """Deployment defaults and validity of one TR 38.901 scenario: one table of ``scenarios.toml``.

    :param min_frequency_hz: Lowest valid carrier [Hz]
    :param max_frequency_hz: Highest valid carrier [Hz]
    :param bs_height_m: BS antenna height [m] (Table 7.2-1 / 7.2-3)
    :param min_distance_m: Minimum 2D BS-UE distance [m] (Table 7.8-1)
    :param max_distance_m: Maximum 2D BS-UE distance [m] (ISD / sqrt(3), the sector's reach)
    :param indoor_ratio: Fraction of indoor UEs
    :param max_2d_in_m: Largest indoor 2D distance of O2I UEs [m] (§7.4.3.1)
    :param num_clusters: Largest number of clusters over LoS, NLoS and O2I (Table 7.5-6)
    """

    min_frequency_hz: float
    max_frequency_hz: float
    bs_height_m: float
    min_distance_m: float
    max_distance_m: float
    indoor_ratio: float
    max_2d_in_m: float
    num_clusters: int


@cache
def scenario_specs() -> Mapping[str, ScenarioSpec]:
    """The scenarios of ``scenarios.toml``, by name, in file order (read once per process).

    :raises ConfigError: A table with a missing or unknown key
    """
    types = {f.name: {"float": float, "int": int}[f.type] for f in dataclasses.fields(ScenarioSpec)}
    specs = {}
    for name, table in load_table("scenarios.toml").items():
        if set(table) != set(types):
            raise ConfigError(f"scenarios.toml: [{name}] has keys {sorted(table)}; expected {sorted(types)}")
        specs[name] = ScenarioSpec(**{key: cast(table[key]) for key, cast in types.items()})
    return specs


SCENARIOS: Mapping[str, ScenarioSpec] = scenario_specs()
"""Scenario defaults by name: ``"UMa"``, ``"UMi"``, ``"RMa"``, ``"InH"`` (from ``scenarios.toml``)."""


@dataclass(frozen=True)
class Tr38901Config:
    """Configuration of the statistical TR 38.901 generator (validated at construction).

    :param scenario: ``"UMa"``, ``"UMi"``, ``"RMa"`` or ``"InH"`` (Sionna's InH, mixed office)
    :param bands: Bands, each a preset label (``"sub6"``, ``"28GHz"``, ... from ``bands.toml``; 64
        subcarriers at the preset's spacing), a mapping ``{"band", "num_subcarriers",
        "subcarrier_spacing_hz"}`` or a :class:`~wirelessdata.generators.bands.Band`; default
        :data:`~wirelessdata.generators.bands.DEFAULT_BANDS` (``default_bands`` of ``bands.toml``)
    :param bs_array: BS panel rows x columns, single (vertical) polarization, 38.901 element pattern,
        half-wavelength spacing at each band's carrier; ``(4, 8)`` or ``"4x8"``
    :param num_ue_ant: UE antennas, one row, omnidirectional, half-wavelength spacing
    :param los_policy: ``"random"`` (38.901 §7.4.2 LoS probability), ``"los"`` or ``"nlos"`` (indoor
        UEs are never LoS outside InH)
    :param indoor_ratio: Fraction of indoor UEs; `None` for the scenario default (must be 1 for InH)
    :param speed_range_mps: UE speed range (min, max) [m/s], speed uniform, heading uniform in the
        horizontal plane
    :param num_time_steps: Snapshots T per drop
    :param snapshot_interval_s: Time between snapshots [s]
    :param link: ``"downlink"`` or ``"uplink"``
    :param multiband: ``"correlated"`` (§7.6.5, needs two bands or more) or ``"independent"``
        (same topology, independent draws per band)
    :param save_clusters: Also return per-cluster delays, powers and angles
    :param bs_height_m: BS height [m]; `None` for the scenario default
    :param min_distance_m: Minimum 2D BS-UE distance [m]; `None` for the scenario default
    :param max_distance_m: Maximum 2D BS-UE distance [m]; `None` for the scenario default
    :param o2i_model: Outdoor-to-indoor penetration loss model (§7.4.3), ``"low"`` or ``"high"``
    """

    scenario: str = "UMa"
    bands: tuple[Band, ...] = DEFAULT_BANDS
    bs_array: tuple[int, int] = (4, 8)
    num_ue_ant: int = 1
    los_policy: str = "random"
    indoor_ratio: float | None = None
    speed_range_mps: tuple[float, float] = (0.0, 10.0)
    num_time_steps: int = 24
    snapshot_interval_s: float = 1e-3
    link: str = "downlink"
    multiband: str = "correlated"
    save_clusters: bool = False
    bs_height_m: float | None = None
    min_distance_m: float | None = None
    max_distance_m: float | None = None
    o2i_model: str = "low"
    _spec: ScenarioSpec = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # normalise in place: the dataclass is frozen
        scenario = {s.lower(): s for s in SCENARIOS}.get(str(self.scenario).lower())
        if scenario is None:
            fail("scenario", f"unknown scenario {self.scenario!r}", list(SCENARIOS))
        set_(self, "scenario", scenario)
        spec = SCENARIOS[scenario]
        set_(self, "_spec", spec)
        set_(self, "bands", normalise_bands(self.bands))
        set_(self, "bs_array", normalise_array(self.bs_array))
        for name in ("indoor_ratio", "bs_height_m", "min_distance_m", "max_distance_m"):
            if getattr(self, name) is None:
                set_(self, name, getattr(spec, name))
        if not isinstance(self.speed_range_mps, list | tuple) or len(self.speed_range_mps) != 2:
            fail("speed_range_mps", f"{self.speed_range_mps!r} is not a pair", "[min, max] m/s, 0 <= min <= max")
        set_(self, "speed_range_mps", tuple(float(number("speed_range_mps", v)) for v in self.speed_range_mps))
        self._validate()

    def _validate(self) -> None:
        spec = self._spec
        for name, allowed in (
            ("los_policy", LOS_POLICIES),
            ("link", LINKS),
            ("multiband", MULTIBAND_MODES),
            ("o2i_model", O2I_MODELS),
        ):
            if getattr(self, name) not in allowed:
                fail(name, f"unknown value {getattr(self, name)!r}", list(allowed))
        positive_int("num_ue_ant", self.num_ue_ant)
        positive_int("num_time_steps", self.num_time_steps)
        if not isinstance(self.save_clusters, bool):
            fail("save_clusters", f"{self.save_clusters!r} is not a boolean", "true or false")
        for name in ("snapshot_interval_s", "bs_height_m", "min_distance_m", "max_distance_m"):
            if not number(name, getattr(self, name)) > 0:
                fail(name, f"{getattr(self, name)!r} is not positive", "a number > 0")
        if not number("indoor_ratio", self.indoor_ratio) <= 1 or self.indoor_ratio < 0:
            fail("indoor_ratio", f"{self.indoor_ratio!r} is outside [0, 1]", "a fraction in [0, 1]")
        if self.scenario == "InH" and self.indoor_ratio != 1:
            fail("indoor_ratio", f"{self.indoor_ratio!r} with InH, where every UE is indoors", "1 (or unset)")
        lo, hi = self.speed_range_mps
        if not 0 <= lo <= hi < math.inf:
            fail("speed_range_mps", f"{list(self.speed_range_mps)} is not an increasing pair", "0 <= min <= max")
        if self.min_distance_m >= self.max_distance_m:
            fail("min_distance_m", f"{self.min_distance_m} >= max_distance_m {self.max_distance_m}", "min < max")
        if len(self.bands) < 2 and self.multiband == "correlated":
            fail("multiband", "'correlated' needs two bands or more", "'independent' for a single band")
        for i, band in enumerate(self.bands):
            where = f"bands[{i}] ({band.label})"
            positive_int(f"{where}.num_subcarriers", band.num_subcarriers)
            if not number(f"{where}.subcarrier_spacing_hz", band.subcarrier_spacing_hz) > 0:
                fail(f"{where}.subcarrier_spacing_hz", f"{band.subcarrier_spacing_hz!r} is not positive", "> 0")
            if band.bandwidth_hz > band.max_bandwidth_hz:
                fail(
                    where,
                    f"bandwidth {band.num_subcarriers} x {band.subcarrier_spacing_hz:g} Hz = "
                    f"{band.bandwidth_hz / 1e6:g} MHz exceeds the band's {band.max_bandwidth_hz / 1e6:g} MHz",
                    "num_subcarriers x subcarrier_spacing_hz <= max_bandwidth_hz",
                )
            low, high = (
                band.carrier_frequency_hz - band.bandwidth_hz / 2,
                band.carrier_frequency_hz + band.bandwidth_hz / 2,
            )
            if low < spec.min_frequency_hz or high > spec.max_frequency_hz:
                fail(
                    where,
                    f"{low / 1e9:g}-{high / 1e9:g} GHz is outside the {self.scenario} validity range",
                    f"{spec.min_frequency_hz / 1e9:g}-{spec.max_frequency_hz / 1e9:g} GHz",
                )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Tr38901Config:
        """Build from a plain mapping (e.g. parsed TOML); rejects unknown keys.

        Besides the fields, the grid keys ``num_subcarriers`` (default 64), ``subcarrier_spacing_hz`` and
        ``carrier_frequency_hz`` (one band only) set the grid of bands given as labels
        (:func:`~wirelessdata.generators.bands.make_bands`).

        :raises ConfigError: Unknown key or invalid value (one line naming the field and the allowed values)
        """
        check_keys(d, [*(f.name for f in dataclasses.fields(cls) if f.init), *GRID_KEYS])
        kwargs = {k: v for k, v in d.items() if k not in GRID_KEYS}
        grid = {k: v for k, v in d.items() if k in GRID_KEYS}
        if "bands" in kwargs or grid:
            kwargs["bands"] = make_bands(kwargs.get("bands", list(DEFAULT_BANDS)), grid, DEFAULT_NUM_SUBCARRIERS)
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """Plain mapping of every field (bands as mappings), accepted by :meth:`from_dict`."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        d["bands"] = [band_dict(b) for b in self.bands]
        d["bs_array"], d["speed_range_mps"] = list(self.bs_array), list(self.speed_range_mps)
        return d


def normalise_bands(bands: Any) -> tuple[Band, ...]:
    """Resolve ``bands`` (one band or a non-empty list, see :func:`~wirelessdata.generators.bands.make_band`).

    :raises ConfigError: Not a non-empty list, unknown band or duplicate label
    """
    if isinstance(bands, str | Mapping | Band):
        bands = [bands]
    if not isinstance(bands, list | tuple) or not bands:
        fail("bands", f"{bands!r} is not a non-empty list", "a list of band labels or mappings")
    resolved = tuple(make_band(b, DEFAULT_NUM_SUBCARRIERS) for b in bands)
    labels = [b.label for b in resolved]
    if len(set(labels)) != len(labels):
        fail("bands", f"duplicate band in {labels}", "each band at most once")
    return resolved


def normalise_array(bs_array: Any) -> tuple[int, int]:
    """Panel ``(rows, columns)`` from ``(4, 8)``, ``[4, 8]`` or ``"4x8"``.

    :raises ConfigError: Not two positive integers
    """
    if isinstance(bs_array, str):
        parts = bs_array.lower().split("x")
        bs_array = [int(p) if p.strip().isdigit() else p for p in parts]
    if not isinstance(bs_array, list | tuple) or len(bs_array) != 2:
        fail("bs_array", f"{bs_array!r} is not rows x columns", "e.g. [4, 8] or '4x8'")
    for value in bs_array:
        positive_int("bs_array", value)
    return tuple(bs_array)
