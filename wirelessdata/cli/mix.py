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


def balance_report(manifest: Manifest) -> Table | None:
    """Per bin of every balanced training source: natural, requested (target) and realised shares; None if none."""
    table = Table(title="balance (training split, shares of each source's samples per epoch)")
    for col in ("source", "statistic", "bin", "natural", "requested", "realised", "per epoch"):
        table.add_column(col)
    rows = 0
    for src in manifest.splits.get("train", ()):
        bal = src.info.get("balance")
        if not bal:
            continue
        natural = np.asarray(bal["natural"], dtype=float)
        total = max(natural.sum() + bal["outside"], 1)
        share = natural / total
        edges = bal["edges"]
        for b, (t, r, q) in enumerate(zip(bal["target"], bal["realised"], bal["quota"], strict=True)):
            close = "]" if b == len(bal["target"]) - 1 else ")"
            table.add_row(
                src.name,
                f"{bal['statistic']} ({bal['label']})",
                f"[{edges[b]:.3g}, {edges[b + 1]:.3g}{close}",
                f"{share[b]:.1%}",
                f"{t:.1%}",
                f"{r:.1%}",
                str(q),
            )
            rows += 1
        if bal["outside"]:
            table.add_row(
                src.name, bal["statistic"], "outside the edges", f"{bal['outside'] / total:.1%}", "-", "0.0%", "0"
            )
    return table if rows else None


def _print(manifest: Manifest) -> None:
    console = _console()
    console.print(report(manifest))
    balanced = balance_report(manifest)
    if balanced is not None:
        console.print(balanced)


@mix_app.command()
def build(
    spec: Annotated[Path, typer.Argument(help="Mixture spec TOML (see catalog/).")],
    root: Annotated[str, typer.Option(help="Dataset root with its catalog.")] = "wirelessdata-out",
    out: Annotated[str, typer.Option(help="Manifest JSON to write (a path or a URL).")] = "manifest.json",
) -> None:
    """Resolve a spec against the catalog into a manifest pinned by shard checksums; refuse one that leaks."""
    from wirelessdata.curate.leakage import refuse_leaks
    from wirelessdata.mix.spec import build_manifest, load_spec

    manifest = build_manifest(load_spec(spec), root)
    refuse_leaks(manifest)
    manifest.save(out)
    _print(manifest)
    _console().print(f"manifest: {out} ({len(manifest.shards)} shards)")


@mix_app.command()
def show(manifest: Annotated[str, typer.Argument(help="Manifest JSON (a path or a URL).")]) -> None:
    """Print a manifest's sources, proportions and distributions (and balanced histograms)."""
    _print(load_manifest(manifest))


@mix_app.command()
def plot(
    manifest: Annotated[str, typer.Argument(help="Manifest JSON with a balanced source (a path or a URL).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Image file (.png, .pdf, .svg).")] = Path(
        "balance.png"
    ),
) -> None:
    """Plot natural, requested and realised histograms of the balanced training sources."""
    from wirelessdata.mix.figure import plot_balance

    typer.echo(f"wrote {plot_balance(load_manifest(manifest), output)}")


@mix_app.command()
def check(manifest: Annotated[str, typer.Argument(help="Manifest JSON (a path or a URL).")]) -> None:
    """Check that every shard of a manifest is in place and unchanged, and that nothing leaks from training."""
    from wirelessdata.curate.leakage import refuse_leaks

    m = load_manifest(manifest)
    m.verify()
    refuse_leaks(m)
    typer.echo(f"ok: {len(m.shards)} shards unchanged, no training sample duplicates a validation or held-out one")
