"""Pass 1 of a DeepSense import: scan every row of the scenario CSV and list its defects.

:func:`scan` reads each row's small files and the headers of its large ones (through :mod:`.formats`), keeps
the good rows as :class:`Row` and records every :class:`~wirelessdata.importers.common.Defect` by row and
reason: per row (missing or unreadable files, ids, timestamps), then across the whole source (shapes that
differ from the scenario's, NaN beam powers and the official label's base and agreement, stale GPS fixes,
timestamps without date or zone). Nothing is written.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wirelessdata.importers.common import (
    DROPPED,
    FLAGGED,
    NOTED,
    SKIPPED,
    Defect,
    Progress,
    RowUnreadable,
    SourceError,
    counts,
)
from wirelessdata.importers.deepsense.formats import (
    Columns,
    _RowDefect,
    jpeg_size,
    parse_timestamp,
    ply_check,
    radar_shape,
    read_latlon,
    read_vector,
)
from wirelessdata.importers.deepsense.options import DeepSenseOptions


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

    @property
    def rows_flagged(self) -> int:
        """Rows imported with the ``importer_defect`` quality flag."""
        return sum(r.flagged for r in self.rows)

    def add(self, row: int | None, source: str, code: str, detail: str, action: str) -> None:
        """Record a defect."""
        self.defects.append(Defect(row, source, code, detail, action))

    def skip(self, error: RowUnreadable) -> None:
        """Leave out the row of ``error`` (a file the scan passed that cannot be decoded) and record the defect.

        :raises SourceError: no row is left to import
        """
        self.rows = [r for r in self.rows if r.index != error.row]
        self.add(error.row, error.source, error.code, error.detail, SKIPPED)
        self.finish()

    def finish(self) -> None:
        """Sort the defects (folder-wide ones first, then by row).

        :raises SourceError: no row can be imported
        """
        if not self.rows:
            raise SourceError(
                f"{self.folder}: no row can be imported ({len(self.defects)} defects, {counts(self.defects)})"
            )
        self.defects.sort(key=lambda d: (d.row is not None, d.row or 0))


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


def scan(
    folder: Path,
    options: DeepSenseOptions = DeepSenseOptions(),  # noqa: B008 (a frozen dataclass)
    progress: Progress | None = None,
) -> Scan:
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
    result.finish()
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
