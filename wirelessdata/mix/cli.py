"""``wirelessdata mix``: build a manifest from a spec, show it, check it against the stores."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from wirelessdata.mix.manifest import Manifest, load_manifest

mix_app = typer.Typer(help="Pretraining mixtures: spec -> frozen manifest -> PyTorch stream.", no_args_is_help=True)


def _console() -> Console:
    import sys

    return Console(width=None if sys.stdout.isatty() else 160)


def report(manifest: Manifest) -> Table:
    """Requested vs realised proportions and the distributions of every split's sources."""
    table = Table(title="mixture")
    for col in (
        "split",
        "source",
        "shards",
        "usable",
        "per epoch",
        "requested",
        "realised",
        "bands",
        "scenarios",
        "LoS share",
        "delay spread p50 (ns)",
    ):
        table.add_column(col)
    for split, sources in manifest.splits.items():
        for src in sources:
            shards = [manifest.shards[s.shard] for s in src.selections]
            weights = np.array([s.indices.size for s in src.selections], dtype=float)

            def mean(field: str, shards=shards, weights=weights) -> str:
                vals = np.array([np.nan if s.attrs.get(field) is None else s.attrs[field] for s in shards], float)
                ok = np.isfinite(vals) & (weights > 0)
                return f"{np.average(vals[ok], weights=weights[ok]):.3g}" if ok.any() else "-"

            req, real = src.info.get("requested_fraction"), src.info.get("realised_fraction")
            ds = mean("delay_spread_p50")
            table.add_row(
                split,
                src.name,
                str(len(shards)),
                str(src.available),
                str(src.per_epoch),
                "-" if req is None else f"{req:.1%}",
                "-" if real is None else f"{real:.1%}",
                ",".join(sorted({str(s.attrs.get("band")) for s in shards})),
                ",".join(sorted({str(s.attrs.get("scenario")) for s in shards})),
                mean("los_mean"),
                ds if ds == "-" else f"{float(ds) * 1e9:.0f}",
            )
    return table


@mix_app.command()
def build(
    spec: Annotated[Path, typer.Argument(help="Mixture spec TOML (see catalog/).")],
    root: Annotated[str, typer.Option(help="Dataset root with its catalog.")] = "wirelessdata-out",
    out: Annotated[Path, typer.Option(help="Manifest JSON to write.")] = Path("manifest.json"),
) -> None:
    """Resolve a spec against the catalog into a manifest pinned by shard checksums."""
    from wirelessdata.mix.spec import build_manifest, load_spec

    manifest = build_manifest(load_spec(spec), root)
    manifest.save(out)
    console = _console()
    console.print(report(manifest))
    console.print(f"manifest: {out} ({len(manifest.shards)} shards)")


@mix_app.command()
def show(manifest: Annotated[Path, typer.Argument(help="Manifest JSON.")]) -> None:
    """Print a manifest's sources, proportions and distributions."""
    _console().print(report(load_manifest(manifest)))


@mix_app.command()
def check(manifest: Annotated[Path, typer.Argument(help="Manifest JSON.")]) -> None:
    """Check that every shard of a manifest is in place and unchanged, and that nothing leaks from training."""
    from wirelessdata.mix.spec import refuse_leaks

    m = load_manifest(manifest)
    m.verify()
    refuse_leaks(m)
    typer.echo(f"ok: {len(m.shards)} shards unchanged, no training sample duplicates a validation or held-out one")
