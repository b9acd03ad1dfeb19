"""Readers of the files of a DeepSense 6G scenario folder, and the conversions of what they hold.

The scenario CSV's columns by role (:class:`Columns`); beam-power vectors and GPS fixes (small text files, read
whole); JPEG images, ASCII PLY point clouds and radar ``.npy`` / ``.mat`` cubes (header checks for the scan,
full reads for the write); timestamps; WGS-84 -> local ENU. A defect of one file raises ``_RowDefect(code,
detail)``, which the scan (:mod:`.scanning`) records against the file's row.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wirelessdata.importers.common import NUMPY_FILE_DAMAGE, SourceError

_LABEL_COLUMNS = ("unit1_beam", "unit1_overall-beam")
_WGS84_A = 6378137.0
_WGS84_E2 = 6.69437999014e-3


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
