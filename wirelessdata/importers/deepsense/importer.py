"""The DeepSense 6G importer: :data:`SOURCE` (the plug-in) and :func:`import_deepsense` (the Python API)."""

from __future__ import annotations

from pathlib import Path

from wirelessdata.importers.common import ImportResult, Progress, run_import
from wirelessdata.importers.deepsense.layout import layout_for, shard_name
from wirelessdata.importers.deepsense.options import DeepSenseOptions
from wirelessdata.importers.deepsense.reader import BlockReader
from wirelessdata.importers.deepsense.scanning import scan
from wirelessdata.source.contract import Importer

SOURCE = Importer(
    name="deepsense",
    Options=DeepSenseOptions,
    scan=scan,
    layout=layout_for,
    shard_name=shard_name,
    block_reader=BlockReader,
)
"""The DeepSense 6G importer (entry point ``deepsense`` of ``wirelessdata.importers``)."""


def import_deepsense(
    path: str | Path,
    root: str,
    strict: bool = False,
    options: DeepSenseOptions = DeepSenseOptions(),  # noqa: B008 (a frozen dataclass)
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
    return run_import(SOURCE, path, root, options, strict, overwrite, progress)
