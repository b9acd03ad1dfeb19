"""``wirelessdata export ...``, ``wirelessdata card`` and ``wirelessdata plot``: the corpus for other code and people.

Library imports happen inside the commands, so registering them costs the main CLI nothing. Errors are
one-line :class:`~wirelessdata.errors.WirelessDataError` messages (the main CLI prints ``error: ...``, exit 2).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from wirelessdata.errors import ConfigError

export_app = typer.Typer(
    name="export",
    help="Export shards for other code: WiFo .mat, WiFo-2 .pt, NumPy .npy or HDF5, with a README of what is where.",
    no_args_is_help=True,
)

Shards = Annotated[
    list[str] | None,
    typer.Argument(metavar="SHARDS", help="Shards (*.zarr), or folders holding them; or none with --manifest."),
]
Out = Annotated[Path, typer.Option("--out", "-o", help="Folder to write (new, empty, or an earlier export).")]
Manifest = Annotated[
    Path | None,
    typer.Option(help="Mixture manifest (wirelessdata mix build) to export instead of SHARDS, with its splits."),
]
ValFraction = Annotated[float, typer.Option(help="Share of samples in X_val, by a hash of sample_id.")]
TestFraction = Annotated[float, typer.Option(help="Share of samples in X_test, by a hash of sample_id.")]
Seed = Annotated[int, typer.Option(help="Seed of the split hash.")]
KeepFlagged = Annotated[bool, typer.Option("--keep-flagged", help="Keep samples with curation quality flags.")]
Normalise = Annotated[str, typer.Option(help="standard: (h - mean) / std of the exported data; none: as stored.")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace an earlier export in --out.")]
Variables = Annotated[str | None, typer.Option(help="Comma list of variables (default: every array of the shard).")]
Split = Annotated[str, typer.Option(help="With --manifest: the manifest split to export.")]


def _tensor_plan(shards: list[str] | None, manifest: Path | None, val: float, test: float, seed: int, keep: bool):
    from wirelessdata.interop.sources import plan_from_manifest, plan_from_shards

    if bool(shards) == (manifest is not None):
        raise ConfigError("give SHARDS or --manifest (one of them)")
    if manifest is not None:
        return plan_from_manifest(manifest)
    return plan_from_shards(shards or [], val, test, seed, keep)


def _normalise(value: str) -> bool:
    if value not in ("standard", "none"):
        raise ConfigError(f"--normalise {value!r}: choose standard or none")
    return value == "standard"


def _report(doc: dict[str, Any]) -> None:
    typer.echo(f"wrote {doc['out']}:")
    for name, d in doc["files"].items():
        if d.get("sidecar"):
            continue
        key = f" key {d['key']}" if d.get("key") else ""
        shape = f" {tuple(d['shape'])} {d['dtype']}" if "shape" in d else ""
        typer.echo(f"  {name}{key}{shape} ({d['samples']} samples)")
    norm = doc.get("normalisation")
    if norm and norm["applied"]:
        typer.echo(f"  standardised: mean {norm['mean_real']:.6g}{norm['mean_imag']:+.6g}j, std {norm['std']:.6g}")
    typer.echo(f"  split: {doc['split_rule']}")


@export_app.command("wifo")
def export_wifo(
    out: Out,
    shards: Shards = None,
    manifest: Manifest = None,
    val_fraction: ValFraction = 0.1,
    test_fraction: TestFraction = 0.2,
    seed: Seed = 0,
    keep_flagged: KeepFlagged = False,
    normalise: Normalise = "standard",
    overwrite: Overwrite = False,
) -> None:
    """WiFo: X_train.mat (key X_train), X_val.mat and X_test.mat (key X_val), MATLAB v7.3, complex (N, T, N_ant, K).

    Standardised with the exported data's mean and variance (constants in the README); T, N_ant and K must be
    multiples of 4. Point WiFo at the parent of --out as its dataset/ folder and at --out's name as the dataset.
    """
    from wirelessdata.interop.wifo import export_tensors

    plan = _tensor_plan(shards, manifest, val_fraction, test_fraction, seed, keep_flagged)
    _report(export_tensors(plan, out, "wifo", _normalise(normalise), overwrite=overwrite))


@export_app.command("wifo2")
def export_wifo2(
    out: Out,
    shards: Shards = None,
    manifest: Manifest = None,
    val_fraction: ValFraction = 0.1,
    test_fraction: TestFraction = 0.2,
    seed: Seed = 0,
    keep_flagged: KeepFlagged = False,
    normalise: Normalise = "standard",
    as_dict: Annotated[bool, typer.Option("--dict", help="Save {split: tensor} (e.g. key test) instead.")] = False,
    overwrite: Overwrite = False,
) -> None:
    """WiFo-2: X_train.pt, X_val.pt, X_test.pt (torch.save), float32 [N, 2, T, N_ant, K], real/imag second."""
    from wirelessdata.interop.wifo import export_tensors

    plan = _tensor_plan(shards, manifest, val_fraction, test_fraction, seed, keep_flagged)
    _report(export_tensors(plan, out, "wifo2", _normalise(normalise), as_dict=as_dict, overwrite=overwrite))


def _arrays_command(fmt: str, summary: str) -> Callable[..., None]:
    """The ``export numpy`` / ``export hdf5`` command: same options, another writer."""

    def command(
        out: Out,
        shards: Shards = None,
        manifest: Manifest = None,
        split: Split = "train",
        variables: Variables = None,
        overwrite: Overwrite = False,
    ) -> None:
        from wirelessdata.interop.arrays import export_arrays
        from wirelessdata.interop.sources import plan_from_manifest, plan_whole

        if bool(shards) == (manifest is not None):
            raise ConfigError("give SHARDS or --manifest (one of them)")
        plan = plan_from_manifest(manifest, need_csi=False, only=split) if manifest else plan_whole(shards or [])
        names = [v.strip() for v in variables.split(",") if v.strip()] if variables else None
        _report(export_arrays(plan, out, fmt, names, overwrite))

    command.__doc__ = summary
    return command


export_app.command("numpy")(
    _arrays_command(
        "numpy", "NumPy: NAME/<variable>.npy per shard, values as stored, and NAME.json with the schema attributes."
    )
)
export_app.command("hdf5")(
    _arrays_command(
        "hdf5",
        "HDF5: NAME.h5 per shard (a dataset per variable, values as stored) and NAME.json with the schema attributes.",
    )
)


def card_command(
    root: Annotated[str, typer.Argument(help="Dataset root (the folder holding the shards and catalog.sqlite).")],
    out: Annotated[
        str | None, typer.Option("--out", "-o", help="Folder (or URL) for the card files (default ROOT).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Dataset name (default: the root's folder name).")] = None,
    license_id: Annotated[
        str, typer.Option("--license", help="SPDX licence id of the corpus, e.g. CC-BY-4.0 (default: other).")
    ] = "other",
    url: Annotated[str | None, typer.Option(help="Where the dataset is published (Croissant url).")] = None,
    where: Annotated[
        list[str] | None, typer.Option("--where", "-w", help="Catalog filter, repeatable: band=28GHz, has=lidar.")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a README.md / croissant.json not written by this command.")
    ] = False,
    catalog: Annotated[str | None, typer.Option(help="Catalog file (default: ROOT/catalog.sqlite).")] = None,
) -> None:
    """Write the dataset cards of a corpus from its catalog: croissant.json (Croissant 1.1) and README.md (HF card)."""
    from wirelessdata.interop.card import write_card

    for path in write_card(root, out, name, license_id, url, where or (), overwrite, catalog):
        typer.echo(f"wrote {path}")


def plot_command(
    shard: Annotated[str, typer.Argument(help="Shard (*.zarr) to plot.")],
    sample: Annotated[int, typer.Option(help="Sample index in the shard.")] = 0,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the PNG files.")] = Path("."),
) -> None:
    """PNG figures of one sample: CSI magnitude, power-delay profile, Doppler spectrum, sensing thumbnails."""
    from wirelessdata.interop.plot import plot_sample

    for path in plot_sample(shard, sample, out):
        typer.echo(f"wrote {path}")
