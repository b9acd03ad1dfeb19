"""Statistical 3GPP TR 38.901 generator on Sionna: configuration, shard layouts and blocks of drops.

A *drop* is one BS (a 3-sector site's sector facing +x, at the origin) and one UE dropped uniformly
over the sector's area, moving on a straight track. Each drop is evaluated at every configured band;
with ``multiband="correlated"`` the bands share the drop's random variables as in TR 38.901 §7.6.5
(see :mod:`wirelessdata.generators.multiband` and ``docs/multiband.md``).

Public API: :class:`Tr38901Config` (with :meth:`Tr38901Config.from_dict`), :func:`shard_layouts` and
:func:`generate_block`. Sionna and torch are imported on first use, so that configurations can be
validated without them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from typing import TYPE_CHECKING, Any

import numpy as np

from wirelessdata import __version__
from wirelessdata.checks import fail, number, positive_int
from wirelessdata.errors import ConfigError
from wirelessdata.generators.bands import Band, make_band

if TYPE_CHECKING:
    from wirelessdata.generators.multiband import Drops, MultiBandEngine

GENERATOR = "tr38901"
OPTIONAL_LABELS = ("delay_spread_s", "k_factor_db", "best_beam", "distance_m", "indoor")
"""Optional schema variables every block holds besides the required ones of its modalities."""
LOS_POLICIES = ("random", "los", "nlos")
LINKS = ("uplink", "downlink")
MULTIBAND_MODES = ("correlated", "independent")
O2I_MODELS = ("low", "high")
BEAM_OVERSAMPLING = 2
"""Oversampling of the BS DFT codebook in both array dimensions."""
DEFAULT_NUM_SUBCARRIERS = 64
TOPOLOGY_STREAM = 0
"""numpy seed-sequence key of a block's topology draws (Sionna's stages use keys >= 1)."""
CHUNK_SIZE = 64
"""Drops per batched Sionna evaluation: larger batches are slower on CPU (cache) and use more memory."""


@dataclass(frozen=True)
class ScenarioSpec:
    """Deployment defaults and validity of one TR 38.901 scenario.

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


SCENARIOS: dict[str, ScenarioSpec] = {
    "UMa": ScenarioSpec(0.5e9, 100e9, 25.0, 35.0, 289.0, 0.8, 25.0, 20),
    "UMi": ScenarioSpec(0.5e9, 100e9, 10.0, 10.0, 115.0, 0.8, 25.0, 19),
    # RMa fast-fading parameters (Table 7.5-6 Part-3) are specified for 0.5-7 GHz only.
    "RMa": ScenarioSpec(0.5e9, 7e9, 35.0, 35.0, 1000.0, 0.5, 10.0, 11),
    # Indoor hotspot, mixed office; every UE is indoors, BS on the ceiling (3 m), UE at 1 m.
    "InH": ScenarioSpec(0.5e9, 100e9, 3.0, 1.0, 50.0, 1.0, 0.0, 19),
}


@dataclass(frozen=True)
class Tr38901Config:
    """Configuration of the statistical TR 38.901 generator (validated at construction).

    :param scenario: ``"UMa"``, ``"UMi"``, ``"RMa"`` or ``"InH"`` (Sionna's InH, mixed office)
    :param bands: Bands, each a preset label (``"sub6"``, ``"28GHz"``, ... from ``bands.toml``; 64
        subcarriers at the preset's spacing), a mapping ``{"band", "num_subcarriers",
        "subcarrier_spacing_hz"}`` or a :class:`~wirelessdata.generators.bands.Band`
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
    bands: tuple[Band, ...] = ("sub6", "28GHz")
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

        Besides the fields, the key ``num_subcarriers`` sets the subcarrier count of bands given as
        labels (default 64).

        :raises ConfigError: Unknown key or invalid value (one line naming the field and the allowed values)
        """
        valid = [f.name for f in dataclasses.fields(cls) if f.init] + ["num_subcarriers"]
        unknown = sorted(set(d) - set(valid))
        if unknown:
            raise ConfigError(f"unknown key(s) {unknown}; valid keys: {valid}")
        kwargs = {k: v for k, v in d.items() if k != "num_subcarriers"}
        num_subcarriers = d.get("num_subcarriers", DEFAULT_NUM_SUBCARRIERS)
        if "bands" in kwargs:
            bands = kwargs["bands"]
            if isinstance(bands, str | Mapping):
                bands = [bands]
            kwargs["bands"] = tuple(make_band(b, num_subcarriers) for b in bands)
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """Plain mapping of every field (bands as mappings), accepted by :meth:`from_dict`."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        d["bands"] = [
            {"band": b.label, "num_subcarriers": b.num_subcarriers, "subcarrier_spacing_hz": b.subcarrier_spacing_hz}
            for b in self.bands
        ]
        d["bs_array"], d["speed_range_mps"] = list(self.bs_array), list(self.speed_range_mps)
        return d


def normalise_bands(bands: Any) -> tuple[Band, ...]:
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
    if isinstance(bs_array, str):
        parts = bs_array.lower().split("x")
        bs_array = [int(p) if p.strip().isdigit() else p for p in parts]
    if not isinstance(bs_array, list | tuple) or len(bs_array) != 2:
        fail("bs_array", f"{bs_array!r} is not rows x columns", "e.g. [4, 8] or '4x8'")
    for value in bs_array:
        positive_int("bs_array", value)
    return tuple(bs_array)


@lru_cache(maxsize=8)
def _engine(cfg: Tr38901Config) -> MultiBandEngine:
    """Sionna models of a configuration (built once per configuration and process)."""
    from wirelessdata.generators.multiband import MultiBandEngine

    return MultiBandEngine(cfg)


def beam_codebook(cfg: Tr38901Config) -> str:
    """Definition of the BS DFT codebook that ``best_beam`` indexes (stored in ``attrs["beam_codebook"]``)."""
    rows, cols = cfg.bs_array
    nv, nh = BEAM_OVERSAMPLING * rows, BEAM_OVERSAMPLING * cols
    return (
        f"2D DFT over the {rows}x{cols} BS panel, oversampled {BEAM_OVERSAMPLING}x in both dimensions: "
        f"w_pq[r,c] = exp(2j*pi*(p*r/{nv} + q*c/{nh}))/sqrt({rows * cols}), p in 0..{nv - 1} (vertical), "
        f"q in 0..{nh - 1} (horizontal), beam index p*{nh}+q; r = element row (0 = top), c = element column "
        f"(0 = most negative y of bs_ant_pos); best_beam = argmax over beams of sum over time, subcarriers "
        f"and UE antennas of |w_pq^H h|^2"
    )


def shard_layouts(cfg: Tr38901Config) -> dict[str, dict]:
    """Attributes, sizes and coordinates of the shard of each band.

    :output layouts: ``{band label: {"attrs", "sizes", "coords", "modalities", "optional"}}``; ``coords`` holds
        ``time`` [T] float64 s, ``subcarrier`` [K] float64 Hz offsets (``(k - K//2) * spacing``),
        ``bs_ant_pos`` [Nbs, 3] and ``ue_ant_pos`` [Nue, 3] float32 m in the array frame (x = boresight)
    """
    engine = _engine(cfg)
    rows, cols = cfg.bs_array
    layouts = {}
    for b, band in enumerate(cfg.bands):
        k = band.num_subcarriers
        attrs = {
            "generator": GENERATOR,
            "generator_version": __version__,
            "engine_version": metadata.version("sionna"),
            "carrier_frequency_hz": band.carrier_frequency_hz,
            "bandwidth_hz": band.bandwidth_hz,
            "subcarrier_spacing_hz": band.subcarrier_spacing_hz,
            "band": band.label,
            "bands": [x.label for x in cfg.bands],
            "scenario": cfg.scenario,
            "link": cfg.link,
            "multiband": cfg.multiband,
            "los_policy": cfg.los_policy,
            "num_bs_ant": rows * cols,
            "num_ue_ant": cfg.num_ue_ant,
            "bs_array": f"{rows}x{cols}",
            "beam_codebook": beam_codebook(cfg),
            "spec_version": "TR 38.901 v19.2 (Sionna tables)",
            "o2i_model": cfg.o2i_model if cfg.scenario in ("UMa", "UMi") else "n/a",
            "indoor_ratio": cfg.indoor_ratio,
            "speed_range_mps": list(cfg.speed_range_mps),
            "snapshot_interval_s": cfg.snapshot_interval_s,
            "bs_height_m": cfg.bs_height_m,
            "distance_range_m": [cfg.min_distance_m, cfg.max_distance_m],
            "path_gain_db": "10*log10 of the mean of |csi|^2 over time, subcarriers and antennas",
            "delay_spread_s": "RMS delay spread of the cluster power-delay profile incl. the LoS component "
            "and the sub-clusters of the two strongest clusters (sionna delay_spread_from_rays)",
            "k_factor_db": "Ricean K-factor LSP applied to the LoS drop (NaN where NLoS)",
        }
        if cfg.multiband == "correlated":
            attrs["reference_frequency_hz"] = engine.reference_frequency_hz
        sizes = {"time": cfg.num_time_steps, "subcarrier": k, "bs_ant": rows * cols, "ue_ant": cfg.num_ue_ant}
        if cfg.save_clusters:
            sizes["cluster"] = cfg._spec.num_clusters
        coords = {
            "time": np.arange(cfg.num_time_steps, dtype=np.float64) * cfg.snapshot_interval_s,
            "subcarrier": (np.arange(k, dtype=np.float64) - k // 2) * band.subcarrier_spacing_hz,
            "bs_ant_pos": engine.bs_ant_pos(b),
            "ue_ant_pos": engine.ue_ant_pos(b),
        }
        layouts[band.label] = {
            "attrs": attrs,
            "sizes": sizes,
            "coords": coords,
            "modalities": ["csi", "clusters"] if cfg.save_clusters else ["csi"],
            "optional": list(OPTIONAL_LABELS),
        }
    return layouts


def generate_block(cfg: Tr38901Config, num_samples: int, seed: int) -> dict[str, dict[str, np.ndarray]]:
    """Drops of one block, evaluated at every band; a pure function of its arguments.

    :param cfg: Configuration
    :param num_samples: Number of drops n
    :param seed: Block seed (integer >= 0)
    :output blocks: ``{band label: arrays}``, every array with first axis n:

        - ``csi`` [n, T, K, Nbs, Nue], complex64: channel frequency response H (path loss, shadowing)
        - ``ue_pos`` [n, T, 3], float32 m: UE position at each snapshot (straight track)
        - ``ue_vel`` [n, 3], float32 m/s; ``bs_pos`` [n, 3], float32 m
        - ``los``, ``indoor`` [n], bool; ``distance_m`` [n], float32: 3D BS-UE distance at t = 0
        - ``path_gain_db`` [n], float32: 10 log10 of the mean |H|^2 over time, subcarriers, antennas
        - ``delay_spread_s`` [n], float32: RMS delay spread of the clusters (LoS and sub-clusters included)
        - ``k_factor_db`` [n], float32: K-factor of LoS drops, NaN for NLoS
        - ``best_beam`` [n], int32: strongest beam of :func:`beam_codebook`
        - with ``save_clusters``: ``cluster_delay_s``, ``cluster_power`` (LoS component merged into the
          first cluster, sum 1), ``cluster_aoa_rad``, ``cluster_aod_rad``, ``cluster_zoa_rad``,
          ``cluster_zod_rad`` [n, C], float32, NaN for clusters the link state does not have;
          departure is at the transmitter of ``cfg.link``
    """
    positive_int("num_samples", num_samples)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        fail("seed", f"{seed!r} is not a non-negative integer", "an integer >= 0")
    engine = _engine(cfg)
    drops = _draw_drops(cfg, num_samples, np.random.default_rng([int(seed), TOPOLOGY_STREAM]))
    chunks = [
        _band_arrays(cfg, engine, engine.simulate(drops.slice(start, start + CHUNK_SIZE), int(seed), chunk))
        for chunk, start in enumerate(range(0, num_samples, CHUNK_SIZE))
    ]
    t = np.arange(cfg.num_time_steps) * cfg.snapshot_interval_s
    common = {
        "ue_pos": (drops.ut_loc[:, None, :] + drops.ut_vel[:, None, :] * t[None, :, None]).astype(np.float32),
        "ue_vel": drops.ut_vel.astype(np.float32),
        "bs_pos": drops.bs_loc.astype(np.float32),
        "indoor": drops.indoor.copy(),
    }
    return {
        band.label: {
            **{key: value.copy() for key, value in common.items()},
            **{key: np.concatenate([chunk[b][key] for chunk in chunks]) for key in chunks[0][b]},
        }
        for b, band in enumerate(cfg.bands)
    }


def _band_arrays(cfg: Tr38901Config, engine: MultiBandEngine, results: list[dict]) -> list[dict[str, np.ndarray]]:
    """numpy arrays of every band from :meth:`MultiBandEngine.simulate`'s results for a chunk of drops."""
    arrays = []
    for b, (band, result) in enumerate(zip(cfg.bands, results, strict=True)):
        csi = result["csi"]
        los = result["los"].cpu().numpy()
        k_db = 10 * np.log10(result["k_factor"].cpu().numpy())
        best_beam, path_gain_db = beams_and_gain(csi, engine.bs_ant_pos(b), cfg.bs_array, band.carrier_frequency_hz)
        out = {
            "csi": csi.cpu().numpy().astype(np.complex64),
            "los": los,
            "distance_m": result["distance_m"].cpu().numpy().astype(np.float32),
            "path_gain_db": path_gain_db,
            "delay_spread_s": result["delay_spread_s"].cpu().numpy().astype(np.float32),
            "k_factor_db": np.where(los, k_db, np.nan).astype(np.float32),
            "best_beam": best_beam,
        }
        if cfg.save_clusters:
            out.update(_clusters(result, cfg.link))
        arrays.append(out)
    return arrays


def _draw_drops(cfg: Tr38901Config, n: int, rng: np.random.Generator) -> Drops:
    """Topology of n drops: UE uniform over the 120-degree sector annulus facing +x, straight track.

    UE heights follow Table 7.2-1: 1.5 m outdoors; indoors in UMa/UMi on floor n_fl ~ U{1..N_fl},
    N_fl ~ U{4..8}, at 3 (n_fl - 1) + 1.5 m; 1.5 m in RMa; 1 m in InH. Indoor 2D distance: minimum
    of two uniforms on [0, max_2d_in] (§7.4.3.1), shared by all bands.
    """
    from wirelessdata.generators.multiband import Drops

    spec = cfg._spec
    radius = np.sqrt(rng.uniform(cfg.min_distance_m**2, cfg.max_distance_m**2, n))
    azimuth = rng.uniform(-np.pi / 3, np.pi / 3, n)
    indoor = rng.uniform(size=n) < cfg.indoor_ratio
    num_floors = rng.integers(4, 9, n)
    floor = np.floor(rng.uniform(size=n) * num_floors) + 1
    if cfg.scenario in ("UMa", "UMi"):
        height = np.where(indoor, 3.0 * (floor - 1) + 1.5, 1.5)
    else:
        height = np.full(n, 1.0 if cfg.scenario == "InH" else 1.5)
    speed = rng.uniform(*cfg.speed_range_mps, n)
    heading = rng.uniform(0, 2 * np.pi, n)
    return Drops(
        ut_loc=np.stack([radius * np.cos(azimuth), radius * np.sin(azimuth), height], axis=-1),
        bs_loc=np.tile([0.0, 0.0, cfg.bs_height_m], (n, 1)),
        ut_yaw=rng.uniform(0, 2 * np.pi, n),
        ut_vel=np.stack([speed * np.cos(heading), speed * np.sin(heading), np.zeros(n)], axis=-1),
        indoor=indoor,
        distance_2d_in=rng.uniform(0, spec.max_2d_in_m, (2, n)).min(axis=0),
        los_uniform=rng.uniform(size=(len(cfg.bands), n)),
    )


def beams_and_gain(
    csi: Any, bs_ant_pos: np.ndarray, bs_array: tuple[int, int], carrier_hz: float
) -> tuple[np.ndarray, np.ndarray]:
    """Strongest beam of :func:`beam_codebook` and path gain, both from R = sum over t, k, ue of ``h h^H``.

    :param csi: [n, T, K, Nbs, Nue], complex torch tensor
    :output best_beam: [n], int32, argmax over beams of ``w^H R w``
    :output path_gain_db: [n], float32, 10 log10 of trace(R) / (T K Nbs Nue), the mean of |csi|^2
    """
    import torch

    rows, cols = bs_array
    nv, nh = BEAM_OVERSAMPLING * rows, BEAM_OVERSAMPLING * cols
    spacing = 0.5 * 299_792_458.0 / carrier_hz
    col = np.rint((bs_ant_pos[:, 1] - bs_ant_pos[:, 1].min()) / spacing)
    row = np.rint((bs_ant_pos[:, 2].max() - bs_ant_pos[:, 2]) / spacing)
    p, q = np.meshgrid(np.arange(nv), np.arange(nh), indexing="ij")
    phase = 2 * np.pi * (np.outer(row, p.ravel()) / nv + np.outer(col, q.ravel()) / nh)
    codebook = torch.as_tensor(np.exp(1j * phase) / np.sqrt(rows * cols), dtype=csi.dtype, device=csi.device)
    h = csi.transpose(3, 4).reshape(csi.shape[0], -1, csi.shape[3])  # [n, T*K*Nue, Nbs]
    covariance = h.mT @ h.conj()  # [n, Nbs, Nbs]
    power = (codebook.conj() * (covariance @ codebook)).sum(dim=1).real  # [n, beams]
    gain = covariance.diagonal(dim1=1, dim2=2).real.sum(dim=1) / csi[0].numel()
    best = power.argmax(dim=1).cpu().numpy().astype(np.int32)
    return best, (10 * torch.log10(gain)).cpu().numpy().astype(np.float32)


def _clusters(result: dict, link: str) -> dict[str, np.ndarray]:
    """Per-cluster arrays of one band, [n, C] float32, NaN where the cluster does not exist."""
    import torch

    rays, valid = result["rays"], result["cluster_valid"]
    k = result["k_factor"][:, None]
    power = rays.powers[:, 0, 0]
    los_power = torch.zeros_like(power)
    los_power[:, 0] = torch.where(result["los"], k[:, 0] / (k[:, 0] + 1), 0.0)
    power = torch.where(result["los"][:, None], power / (k + 1), power) + los_power
    power = power / power.sum(dim=1, keepdim=True)

    def azimuth(a: Any) -> Any:  # circular mean over the cluster's rays
        return torch.angle(torch.exp(1j * a[:, 0, 0].double()).mean(dim=-1))

    def zenith(a: Any) -> Any:
        return a[:, 0, 0].double().mean(dim=-1)

    bs, ue = (rays.aod, rays.zod), (rays.aoa, rays.zoa)  # Sionna's rays are in the BS-UE (downlink) view
    departure, arrival = (bs, ue) if link == "downlink" else (ue, bs)
    arrays = {
        "cluster_delay_s": rays.delays[:, 0, 0],
        "cluster_power": power,
        "cluster_aoa_rad": azimuth(arrival[0]),
        "cluster_aod_rad": azimuth(departure[0]),
        "cluster_zoa_rad": zenith(arrival[1]),
        "cluster_zod_rad": zenith(departure[1]),
    }
    return {
        name: torch.where(valid, value.to(torch.float32), torch.nan).cpu().numpy() for name, value in arrays.items()
    }


Config = Tr38901Config
"""The generator's configuration class (see :mod:`wirelessdata.generators.registry`)."""
