"""Execute plans: write every pending block of every drop set, commit and validate its shards.

A block is generated once for all bands of its drops and written to each band's shard that lacks
it, so pairing survives interruption: a rerun of the same command resumes at the unfinished blocks
and never rewrites a finished one. Execution is serial in this process (Dask scale-out builds on
the same block tasks).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from wirelessdata.plan import DropSetPlan
from wirelessdata.stats import shard_stats
from wirelessdata.store import STATUS_COMPLETE, Shard, create_shard
from wirelessdata.validate import ShardReport, validate_shard


@dataclass(frozen=True)
class ShardResult:
    """What a run did to one shard."""

    url: str
    band: str
    num_samples: int
    blocks_written: int
    blocks_skipped: int
    checksum: str
    report: ShardReport


BlockCallback = Callable[[DropSetPlan, int], None]


def run_plan(plan: DropSetPlan, overwrite: bool = False, on_block: BlockCallback | None = None) -> list[ShardResult]:
    """Write, commit and validate the shards of one drop set.

    :param plan: the drop set's plan.
    :param overwrite: replace shards that exist with another recipe (otherwise that is an error).
    :param on_block: called after each block, also for blocks skipped because they were done.
    """
    shards: dict[str, Shard] = {
        band: create_shard(sp.url, sp.layout, overwrite=overwrite) for band, sp in plan.shards.items()
    }
    todo = {band: set(shard.pending_blocks()) for band, shard in shards.items()}
    written = dict.fromkeys(shards, 0)
    for block in range(plan.num_blocks):
        bands = [band for band in shards if block in todo[band]]
        if bands:
            data = plan.generate(block)
            for band in bands:
                shards[band].write_block(block, data[band])
                written[band] += 1
        if on_block is not None:
            on_block(plan, block)
    results = []
    for band, shard in shards.items():
        checksum = (
            shard.commit(shard_stats(shard.group)) if shard.status != STATUS_COMPLETE else shard.group.attrs["checksum"]
        )
        results.append(
            ShardResult(
                url=plan.shards[band].url,
                band=band,
                num_samples=shard.num_samples,
                blocks_written=written[band],
                blocks_skipped=plan.num_blocks - written[band],
                checksum=str(checksum),
                report=validate_shard(plan.shards[band].url),
            )
        )
    return results


def run_plans(
    plans: Sequence[DropSetPlan], overwrite: bool = False, on_block: BlockCallback | None = None
) -> list[ShardResult]:
    """:func:`run_plan` for each plan, in order."""
    return [r for plan in plans for r in run_plan(plan, overwrite, on_block)]
