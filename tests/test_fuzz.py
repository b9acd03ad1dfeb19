"""The seeded subset of the mutation harness (tests/fuzzing.py): 20 damaged copies of every kind of input (4 of the
Dask resume, one per mutation, as each starts a cluster), each
read by its command; none may end in an internal error, a traceback, "Aborted.", a hang, changed finished data or
a write outside its folder. benchmarks/fuzz.py runs the full set (docs/reliability.md)."""

from __future__ import annotations

import pytest
from fuzzing import FAILURES, fixtures, make_pristine, mutations_for, run_case

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]
PER_KIND = 20
SUBSET = {"dask-resume": 4}
"""Costly kinds (a Dask cluster per case): fewer cases here, one per mutation."""


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    return make_pristine(tmp_path_factory.mktemp("fuzz") / "pristine")


INPUTS = ("root", "pair", "spec", "manifest", "recipe", "run", "deepmimo", "deepsense")
KINDS = [f.kind for f in fixtures(dict.fromkeys(INPUTS))]


@pytest.mark.parametrize("kind", KINDS)
def test_every_damaged_input_ends_in_a_clear_outcome(pristine, kind, tmp_path):
    fixture = next(f for f in fixtures(pristine) if f.kind == kind)
    muts = mutations_for(kind)
    count = SUBSET.get(kind, PER_KIND)
    cases = [run_case(fixture, muts[seed % len(muts)], seed, tmp_path / "cases") for seed in range(count)]
    bad = [f"{c.mutation}/{c.seed}: {c.outcome}: {c.message}" for c in cases if c.outcome in FAILURES]
    assert not bad, bad
    assert {c.exit_code for c in cases} <= {0, 1, 2}
    # importers report defects and go on (exit 0); catalog rebuild lists a damaged shard as invalid and goes on
    if kind not in ("deepmimo-npz", "group-rebuild") and not kind.startswith("deepsense-"):
        assert any(c.outcome == "error" for c in cases)  # the damage is seen, not only survived
