"""Statistical 3GPP TR 38.901 generator on Sionna: shard layouts and blocks of drops.

A *drop* is one BS (a 3-sector site's sector facing +x, at the origin) and one UE dropped uniformly
over the sector's area, moving on a straight track. Each drop is evaluated at every configured band;
with ``multiband="correlated"`` the bands share the drop's random variables as in TR 38.901 §7.6.5
(see :mod:`wirelessdata.generators.multiband` and ``docs/multiband.md``).

Public API: :class:`Tr38901Config` (with :meth:`Tr38901Config.from_dict`, defined in
:mod:`wirelessdata.generators.tr38901_config` with the scenario defaults), :func:`shard_layouts` and
:func:`generate_block`. Sionna and torch are imported on first use, so that configurations can be
validated without them.

Imports run one way: this module -> :mod:`~wirelessdata.generators.multiband` (engine, :class:`Drops`)
-> :mod:`~wirelessdata.generators.tr38901_config` (configuration) -> :mod:`~wirelessdata.generators.bands`.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import metadata
from typing import TYPE_CHECKING, Any

import numpy as np

from wirelessdata import __version__
from wirelessdata.checks import fail, positive_int
from wirelessdata.generators.tr38901_config import (
    DEFAULT_NUM_SUBCARRIERS,
    LINKS,
    LOS_POLICIES,
    MULTIBAND_MODES,
    O2I_MODELS,
    SCENARIOS,
    ScenarioSpec,
    Tr38901Config,
    normalise_array,
    normalise_bands,
    scenario_specs,
)
from wirelessdata.shard.layout import ShardSpec
from wirelessdata.source.contract import Generator

if TYPE_CHECKING:
    from wirelessdata.generators.multiband import Drops, MultiBandEngine

__all__ = [
    "SOURCE",
    "CHUNK_SIZE",
    "DEFAULT_NUM_SUBCARRIERS",
    "GENERATOR",
    "LINKS",
    "LOS_POLICIES",
    "MULTIBAND_MODES",
    "O2I_MODELS",
    "OPTIONAL_LABELS",
    "SCENARIOS",
    "Config",
    "ScenarioSpec",
    "Tr38901Config",
    "beam_codebook",
    "beams_and_gain",
    "generate_block",
    "normalise_array",
    "normalise_bands",
    "scenario_specs",
    "shard_layouts",
]

GENERATOR = "tr38901"
OPTIONAL_LABELS = ("delay_spread_s", "k_factor_db", "best_beam", "distance_m", "indoor")
"""Optional schema variables every block holds besides the required ones of its modalities."""
BEAM_OVERSAMPLING = 2
"""Oversampling of the BS DFT codebook in both array dimensions."""
TOPOLOGY_STREAM = 0
"""numpy seed-sequence key of a block's topology draws (Sionna's stages use keys >= 1)."""
CHUNK_SIZE = 64
"""Drops per batched Sionna evaluation: larger batches are slower on CPU (cache) and use more memory."""


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


def shard_layouts(cfg: Tr38901Config) -> dict[str, ShardSpec]:
    """Attributes, sizes and coordinates of the shard of each band.

    :output layouts: ``{band label: ShardSpec}``; ``coords`` holds
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
        layouts[band.label] = ShardSpec(
            modalities=("csi", "clusters") if cfg.save_clusters else ("csi",),
            sizes=sizes,
            coords=coords,
            attrs=attrs,
            optional=tuple(OPTIONAL_LABELS),
        )
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
            **{key: _joined([chunk[b][key] for chunk in chunks]) for key in chunks[0][b]},
        }
        for b, band in enumerate(cfg.bands)
    }


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    """``parts`` concatenated along the first axis; a single part as it is (no copy of a block's CSI)."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _band_arrays(cfg: Tr38901Config, engine: MultiBandEngine, results: list[dict]) -> list[dict[str, np.ndarray]]:
    """numpy arrays of every band from :meth:`MultiBandEngine.simulate`'s results for a chunk of drops."""
    arrays = []
    for b, (band, result) in enumerate(zip(cfg.bands, results, strict=True)):
        csi = result["csi"]
        los = result["los"].cpu().numpy()
        k_db = 10 * np.log10(result["k_factor"].cpu().numpy())
        best_beam, path_gain_db = beams_and_gain(csi, engine.bs_ant_pos(b), cfg.bs_array, band.carrier_frequency_hz)
        out = {
            "csi": np.ascontiguousarray(csi.contiguous().cpu().numpy(), dtype=np.complex64),  # torch copies in parallel
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
"""The generator's configuration class."""

SOURCE = Generator(GENERATOR, Tr38901Config, shard_layouts, generate_block)
"""The TR 38.901 generator as a plug-in (entry point ``tr38901`` of ``wirelessdata.generators``)."""
