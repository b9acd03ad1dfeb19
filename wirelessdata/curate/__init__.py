"""Corpus curation: quality flags, exact and near duplicates, train/test leakage, corpus distances.

Python API, mirroring ``wirelessdata curate`` (see docs/curation.md)::

    curate(root)                      # curate ROOT: flags into every shard's quality_flags, catalog updated
    find_leaks(manifest)              # train samples duplicating a val or held-out sample
    compare(["a.zarr"], ["b.zarr"])   # curate compare A B: MMD and Frechet distance of per-sample features
"""

from __future__ import annotations

import importlib
from typing import Any

_API = {
    "CurationReport": "pipeline",
    "curate": "pipeline",
    "Leak": "leakage",
    "find_leaks": "leakage",
    "Comparison": "distance",
    "compare": "distance",
}
__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'wirelessdata.curate' has no attribute {name!r}")
    return getattr(importlib.import_module(f"wirelessdata.curate.{_API[name]}"), name)
