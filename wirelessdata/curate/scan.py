"""One streaming pass over a shard: block-rule flags, CSI power and duplicate keys of every sample.

What the pass keeps per sample is small (flags, power, a 16-byte hash and a 64-float fingerprint:
about 290 bytes), so a root of many shards fits in memory while no shard is ever loaded whole.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from wirelessdata.curate.blocks import iter_blocks
from wirelessdata.curate.duplicates import (
    FINGERPRINT_DIM,
    SampleKeys,
    content_hashes,
    fingerprints,
    near_threshold,
    payload_variables,
    resolvable_bins,
    spacing_hz,
)
from wirelessdata.curate.flags import block_flags, rule_variables
from wirelessdata.shard.info import ShardInfo, shard_info
from wirelessdata.shard.stats import csi_power_db


@dataclass(frozen=True)
class ShardScan:
    """What one pass measured on a shard.

    :param info: the shard.
    :param stored_flags: uint32 [n] ``quality_flags`` as found.
    :param flags: uint32 [n] bits of the block rules (:data:`~wirelessdata.curate.flags.BLOCK_RULES`).
    :param power_db: float64 [n] 10 log10 of the mean ``|H|^2`` (-inf for zero CSI, NaN without CSI).
    :param keys: duplicate keys.
    """

    info: ShardInfo
    stored_flags: np.ndarray
    flags: np.ndarray
    power_db: np.ndarray
    keys: SampleKeys


def block_keys(block: dict[str, np.ndarray], info: ShardInfo, hashing: Future | None = None) -> SampleKeys:
    """Duplicate keys of one block's samples (``block`` holds ``sample_id`` and the payload variables).

    :param hashing: the block's :func:`content_hashes` already running in a thread (hashing and the
        fingerprints' FFTs both release the GIL, so they overlap); None: hash here.
    """
    n = len(block["sample_id"])
    fps = fingerprints(block["csi"]) if "csi" in block else np.full((n, 2, FINGERPRINT_DIM), np.nan, np.float32)
    hashes = hashing.result() if hashing else content_hashes(block, payload_variables(info.variables))
    band = str(info.attrs.get("band"))
    return SampleKeys(hashes, fps, block["sample_id"], band, info.csi_shape, shard_threshold(info))


def shard_threshold(info: ShardInfo) -> float:
    """Near-duplicate distance of the shard's configuration (:func:`~wirelessdata.curate.duplicates.near_threshold`)."""
    return near_threshold(resolvable_bins(info.csi_shape, spacing_hz(info.coords.get("subcarrier"))))


def shard_keys(url: str) -> SampleKeys:
    """Duplicate keys of every sample of the shard at ``url`` (reads only ``sample_id`` and the payload)."""
    info = shard_info(url)
    blocks = iter_blocks(info, ["sample_id", *payload_variables(info.variables)])
    return SampleKeys.concat([block_keys(block, info) for _start, block in blocks])


def scan_shard(url: str) -> ShardScan:
    """Read the shard at ``url`` block by block and measure every sample."""
    info = shard_info(url)
    payload = payload_variables(info.variables)
    stored, flags, power, keys = [], [], [], []
    with ThreadPoolExecutor(max_workers=1) as pool:
        for _start, block in iter_blocks(info, [*rule_variables(), *payload]):
            hashing = pool.submit(content_hashes, block, payload)
            stored.append(block["quality_flags"])
            flags.append(block_flags(block, info))
            power.append(csi_power_db(block["csi"]) if "csi" in block else np.full(len(block["sample_id"]), np.nan))
            keys.append(block_keys(block, info, hashing))
    return ShardScan(
        info, np.concatenate(stored), np.concatenate(flags), np.concatenate(power), SampleKeys.concat(keys)
    )
