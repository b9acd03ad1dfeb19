"""Corpus curation: quality flags, exact and near duplicates, train/test leakage, corpus distances.

Python API, mirroring ``wirelessdata curate`` (see docs/curation.md)::

    curate(root)                      # curate ROOT: flags into every shard's quality_flags, catalog updated
    find_leaks(manifest)              # train samples duplicating a val or held-out sample
    refuse_leaks(manifest)            # a one-line error when there is any (mix build runs it)
    compare(["a.zarr"], ["b.zarr"])   # curate compare A B: MMD and Frechet distance of per-sample features
"""

from __future__ import annotations

from wirelessdata.lazy import lazy_getattr

_API = {
    "CurationReport": "pipeline",
    "curate": "pipeline",
    "Leak": "leakage",
    "find_leaks": "leakage",
    "refuse_leaks": "leakage",
    "Comparison": "distance",
    "compare": "distance",
}
__all__ = sorted(_API)

__getattr__ = lazy_getattr(__name__, _API)
