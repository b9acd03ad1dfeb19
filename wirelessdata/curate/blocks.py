"""Stream a shard block by block: the one reader of every curation pass (flags, duplicates, leaks, distances).

A shard is never loaded whole: one block of the requested per-sample variables is in memory at a
time, and the next block is read in a background thread while the caller works on the current one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from wirelessdata.shard.read import ShardReader
from wirelessdata.shard.schema import load_schema
from wirelessdata.shard.store import open_group


@dataclass(frozen=True)
class ShardInfo:
    """What the passes need to know of a shard besides its per-sample arrays.

    :param url: the shard path.
    :param attrs: its group attributes.
    :param variables: names of its per-sample (``sample``-dim) variables.
    :param coords: its arrays without a ``sample`` dim that the passes use (``time`` [T] s,
        ``subcarrier`` [K] Hz), when present.
    :param csi_shape: ``(T, K, N_bs, N_ue)`` of one sample's CSI, None without CSI.
    """

    url: str
    attrs: dict[str, Any]
    variables: tuple[str, ...]
    coords: dict[str, np.ndarray]
    csi_shape: tuple[int, ...] | None

    @property
    def num_samples(self) -> int:
        """Samples in the shard."""
        return int(self.attrs["num_samples"])

    @property
    def block_size(self) -> int:
        """Samples per block."""
        return int(self.attrs["block_size"])


def shard_info(url: str) -> ShardInfo:
    """Attributes, per-sample variables and coordinates of the shard at ``url`` (no sample data read)."""
    group = open_group(url)
    schema = load_schema()
    arrays = dict(group.arrays())
    per_sample = tuple(
        n for n, a in arrays.items() if n in schema.variables and a.metadata.dimension_names[0] == "sample"
    )
    coords = {n: np.asarray(arrays[n][:]) for n in ("time", "subcarrier") if n in arrays}
    csi = arrays.get("csi")
    return ShardInfo(url, group.attrs.asdict(), per_sample, coords, tuple(csi.shape[1:]) if csi is not None else None)


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
