"""Stream a shard block by block: the one reader of every curation pass (flags, duplicates, leaks, distances).

A shard is never loaded whole: one block of the requested per-sample variables is in memory at a
time, and the next block is read in a background thread while the caller works on the current one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from wirelessdata.shard.info import ShardInfo, shard_info
from wirelessdata.shard.read import ShardReader

__all__ = ["ShardInfo", "iter_blocks", "shard_info"]  # ShardInfo, shard_info: the shard room's, for the passes


def iter_blocks(
    info: ShardInfo, variables: Sequence[str], blocks: Sequence[int] | None = None
) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """Yield ``(start, arrays)`` for each block: the variables of samples ``[start, start + n)``.

    :param info: the shard (:func:`shard_info`).
    :param variables: per-sample variables to read; those the shard lacks are left out of ``arrays``.
    :param blocks: block indices to read, in order (default: all).
    """
    names = [v for v in dict.fromkeys(variables) if v in info.variables]
    if not names:
        return
    reader = ShardReader(info.url, names)
    n, size = info.num_samples, info.block_size
    ranges = [(b * size, min((b + 1) * size, n)) for b in (range(-(-n // size)) if blocks is None else blocks)]
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(reader.read_range, *ranges[0]) if ranges else None
        for i, (start, _stop) in enumerate(ranges):
            data = pending.result()
            if i + 1 < len(ranges):
                pending = pool.submit(reader.read_range, *ranges[i + 1])
            yield start, data
