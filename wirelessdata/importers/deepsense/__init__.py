"""DeepSense 6G scenario folders -> one measured shard per scenario (beam power, camera, LiDAR, radar, GPS).

A scenario folder holds ``scenarioN.csv`` (one row per sample) whose cells are ``./``-relative paths into
``unit1/`` (base station: power vectors, camera, LiDAR, radar, GPS) and ``unit2/`` (the mobile unit's GPS).
Column names, beam counts, the index base of the official beam label, image sizes and radar cube shapes
are read from the data, never assumed. Import runs in two passes:

1. **scan** every row: read the small files (power vectors, GPS), the headers of the large ones (JPEG
   size and end marker, PLY header against its body, radar array header against the file size), parse
   timestamps; list every :class:`~wirelessdata.importers.common.Defect` by row and reason.
2. **write** the good rows block by block, decoding JPEG, PLY and radar files per block.

``beam_index`` is the 0-based ``nanargmax`` of the stored power vector; the official label (1-based in
most scenarios, 0-based in V2V ones; the base is detected from its agreement with the data) is only
compared with it. See docs/importers.md for the column mapping and every defect code.

Modules: :mod:`.options` (:class:`DeepSenseOptions`), :mod:`.formats` (the CSV columns and the file readers,
timestamps, WGS-84 -> ENU), :mod:`.scanning` (pass 1: rows and defects), :mod:`.layout` (the shard's layout,
attributes and name), :mod:`.reader` (pass 2: one block of rows -> arrays), :mod:`.importer` (:data:`SOURCE`,
:func:`import_deepsense`).
"""

from __future__ import annotations

from wirelessdata.importers.deepsense.formats import (
    Columns,
    PlyHeader,
    enu,
    jpeg_size,
    parse_timestamp,
    ply_check,
    ply_header,
    radar_shape,
    read_latlon,
    read_ply,
    read_radar,
    read_rgb,
    read_vector,
)
from wirelessdata.importers.deepsense.importer import SOURCE, import_deepsense
from wirelessdata.importers.deepsense.layout import (
    CARRIER_HZ,
    IMPORTER_VERSION,
    PROPOSED,
    layout_for,
    sample_times,
    shard_name,
)
from wirelessdata.importers.deepsense.options import DeepSenseOptions
from wirelessdata.importers.deepsense.reader import BlockReader
from wirelessdata.importers.deepsense.scanning import Row, Scan, find_csv, scan

__all__ = [
    "CARRIER_HZ",
    "SOURCE",
    "IMPORTER_VERSION",
    "PROPOSED",
    "BlockReader",
    "Columns",
    "DeepSenseOptions",
    "PlyHeader",
    "Row",
    "Scan",
    "enu",
    "find_csv",
    "import_deepsense",
    "jpeg_size",
    "layout_for",
    "parse_timestamp",
    "ply_check",
    "ply_header",
    "radar_shape",
    "read_latlon",
    "read_ply",
    "read_radar",
    "read_rgb",
    "read_vector",
    "sample_times",
    "scan",
    "shard_name",
]
