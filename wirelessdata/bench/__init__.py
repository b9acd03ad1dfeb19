"""Data-centric benchmark: which mixture trains the better reference model, at a fixed recipe and compute.

Only the data vary: every mixture is trained with the frozen recipe (``recipe.toml``) for the same number of
samples, per seed, and scored on the same held-out samples; the leaderboard gives mean and spread over seeds.
Tracks (families of mixtures) live in ``catalog/bench/``. See docs/benchmark.md.
"""

from wirelessdata.lazy import lazy_getattr

_API = {
    "BenchSpec": "tracks",
    "Entry": "tracks",
    "load_bench": "tracks",
    "frozen_recipe": "runner",
    "plan": "runner",
    "run_bench": "runner",
    "leaderboard": "board",
    "write_leaderboard": "board",
}
__getattr__ = lazy_getattr(__name__, _API)
__all__ = sorted(_API)
