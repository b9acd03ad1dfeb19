"""Synthetic shards for tests and benchmarks: schema-complete blocks of random CSI and sensing.

Not a channel model: the values are seeded Gaussian noise with the right shapes, dtypes and units,
so that the store, the validator and the readers can be exercised without a simulation engine.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from wirelessdata.shard.layout import RaggedSpec, ShardLayout, recipe_hash

LIDAR_CAPACITY = 32


def synthetic_layout(
    num_samples: int = 20,
    block_size: int = 8,
    sizes: dict[str, int] | None = None,
    modalities: tuple[str, ...] = ("csi",),
    seed: int = 0,
) -> ShardLayout:
    """A layout of a synthetic shard: CSI of ``sizes`` (default T=4, K=8, Nbs=4, Nue=1), plus modalities."""
    sizes = {"time": 4, "subcarrier": 8, "bs_ant": 4, "ue_ant": 1, **(sizes or {})}
    if "rgb" in modalities:
        sizes = {"camera": 1, "height": 6, "width": 8, **sizes}
    if "radar" in modalities:
        sizes = {"radar_rx": 2, "fast_time": 8, "chirp": 4, **sizes}
    recipe = {
        "generator": "synthetic",
        "num_samples": num_samples,
        "sizes": sizes,
        "seed": seed,
        "modalities": list(modalities),
    }
    scs = 30e3
    attrs: dict[str, Any] = {
        "generator": "synthetic",
        "engine_version": np.__version__,
        "recipe": recipe,
        "recipe_hash": recipe_hash(recipe),
        "carrier_frequency_hz": 3.5e9,
        "bandwidth_hz": sizes["subcarrier"] * scs,
        "subcarrier_spacing_hz": scs,
        "band": "sub6",
        "scenario": "synthetic",
        "link": "uplink",
        "seed": seed,
    }
    k = sizes["subcarrier"]
    coords = {
        "time": np.arange(sizes["time"]) * 1e-3,
        "subcarrier": (np.arange(k) - k // 2) * scs,
        "bs_ant_pos": np.zeros((sizes["bs_ant"], 3)) + np.arange(sizes["bs_ant"])[:, None] * [0, 0.043, 0],
        "ue_ant_pos": np.zeros((sizes["ue_ant"], 3)),
        "camera_intrinsics": np.tile([100.0, 100.0, 4.0, 3.0], (sizes.get("camera", 1), 1)),
    }
    ragged = (RaggedSpec("point", "lidar", LIDAR_CAPACITY),) if "lidar" in modalities else ()
    return ShardLayout(
        modalities=modalities,
        num_samples=num_samples,
        block_size=block_size,
        sizes=sizes,
        coords=coords,
        attrs=attrs,
        optional=("delay_spread_s",),
        ragged=ragged,
    )


def synthetic_block(layout: ShardLayout, block: int) -> dict[str, np.ndarray]:
    """The per-sample arrays of ``block``: a pure function of the layout's seed and the block index."""
    start, stop = layout.block_range(block)
    n, s = stop - start, layout.sizes
    rng = np.random.default_rng([int(layout.attrs["seed"]), block])
    shape = (n, s["time"], s["subcarrier"], s["bs_ant"], s["ue_ant"])
    csi = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64) * 1e-4
    data: dict[str, np.ndarray] = {
        "sample_id": np.arange(start, stop, dtype=np.uint64),
        "quality_flags": np.zeros(n, np.uint32),
    }
    if "csi" in layout.modalities:
        data |= {
            "csi": csi,
            "ue_pos": rng.uniform(-100, 100, (n, s["time"], 3)).astype(np.float32),
            "ue_vel": rng.uniform(-10, 10, (n, 3)).astype(np.float32),
            "bs_pos": np.tile(np.float32([0, 0, 25]), (n, 1)),
            "los": rng.random(n) < 0.5,
            "path_gain_db": (10 * np.log10(np.mean(np.abs(csi) ** 2, axis=(1, 2, 3, 4)))).astype(np.float32),
            "delay_spread_s": rng.uniform(1e-8, 1e-6, n).astype(np.float32),
        }
    t0 = np.zeros(n)
    if "rgb" in layout.modalities:
        cams = s["camera"]
        data |= {
            "rgb": rng.integers(0, 256, (n, cams, s["height"], s["width"], 3), dtype=np.uint8),
            "rgb_time": np.zeros((n, cams)),
            "camera_pos": np.zeros((n, cams, 3), np.float32),
            "camera_orientation": np.zeros((n, cams, 3), np.float32),
        }
    if "lidar" in layout.modalities:
        counts = rng.integers(0, LIDAR_CAPACITY + 1, n)
        data |= {
            "lidar_points": rng.standard_normal((int(counts.sum()), 4)).astype(np.float32),
            "lidar_count": counts.astype(np.int64),
            "lidar_time": t0,
            "lidar_pos": np.zeros((n, 3), np.float32),
            "lidar_orientation": np.zeros((n, 3), np.float32),
        }
    if "radar" in layout.modalities:
        rs = (n, s["radar_rx"], s["fast_time"], s["chirp"])
        data |= {
            "radar_cube": (rng.standard_normal(rs) + 1j * rng.standard_normal(rs)).astype(np.complex64),
            "radar_time": t0,
            "radar_pos": np.zeros((n, 3), np.float32),
            "radar_orientation": np.zeros((n, 3), np.float32),
        }
    return data
