"""Ray tracing of the drops at each band (Sionna RT ``PathSolver``) and the channel from the paths: CSI from
``Paths.cfr`` and the per-link labels (LoS, delay spread, K-factor); drops without any path are redrawn."""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

import numpy as np

from wirelessdata.errors import WirelessDataError
from wirelessdata.generators.bands import Band
from wirelessdata.generators.raytrace.config import RaytraceConfig
from wirelessdata.generators.raytrace.drops import Drops, draw_drops
from wirelessdata.generators.raytrace.scatterers import path_scatterers
from wirelessdata.generators.raytrace.scene import World, radio_arrays, set_devices, sionna_rt
from wirelessdata.generators.raytrace.timing import timed

MAX_REDRAWS = 8
"""Rounds of redrawing drops without any path before giving up."""

log = logging.getLogger(__package__)  # the documented logger name, wirelessdata.generators.raytrace


@cache
def path_solver() -> Any:
    """Sionna RT's path solver (deterministic), one per process."""
    return sionna_rt().PathSolver(deterministic=True)


def trace(
    cfg: RaytraceConfig, world: World, band: Band, drops: Drops, seed: int, scatterers: bool = False
) -> dict[str, np.ndarray]:
    """Ray trace the drops at one band.

    :param scatterers: Also return the paths' interaction points (:func:`.scatterers.path_scatterers`)
    :output traced: ``csi`` [m, T, K, Nbs, Nue] complex64 (delays relative to each link's first path),
        ``reached`` [m] bool (any valid path), ``los`` [m] bool (a path without interaction),
        ``delay_spread_s`` [m] float32 (RMS over the paths' powers), ``k_factor_db`` [m] float32 (LoS path power
        over the other paths', NaN without LoS); with ``scatterers`` the padded per-drop arrays of
        :func:`.scatterers.path_scatterers` (capacity ``cfg.max_scatterers``)
    """
    import mitsuba as mi

    scene = world.scene
    scene.frequency = band.carrier_frequency_hz
    scene.tx_array, scene.rx_array = radio_arrays(cfg)
    set_devices(scene, cfg, drops.position, drops.velocity)
    with timed("ray tracing"):
        paths = path_solver()(scene, max_depth=cfg.max_depth, samples_per_src=cfg.samples_per_src, seed=seed % 2**31)
    with timed("csi"):
        k = band.num_subcarriers
        offsets = (np.arange(k) - k // 2) * band.subcarrier_spacing_hz
        h = paths.cfr(
            frequencies=mi.Float(offsets),
            sampling_frequency=1 / cfg.snapshot_interval_s,
            num_time_steps=cfg.num_time_steps,
            out_type="numpy",
        )  # [rx, rx_ant, tx, tx_ant, T, K]
        csi = np.ascontiguousarray(h[:, :, 0].transpose(0, 3, 4, 2, 1)).astype(np.complex64)
        stats = _path_stats(paths)
    if scatterers:
        with timed("scatterers"):
            stats.update(path_scatterers(paths, cfg.max_scatterers))
    return {"csi": csi, **stats}


def _path_stats(paths: Any) -> dict[str, np.ndarray]:
    """LoS flag, delay spread and K-factor of each receiver from the traced paths (synthetic arrays)."""
    valid = paths.valid.numpy()[:, 0].astype(bool)  # [rx, P]
    if valid.shape[-1] == 0:
        n = valid.shape[0]
        return {
            "reached": np.zeros(n, bool),
            "los": np.zeros(n, bool),
            "delay_spread_s": np.zeros(n, np.float32),
            "k_factor_db": np.full(n, np.nan, np.float32),
        }
    a_re, a_im = (x.numpy() for x in paths.a)  # [rx, rx_ant, tx, tx_ant, P]
    power = np.where(valid, (a_re**2 + a_im**2)[:, :, 0].mean(axis=(1, 2)), 0.0)  # [rx, P]
    tau = np.where(valid, paths.tau.numpy()[:, 0], 0.0)
    direct = valid & (paths.interactions.numpy()[:, :, 0] == 0).all(axis=0)
    total = power.sum(axis=1)
    reached = valid.any(axis=1) & (total > 0)
    safe = np.where(reached, total, 1.0)
    mean = (power * tau).sum(axis=1) / safe
    spread = np.sqrt(np.maximum((power * tau**2).sum(axis=1) / safe - mean**2, 0.0))
    p_los = (power * direct).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        k_db = 10 * np.log10(p_los / (total - p_los))
    los = direct.any(axis=1)
    return {
        "reached": reached,
        "los": los,
        "delay_spread_s": np.where(reached, spread, 0.0).astype(np.float32),
        "k_factor_db": np.where(los & np.isfinite(k_db), k_db, np.nan).astype(np.float32),
    }


def trace_all(
    cfg: RaytraceConfig, world: World, drops: Drops, seed: int, rng: np.random.Generator
) -> tuple[Drops, list[dict[str, np.ndarray]]]:
    """Trace every band (with ``cfg.scatterers``, the first band's paths also give the scatterers); redraw the drops
    that some band cannot reach until all are reached.

    :raises WirelessDataError: Drops still without any path after ``MAX_REDRAWS`` rounds
    """
    traced = [trace(cfg, world, band, drops, seed, cfg.scatterers and j == 0) for j, band in enumerate(cfg.bands)]
    redrawn = 0
    for attempt in range(MAX_REDRAWS + 1):
        lost = ~np.logical_and.reduce([t["reached"] for t in traced])
        if not lost.any():
            break
        if attempt == MAX_REDRAWS:
            raise WirelessDataError(
                f"raytrace: {int(lost.sum())} drop(s) without any path between BS and UE after {MAX_REDRAWS} "
                f"redraws; move bs_position_m, narrow ue_region_m or raise max_depth"
            )
        with timed("placement"):
            fresh = draw_drops(cfg, world.geometry, int(lost.sum()), rng)
        redrawn += int(lost.sum())
        drops = drops.replace(lost, fresh)
        again = [trace(cfg, world, band, fresh, seed, cfg.scatterers and j == 0) for j, band in enumerate(cfg.bands)]
        for old, new in zip(traced, again, strict=True):
            for key, value in old.items():
                value[lost] = new[key]
    if redrawn:
        log.info("raytrace: %d drop(s) without any path were redrawn", redrawn)
    return drops, traced
