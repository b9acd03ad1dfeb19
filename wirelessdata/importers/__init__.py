"""Importers of third-party datasets into schema-v1 shards, mirroring ``wirelessdata import``.

Python API (names resolve lazily, so registering the CLI sub-app stays cheap)::

    import_deepsense(path, root, strict=False, options=DeepSenseOptions())   # import deepsense PATH --out ROOT
    import_deepmimo(path, root, strict=False, config=ChannelConfig())        # import deepmimo PATH --out ROOT

Each scans its source, lists every :class:`Defect` by row and reason (``strict`` raises :class:`StrictError`
on any), writes the good rows block by block (a rerun resumes), commits, registers the shard in the
catalog of ``root`` and validates it; the :class:`ImportResult` says what happened. See docs/importers.md.
"""

from __future__ import annotations

from wirelessdata.lazy import lazy_getattr

_API = {
    "ChannelConfig": "deepmimo",
    "import_deepmimo": "deepmimo",
    "DeepSenseOptions": "deepsense",
    "import_deepsense": "deepsense",
    "Defect": "common",
    "ImportResult": "common",
    "SourceError": "common",
    "StrictError": "common",
}
__all__ = sorted(_API)


__getattr__ = lazy_getattr(__name__, _API)
