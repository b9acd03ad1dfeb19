"""``export numpy`` and ``export hdf5``: the shards' arrays as they are, with a JSON sidecar of the schema attributes.

Per shard ``NAME``: NumPy writes ``NAME/<variable>.npy`` (memory-mapped, filled a batch at a time), HDF5 writes
``NAME.h5`` (one dataset per variable, written in slices, attributes ``units``, ``long_name``, ``dims``; complex
values in h5py's native compound, read back as complex by h5py). Both write ``NAME.json``: the shard's group
attributes, and per variable its dims, shape, dtype, units and meaning. Values are not transformed.

A subset of samples (``--manifest``) adds ``sample_index`` (the samples' indices in the shard); ragged LiDAR
points are exported only with whole shards (their rows are addressed by ``lidar_start``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wirelessdata.errors import ConfigError
from wirelessdata.interop import outdir
from wirelessdata.interop.sources import ExportPlan, Part, ShardInfo, batches
from wirelessdata.progress import progress_bars
from wirelessdata.shard.schema import load_schema
from wirelessdata.shard.store import open_group

FORMATS = ("numpy", "hdf5")
SKIPPED = ("block_checksum",)
"""Bookkeeping arrays of the store that mean nothing outside it."""
SLICE_BYTES = 32 * 2**20


def variable_table(info: ShardInfo, wanted: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """Per exported variable of a shard: ``dims``, ``shape``, ``dtype``, ``units``, ``long_name``, ``kind``.

    ``kind`` is ``sample`` (first dim is ``sample``), ``ragged`` (rows addressed by ``*_start``/``*_count``)
    or ``static`` (coordinates and per-shard constants). One-line error for a name the shard does not hold.
    """
    group = open_group(info.url)
    present = {name: arr for name, arr in group.arrays() if name not in SKIPPED}
    names = list(wanted) if wanted else sorted(present)
    missing = [n for n in names if n not in present]
    if missing:
        raise ConfigError(
            f"{info.name}: no variable {missing[0]!r}; it holds {', '.join(sorted(present))} (--variables)"
        )
    ragged = {r["dim"] for r in info.attrs.get("ragged", [])}
    schema = load_schema()
    out = {}
    for name in names:
        arr = present[name]
        dims = list(arr.metadata.dimension_names or ())
        spec = schema.variables.get(name)
        out[name] = {
            "dims": dims,
            "shape": list(arr.shape),
            "dtype": str(arr.dtype),
            "units": arr.attrs.get("units", spec.units if spec else ""),
            "long_name": arr.attrs.get("long_name", spec.long_name if spec else ""),
            "kind": "sample" if dims[:1] == ["sample"] else "ragged" if dims[:1] and dims[0] in ragged else "static",
        }
    return out


def export_arrays(
    plan: ExportPlan,
    out: str | Path,
    fmt: str = "numpy",
    variables: Sequence[str] | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write every part of the plan's ``all`` split (one per shard) as NumPy files or an HDF5 file plus sidecar.

    :param variables: variables to export (default: every array of the shard but the store's bookkeeping).
    :returns: the ``export.json`` document.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"export format {fmt!r} is unknown; choose one of {', '.join(FORMATS)}")
    parts = [p for ps in plan.splits.values() for p in ps]
    tables = {p.shard.name: variable_table(p.shard, variables) for p in parts}
    if len(tables) != len(parts):
        raise ConfigError("two shards share a name; export them to different --out folders")
    for p in parts:
        ragged = [n for n, v in tables[p.shard.name].items() if v["kind"] == "ragged"]
        if ragged and not p.whole:
            raise ConfigError(
                f"{p.shard.name}: ragged {', '.join(ragged)} can only be exported with whole shards; leave them out "
                "with --variables or export the shard without --manifest"
            )
    names = {p.shard.name: p.shard.name if fmt == "numpy" else f"{p.shard.name}.h5" for p in parts}
    out = outdir.prepare_out(out, overwrite)
    outdir.begin(out, fmt, [n for s in names for n in (names[s], f"{s}.json")])
    files: dict[str, dict[str, Any]] = {}
    with progress_bars() as progress:
        task = progress.add_task(f"export {fmt} -> {out}", total=sum(int(p.indices.size) for p in parts))
        for part in parts:
            table = tables[part.shard.name]
            final = out / names[part.shard.name]
            target = outdir.temporary(final)
            _write_numpy(part, table, target) if fmt == "numpy" else _write_hdf5(part, table, target)
            target.replace(final)
            progress.advance(task, int(part.indices.size))
            sidecar = _sidecar(part, table, fmt, names[part.shard.name])
            (out / f"{part.shard.name}.json").write_text(outdir.dumps(sidecar))
            files[names[part.shard.name]] = {"shard": part.shard.name, "samples": int(part.indices.size)}
            files[f"{part.shard.name}.json"] = {"shard": part.shard.name, "sidecar": True}
    info = {
        "split_rule": plan.rule,
        "source": plan.source,
        "shards": [{"name": s.name, "url": s.url, "checksum": s.attrs.get("checksum")} for s in plan.shards],
    }
    outdir.finish(out, fmt, files, _readme(fmt, out, tables, names), **info)
    return {"out": str(out), "files": files, **info}


def _exported_shape(part: Part, v: dict[str, Any]) -> tuple[int, ...]:
    return (int(part.indices.size), *v["shape"][1:]) if v["kind"] == "sample" else tuple(v["shape"])


def _static_slices(group: Any, name: str, rows: int) -> Any:
    """``(start, stop, values)`` of a non-sample array, a slice of rows at a time."""
    arr = group[name]
    per_row = int(np.prod(arr.shape[1:], dtype=np.int64)) * arr.dtype.itemsize if arr.ndim else 1
    step = max(1, SLICE_BYTES // max(per_row, 1))
    if arr.ndim == 0:
        yield 0, 0, arr[...]
        return
    for a in range(0, rows, step):
        yield a, min(rows, a + step), arr[a : min(rows, a + step)]


def _fill(part: Part, table: dict[str, dict[str, Any]], store: Any) -> None:
    """Copy the part's variables into ``store[name]`` (array-likes of the exported shapes), slice by slice."""
    sample_vars = [n for n, v in table.items() if v["kind"] == "sample"]
    pos = 0
    if sample_vars:
        for batch in batches(part, sample_vars):
            b = next(iter(batch.values())).shape[0]
            for name in sample_vars:
                store[name][pos : pos + b] = batch[name]
            pos += b
    group = open_group(part.shard.url)
    for name, v in table.items():
        if v["kind"] != "sample":
            for a, b, values in _static_slices(group, name, v["shape"][0] if v["shape"] else 0):
                if v["shape"]:
                    store[name][a:b] = values
                else:
                    store[name][...] = values
    if "sample_index" in store:
        store["sample_index"][...] = part.indices


def _write_numpy(part: Part, table: dict[str, dict[str, Any]], folder: Path) -> None:
    folder.mkdir()
    store = {
        name: np.lib.format.open_memmap(
            folder / f"{name}.npy", mode="w+", dtype=np.dtype(v["dtype"]), shape=_exported_shape(part, v)
        )
        for name, v in table.items()
    }
    if not part.whole:
        store["sample_index"] = np.lib.format.open_memmap(
            folder / "sample_index.npy", mode="w+", dtype=np.int64, shape=part.indices.shape
        )
    _fill(part, table, store)
    for arr in store.values():
        arr.flush()


def _write_hdf5(part: Part, table: dict[str, dict[str, Any]], path: Path) -> None:
    import h5py

    with h5py.File(path, "w") as f:
        for key, value in part.shard.attrs.items():
            f.attrs[key] = value if isinstance(value, str | int | float | bool) else json.dumps(value, default=str)
        store = {}
        for name, v in table.items():
            shape = _exported_shape(part, v)
            per_row = int(np.prod(shape[1:], dtype=np.int64)) * np.dtype(v["dtype"]).itemsize if shape else 0
            chunks = (max(1, min(shape[0], 2**20 // max(per_row, 1))), *shape[1:]) if shape and shape[0] else None
            ds = f.create_dataset(name, shape=shape, dtype=np.dtype(v["dtype"]), chunks=chunks)
            ds.attrs["units"], ds.attrs["long_name"] = v["units"], v["long_name"]
            ds.attrs["dims"] = json.dumps(v["dims"])
            store[name] = ds
        if not part.whole:
            store["sample_index"] = f.create_dataset("sample_index", shape=part.indices.shape, dtype=np.int64)
        _fill(part, table, store)


def _sidecar(part: Part, table: dict[str, dict[str, Any]], fmt: str, name: str) -> dict[str, Any]:
    variables = {}
    for var, v in table.items():
        where = {"file": f"{name}/{var}.npy"} if fmt == "numpy" else {"file": name, "dataset": var}
        variables[var] = {k: v[k] for k in ("dims", "dtype", "units", "long_name")} | {
            "shape": list(_exported_shape(part, v)),
            **where,
        }
    if not part.whole:
        variables["sample_index"] = {
            "dims": ["sample"],
            "dtype": "int64",
            "units": "1",
            "long_name": "index of the sample in the source shard",
            "shape": [int(part.indices.size)],
            **({"file": f"{name}/sample_index.npy"} if fmt == "numpy" else {"file": name, "dataset": "sample_index"}),
        }
    return {
        "shard": part.shard.name,
        "source": part.shard.url,
        "checksum": part.shard.attrs.get("checksum"),
        "samples": int(part.indices.size),
        "schema": part.shard.attrs.get("schema"),
        "schema_version": part.shard.attrs.get("schema_version"),
        "attrs": part.shard.attrs,
        "variables": variables,
    }


def _readme(fmt: str, out: Path, tables: dict[str, dict[str, dict[str, Any]]], names: dict[str, str]) -> str:
    how = (
        "`numpy.load('NAME/VARIABLE.npy', mmap_mode='r')`"
        if fmt == "numpy"
        else "`h5py.File('NAME.h5')['VARIABLE'][...]` (complex values read back as complex)"
    )
    lines = [
        f"# {out.name}: shards exported as {'NumPy' if fmt == 'numpy' else 'HDF5'}",
        "",
        f"Written by `wirelessdata export {fmt}`. Values are as stored in the shards (units below). Read with {how};",
        "`NAME.json` holds the shard's attributes (recipe, numerology, statistics) and every variable's dims, shape,",
        "dtype, units and meaning.",
        "",
    ]
    for shard, table in tables.items():
        lines += [f"## `{names[shard]}`", "", "| variable | dims | shape in the shard | dtype | units | meaning |"]
        lines.append("|---|---|---|---|---|---|")
        lines += [
            f"| `{n}` | {', '.join(v['dims'])} | {tuple(v['shape'])} | {v['dtype']} | {v['units']} | {v['long_name']} |"
            for n, v in table.items()
        ]
        lines.append("")
    return "\n".join(lines)
