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
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from wirelessdata.importers.common import (
    DROPPED,
    FLAGGED,
    NOTED,
    NUMPY_FILE_DAMAGE,
    SKIPPED,
    Defect,
    ImportResult,
    Progress,
    SourceError,
    check_strict,
    counts,
    importer_flag,
    shard_attrs,
    write_shard,
)
from wirelessdata.shard.schema import load_schema
from wirelessdata.shard.store import SHARD_SUFFIX, RaggedSpec, ShardLayout

IMPORTER_VERSION = 1
"""Bumped when the same source would be written differently (part of the recipe, so of the resume key)."""
CARRIER_HZ = 60e9
"""DeepSense 6G phased arrays receive in the 60 GHz band."""
PROPOSED = ("seq_index", "sample_time", "gps_enu")
"""Optional variables written when the schema defines them (proposed additions, see docs/importers.md)."""

_LABEL_COLUMNS = ("unit1_beam", "unit1_overall-beam")
_WGS84_A = 6378137.0
_WGS84_E2 = 6.69437999014e-3


@dataclass(frozen=True)
class DeepSenseOptions:
    """Choices of a DeepSense import (all part of the recipe).

    :param rgb_size: ``(width, height)`` to resize every image to (JPEG draft decoding, then bilinear);
        None keeps the native size, and rows whose image size differs from the scenario's are skipped.
    :param date: ``YYYY-MM-DD`` of the recording, for timestamps that carry none.
    :param timezone: IANA zone (``UTC``, ``America/Phoenix``) of timestamps whose column names none.
    :param block_size: rows per block.
    """

    rgb_size: tuple[int, int] | None = None
    date: str | None = None
    timezone: str | None = None
    block_size: int = 32


@dataclass(frozen=True)
class Columns:
    """The CSV columns of each role, as found in the header (None / empty: absent)."""

    index: str
    power: tuple[str, ...]
    label: str | None
    rgb: tuple[str, ...]
    lidar: str | None
    radar: str | None
    ue_gps: str | None
    bs_gps: str | None
    time: str | None
    seq: str | None

    @classmethod
    def find(cls, header: Sequence[str], csv_path: Path) -> Columns:
        """Roles of the columns of ``header``; :class:`SourceError` without ``index`` or a power column."""
        names = [h.strip() for h in header]

        def first(*candidates: str) -> str | None:
            return next((c for c in candidates if c in names), None)

        power = tuple(sorted((n for n in names if n.startswith("unit1_pwr")), key=_natural))
        if "index" not in names or not power:
            raise SourceError(
                f"{csv_path}: not a DeepSense scenario CSV (needs columns 'index' and 'unit1_pwr*'; "
                f"has {', '.join(names[:8])}{', ...' if len(names) > 8 else ''})"
            )
        return cls(
            index="index",
            power=power,
            label=first(*_LABEL_COLUMNS),
            rgb=tuple(sorted((n for n in names if re.fullmatch(r"unit1_rgb\d*", n)), key=_natural)),
            lidar=first("unit1_lidar"),
            radar=first("unit1_radar"),
            ue_gps=first("unit2_loc_cal", "unit2_loc"),
            bs_gps=first("unit1_loc"),
            time=next((n for n in names if n.startswith("time_stamp")), None),
            seq=first("seq_index"),
        )

    def files(self) -> dict[str, tuple[str, ...]]:
        """File columns by role (roles of absent columns left out)."""
        roles = {
            "power": self.power,
            "rgb": self.rgb,
            "lidar": (self.lidar,) if self.lidar else (),
            "radar": (self.radar,) if self.radar else (),
            "ue_gps": (self.ue_gps,) if self.ue_gps else (),
            "bs_gps": (self.bs_gps,) if self.bs_gps else (),
        }
        return {role: cols for role, cols in roles.items() if cols}


def _natural(name: str) -> tuple[str, int]:
    m = re.fullmatch(r"(.*?)(\d*)", name)
    assert m is not None
    return m.group(1), int(m.group(2) or 0)


# ---------------------------------------------------------------------------------------------------
# readers of the source files; a defect of one file raises _RowDefect(code, detail)


class _RowDefect(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def read_vector(path: Path) -> np.ndarray:
    """float64 [n]: the numbers of a text file, whitespace separated (``nan`` allowed)."""
    try:
        return np.array([float(t) for t in path.read_text().split()], dtype=np.float64)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _RowDefect("power_unreadable", f"{path.name}: not a list of numbers ({exc})") from exc


def read_latlon(path: Path) -> tuple[float, float]:
    """WGS-84 ``(latitude, longitude)`` in degrees from a text file whose first two numbers they are."""
    try:
        lat, lon = (float(t) for t in path.read_text().split()[:2])
    except (ValueError, UnicodeDecodeError) as exc:
        raise _RowDefect("gps_unreadable", f"{path.name}: want two numbers, latitude and longitude") from exc
    if not (abs(lat) <= 90 and abs(lon) <= 180):
        raise _RowDefect("gps_unreadable", f"{path.name}: ({lat}, {lon}) is not a latitude, longitude in degrees")
    return lat, lon


def jpeg_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` of a JPEG from its header, after checking its start and end-of-image markers."""
    from PIL import Image, UnidentifiedImageError

    with open(path, "rb") as f:
        head = f.read(2)
        f.seek(0, 2)
        f.seek(max(0, f.tell() - 64))
        tail = f.read()
    if head != b"\xff\xd8":
        raise _RowDefect("image_unreadable", f"{path.name}: not a JPEG (no start-of-image marker)")
    if b"\xff\xd9" not in tail:
        raise _RowDefect("image_truncated", f"{path.name}: truncated JPEG (no end-of-image marker)")
    try:
        with Image.open(path) as im:
            return im.size
    except (UnidentifiedImageError, OSError) as exc:
        raise _RowDefect("image_unreadable", f"{path.name}: {exc}") from exc


def read_rgb(path: Path, size: tuple[int, int] | None) -> np.ndarray:
    """uint8 [height, width, 3] sRGB image; resized to ``size = (width, height)`` when given."""
    from PIL import Image

    with Image.open(path) as im:
        if size is not None and im.size != size:
            im.draft("RGB", size)  # JPEG DCT scaling: decode at the smallest scale still >= size
            return np.asarray(im.convert("RGB").resize(size, Image.Resampling.BILINEAR))
        return np.asarray(im.convert("RGB"))


@dataclass(frozen=True)
class PlyHeader:
    """What an ASCII PLY header says: vertex count, vertex properties, byte offset of the body."""

    count: int
    properties: tuple[str, ...]
    offset: int


def ply_header(data: bytes, name: str) -> PlyHeader:
    """Parse the header of an ASCII PLY file's bytes."""
    end = data.find(b"end_header")
    if not data.startswith(b"ply") or end < 0:
        raise _RowDefect("ply_unreadable", f"{name}: no PLY header")
    fmt, count, props, in_vertex = "", -1, [], False
    for line in data[:end].decode("ascii", "replace").splitlines():
        parts = line.split()
        if parts[:1] == ["format"]:
            fmt = parts[1] if len(parts) > 1 else ""
        elif parts[:1] == ["element"] and len(parts) == 3:
            in_vertex = parts[1] == "vertex"
            count = int(parts[2]) if in_vertex and parts[2].isdigit() else count
        elif parts[:1] == ["property"] and in_vertex:
            props.append(parts[-1])
    if fmt != "ascii":
        raise _RowDefect("ply_unreadable", f"{name}: PLY format {fmt or 'missing'}, only ascii is read")
    if count < 0 or not {"x", "y", "z"} <= set(props):
        raise _RowDefect("ply_unreadable", f"{name}: no vertex element with x, y, z properties")
    nl = data.find(b"\n", end)
    return PlyHeader(count, tuple(props), len(data) if nl < 0 else nl + 1)


def ply_check(path: Path) -> int:
    """Number of points of an ASCII PLY file, after checking that its body holds them all."""
    data = path.read_bytes()
    head = ply_header(data, path.name)
    body = data[head.offset :]
    if not body.isascii():
        raise _RowDefect("ply_unreadable", f"{path.name}: the body of an ascii PLY holds bytes that are not ASCII text")
    lines = body.count(b"\n")
    tail = body[body.rfind(b"\n") + 1 :]
    lines += len(tail.split()) == len(head.properties)  # a complete last line without newline
    if lines < head.count:
        raise _RowDefect(
            "ply_truncated", f"{path.name}: header says {head.count} vertices, the body holds {lines} complete lines"
        )
    return head.count


def read_ply(path: Path) -> np.ndarray:
    """float32 [n, 4]: x, y, z (m) and intensity (NaN when the file has none) of an ASCII PLY point cloud."""
    import pandas as pd  # the C CSV parser: 2-3x numpy's text parsing (pandas comes with xarray)

    data = path.read_bytes()
    head = ply_header(data, path.name)
    values = pd.read_csv(
        io.BytesIO(data[head.offset :]),
        sep=r"\s+",
        header=None,
        nrows=head.count,
        usecols=range(len(head.properties)),
        dtype=np.float64,
        engine="c",
    ).to_numpy()
    out = np.full((head.count, 4), np.nan, dtype=np.float32)
    for j, name in enumerate(("x", "y", "z", "intensity")):
        if name in head.properties:
            out[:, j] = values[:, head.properties.index(name)]
    return out


def radar_shape(path: Path) -> tuple[int, ...]:
    """Shape of the radar cube of a ``.npy`` (complex, size checked against the header) or ``.mat`` file."""
    if path.suffix == ".mat":
        import scipy.io

        try:
            found = {name: shape for name, shape, _ in scipy.io.whosmat(path)}
        except Exception as exc:  # scipy raises several types for broken files
            raise _RowDefect("radar_unreadable", f"{path.name}: {type(exc).__name__}: {exc}") from exc
        if "data" not in found:
            raise _RowDefect("radar_unreadable", f"{path.name}: no variable 'data' (has {', '.join(found)})")
        return tuple(found["data"])
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(f)
            need = f.tell() + int(np.prod(shape)) * dtype.itemsize
            size = f.seek(0, 2)
    except NUMPY_FILE_DAMAGE as exc:
        raise _RowDefect("radar_unreadable", f"{path.name}: not a .npy array ({type(exc).__name__}: {exc})") from exc
    if dtype.kind != "c":
        raise _RowDefect("radar_unreadable", f"{path.name}: dtype {dtype}, want complex samples")
    if size < need:
        raise _RowDefect("radar_truncated", f"{path.name}: {size} bytes, its header {shape} {dtype} needs {need}")
    return tuple(shape)


def read_radar(path: Path) -> np.ndarray:
    """complex64 radar cube as stored, (rx, samples, chirps)."""
    if path.suffix == ".mat":
        import scipy.io

        return np.asarray(scipy.io.loadmat(path, variable_names=["data"])["data"], dtype=np.complex64)
    return np.load(path).astype(np.complex64, copy=False)


# ---------------------------------------------------------------------------------------------------
# timestamps and geodesy

_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_CLOCK = re.compile(r"(\d{1,2})[-:](\d{2})[-:](\d{2})(?:[.:-](\d+))?")


def parse_timestamp(text: str) -> tuple[dt.date | None, dt.time]:
    """Date (None when absent) and time of day of a DeepSense timestamp such as ``['11-44-32.178932']``,
    ``['11-44-32-178932']`` or ``2022-03-15 11:44:32.1``; ValueError when there is no time of day."""
    date_m = _DATE.search(text)
    rest = text[: date_m.start()] + text[date_m.end() :] if date_m else text
    m = _CLOCK.search(rest)
    if m is None:
        raise ValueError(f"no HH-MM-SS time of day in {text!r}")
    frac = m.group(4) or "0"
    micro = int(round(int(frac) / 10 ** len(frac) * 1e6))
    clock = dt.time(int(m.group(1)), int(m.group(2)), int(m.group(3)), min(micro, 999_999))
    date = dt.date(*(int(g) for g in date_m.groups())) if date_m else None
    return date, clock


def enu(latlon: np.ndarray, origin: Sequence[float]) -> np.ndarray:
    """float64 [n, 3]: local east, north, up (m) of WGS-84 ``latlon`` [n, 2] (deg, on the ellipsoid) around
    ``origin`` (lat, lon deg); exact ECEF rotation, no flat-earth approximation."""

    def ecef(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        n = _WGS84_A / np.sqrt(1 - _WGS84_E2 * np.sin(lat) ** 2)
        return np.stack(
            [n * np.cos(lat) * np.cos(lon), n * np.cos(lat) * np.sin(lon), n * (1 - _WGS84_E2) * np.sin(lat)]
        )

    lat0, lon0 = np.radians(origin[0]), np.radians(origin[1])
    d = ecef(np.radians(latlon[:, 0]), np.radians(latlon[:, 1])) - ecef(np.array(lat0), np.array(lon0))[:, None]
    rot = np.array(
        [
            [-np.sin(lon0), np.cos(lon0), 0.0],
            [-np.sin(lat0) * np.cos(lon0), -np.sin(lat0) * np.sin(lon0), np.cos(lat0)],
            [np.cos(lat0) * np.cos(lon0), np.cos(lat0) * np.sin(lon0), np.sin(lat0)],
        ]
    )
    return (rot @ d).T


# ---------------------------------------------------------------------------------------------------
# scan


@dataclass
class Row:
    """One row of the CSV as scanned: the small data read, the large files' paths and header facts."""

    index: int
    seq: int
    power: np.ndarray
    label: int | None
    files: dict[str, list[Path]]
    ue: tuple[float, float] | None = None
    bs: tuple[float, float] | None = None
    date: dt.date | None = None
    clock: dt.time | None = None
    rgb_sizes: tuple[tuple[int, int], ...] = ()
    radar_shape: tuple[int, ...] = ()
    lidar_count: int = 0
    flagged: bool = False


@dataclass
class Scan:
    """The result of the scan: good rows, defects and what the layout needs."""

    folder: Path
    csv_path: Path
    columns: Columns
    rows_total: int
    rows: list[Row] = field(default_factory=list)
    defects: list[Defect] = field(default_factory=list)
    roles: tuple[str, ...] = ()
    label_base: int | None = None
    label_agreement: tuple[int, int] = (0, 0)

    def add(self, row: int | None, source: str, code: str, detail: str, action: str) -> None:
        """Record a defect."""
        self.defects.append(Defect(row, source, code, detail, action))


def find_csv(folder: Path) -> Path:
    """The scenario CSV: ``<folder>/<folder name>.csv``, else the only ``*.csv`` in the folder."""
    if not folder.is_dir():
        what = "does not exist" if not folder.exists() else "is not a folder"
        raise SourceError(f"{folder}: {what}; give the DeepSense scenario folder holding scenarioN.csv")
    named = folder / f"{folder.name}.csv"
    if named.is_file():
        return named
    found = sorted(folder.glob("*.csv"))
    if len(found) != 1:
        raise SourceError(
            f"{folder}: {'no' if not found else len(found)} *.csv files and no {named.name}; "
            "give the DeepSense scenario folder holding scenarioN.csv"
        )
    return found[0]


def scan(folder: Path, options: DeepSenseOptions = DeepSenseOptions(), progress: Progress | None = None) -> Scan:
    """Read the CSV and every row's small files and headers; list the defects; keep the good rows."""
    csv_path = find_csv(folder)
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            records = list(csv.DictReader(f))
            header = list(records[0].keys()) if records else []
    except (UnicodeDecodeError, csv.Error) as exc:
        raise SourceError(f"{csv_path}: not a readable CSV ({exc})") from exc
    if not records:
        raise SourceError(f"{csv_path}: no rows")
    cols = Columns.find(header, csv_path)
    records = [{k.strip(): (v or "").strip() for k, v in r.items() if k is not None} for r in records]
    result = Scan(folder, csv_path, cols, len(records))
    result.roles = _present_roles(result, records)
    seen: set[int] = set()
    for i, rec in enumerate(records):
        row = _scan_row(result, rec, i + 2)
        if row is not None and row.index in seen:
            result.add(row.index, cols.index, "duplicate_index", f"index {row.index} repeats an earlier row", SKIPPED)
        elif row is not None:
            seen.add(row.index)
            result.rows.append(row)
        if progress is not None:
            progress("scan", i + 1, len(records))
    _check_shapes(result, options)
    _check_beams(result)
    _check_gps(result)
    _check_times(result, options)
    if not result.rows:
        raise SourceError(f"{folder}: no row can be imported ({len(result.defects)} defects, {counts(result.defects)})")
    result.defects.sort(key=lambda d: (d.row is not None, d.row or 0))
    return result


def _present_roles(result: Scan, records: list[dict[str, str]]) -> tuple[str, ...]:
    """Roles whose files exist at all; a column whose folder is missing is dropped (defect ``missing_folder``)."""
    roles = []
    for role, cols in result.columns.files().items():
        missing = [c for c in cols if not any((result.folder / r[c]).parent.is_dir() for r in records if r[c])]
        if not missing:
            roles.append(role)
            continue
        if role == "power":
            raise SourceError(f"{result.folder}: the folders of {', '.join(missing)} are missing: no beam power")
        for c in missing:
            where = next((str(Path(r[c]).parent) for r in records if r[c]), "(empty column)")
            result.add(None, c, "missing_folder", f"folder {where} does not exist: {role} not imported", DROPPED)
    return tuple(roles)


def _scan_row(result: Scan, rec: dict[str, str], line: int) -> Row | None:
    """One row: parse ids, read small files, check large files; None when the row is skipped."""
    cols = result.columns
    index = _int(rec[cols.index])
    if index is None:
        result.add(None, cols.index, "index_unreadable", f"CSV line {line}: index {rec[cols.index]!r}", SKIPPED)
        return None
    row = Row(index=index, seq=-1, power=np.empty(0), label=None, files={})
    problems = []
    for role in result.roles:
        for column in cols.files()[role]:
            path = result.folder / rec[column]
            if not rec[column] or not path.is_file():
                problems.append((column, "missing_file", f"{rec[column] or 'empty cell'} does not exist"))
            row.files.setdefault(role, []).append(path)
    problems = problems or _read_row(row, cols)
    for column, code, detail in problems:
        result.add(index, column, code, detail, SKIPPED)
    if problems:
        return None
    if cols.seq:
        seq = _int(rec[cols.seq])
        row.seq = -1 if seq is None else seq
        if seq is None:
            _flag(result, row, cols.seq, "seq_unreadable", f"seq_index {rec[cols.seq]!r}; stored as -1")
    if cols.label and rec[cols.label]:
        row.label = _int(rec[cols.label])
    if cols.time:
        try:
            row.date, row.clock = parse_timestamp(rec[cols.time])
        except ValueError as exc:
            _flag(result, row, cols.time, "timestamp_unreadable", f"{exc}; sample_time stored as NaN")
    return row


def _read_row(row: Row, cols: Columns) -> list[tuple[str, str, str]]:
    """Read the small files and check the large ones of ``row``; its first problem as (column, code, detail)."""
    for role, paths in row.files.items():
        for column, path in zip(cols.files()[role], paths, strict=True):
            try:
                _read_file(row, role, path)
            except _RowDefect as exc:
                return [(column, exc.code, exc.detail)]
    return []


def _read_file(row: Row, role: str, path: Path) -> None:
    if role == "power":
        row.power = np.concatenate([row.power, read_vector(path)])
    elif role == "ue_gps":
        row.ue = read_latlon(path)
    elif role == "bs_gps":
        row.bs = read_latlon(path)
    elif role == "rgb":
        row.rgb_sizes += (jpeg_size(path),)
    elif role == "lidar":
        row.lidar_count = ply_check(path)
    else:
        row.radar_shape = radar_shape(path)


def _int(text: str) -> int | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() else None


def _flag(result: Scan, row: Row, source: str, code: str, detail: str) -> None:
    row.flagged = True
    result.add(row.index, source, code, detail, FLAGGED)


def _skip(result: Scan, rows: list[Row], source: str, code: str, detail: str) -> None:
    drop = {id(r) for r in rows}
    for r in rows:
        result.add(r.index, source, code, detail, SKIPPED)
    result.rows = [r for r in result.rows if id(r) not in drop]


def _check_shapes(result: Scan, options: DeepSenseOptions) -> None:
    """Skip rows whose power length, image size (native size kept) or radar shape differ from the mode."""
    checks = [("power", lambda r: r.power.size, "beams")]
    if "rgb" in result.roles and options.rgb_size is None:
        checks.append(("rgb", lambda r: r.rgb_sizes, "image size"))
    if "radar" in result.roles:
        checks.append(("radar", lambda r: r.radar_shape, "radar cube shape"))
    for role, key, what in checks:
        if not result.rows:
            return
        mode = Counter(key(r) for r in result.rows).most_common(1)[0][0]
        odd = [r for r in result.rows if key(r) != mode]
        for value in sorted({key(r) for r in odd}, key=str):
            rows = [r for r in odd if key(r) == value]
            hint = " (pass --rgb-size to resize)" if role == "rgb" else ""
            _skip(result, rows, role, f"{role}_shape", f"{what} {value} differs from the scenario's {mode}{hint}")


def _check_beams(result: Scan) -> None:
    """Skip all-NaN power vectors, flag partly NaN ones; detect the label base; flag label disagreements."""
    cols = result.columns
    src = ",".join(cols.power)
    _skip(
        result,
        [r for r in result.rows if np.isnan(r.power).all()],
        src,
        "power_all_nan",
        "every beam power is NaN: no beam label can be derived",
    )
    clean = [r for r in result.rows if r.label is not None and not np.isnan(r.power).any()]
    agree = [sum(r.label - base == int(np.argmax(r.power)) for r in clean) for base in (0, 1)]
    result.label_base = None if not clean else int(agree[1] > agree[0])
    result.label_agreement = (max(agree), len(clean))
    for r in result.rows:
        best = int(np.nanargmax(r.power))
        official = None if r.label is None or result.label_base is None else r.label - result.label_base
        nan = int(np.isnan(r.power).sum())
        if nan:
            said = "" if official is None else f"; official label {r.label} (argmax of NaN) -> stored nanargmax {best}"
            _flag(result, r, src, "power_nan", f"{nan} of {r.power.size} beam powers are NaN{said}")
        elif official is not None and official != best:
            _flag(
                result,
                r,
                cols.label or "",
                "label_mismatch",
                f"official label {r.label} ({result.label_base}-based) is not the argmax {best}; stored {best}",
            )


def _check_gps(result: Scan) -> None:
    """Flag rows whose UE fix repeats the previous row's of the same sequence: the GPS lags the other sensors."""
    if "ue_gps" not in result.roles:
        return
    for prev, row in zip(result.rows, result.rows[1:], strict=False):
        if row.seq == prev.seq and row.ue == prev.ue:
            _flag(
                result,
                row,
                result.columns.ue_gps or "",
                "gps_stale",
                f"UE fix {row.ue} repeats row {prev.index}'s: the GPS lags the other sensors",
            )


def _check_times(result: Scan, options: DeepSenseOptions) -> None:
    """Note timestamps without a date or a zone (once each): sample_time is then a time of day."""
    col = result.columns.time
    if col is None:
        return
    if options.date is None and any(r.clock is not None and r.date is None for r in result.rows):
        result.add(
            None,
            col,
            "timestamp_no_date",
            "timestamps carry a time of day only: sample_time is seconds of the day (pass --date)",
            NOTED,
        )
    if "UTC" not in col.upper() and options.timezone is None:
        result.add(
            None,
            col,
            "timestamp_no_zone",
            "timestamps name no time zone: sample_time is local time of an unknown zone (pass --timezone)",
            NOTED,
        )


# ---------------------------------------------------------------------------------------------------
# layout and blocks


def _tz(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SourceError(f"--timezone {name!r}: not an IANA time zone, e.g. UTC or America/Phoenix") from exc


def _zone(columns: Columns, options: DeepSenseOptions) -> dt.tzinfo | None:
    """The zone of the timestamps: ``--timezone``, else UTC when the column says so, else unknown."""
    if options.timezone is not None:
        return _tz(options.timezone)
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
                [np.stack([self._decode(r, p, read_rgb, self.options.rgb_size) for p in r.files["rgb"]]) for r in rows]
            )
            cams = rgb.shape[1]
            data |= {
                "rgb": rgb,
                "rgb_time": np.zeros((n, cams)),
                "camera_pos": np.zeros((n, cams, 3), np.float32),
                "camera_orientation": np.full((n, cams, 3), np.nan, np.float32),
            }
        if "lidar" in mods:
            clouds = [self._decode(r, r.files["lidar"][0], read_ply) for r in rows]
            data |= {
                "lidar_points": np.concatenate(clouds),
                "lidar_count": np.array([len(c) for c in clouds]),
                "lidar_time": np.zeros(n),
                "lidar_pos": zeros3,
                "lidar_orientation": nan3,
            }
        if "radar" in mods:
            data |= {
                "radar_cube": np.stack([self._decode(r, r.files["radar"][0], read_radar) for r in rows]),
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
    def _decode(row: Row, path: Path, read: Callable[..., np.ndarray], *args: object) -> np.ndarray:
        try:
            return read(path, *args)
        except Exception as exc:  # a body the header check could not see (corrupt JPEG data, bad numbers)
            raise SourceError(
                f"{path}: row {row.index} cannot be decoded ({type(exc).__name__}: {exc}) although its header "
                "passed the scan; fix or remove the file's row, then rerun with --overwrite"
            ) from exc


def shard_url(root: str, scan_: Scan) -> str:
    """Where the scenario's shard goes: ``ROOT/deepsense-<scenario>.zarr``."""
    return f"{root.rstrip('/')}/deepsense-{scan_.folder.name.lower()}{SHARD_SUFFIX}"


def import_deepsense(
    path: str | Path,
    root: str,
    strict: bool = False,
    options: DeepSenseOptions = DeepSenseOptions(),
    overwrite: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Import one DeepSense 6G scenario folder into ``ROOT/deepsense-<scenario>.zarr``.

    :param path: the scenario folder (holding ``scenarioN.csv``, ``unit1/``, ``unit2/``).
    :param root: the dataset root (a folder; its catalog registers the shard).
    :param strict: raise :class:`~wirelessdata.importers.common.StrictError` on any defect, before writing.
    :param overwrite: replace a shard of the same name written from another source or with other options.
    :returns: the shard, its validation and every defect (by row and reason).
    """
    if options.rgb_size is not None and min(options.rgb_size) < 1:
        raise SourceError(f"--rgb-size {options.rgb_size}: width and height must be >= 1")
    if options.block_size < 1:
        raise SourceError(f"--block-size {options.block_size}: must be >= 1")
    if options.date is not None:
        try:
            dt.date.fromisoformat(options.date)
        except ValueError as exc:
            raise SourceError(f"--date {options.date!r}: want YYYY-MM-DD") from exc
    if options.timezone is not None:
        _tz(options.timezone)
    folder = Path(path)
    result = scan(folder, options, progress)
    if strict:
        check_strict(str(folder), result.defects)
    layout = layout_for(result, options)
    url = shard_url(root, result)
    written, checksum, report = write_shard(
        root, url, layout, BlockReader(result, layout, options), overwrite, progress
    )
    return ImportResult(
        url=url,
        rows_total=result.rows_total,
        num_samples=layout.num_samples,
        rows_flagged=sum(r.flagged for r in result.rows),
        blocks_written=written,
        blocks_skipped=layout.num_blocks - written,
        checksum=checksum,
        report=report,
        defects=result.defects,
    )
