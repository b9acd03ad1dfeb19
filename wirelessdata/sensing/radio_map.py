"""Maps of a scene over a horizontal grid: the grid, a height map (ray casting) and a top-down image (an
orthographic Mitsuba render); the radio map itself (Sionna RT ``RadioMapSolver``) is computed by the generator.

The grid covers ``region`` = (x_min, x_max, y_min, y_max) [m] with square cells of ``cell_m``: ``nx = ceil((x_max -
x_min) / cell_m)`` columns and ``ny`` rows, starting at (x_min, y_min) (the last column/row may reach past x_max,
y_max). Every map is indexed [row, column] = [map_y, map_x] with both increasing along the scene's y and x axes:
row 0 is the southern edge, so an image of it shows north up with ``origin="lower"``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from wirelessdata.checks import fail, number, positive_int
from wirelessdata.errors import ConfigError
from wirelessdata.sensing import SceneGeometry, SensorParams
from wirelessdata.sensing.rgb import SKY, to_srgb

MAX_CELLS = 1 << 22
"""Most cells of a map (4 194 304: 2048 x 2048); a larger grid is refused before any tracing."""


@dataclass(frozen=True)
class RadioMapParams(SensorParams):
    """Grid and solver settings of the per-shard maps.

    :param cell_m: Cell side [m]
    :param region_m: (x_min, x_max, y_min, y_max) [m] covered; `None`: the UE region, else the scene's extent
    :param samples_per_tx: Rays shot from the BS by the radio-map solver (more: less Monte-Carlo noise, slower)
    :param samples_per_pixel: Path-tracing samples per cell of the top-down image
    """

    FIELD = "radio_map_grid"
    cell_m: float = 1.0
    region_m: tuple[float, float, float, float] | None = None
    samples_per_tx: int = 4_000_000
    samples_per_pixel: int = 16

    def __post_init__(self) -> None:
        if not number("radio_map_grid.cell_m", self.cell_m) > 0:
            fail("radio_map_grid.cell_m", f"{self.cell_m!r} is not positive", "a number > 0")
        positive_int("radio_map_grid.samples_per_tx", self.samples_per_tx)
        positive_int("radio_map_grid.samples_per_pixel", self.samples_per_pixel)
        if self.region_m is not None:
            region = self.region_m
            if not isinstance(region, tuple) or len(region) != 4:
                fail("radio_map_grid.region_m", f"{region!r} does not have 4 numbers", "[x_min, x_max, y_min, y_max]")
            region = tuple(float(number("radio_map_grid.region_m", v)) for v in region)
            if not (region[0] < region[1] and region[2] < region[3]):
                fail("radio_map_grid.region_m", f"{list(region)} is empty", "[x_min, x_max, y_min, y_max], min < max")
            object.__setattr__(self, "region_m", region)
            grid(region, self.cell_m)  # refuse a grid too large now, not after loading the scene


@dataclass(frozen=True)
class Grid:
    """Cell centres of a horizontal grid.

    :param x: [nx], float64, m, increasing
    :param y: [ny], float64, m, increasing
    :param cell_m: Cell side [m]
    """

    x: np.ndarray
    y: np.ndarray
    cell_m: float

    @property
    def shape(self) -> tuple[int, int]:
        """(ny, nx)."""
        return len(self.y), len(self.x)

    @property
    def center(self) -> np.ndarray:
        """[2], m: centre of the covered rectangle."""
        return np.array([(self.x[0] + self.x[-1]) / 2, (self.y[0] + self.y[-1]) / 2])

    @property
    def size(self) -> np.ndarray:
        """[2], m: side lengths (x, y) of the covered rectangle."""
        return np.array([len(self.x), len(self.y)]) * self.cell_m

    def cell_of(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, column) of the cell holding each point, -1 outside the grid.

        :param points: [N, 2 or 3], m, scene frame (z ignored)
        :output row: [N], int; :output column: [N], int
        """
        p = np.asarray(points, dtype=np.float64)
        col = np.floor((p[:, 0] - self.x[0]) / self.cell_m + 0.5).astype(np.int64)
        row = np.floor((p[:, 1] - self.y[0]) / self.cell_m + 0.5).astype(np.int64)
        inside = (col >= 0) & (col < len(self.x)) & (row >= 0) & (row < len(self.y))
        return np.where(inside, row, -1), np.where(inside, col, -1)


def grid(region: Sequence[float], cell_m: float) -> Grid:
    """The grid of ``cell_m`` cells over ``region`` (x_min, x_max, y_min, y_max) [m].

    :raises ConfigError: More than :data:`MAX_CELLS` cells
    """
    x0, x1, y0, y1 = (float(v) for v in region)
    nx, ny = math.ceil((x1 - x0) / cell_m - 1e-9), math.ceil((y1 - y0) / cell_m - 1e-9)
    if nx * ny > MAX_CELLS:
        raise ConfigError(
            f"radio_map_grid: {nx} x {ny} = {nx * ny} cells of {cell_m:g} m over {[x0, x1, y0, y1]} is too large; "
            f"allowed: at most {MAX_CELLS} cells (raise cell_m or narrow region_m)"
        )
    return Grid(x0 + (np.arange(nx) + 0.5) * cell_m, y0 + (np.arange(ny) + 0.5) * cell_m, float(cell_m))


def height_map(geometry: SceneGeometry, cells: Grid) -> np.ndarray:
    """Height of the highest surface above each cell centre (a ray cast straight down from above the scene).

    :output heights: [ny, nx], float32, m, scene frame; NaN where no surface lies below the centre
    """
    xx, yy = np.meshgrid(cells.x, cells.y)
    top = geometry.bounds[1, 2] + 1.0
    origins = np.column_stack([xx.ravel(), yy.ravel(), np.full(xx.size, top)])
    hits = geometry.cast(origins, np.tile([0.0, 0.0, -1.0], (xx.size, 1)))
    return np.where(hits.hit, top - hits.distance, np.nan).reshape(cells.shape).astype(np.float32)


def top_view(scene: Any, cells: Grid, samples_per_pixel: int) -> np.ndarray:
    """Orthographic top-down render of the scene (Mitsuba path tracer, the RGB camera's look), one pixel per cell.

    :param scene: ``sionna.rt.Scene``
    :param cells: Grid; the image covers it exactly
    :param samples_per_pixel: Path-tracing samples per pixel
    :output image: [ny, nx, 3], uint8, sRGB; rows along +y (row 0 south), columns along +x; no surface: ``SKY``
    """
    import mitsuba as mi
    from sionna.rt.renderer import visual_scene_from_wireless_scene

    ny, nx = cells.shape
    (cx, cy), sx = cells.center, cells.size[0]
    top = float(scene.mi_scene.bbox().max.z) + 10.0
    transform = mi.ScalarTransform4f
    with mi.util.scoped_set_variant(mi.variant().split("_ad_")[0] + "_ad_rgb"):
        sensor = {
            "type": "orthographic",
            "near_clip": 1.0,
            "far_clip": top - float(scene.mi_scene.bbox().min.z) + 10.0,
            "to_world": transform().look_at(origin=[cx, cy, top], target=[cx, cy, top - 1.0], up=[0, 1, 0])
            @ transform().scale([sx / 2, sx / 2, 1.0]),  # Mitsuba scales y by the film aspect ny / nx
            "film": {"type": "hdrfilm", "width": nx, "height": ny, "rfilter": {"type": "box"}, "pixel_format": "rgba"},
        }
        visual = mi.load_dict(visual_scene_from_wireless_scene(scene, sensor=sensor))
        rgba = np.array(mi.render(visual, spp=samples_per_pixel), dtype=np.float64)[::-1]  # film row 0 is north
    return to_srgb(rgba[..., :3] + (1 - rgba[..., 3:4]) * np.asarray(SKY))
