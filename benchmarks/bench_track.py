"""The figures of the data-centric benchmark (docs/benchmark.md) from one bench run: the harness overhead as a
share of the bench's wall time (goal < 5 %), and for the diversity track whether the mean score falls
monotonically from 1 to 16 configurations and whether the seed ranges at 1 and at 16 overlap.

    python benchmarks/bench_track.py catalog/bench/diversity.toml --root bench-root --budget 24000 --seeds 3 \
        --out bench/diversity

Runs (or resumes) the bench through the CLI's code path, then reads its leaderboard and timing. The overhead is
measured on the runs this invocation trained: point --out at a fresh directory for the figure.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from wirelessdata.bench.board import leaderboard, write_leaderboard
from wirelessdata.bench.runner import run_bench
from wirelessdata.bench.tracks import load_bench


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("track", type=Path)
    p.add_argument("--root", required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--budget", type=int, default=24000)
    p.add_argument("--seeds", type=int, default=3)
    a = p.parse_args()
    spec = load_bench([a.track])
    raw = run_bench(spec, a.root, a.out, budget=a.budget, seeds=a.seeds)
    board = leaderboard(spec, raw["planned"], raw["results"], raw["baselines"], a.budget)
    write_leaderboard(board, a.out, raw["seconds"])
    timing = json.loads((a.out / "timing.json").read_text())
    print(
        f"harness / bench wall time: {timing['harness_fraction']:.3f} (goal < 0.05; {timing['harness']:.1f} s of "
        f"{timing['total']:.1f} s; training {timing['train']:.1f} s, evaluation {timing['evaluate']:.1f} s)"
    )
    rows = {r["mixture"].split("/")[-1]: r["score"] for r in board["rows"]}
    if spec.tracks == ("diversity",):
        order = ["c01", "c02", "c04", "c08", "c16"]
        means = [rows[k]["mean"] for k in order]
        monotone = all(b <= a for a, b in zip(means, means[1:], strict=False))
        apart = rows["c16"]["max"] < rows["c01"]["min"]
        print("diversity means (dB), 1 -> 16 configurations: " + ", ".join(f"{m:.3f}" for m in means))
        print(f"monotone: {monotone}; c16's range below c01's (no overlap): {apart}")


if __name__ == "__main__":
    main()
