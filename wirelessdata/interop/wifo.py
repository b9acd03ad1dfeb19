"""``export wifo`` and ``export wifo2``: the train/val/test files WiFo and WiFo-2 read from ``dataset/<name>/``.

WiFo (MATLAB v7.3, read with ``hdf5storage.loadmat``): ``X_train.mat`` holds ``X_train``, ``X_val.mat`` holds
``X_val``, ``X_test.mat`` holds ``X_val`` too (WiFo's loader takes ``X_val`` from the test file); each is
complex64 ``(N, T, N_ant, K)``. WiFo-2 (``torch.load``): ``X_<split>.pt``, a float32 tensor
``[N, 2, T, N_ant, K]`` (real, imaginary), or ``{split: tensor}`` with ``--dict``. Values are standardised
with the exported data's mean and variance (:mod:`wirelessdata.interop.standardise`) unless ``normalise`` is
off; the constants are in the README and ``export.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wirelessdata.errors import ConfigError, StoreError
from wirelessdata.interop import outdir
from wirelessdata.interop.mat import MatWriter
from wirelessdata.interop.pt import TensorWriter
from wirelessdata.interop.sources import SPLITS, ExportPlan, batches
from wirelessdata.interop.standardise import Standardisation, measure, model_layout
from wirelessdata.progress import progress_bars
from wirelessdata.shard.store import open_group

FORMATS = ("wifo", "wifo2")
MAT_KEYS = {"train": "X_train", "val": "X_val", "test": "X_val"}
WIFO_MULTIPLE = 4
"""WiFo's patches are 4 x 4 x 4 (time, antenna, subcarrier): every dimension must be a multiple."""


def csi_shape(plan: ExportPlan) -> tuple[int, int, int, int]:
    """The common CSI shape ``(T, K, Nbs, Nue)`` of the plan's shards; one-line error when they differ."""
    shapes = {s.name: tuple(int(d) for d in open_group(s.url)["csi"].shape[1:]) for s in plan.shards}
    if not shapes:
        raise StoreError("the export selects no sample; check the shards, the flags and the split fractions")
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{n} {s}" for n, s in shapes.items())
        raise ConfigError(f"shards differ in CSI shape (T, K, Nbs, Nue): {listed}; export each shape to its own --out")
    return next(iter(shapes.values()))


def model_shape(shape: tuple[int, int, int, int]) -> tuple[int, int, int]:
    """``(T, N_ant, K)`` of a CSI shape ``(T, K, Nbs, Nue)``."""
    t, k, nbs, nue = shape
    return t, nbs * nue, k


def check_wifo_shape(shape: tuple[int, int, int]) -> None:
    """One-line error unless T, N_ant and K are multiples of 4 (WiFo's patch size)."""
    bad = [f"{n} {v}" for n, v in zip(("T", "N_ant", "K"), shape, strict=True) if v % WIFO_MULTIPLE]
    if bad:
        raise ConfigError(
            f"WiFo needs T, N_ant and K divisible by {WIFO_MULTIPLE}, got (T, N_ant, K) = {shape} ({', '.join(bad)}); "
            "generate with --time-steps/--subcarriers/--bs-array multiples of 4, or use export wifo2 / numpy"
        )


def export_tensors(
    plan: ExportPlan,
    out: str | Path,
    fmt: str = "wifo",
    normalise: bool = True,
    as_dict: bool = False,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write the plan's splits as WiFo ``.mat`` (``fmt="wifo"``) or WiFo-2 ``.pt`` (``fmt="wifo2"``) files.

    Reads the shards a batch at a time (twice when standardising: once to measure, once to write); empty
    splits write no file. :returns: the ``export.json`` document.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"export format {fmt!r} is unknown; choose one of {', '.join(FORMATS)}")
    t, n_ant, k = shape = model_shape(csi_shape(plan))
    if fmt == "wifo":
        check_wifo_shape(shape)
    counts = {s: plan.count(s) for s in SPLITS if plan.count(s)}
    if not counts:
        raise StoreError("the export selects no sample; check the shards, the flags and the split fractions")
    ext = "mat" if fmt == "wifo" else "pt"
    names = {s: f"X_{s}.{ext}" for s in counts}
    out = outdir.prepare_out(out, overwrite)
    outdir.begin(out, fmt, list(names.values()))
    parts = [p for s in counts for p in plan.splits[s]]
    std = measure(parts) if normalise else Standardisation()
    files: dict[str, dict[str, Any]] = {}
    with progress_bars() as progress:
        task = progress.add_task(f"export {fmt} -> {out}", total=sum(counts.values()))
        for split, n in counts.items():
            final = out / names[split]
            target = outdir.temporary(final)
            if fmt == "wifo":
                writer: MatWriter | TensorWriter = MatWriter(target, MAT_KEYS[split], (n, t, n_ant, k))
            else:
                writer = TensorWriter(target, (n, 2, t, n_ant, k), key=split if as_dict else None)
            pos = 0
            try:
                for part in plan.splits[split]:
                    for batch in batches(part, ("csi",)):
                        x = std.apply(model_layout(batch["csi"]))
                        writer.write(pos, x[:, 0] + 1j * x[:, 1] if fmt == "wifo" else x)
                        pos += x.shape[0]
                        progress.advance(task, x.shape[0])
            finally:
                writer.close()
            target.replace(final)
            files[names[split]] = _describe(fmt, split, n, shape, as_dict) | {
                "shards": [{"shard": p.shard.name, "indices": p.indices.tolist()} for p in plan.splits[split]]
            }
    info = {
        "normalisation": std.to_json() | {"applied": normalise},
        "split_rule": plan.rule,
        "source": plan.source,
        "shards": [{"name": s.name, "url": s.url, "checksum": s.attrs.get("checksum")} for s in plan.shards],
    }
    outdir.finish(out, fmt, files, _readme(fmt, out, files, std, normalise, plan), **info)
    return {"out": str(out), "files": files, **info}


def _describe(fmt: str, split: str, n: int, shape: tuple[int, int, int], as_dict: bool) -> dict[str, Any]:
    t, a, k = shape
    if fmt == "wifo":
        return {
            "split": split,
            "key": MAT_KEYS[split],
            "shape": [n, t, a, k],
            "axes": ["sample", "time", "antenna", "subcarrier"],
            "dtype": "complex64",
            "samples": n,
        }
    return {
        "split": split,
        "key": split if as_dict else None,
        "shape": [n, 2, t, a, k],
        "axes": ["sample", "real_imag", "time", "antenna", "subcarrier"],
        "dtype": "float32",
        "samples": n,
    }


def _readme(
    fmt: str, out: Path, files: dict[str, dict[str, Any]], std: Standardisation, normalise: bool, plan: ExportPlan
) -> str:
    wifo = fmt == "wifo"
    title = "WiFo (MATLAB v7.3)" if wifo else "WiFo-2 (PyTorch)"
    lines = [
        f"# {out.name}: CSI exported for {title}",
        "",
        "Written by `wirelessdata export " + fmt + "`; `export.json` holds the same facts and the sample indices.",
        "",
        "| file | key | shape | axes | dtype | samples |",
        "|---|---|---|---|---|---|",
    ]
    for name, d in files.items():
        key = f"`{d['key']}`" if d["key"] else "(the tensor itself)"
        lines.append(
            f"| `{name}` | {key} | {tuple(d['shape'])} | {', '.join(d['axes'])} | {d['dtype']} | {d['samples']} |"
        )
    lines += [
        "",
        "Antenna index `n = bs * N_ue + ue` (BS antenna major). Time step and subcarrier spacing are those of the "
        "source shards (`export.json`, `shards`).",
        "",
        "## Normalisation",
        "",
    ]
    if normalise:
        lines += [
            "Standardised with the mean and variance of every exported sample (all splits): `x = (h - mu) / sigma`,",
            f"`mu = {std.mean.real:.9g}{std.mean.imag:+.9g}j`, `sigma = {std.std:.9g}`. "
            "Undo with `h = x * sigma + mu`.",
        ]
    else:
        lines.append("None: values are the shards' channel coefficients (linear, path loss included).")
    lines += ["", "## Split", "", plan.rule + ".", "", "## Loading", "", "```python"]
    if wifo:
        lines += [
            "import hdf5storage, numpy as np, torch",
            "X = hdf5storage.loadmat('X_test.mat')['X_val']          # complex64 (N, T, N_ant, K)",
            "X = torch.tensor(np.array(X, dtype=complex)).unsqueeze(1)",
            "x = torch.cat((X.real, X.imag), dim=1).float()           # [N, 2, T, N_ant, K], as WiFo's loader",
        ]
    else:
        lines += [
            "import torch",
            "x = torch.load('X_test.pt')                              # float32 [N, 2, T, N_ant, K]",
            "x = x['test'] if isinstance(x, dict) else x",
        ]
    lines += ["```", "", "## Source shards", "", "| shard | checksum |", "|---|---|"]
    lines += [f"| `{s.name}` | `{s.attrs.get('checksum')}` |" for s in plan.shards]
    return "\n".join(lines) + "\n"
