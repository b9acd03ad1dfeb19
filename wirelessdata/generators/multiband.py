"""Multi-band drops on Sionna's TR 38.901 system-level models, correlated per TR 38.901 §7.6.5.

One :class:`MultiBandEngine` holds one Sionna channel model per band (its own carrier, arrays with
half-wavelength spacing at that carrier, and parameter tables) and, in ``"correlated"`` mode, one more
model at the *reference* carrier (geometric mean of the band carriers) that draws the multipath
geometry shared by all bands. Every random number of Sionna is drawn from its generator
(``sionna.phy.config.torch_rng``), re-seeded before each stage of the 38.901 procedure:

====================  =========================================  ==============  ==============
stage                 38.901 steps                                correlated      independent
====================  =========================================  ==============  ==============
``STAGE_TOPOLOGY``    set_topology: LSPs (step 4), UMa h_E,       one seed        seed per band
                      O2I and car penetration
``STAGE_RAYS``        steps 5-9: delays, cluster shadowing,       one seed        seed per band
                      angles, ray coupling, XPR
``STAGE_PHASES``      step 10: initial phases                     seed per band   seed per band
====================  =========================================  ==============  ==============

With one seed, all bands draw the same standard-normal LSP vector and the same uniform/normal
cluster variates; each band maps them through its own 38.901 tables. In ``"correlated"`` mode the
cluster delays and angles are then taken from the reference model (identical for all bands) and each
band's cluster powers are recomputed from those delays with its own delay spread and K-factor
(:meth:`MultiBandEngine._shared_geometry_rays`). ``docs/multiband.md`` lists every quantity.

This module depends on the configuration (:mod:`wirelessdata.generators.tr38901_config`) only; the
generator (:mod:`wirelessdata.generators.tr38901`) imports it, never the reverse.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from sionna.phy import config as sionna_config
from sionna.phy.channel import cir_to_ofdm_channel, subcarrier_frequencies
from sionna.phy.channel.tr38901 import (
    LSP,
    InH,
    PanelArray,
    Rays,
    RMa,
    SystemLevelChannel,
    UMa,
    UMi,
    delay_spread_from_rays,
)

from wirelessdata.generators.tr38901_config import Tr38901Config

STAGE_TOPOLOGY, STAGE_RAYS, STAGE_PHASES = 1, 2, 3
SHARED = 0
"""Band key of the draws shared by all bands; band ``b`` of a configuration has key ``b + 1``."""

MIN_POWER_DECAY = 0.1
"""Floor of the per-band power-decay exponent beta (see :meth:`MultiBandEngine._shared_geometry_rays`)."""


def stage_seed(seed: int, chunk: int, stage: int, band_key: int) -> int:
    """Seed of Sionna's generator for one stage of one band (or :data:`SHARED`) of a chunk of a block."""
    return int(np.random.SeedSequence([seed, chunk, stage, band_key]).generate_state(1, np.uint64)[0])


@contextlib.contextmanager
def seeded_sionna(device: str) -> Iterator[Callable[[int], None]]:
    """Yield ``reseed(seed)`` for Sionna's generator on ``device``; restore the generator's state on exit."""
    generator = sionna_config.torch_rng(device)
    state = generator.get_state()
    try:
        yield generator.manual_seed
    finally:
        generator.set_state(state)


@dataclass(frozen=True)
class Drops:
    """Topology of a block: one BS and one UE per drop (numpy, drawn by the caller).

    :param ut_loc: [n, 3], UE position at the first snapshot [m]
    :param bs_loc: [n, 3], BS array position [m]
    :param ut_yaw: [n], UE array bearing [rad]
    :param ut_vel: [n, 3], UE velocity [m/s]
    :param indoor: [n], bool, UE indoors
    :param distance_2d_in: [n], indoor 2D distance of indoor UEs [m] (ignored outdoors and for InH)
    :param los_uniform: [num_bands, n], uniform variates in [0, 1) compared to the LoS probability
    """

    ut_loc: np.ndarray
    bs_loc: np.ndarray
    ut_yaw: np.ndarray
    ut_vel: np.ndarray
    indoor: np.ndarray
    distance_2d_in: np.ndarray
    los_uniform: np.ndarray

    def slice(self, start: int, stop: int) -> Drops:
        """The drops ``start:stop``."""
        return Drops(
            **{name: getattr(self, name)[start:stop] for name in ("ut_loc", "bs_loc", "ut_yaw", "ut_vel", "indoor")},
            distance_2d_in=self.distance_2d_in[start:stop],
            los_uniform=self.los_uniform[:, start:stop],
        )


class _FixedRays(torch.nn.Module):
    """Stands in for a channel's ray generator and returns rays drawn beforehand."""

    def __init__(self, rays: Rays) -> None:
        super().__init__()
        self.rays = rays

    def forward(self, lsp: LSP) -> Rays:
        return self.rays


_MODELS: dict[str, type[SystemLevelChannel]] = {"UMa": UMa, "UMi": UMi, "RMa": RMa, "InH": InH}


def _channel(cfg: Tr38901Config, carrier_frequency_hz: float) -> SystemLevelChannel:
    """Sionna model of ``cfg.scenario`` at one carrier, arrays spaced at half that carrier's wavelength."""
    bs_array = PanelArray(
        num_rows_per_panel=cfg.bs_array[0],
        num_cols_per_panel=cfg.bs_array[1],
        polarization="single",
        polarization_type="V",
        antenna_pattern="38.901",
        carrier_frequency=carrier_frequency_hz,
    )
    ue_array = PanelArray(
        num_rows_per_panel=1,
        num_cols_per_panel=cfg.num_ue_ant,
        polarization="single",
        polarization_type="V",
        antenna_pattern="omni",
        carrier_frequency=carrier_frequency_hz,
    )
    kwargs = {"ut_array": ue_array, "bs_array": bs_array, "direction": cfg.link}
    if cfg.scenario in ("UMa", "UMi"):
        kwargs["o2i_model"] = cfg.o2i_model
    elif cfg.scenario == "InH":
        kwargs["indoor_scenario"] = "mixed"
    return _MODELS[cfg.scenario](carrier_frequency_hz, **kwargs)


class MultiBandEngine:
    """Sionna models of every band of a configuration, and the stage-seeded draws that couple them.

    :param cfg: Validated configuration
    """

    def __init__(self, cfg: Tr38901Config) -> None:
        self.cfg = cfg
        self.device = sionna_config.device
        self.channels = [_channel(cfg, band.carrier_frequency_hz) for band in cfg.bands]
        self.reference_frequency_hz = math.exp(np.mean([math.log(b.carrier_frequency_hz) for b in cfg.bands]))
        self.reference = _channel(cfg, self.reference_frequency_hz) if cfg.multiband == "correlated" else None
        self.frequencies = [
            subcarrier_frequencies(band.num_subcarriers, band.subcarrier_spacing_hz, device=self.device)
            for band in cfg.bands
        ]

    def bs_ant_pos(self, band: int) -> np.ndarray:
        """:output pos: [Nbs, 3], float32, BS element positions in the array frame [m]."""
        return self.channels[band]._scenario.bs_array.ant_pos.cpu().numpy().astype(np.float32)

    def ue_ant_pos(self, band: int) -> np.ndarray:
        """:output pos: [Nue, 3], float32, UE element positions in the array frame [m]."""
        return self.channels[band]._scenario.ut_array.ant_pos.cpu().numpy().astype(np.float32)

    def simulate(self, drops: Drops, seed: int, chunk: int) -> list[dict[str, torch.Tensor]]:
        """Channel and labels of every band for n drops, in one batch.

        :param drops: Topology of the n drops
        :param seed: Block seed
        :param chunk: Index of the drops' chunk in the block; with ``seed`` and ``drops`` it determines
            every output bit
        :output per_band: One dict per band with

            - ``csi`` [n, T, K, Nbs, Nue], complex64: channel frequency response (path loss included)
            - ``los`` [n], bool; ``k_factor`` [n] linear; ``delay_spread_s`` [n]; ``distance_m`` [n]
            - ``rays`` :class:`~sionna.phy.channel.tr38901.Rays` in the BS-UE (downlink) view and
              ``cluster_valid`` [n, C], bool, clusters that exist for the link state
        """
        cfg, correlated = self.cfg, self.cfg.multiband == "correlated"
        with seeded_sionna(self.device) as reseed:
            topology = self._topology(drops)
            los = self._los_requests(drops, topology)
            if correlated:
                reseed(stage_seed(seed, chunk, STAGE_TOPOLOGY, SHARED))
                self._set_topology(self.reference, topology, los[0])
                reseed(stage_seed(seed, chunk, STAGE_RAYS, SHARED))
                reference_rays = self.reference._ray_sampler(self.reference._lsp)
            results = []
            for b, channel in enumerate(self.channels):
                key = SHARED if correlated else b + 1
                reseed(stage_seed(seed, chunk, STAGE_TOPOLOGY, key))
                self._set_topology(channel, topology, los[b])
                if correlated:
                    rays = self._shared_geometry_rays(
                        channel, reference_rays, lambda: reseed(stage_seed(seed, chunk, STAGE_RAYS, SHARED))
                    )
                else:
                    reseed(stage_seed(seed, chunk, STAGE_RAYS, key))
                    rays = channel._ray_sampler(channel._lsp)
                result = self._labels(channel, rays)
                reseed(stage_seed(seed, chunk, STAGE_PHASES, b + 1))
                result["csi"] = self._csi(channel, rays, self.frequencies[b], cfg.num_time_steps)
                results.append(result)
        return results

    def _topology(self, drops: Drops) -> dict[str, torch.Tensor]:
        """``set_topology`` arguments for one BS and one UE per drop (batch = drops)."""
        n = len(drops.indoor)

        def tensor(x: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.asarray(x, dtype=np.float32), device=self.device)

        ut_orientations = np.zeros((n, 1, 3), np.float32)
        ut_orientations[:, 0, 0] = drops.ut_yaw
        topology = {
            "ut_loc": tensor(drops.ut_loc[:, None]),
            "bs_loc": tensor(drops.bs_loc[:, None]),
            "ut_orientations": tensor(ut_orientations),
            "bs_orientations": tensor(np.zeros((n, 1, 3))),
            "ut_velocities": tensor(drops.ut_vel[:, None]),
            "in_state": torch.as_tensor(drops.indoor[:, None], device=self.device),
            "ut_spatial_region_ids": torch.zeros((n, 1), dtype=torch.int64, device=self.device),
        }
        if self.cfg.scenario != "InH":
            topology["distance_2d_in"] = tensor(drops.distance_2d_in[:, None])
        return topology

    def _set_topology(self, channel: SystemLevelChannel, topology: dict, los: bool | torch.Tensor) -> None:
        """Reset, then set the topology; this also draws the LSPs (the models keep ``always_generate_lsp=False``)."""
        channel.reset_topology()
        channel.set_topology(**topology, los=los)

    def _los_requests(self, drops: Drops, topology: dict) -> list[bool | torch.Tensor]:
        """LoS request per band: the policy's constant, or ``uniform < P_LoS`` (§7.4.2, frequency independent).

        In ``"correlated"`` mode every band uses the first row of ``drops.los_uniform``, hence the same
        LoS state; in ``"independent"`` mode band ``b`` uses row ``b``.
        """
        if self.cfg.los_policy != "random":
            return [self.cfg.los_policy == "los"] * len(self.channels)
        probe = self.channels[0]
        probe.reset_topology()  # the geometry alone (no LSPs drawn): every band's own set_topology follows
        probe._scenario.set_topology(**topology, los=False)
        probability = probe._scenario.los_probability
        uniform = torch.as_tensor(drops.los_uniform, dtype=probability.dtype, device=self.device)
        rows = [0] * len(self.channels) if self.cfg.multiband == "correlated" else range(len(self.channels))
        return [uniform[r].reshape(probability.shape) < probability for r in rows]

    def _shared_geometry_rays(
        self, channel: SystemLevelChannel, reference_rays: Rays, reseed_rays: Callable[[], None]
    ) -> Rays:
        r"""Rays of one band on the reference geometry: shared delays, angles, coupling and XPR, own powers.

        Re-seeding replays the reference's step-5 uniforms :math:`X_n` and step-6 cluster shadowing
        :math:`Z_n`. Step 6 (38.901 eq. 7.5-5) gives :math:`P_n \propto X_n^{\beta}\,10^{-Z_n/10}`
        with :math:`\beta = r_\tau - 1` for delays drawn at the band's own DS. On the reference delays
        :math:`\tau_n = -r_\tau\,DS_{ref} \ln X_n` the band uses
        :math:`\beta_b = r_\tau\,DS_{ref}/DS_b - 1` instead, so that the expected RMS delay spread of
        its exponential power-delay profile stays :math:`DS_b` (and :math:`\beta_b = r_\tau - 1` when
        :math:`DS_b = DS_{ref}`). Sionna's step 6 is called with the delay spread that yields
        :math:`\beta_b`; the -25 dB pruning and the K-factor of the band apply as usual.
        """
        reference, lsp = self.reference, channel._lsp
        reseed_rays()
        _, unscaled_delays, order = reference._ray_sampler._cluster_delays(reference._lsp.ds, reference._lsp.k_factor)
        r_tau = channel._scenario.get_param("rTau")
        beta = torch.clamp(r_tau * reference._lsp.ds / lsp.ds - 1.0, min=MIN_POWER_DECAY)
        effective_ds = (r_tau - 1.0) * reference._lsp.ds / beta
        powers, _ = channel._ray_sampler._cluster_powers(effective_ds, lsp.k_factor, unscaled_delays, order)
        return Rays(
            delays=reference_rays.delays,
            powers=powers,
            aoa=reference_rays.aoa,
            aod=reference_rays.aod,
            zoa=reference_rays.zoa,
            zod=reference_rays.zod,
            xpr=reference_rays.xpr,
            cluster_sort_indices=reference_rays.cluster_sort_indices,
        )

    def _labels(self, channel: SystemLevelChannel, rays: Rays) -> dict:
        """Per-drop labels of one band, computed from its rays before they are used (BS-UE view)."""
        scenario, lsp = channel._scenario, channel._lsp
        num_clusters = rays.delays.shape[-1]
        num_valid = num_clusters - channel._ray_sampler._cluster_mask[:, 0, 0].sum(-1, keepdim=True)
        return {
            "los": scenario.los[:, 0, 0],
            "k_factor": lsp.k_factor[:, 0, 0],
            "delay_spread_s": delay_spread_from_rays(rays, lsp, scenario)[:, 0, 0],
            "distance_m": scenario.distance_3d[:, 0, 0],
            "rays": rays,
            "cluster_valid": torch.arange(num_clusters, device=self.device) < num_valid,
        }

    def _csi(
        self, channel: SystemLevelChannel, rays: Rays, frequencies: torch.Tensor, num_time_steps: int
    ) -> torch.Tensor:
        """Steps 10-12 of Sionna's pipeline on ``rays``, then the OFDM response.

        :output csi: [n, T, K, Nbs, Nue], complex64
        """
        original = channel._ray_sampler
        channel._ray_sampler = _FixedRays(copy.copy(rays))  # the uplink path reassigns the rays' attributes
        try:
            a, tau = channel(num_time_steps, 1.0 / self.cfg.snapshot_interval_s)
        finally:
            channel._ray_sampler = original
        h = cir_to_ofdm_channel(frequencies, a, tau)[:, 0, :, 0]  # [n, rx_ant, tx_ant, T, K]
        if self.cfg.link == "downlink":
            return h.permute(0, 3, 4, 2, 1)
        return h.permute(0, 3, 4, 1, 2)
