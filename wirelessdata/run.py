"""Execute plans: write every pending block of every drop set, commit and validate its shards.

A block is generated once for all bands of its drops and written to each band's shard that lacks
it, so pairing survives interruption: a rerun of the same command resumes at the unfinished blocks
and never rewrites a finished one. Each block is one task, a pure function of (plan, block index)
that writes its own regions; it runs in this process, or on Dask distributed workers (a local
cluster with ``workers > 1``, or an existing cluster's scheduler address). The driver commits.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wirelessdata.catalog import register_shard
from wirelessdata.errors import WirelessDataError
from wirelessdata.lock import shard_locks
from wirelessdata.plan import DropSetPlan
from wirelessdata.stats import shard_stats
from wirelessdata.store import STATUS_COMPLETE, Shard, create_shard, open_shard
from wirelessdata.validate import ShardReport, validate_shard

if TYPE_CHECKING:
    from distributed import Client

TASK_RETRIES = 2
"""A block task that fails is retried this often (a lost worker's tasks are rescheduled by Dask anyway)."""


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


def write_block_task(plan: DropSetPlan, block: int, bands: tuple[str, ...], threads: int = 0) -> dict[str, int]:
    """Generate ``block`` of ``plan`` and write it into the shards of ``bands``.

    :param threads: torch intra-op threads for this process (0: leave as is).
    :returns: the block checksum written into each band's shard.
    """
    if threads:
        import torch

        torch.set_num_threads(threads)
    data = plan.generate(block)
    return {band: open_shard(plan.shards[band].url).write_block(block, data[band]) for band in bands}


@contextlib.contextmanager
def executor(workers: int = 1, scheduler: str | None = None, timeout: str = "10s") -> Iterator[Client | None]:
    """A Dask client for the run, or None for serial execution in this process.

    :param workers: local worker processes; more than one starts a ``LocalCluster`` on loopback.
    :param scheduler: address of an existing scheduler (``tcp://host:8786``); overrides ``workers``.
    :param timeout: how long to try to reach ``scheduler``.
    """
    if scheduler is None and workers <= 1:
        yield None
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=timeout)
        except OSError as exc:
            raise WirelessDataError(
                f"scheduler {scheduler}: unreachable ({exc}); start it (dask scheduler) or drop --scheduler"
            ) from exc
        with client:
            yield client
        return
    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
    with cluster, Client(cluster) as client:
        yield client


def _threads_per_worker(client: Client) -> int:
    workers = max(1, len(client.scheduler_info(n_workers=-1)["workers"]))
    return max(1, (os.cpu_count() or 1) // workers)


def run_plan(
    plan: DropSetPlan,
    overwrite: bool = False,
    on_block: BlockCallback | None = None,
    client: Client | None = None,
) -> list[ShardResult]:
    """Write, commit and validate the shards of one drop set.

    :param plan: the drop set's plan.
    :param overwrite: replace shards that exist with another recipe (otherwise that is an error).
    :param on_block: called after each block, also for blocks skipped because they were done.
    :param client: a Dask client to run the block tasks on; None runs them here, in order.
    """
    with shard_locks([sp.url for sp in plan.shards.values()]):
        return _run_locked(plan, overwrite, on_block, client)


def _run_locked(
    plan: DropSetPlan, overwrite: bool, on_block: BlockCallback | None, client: Client | None
) -> list[ShardResult]:
    shards: dict[str, Shard] = {
        band: create_shard(sp.url, sp.layout, overwrite=overwrite) for band, sp in plan.shards.items()
    }
    todo = {band: set(shard.pending_blocks()) for band, shard in shards.items()}
    written = dict.fromkeys(shards, 0)
    tasks = {b: tuple(band for band in shards if b in todo[band]) for b in range(plan.num_blocks)}
    for block, bands in tasks.items():
        if not bands and on_block is not None:
            on_block(plan, block)
    pending = {b: bands for b, bands in tasks.items() if bands}
    for block in _execute(plan, pending, client):
        for band in pending[block]:
            written[band] += 1
        if on_block is not None:
            on_block(plan, block)
    results = []
    for band, shard in shards.items():
        done = shard.status == STATUS_COMPLETE
        checksum = shard.group.attrs["checksum"] if done else shard.commit(shard_stats(shard.group))
        if "://" not in plan.root:  # the catalog lives in a local dataset root
            register_shard(plan.root, plan.shards[band].url)
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


def _execute(plan: DropSetPlan, pending: dict[int, tuple[str, ...]], client: Client | None) -> Iterator[int]:
    """Run the block tasks; yield each block index as it finishes."""
    if client is None:
        for block, bands in pending.items():
            write_block_task(plan, block, bands)
            yield block
        return
    from distributed import as_completed

    threads = _threads_per_worker(client)
    futures = {
        client.submit(
            write_block_task,
            plan,
            block,
            bands,
            threads,
            key=f"{plan.drops.name}-{plan.recipe_hash[:12]}-block-{block}",
            retries=TASK_RETRIES,
            pure=False,
        ): block
        for block, bands in pending.items()
    }
    for future in as_completed(futures):
        block = futures[future]
        try:
            future.result()
        except WirelessDataError:
            raise
        except Exception as exc:
            raise WirelessDataError(
                f"{plan.drops.name}: block {block} failed {TASK_RETRIES + 1} times ({type(exc).__name__}: {exc}); "
                "finished blocks are kept, rerun the same command to retry"
            ) from exc
        yield block


def run_plans(
    plans: Sequence[DropSetPlan],
    overwrite: bool = False,
    on_block: BlockCallback | None = None,
    client: Client | None = None,
) -> list[ShardResult]:
    """:func:`run_plan` for each plan, in order."""
    return [r for plan in plans for r in run_plan(plan, overwrite, on_block, client)]
