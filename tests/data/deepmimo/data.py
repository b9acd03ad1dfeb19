#!/usr/bin/env python3
"""Write a tiny, faithful DeepMIMO v4 scenario folder, including the defects users hit (torchgeo style).

Every byte is generated here from free-space geometry: three base stations (TX set 0) and a 6 x 4 grid of
users (RX set 1) at 3.5 GHz; per user a LoS path (blocked for some users), a ground and a wall reflection,
sorted by power; ``params.json`` and ``{matrix}_t000_tx00{i}_r001.npz`` files in the v4 layout and units
(power dBW, phase deg, delay s, angles deg with ``*_el`` the zenith angle, positions m, NaN padding).

Defects (``defects=True``), listed in :data:`DEFECTS` by (pair, receiver):

- receivers without any path (all NaN: DeepMIMO ``los = -1``),
- a receiver whose position is NaN,
- a path with angles but NaN power (partly NaN),
- a path arriving 50 us late (after a 30 kHz OFDM symbol),
- the third base station's ``phase`` file missing (the whole pair).

Run: ``python tests/data/deepmimo/data.py OUT`` writes ``OUT/city_3p5``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

C = 299_792_458.0
FREQUENCY = 3.5e9
BS = np.array([[0.0, 0.0, 20.0], [40.0, 0.0, 20.0], [20.0, 60.0, 20.0]])
GRID = (6, 4)
PATHS = 5
WALL_Y = 50.0

PAIR0, PAIR1, PAIR2 = "t000_tx000_r001", "t000_tx001_r001", "t000_tx002_r001"
DEFECTS = {
    (PAIR0, 5): "no_path",
    (PAIR1, 17): "no_path",
    (PAIR0, 7): "nan_position",
    (PAIR0, 9): "path_inconsistent",
    (PAIR1, 11): "delay_beyond_symbol",
    (PAIR2, None): "pair_unreadable",
}
"""``(pair, receiver) -> defect code`` of the fixture (receiver None: the whole pair)."""


def users() -> np.ndarray:
    """float64 [24, 3]: the receiver grid, 5 m spacing, 1.5 m high."""
    xs, ys = np.meshgrid(10 + 5.0 * np.arange(GRID[0]), 20 + 5.0 * np.arange(GRID[1]), indexing="xy")
    return np.stack([xs.ravel(), ys.ravel(), np.full(xs.size, 1.5)], axis=1)


def _path(tx: np.ndarray, image: np.ndarray, loss_db: float, inter: float, rng: np.random.Generator) -> list[float]:
    """One path to the (image of the) receiver: power, phase, delay, aoa_az, aoa_el, aod_az, aod_el, inter."""
    d = image - tx
    dist = float(np.linalg.norm(d))
    wavelength = C / FREQUENCY
    power = 20 * np.log10(wavelength / (4 * np.pi * dist)) - loss_db
    az, zen = np.degrees(np.arctan2(d[1], d[0])), np.degrees(np.arccos(d[2] / dist))
    phase = float(rng.uniform(-180, 180))
    return [power, phase, dist / C, (az + 180) % 360 - 180, 180 - zen, az, zen, inter]


def pair_matrices(tx: np.ndarray, blocked: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The v4 matrices of one BS and the grid (float32, NaN padded to :data:`PATHS` paths)."""
    rx = users()
    table = np.full((len(rx), PATHS, 8), np.nan)
    for u, pos in enumerate(rx):
        paths = [] if blocked[u] else [_path(tx, pos, 0.0, 0.0, rng)]
        paths.append(_path(tx, pos * [1, 1, -1], 6.0, 1.0, rng))  # ground reflection
        paths.append(_path(tx, [pos[0], 2 * WALL_Y - pos[1], pos[2]], 9.0, 1.0, rng))  # wall reflection
        paths.sort(key=lambda p: -p[0])
        table[u, : len(paths)] = paths
    names = ("power", "phase", "delay", "aoa_az", "aoa_el", "aod_az", "aod_el", "inter")
    out = {name: table[:, :, j] for j, name in enumerate(names)}
    out["rx_pos"], out["tx_pos"] = rx, tx[None, :]
    out["inter_pos"] = np.full((len(rx), PATHS, 1, 3), np.nan)
    return out


def params(num_rx: int) -> dict:
    """``params.json`` of the scenario, in the v4 key layout."""
    common = {"dual_pol": False, "num_ant": 1, "ant_rel_positions": [[0, 0, 0]], "array_orientation": [0, 0, 0]}
    return {
        "version": "4.0.5",
        "rt_params": {
            "raytracer_name": "Sionna Ray Tracing",
            "raytracer_version": "2.0.1",
            "frequency": FREQUENCY,
            "max_path_depth": 1,
            "max_reflections": 1,
            "max_diffractions": 0,
            "max_scattering": 0,
            "max_transmissions": 0,
            "num_rays": 1_000_000,
            "synthetic_array": True,
            "gps_bbox": [0, 0, 0, 0],
        },
        "txrx_sets": {
            "txrx_set_0": {
                "name": "BS",
                "id_orig": 0,
                "id": 0,
                "is_tx": True,
                "is_rx": False,
                "num_points": 3,
                "num_active_points": 3,
                "grid_spacing": None,
                **common,
            },
            "txrx_set_1": {
                "name": "UE grid",
                "id_orig": 1,
                "id": 1,
                "is_tx": False,
                "is_rx": True,
                "num_points": num_rx,
                "num_active_points": num_rx,
                "grid_spacing": 5.0,
                **common,
            },
        },
        "materials": {"material_0": {"id": 0, "name": "concrete", "permittivity": 5.24, "conductivity": 0.0462}},
        "scene": {"num_scenes": 1, "n_objects": 0, "n_vertices": 0, "n_faces": 0, "n_triangular_faces": 0},
    }


def make_scenario(root: Path, defects: bool = True, seed: int = 0) -> Path:
    """Write ``root/city_3p5``; returns its path."""
    rng = np.random.default_rng(seed)
    folder = root / "city_3p5"
    folder.mkdir(parents=True, exist_ok=True)
    rx = users()
    (folder / "params.json").write_text(json.dumps(params(len(rx)), indent=2))
    (folder / "objects.json").write_text("[]")  # an empty scene: no buildings, free-space paths
    np.savez_compressed(folder / "vertices.npz", vertices=np.zeros((0, 3), np.float32))
    for i, tx in enumerate(BS):
        m = pair_matrices(tx, blocked=rx[:, 0] > 30 + 5 * i, rng=rng)
        key = f"t000_tx{i:03d}_r001"
        if defects:
            _add_defects(m, key)
        for name, value in m.items():
            if defects and (key, name) == (PAIR2, "phase"):
                continue  # the missing file
            np.savez_compressed(folder / f"{name}_{key}.npz", **{name: value.astype(np.float32)})
    return folder


def _add_defects(m: dict[str, np.ndarray], key: str) -> None:
    for (pair, r), code in DEFECTS.items():
        if pair != key or r is None:
            continue
        if code == "no_path":
            for name in ("power", "phase", "delay", "aoa_az", "aoa_el", "aod_az", "aod_el", "inter"):
                m[name][r] = np.nan
        elif code == "nan_position":
            m["rx_pos"][r] = np.nan
        elif code == "path_inconsistent":
            m["power"][r, 1] = np.nan
        elif code == "delay_beyond_symbol":
            j = int(np.isnan(m["power"][r]).argmax())  # first padded slot
            m["power"][r, j], m["phase"][r, j], m["delay"][r, j], m["inter"][r, j] = -120.0, 0.0, 50e-6, 1.0
            for name in ("aoa_az", "aoa_el", "aod_az", "aod_el"):
                m[name][r, j] = 45.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    print(make_scenario(ap.parse_args().out))


if __name__ == "__main__":
    main()
