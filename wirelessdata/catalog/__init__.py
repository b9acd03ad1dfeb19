"""The catalog of shards: configuration and measured distributions per shard, in a SQLite file in the dataset root.

Python API, mirroring ``wirelessdata catalog`` (names resolve lazily, so importing the CLI stays cheap)::

    register_shard(root, url)                                 # on commit (generators, importers)
    rebuild(root)                                             # catalog rebuild ROOT
    ls(root, where=["band=28GHz", "delay_spread_p50>3e-7"])   # catalog ls
    show(shard)                                               # catalog show SHARD
    group_stats(root, by=["band", "scenario"])                # catalog stats
    plot(root, "delay_spread", "fig.png", by=["scenario"])    # catalog plot
    export(root, "csv")                                       # catalog export

See docs/catalog.md.
"""

from __future__ import annotations

from wirelessdata.lazy import lazy_getattr

_API = {
    "CATALOG_FILE": "db",
    "Catalog": "db",
    "CatalogError": "db",
    "catalog_path": "db",
    "RebuildReport": "register",
    "rebuild": "register",
    "register_shard": "register",
    "row_from_attrs": "register",
    "export": "query",
    "ls": "query",
    "show": "query",
    "group_stats": "aggregate",
    "plot": "figure",
}
__all__ = sorted(_API)

__getattr__ = lazy_getattr(__name__, _API)
