"""What every importer shares: the defect report, strict mode, and writing one shard block by block.

An importer scans its source first and lists every :class:`Defect` (by row and reason) before it
writes anything; ``strict`` turns any defect into a :class:`StrictError` at that point. The good rows
are then written with :func:`write_shard`, through the one writer of every source
(:mod:`wirelessdata.source.writer`): blocks of rows into pre-created regions (a rerun of the same import resumes
at the first unwritten block), commit with the shard's statistics, registration in the catalog of the dataset
root, validation.
"""

from __future__ import annotations

import tokenize
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from wirelessdata.errors import WirelessDataError
from wirelessdata.shard.layout import ShardLayout, recipe_hash
from wirelessdata.shard.schema import load_schema
from wirelessdata.shard.store import open_shard
from wirelessdata.shard.url import shard_url
from wirelessdata.shard.validate import ShardReport
from wirelessdata.source.contract import Importer, Progress
from wirelessdata.source.writer import Pending, ShardResult, Target, write_shards

NUMPY_FILE_DAMAGE = (
    OSError,
    EOFError,
    KeyError,
    ValueError,
    TypeError,
    SyntaxError,
    MemoryError,
    NotImplementedError,
    tokenize.TokenError,
    zipfile.BadZipFile,
    zlib.error,
)
"""What ``numpy.load`` raises on a damaged ``.npz`` / ``.npy`` file: cut short (BadZipFile, EOFError), empty
(EOFError), flipped bytes in a compressed member (zlib.error), a header that declares more than memory holds
(MemoryError, ValueError), a compression method byte flipped (NotImplementedError), a damaged ``.npy`` header (a
Python literal numpy tokenizes and evaluates: TokenError, SyntaxError, TypeError), a missing member (KeyError), or
not a NumPy file at all (ValueError)."""

SKIPPED = "skipped"
"""The row is not imported."""
FLAGGED = "flagged"
"""The row is imported with the ``importer_defect`` quality flag; the detail says what was repaired."""
DROPPED = "dropped"
"""A column or modality of the source is not imported (no row is lost)."""
NOTED = "noted"
"""The data are imported as documented; the defect limits what they mean (e.g. times without a date)."""


class SourceError(WirelessDataError):
    """A source folder cannot be imported (missing, not the expected layout, nothing importable)."""


class StrictError(SourceError):
    """``strict`` was asked and the source has defects."""


class RowUnreadable(SourceError):
    """A row's file passed the scan's checks (its header) but its body cannot be decoded while the row is written.

    :func:`run_import` then leaves the row out as a defect (``code``, action :data:`SKIPPED`) and writes the shard
    again without it; a scan whose block reader raises this implements :class:`Skipping`.
    """

    def __init__(self, row: int, source: str, code: str, detail: str) -> None:
        super().__init__(f"{source}: row {row}: {detail}")
        self.row, self.source, self.code, self.detail = row, source, code, detail


@runtime_checkable
class Skipping(Protocol):
    """A scan that can leave out a row found unreadable while writing (:class:`RowUnreadable`)."""

    def skip(self, error: RowUnreadable) -> None:
        """Remove the row of ``error`` from the rows to import and record its defect (:data:`SKIPPED`)."""


@dataclass(frozen=True)
class Defect:
    """One defect of a source.

    :param row: the source's row id (DeepSense ``index``, DeepMIMO receiver index), None when the
        defect concerns a whole column, folder or transmitter-receiver pair.
    :param source: where: the CSV column, folder, file or tx/rx pair.
    :param code: stable reason code, e.g. ``ply_truncated`` (listed in docs/importers.md).
    :param detail: one line for people.
    :param action: what the importer did: :data:`SKIPPED`, :data:`FLAGGED`, :data:`DROPPED` or :data:`NOTED`.
    """

    row: int | None
    source: str
    code: str
    detail: str
    action: str


def check_strict(path: str, defects: Sequence[Defect]) -> None:
    """Raise :class:`StrictError` naming the first defect when there is any."""
    if defects:
        d = defects[0]
        where = f"row {d.row} {d.source}" if d.row is not None else d.source
        raise StrictError(
            f"{path}: {len(defects)} defects with --strict (first: {where}: {d.code}: {d.detail}); "
            "rerun without --strict to import the good rows"
        )


def counts(defects: Sequence[Defect]) -> dict[str, int]:
    """Number of defects per code."""
    out: dict[str, int] = {}
    for d in defects:
        out[d.code] = out.get(d.code, 0) + 1
    return dict(sorted(out.items()))


def importer_flag() -> np.uint32:
    """The ``importer_defect`` bit of ``quality_flags``."""
    return np.uint32(load_schema().flag_bit("importer_defect"))


def shard_attrs(recipe: Mapping[str, Any], **attrs: Any) -> dict[str, Any]:
    """Group attributes of an imported shard: ``attrs`` plus the recipe, its hash and ``seed`` 0 (nothing is drawn).

    The recipe names the source and every option, so the same import of the same source has the same
    hash and resumes; another one is refused (or replaced with ``overwrite``).
    """
    return {**attrs, "recipe": dict(recipe), "recipe_hash": recipe_hash(recipe), "seed": 0}


@dataclass
class ImportResult:
    """What an import did: source rows, imported samples (``rows_flagged`` of them with the ``importer_defect``
    flag), blocks written now or kept from an earlier run, the shard checksum, validation and defects."""

    url: str
    rows_total: int
    num_samples: int
    rows_flagged: int
    blocks_written: int
    blocks_skipped: int
    checksum: str
    report: ShardReport
    defects: list[Defect] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "shard": self.url,
            "ok": self.report.ok,
            "rows_total": self.rows_total,
            "num_samples": self.num_samples,
            "rows_flagged": self.rows_flagged,
            "blocks_written": self.blocks_written,
            "blocks_skipped": self.blocks_skipped,
            "checksum": self.checksum,
            "defect_counts": counts(self.defects),
            "defects": [asdict(d) for d in self.defects],
            "validation": self.report.to_dict(),
        }


BlockMaker = Callable[[int], dict[str, np.ndarray]]


def write_shard(
    root: str,
    url: str,
    layout: ShardLayout,
    make_block: BlockMaker,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> ShardResult:
    """Write every pending block of one imported shard through the one writer
    (:func:`~wirelessdata.source.writer.write_shards`): commit, register in the catalog of ``root``, validate.

    :param make_block: ``block -> data``: the block's per-sample arrays; arrays of variables the shard
        does not hold (optional ones absent from the layout or the schema) are left out here. The next block
        is read while this one is written (decoders and zarr's codecs release the GIL).
    """
    done = 0

    def count(_block: int) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress("write", done, layout.num_blocks)

    def run_blocks(pending: Pending) -> Iterator[tuple[int, BaseException | None]]:
        shard = open_shard(url)
        names = {v.name for v in layout.variables(shard.schema)}
        blocks = list(pending)
        with ThreadPoolExecutor(max_workers=1) as pool:
            ahead = pool.submit(make_block, blocks[0]) if blocks else None
            for i, block in enumerate(blocks):
                assert ahead is not None
                data = ahead.result()
                ahead = pool.submit(make_block, blocks[i + 1]) if i + 1 < len(blocks) else None
                shard.write_block(block, {k: v for k, v in data.items() if k in names})
                yield block, None

    if progress is not None:
        progress("write", 0, layout.num_blocks)
    (result,) = write_shards(root, {"shard": Target(url, layout)}, run_blocks, overwrite=overwrite, on_block=count)
    return result


def run_import(
    importer: Importer,
    path: str | Path,
    root: str,
    options: Any,
    strict: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Import the source folder ``path`` with ``importer`` into ``ROOT/<importer.shard_name(scan)>.zarr``.

    Checks the options, scans every row (``strict``: a :class:`StrictError` on any defect, before writing), lays
    out the shard and writes it through the one writer (:func:`write_shard`). A row whose file the scan passed but
    whose body cannot be decoded (:class:`RowUnreadable`) is left out as a defect and the shard, unfinished at that
    point, is laid out and written again without it (each such file costs one restart of the write).
    """
    check = getattr(options, "check", None)
    if check is not None:
        check()
    folder = Path(path)
    found = importer.scan(folder, options, progress)
    if strict:
        check_strict(str(folder), found.defects)
    url = shard_url(root, importer.shard_name(found))
    while True:
        layout = importer.layout(found, options)
        try:
            written = write_shard(root, url, layout, importer.block_reader(found, layout, options), overwrite, progress)
            break
        except RowUnreadable as exc:
            if not isinstance(found, Skipping):
                raise
            if strict:  # found while writing, not by the scan
                check_strict(str(folder), [Defect(exc.row, exc.source, exc.code, exc.detail, SKIPPED)])
            found.skip(exc)
            # The shard at url is this import's own unfinished one (its blocks up to the row are written, the rest
            # pending): the rows after the skipped one move up, so it is laid out and written again without it.
            overwrite = True
    return ImportResult(
        url=url,
        rows_total=found.rows_total,
        num_samples=layout.num_samples,
        rows_flagged=found.rows_flagged,
        blocks_written=written.blocks_written,
        blocks_skipped=written.blocks_skipped,
        checksum=written.checksum,
        report=written.report,
        defects=list(found.defects),
    )
