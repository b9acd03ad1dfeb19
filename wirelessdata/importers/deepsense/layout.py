"""The shard of a scanned DeepSense scenario: its layout, attributes, recipe, sample times and name.

:func:`layout_for` declares the shard before any block is decoded: modalities and sizes from the scan,
optional variables the schema defines, the recipe (resume key) and every attribute (beam codebook, label
base, units, time origin, ENU origin).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import asdict

import numpy as np

from wirelessdata.importers.common import SourceError, counts, shard_attrs
from wirelessdata.importers.deepsense.formats import Columns
from wirelessdata.importers.deepsense.options import DeepSenseOptions, time_zone
from wirelessdata.importers.deepsense.scanning import Scan
from wirelessdata.shard.layout import RaggedSpec, ShardLayout
from wirelessdata.shard.schema import load_schema

IMPORTER_VERSION = 1
"""Bumped when the same source would be written differently (part of the recipe, so of the resume key)."""
CARRIER_HZ = 60e9
"""DeepSense 6G phased arrays receive in the 60 GHz band."""
PROPOSED = ("seq_index", "sample_time", "gps_enu")
"""Optional variables written when the schema defines them (proposed additions, see docs/importers.md)."""


def _zone(columns: Columns, options: DeepSenseOptions) -> dt.tzinfo | None:
    """The zone of the timestamps: ``--timezone``, else UTC when the column says so, else unknown."""
    if options.timezone is not None:
        return time_zone(options.timezone)
    return dt.UTC if columns.time and "UTC" in columns.time.upper() else None


def sample_times(scan_: Scan, options: DeepSenseOptions) -> tuple[np.ndarray, str]:
    """float64 [rows]: each good row's time, and what it counts from (attribute ``time_origin``).

    POSIX seconds when every row has a date (its own or ``options.date``) and the zone is known; else
    seconds since midnight of the recording day. NaN for unreadable timestamps.
    """
    zone = _zone(scan_.columns, options)
    default = dt.date.fromisoformat(options.date) if options.date else None
    absolute = zone is not None and all(r.date or default for r in scan_.rows if r.clock)
    out = np.full(len(scan_.rows), np.nan)
    for i, r in enumerate(scan_.rows):
        if r.clock is None:
            continue
        if absolute:
            out[i] = dt.datetime.combine(r.date or default, r.clock, zone).timestamp()
        else:
            out[i] = r.clock.hour * 3600 + r.clock.minute * 60 + r.clock.second + r.clock.microsecond * 1e-6
    if absolute:
        return out, "1970-01-01T00:00:00Z (POSIX seconds)"
    return out, f"midnight of the recording day (date unknown; zone {zone or 'unknown'})"


def _recipe(scan_: Scan, options: DeepSenseOptions) -> dict:
    ids = np.array([r.index for r in scan_.rows], dtype=np.int64)
    return {
        "importer": "deepsense",
        "importer_version": IMPORTER_VERSION,
        "source": str(scan_.folder.resolve()),
        "csv": scan_.csv_path.name,
        "csv_sha256": hashlib.sha256(scan_.csv_path.read_bytes()).hexdigest(),
        "rows_sha256": hashlib.sha256(ids.tobytes()).hexdigest(),
        "modalities": list(scan_.roles),
        "options": asdict(options),
    }


def layout_for(scan_: Scan, options: DeepSenseOptions) -> ShardLayout:
    """The shard layout of the scanned good rows."""
    rows, roles = scan_.rows, scan_.roles
    schema = load_schema()
    modalities = ["beam"]
    sizes: dict[str, int] = {"beam": rows[0].power.size}
    coords: dict[str, np.ndarray] = {}
    ragged: tuple[RaggedSpec, ...] = ()
    extra: dict = {}
    if "rgb" in roles:
        if options.rgb_size is None and len(set(rows[0].rgb_sizes)) > 1:
            raise SourceError(f"{scan_.folder}: cameras of different sizes {rows[0].rgb_sizes}; pass --rgb-size WxH")
        w, h = options.rgb_size or rows[0].rgb_sizes[0]
        modalities.append("rgb")
        sizes |= {"camera": len(scan_.columns.rgb), "height": h, "width": w}
        coords["camera_intrinsics"] = np.full((sizes["camera"], 4), np.nan)
        extra["rgb_resize"] = f"{w}x{h} (JPEG draft + bilinear)" if options.rgb_size else "native"
    if "lidar" in roles:
        modalities.append("lidar")
        ragged = (RaggedSpec("point", "lidar", max(1, max(r.lidar_count for r in rows))),)
    if "radar" in roles:
        modalities.append("radar")
        shape = rows[0].radar_shape
        sizes |= dict(zip(("radar_rx", "fast_time", "chirp"), shape, strict=True))
        extra["radar_layout"] = f"(rx, samples per chirp, chirps) = {shape}, raw ADC samples as in the source files"
    if "ue_gps" in roles:
        modalities.append("gps")
        extra["gps_column"] = scan_.columns.ue_gps
    origin = _origin(scan_)
    if origin is not None:
        extra["enu_origin_latlon"] = list(origin)
    times, time_origin = sample_times(scan_, options)
    available = {
        "seq_index": scan_.columns.seq is not None,
        "sample_time": scan_.columns.time is not None,
        "gps_enu": origin is not None and "ue_gps" in roles,
    }
    optional = tuple(n for n in PROPOSED if available[n] and n in schema.variables)
    beams = sizes["beam"]
    n_arrays = len(scan_.columns.power)
    recipe = _recipe(scan_, options)
    attrs = shard_attrs(
        recipe,
        generator="deepsense",
        engine_version=f"DeepSense 6G {scan_.folder.name} ({scan_.csv_path.name} sha256 {recipe['csv_sha256'][:12]})",
        carrier_frequency_hz=CARRIER_HZ,
        bandwidth_hz=0.0,
        subcarrier_spacing_hz=0.0,
        band="60GHz",
        scenario=scan_.folder.name,
        link="uplink",
        beam_codebook=f"DeepSense 6G 60 GHz receive codebook: {n_arrays} phased array(s) x "
        f"{beams // n_arrays} over-sampled beams, power files {', '.join(scan_.columns.power)} in that order",
        source_label_column=scan_.columns.label,
        source_label_base=scan_.label_base,
        source_label_agreement={"agree": scan_.label_agreement[0], "rows": scan_.label_agreement[1]},
        source_units={
            "beam_power": "linear received power (source .txt)",
            "gps": "degree (WGS-84)",
            "lidar": "m (x, y, z), intensity as stored",
            "radar": "raw ADC samples",
            "time_stamp": "time of day as written",
        },
        time_origin=time_origin,
        sensor_geometry="camera, LiDAR and radar co-located on unit 1 (the ENU origin, within ~0.1 m); "
        "orientations unknown (NaN)",
        import_defect_counts=counts(scan_.defects),
        **extra,
    )
    return ShardLayout(
        modalities=tuple(modalities),
        num_samples=len(rows),
        block_size=options.block_size,
        sizes=sizes,
        coords=coords,
        attrs=attrs,
        optional=optional,
        ragged=ragged,
    )


def _origin(scan_: Scan) -> tuple[float, float] | None:
    """The ENU origin: median of the base station's fixes (it is stationary), None without them."""
    fixes = [r.bs for r in scan_.rows if r.bs is not None]
    if not fixes:
        return None
    lat, lon = np.median(np.array(fixes), axis=0)
    return float(lat), float(lon)


def shard_name(scan_: Scan) -> str:
    """The scenario's shard name: ``deepsense-<scenario>``."""
    return f"deepsense-{scan_.folder.name.lower()}"
