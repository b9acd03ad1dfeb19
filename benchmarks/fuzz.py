"""The full run of the mutation harness (docs/reliability.md): N damaged copies of every kind of input the toolkit
reads, each read by its command, and the table of outcomes: by exit code, internal errors, hangs, changed bytes of
finished data and writes outside the case folder (goal: 0 of each of the last four).

    python benchmarks/fuzz.py [--per-kind 200] [--work /tmp/wirelessdata-fuzz] [--json report.json]

The harness and the kinds are tests/fuzzing.py (the test suite runs 20 per kind). About 15 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from fuzzing import FAILURES, make_pristine, run_all, summarise  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--per-kind", type=int, default=200)
    p.add_argument("--work", type=Path, default=Path("/tmp/wirelessdata-fuzz"))
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--kinds", default=None, help="comma list of kinds to run (default: all)")
    a = p.parse_args()
    import torch

    torch.set_num_threads(1)
    shutil.rmtree(a.work, ignore_errors=True)
    began = time.perf_counter()
    pristine = make_pristine(a.work / "pristine")
    cases = run_all(pristine, a.work / "cases", a.per_kind, tuple(a.kinds.split(",")) if a.kinds else None)
    seconds = time.perf_counter() - began
    table = summarise(cases)
    print("| kind | cases | exit 0 | exit 1 | exit 2 | internal | hangs | changed bytes | outside writes |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind, row in table.items():
        out, codes = row["outcomes"], row["exit_codes"]
        print(
            f"| {kind} | {row['cases']} | {codes.get(0, 0)} | {codes.get(1, 0)} | {codes.get(2, 0)} | "
            f"{out.get('internal', 0) + out.get('aborted', 0)} | {out.get('hang', 0)} | {out.get('changed', 0)} | "
            f"{out.get('escaped', 0)} |"
        )
    failures = [c for c in cases if c.outcome in FAILURES]
    print(f"\n{len(cases)} cases in {seconds:.0f} s; failures: {len(failures)}")
    for c in failures:
        print(f"  {c.kind} {c.mutation} seed {c.seed}: {c.outcome}: {c.message}")
    if a.json:
        a.json.write_text(json.dumps({"summary": table, "seconds": seconds, "cases": [vars(c) for c in cases]}))
    shutil.rmtree(a.work / "cases", ignore_errors=True)


if __name__ == "__main__":
    main()
