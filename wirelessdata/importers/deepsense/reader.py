"""Pass 2 of a DeepSense import: decode the good rows of one block into the shard's per-sample arrays."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from wirelessdata.importers.common import RowUnreadable, importer_flag
from wirelessdata.importers.deepsense.formats import enu, read_ply, read_radar, read_rgb
from wirelessdata.importers.deepsense.layout import sample_times
from wirelessdata.importers.deepsense.options import DeepSenseOptions
from wirelessdata.importers.deepsense.scanning import Row, Scan
from wirelessdata.shard.layout import ShardLayout


class BlockReader:
    """Decodes the rows of one block into the shard's per-sample arrays."""

    def __init__(self, scan_: Scan, layout: ShardLayout, options: DeepSenseOptions) -> None:
        self.scan = scan_
        self.layout = layout
        self.options = options
        self.times, _ = sample_times(scan_, options)
        self.origin = layout.attrs.get("enu_origin_latlon")

    def __call__(self, block: int) -> dict[str, np.ndarray]:
        """Per-sample arrays of ``block`` (every variable the rows support; the writer keeps the shard's)."""
        start, stop = self.layout.block_range(block)
        rows = self.scan.rows[start:stop]
        n = len(rows)
        power = np.stack([r.power for r in rows]).astype(np.float32)
        zeros3, nan3 = np.zeros((n, 3), np.float32), np.full((n, 3), np.nan, np.float32)
        data = {
            "sample_id": np.array([r.index for r in rows], dtype=np.uint64),
            "quality_flags": np.array([importer_flag() if r.flagged else 0 for r in rows], dtype=np.uint32),
            "beam_power": power,
            "beam_index": np.nanargmax(power, axis=1).astype(np.int32),
            "seq_index": np.array([r.seq for r in rows], dtype=np.int64),
            "sample_time": self.times[start:stop],
        }
        mods = self.layout.modalities
        if "rgb" in mods:
            rgb = np.stack(
                [
                    np.stack(
                        [self._decode(r, p, "image_corrupt", read_rgb, self.options.rgb_size) for p in r.files["rgb"]]
                    )
                    for r in rows
                ]
            )
            cams = rgb.shape[1]
            data |= {
                "rgb": rgb,
                "rgb_time": np.zeros((n, cams)),
                "camera_pos": np.zeros((n, cams, 3), np.float32),
                "camera_orientation": np.full((n, cams, 3), np.nan, np.float32),
            }
        if "lidar" in mods:
            clouds = [self._decode(r, r.files["lidar"][0], "ply_corrupt", read_ply) for r in rows]
            data |= {
                "lidar_points": np.concatenate(clouds),
                "lidar_count": np.array([len(c) for c in clouds]),
                "lidar_time": np.zeros(n),
                "lidar_pos": zeros3,
                "lidar_orientation": nan3,
            }
        if "radar" in mods:
            data |= {
                "radar_cube": np.stack(
                    [self._decode(r, r.files["radar"][0], "radar_corrupt", read_radar) for r in rows]
                ),
                "radar_time": np.zeros(n),
                "radar_pos": zeros3,
                "radar_orientation": nan3,
            }
        if "gps" in mods:
            latlon = np.array([r.ue for r in rows], dtype=np.float64)
            data["gps_latlon"] = latlon
            if self.origin is not None:
                data["gps_enu"] = enu(latlon, self.origin).astype(np.float32)
        return data

    @staticmethod
    def _decode(row: Row, path: Path, code: str, read: Callable[..., np.ndarray], *args: object) -> np.ndarray:
        """``read(path, *args)``; a body the scan's header checks could not see (corrupt JPEG data, bad numbers)
        raises :class:`RowUnreadable` with ``code``, and the import leaves the row out."""
        try:
            return read(path, *args)
        except Exception as exc:  # any decoder failure of this one file: the row is skipped, the import goes on
            detail = f"{path.name} cannot be decoded ({type(exc).__name__}: {exc}) although its header passed the scan"
            raise RowUnreadable(row.index, str(path), code, detail) from exc
