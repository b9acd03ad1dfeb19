"""Wall time per stage of the ray-traced generator (scene, placement, ray tracing, csi, rgb, depth, lidar, radar,
radio map).

:data:`stage_seconds` accumulates over the process; benchmarks read and clear it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

stage_seconds: dict[str, float] = {}
"""Wall time spent per stage of :func:`~wirelessdata.generators.raytrace.generate_block` in this process (read and
cleared by benchmarks)."""


@contextlib.contextmanager
def timed(stage: str) -> Iterator[None]:
    """Add the wall time of the ``with`` body to ``stage_seconds[stage]`` [s], also when it raises."""
    start = time.perf_counter()
    try:
        yield
    finally:
        stage_seconds[stage] = stage_seconds.get(stage, 0.0) + time.perf_counter() - start
