"""UE drops: where a block's UEs stand (on level open ground of the scene, away from the BS) and how they move
(a straight track at a drawn speed and heading)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from wirelessdata.checks import fail
from wirelessdata.generators.raytrace.config import RaytraceConfig
from wirelessdata.sensing import Box, SceneGeometry

MAX_GROUND_SLOPE_DEG = 30.0
"""Steepest ground a UE may stand on."""
GROUND_GAP_M = 0.5
"""A surface more than this below the first one hit from above makes that one a roof, not ground."""
PLACEMENT_TRIES = 200
"""Candidate positions per wanted UE before giving up with 'no valid UE positions'."""
TOPOLOGY_STREAM, SENSING_STREAM = 0, 1
"""numpy seed-sequence keys of a block's drop draws and of its sensor noise."""


@dataclass(frozen=True)
class Drops:
    """UEs of a block at the first snapshot.

    :param position: [n, 3], m, antenna position
    :param velocity: [n, 3], m/s
    :param heading: [n], rad, from +x counter-clockwise (also when the UE stands still)
    :param ground: [n], m, ground height under the UE
    """

    position: np.ndarray
    velocity: np.ndarray
    heading: np.ndarray
    ground: np.ndarray

    def replace(self, mask: np.ndarray, fresh: Drops) -> Drops:
        """These drops with those at ``mask`` [n] replaced by ``fresh`` (``mask.sum()`` drops)."""
        merged = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name).copy()
            value[mask] = getattr(fresh, f.name)
            merged[f.name] = value
        return Drops(**merged)

    def body(self, i: int, size: tuple[float, float, float]) -> Box:
        """The box of UE ``i``: ``size`` (length, width, height), on the ground, along the heading."""
        center = np.array([*self.position[i, :2], self.ground[i] + size[2] / 2])
        return Box(center, np.asarray(size), float(self.heading[i]), self.velocity[i])


def ground_height(geometry: SceneGeometry, xy: np.ndarray) -> np.ndarray:
    """Height of walkable/drivable ground at horizontal positions, NaN where there is none.

    A downward ray from above the scene must first hit a surface sloped at most ``MAX_GROUND_SLOPE_DEG``
    below which nothing lies (more than ``GROUND_GAP_M`` lower): a roof or the inside of a building fails.

    :param xy: [N, 2], m
    :output z: [N], m
    """
    down = np.tile([0.0, 0.0, -1.0], (len(xy), 1))
    top = geometry.bounds[1, 2] + 1.0
    first = geometry.cast(np.column_stack([xy, np.full(len(xy), top)]), down)
    z = top - first.distance
    below = geometry.cast(np.column_stack([xy, np.where(first.hit, z - GROUND_GAP_M, top)]), down)
    level = np.abs(first.normal[:, 2]) >= np.cos(np.deg2rad(MAX_GROUND_SLOPE_DEG))
    return np.where(first.hit & level & ~below.hit, z, np.nan)


def draw_drops(cfg: RaytraceConfig, geometry: SceneGeometry, n: int, rng: np.random.Generator) -> Drops:
    """n UEs on valid ground of the region, at least ``min_distance_m`` from the BS; both ends of the track valid.

    :raises ConfigError: No n valid positions among ``PLACEMENT_TRIES * n`` candidates
    """
    lo, hi = geometry.bounds
    x0, x1, y0, y1 = cfg.ue_region_m or (lo[0], hi[0], lo[1], hi[1])
    bs_xy = np.asarray(cfg.bs_position_m[:2])
    duration = (cfg.num_time_steps - 1) * cfg.snapshot_interval_s
    found: list[np.ndarray] = []
    tried = 0
    while sum(len(f) for f in found) < n:
        if tried >= PLACEMENT_TRIES * n:
            fail(
                "ue_region_m",
                f"no valid UE position in {[x0, x1, y0, y1]} of scene {cfg.scenario} after {tried} tries (ground "
                f"must be level, not a roof, not inside a building, >= {cfg.min_distance_m} m from the BS)",
                "a region covering open ground (streets, squares)",
            )
        m = max(64, 4 * n)
        tried += m
        xy = np.column_stack([rng.uniform(x0, x1, m), rng.uniform(y0, y1, m)])
        speed = rng.uniform(*cfg.speed_range_mps, m)
        heading = rng.uniform(0, 2 * np.pi, m)
        height = rng.uniform(*cfg.ue_height_m, m)
        velocity = np.column_stack([speed * np.cos(heading), speed * np.sin(heading), np.zeros(m)])
        ground = ground_height(geometry, xy)
        end = ground_height(geometry, xy + velocity[:, :2] * duration)
        ok = np.isfinite(ground) & np.isfinite(end) & (np.linalg.norm(xy - bs_xy, axis=1) >= cfg.min_distance_m)
        found.append(np.column_stack([xy, ground + height, velocity, heading, ground])[ok])
    rows = np.concatenate(found)[:n]
    return Drops(rows[:, :3], rows[:, 3:6], rows[:, 6], rows[:, 7])
