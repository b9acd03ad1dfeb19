"""Execute plans: write every pending block of every drop set, commit and validate its shards.

A block is generated once for all bands of its drops and written to each band's shard that lacks
it, so pairing survives interruption: a rerun of the same command resumes at the unfinished blocks
and never rewrites a finished one. Each block is one task, a pure function of (plan, block index)
that writes its own regions; it runs in this process, or on Dask distributed workers (a local
cluster with ``workers > 1``, or an existing cluster's scheduler address). The driver commits.

Failures: a task that raises is retried (:data:`TASK_RETRIES`); a task whose worker dies is
rescheduled on another worker (on a local cluster the nanny restarts the dead worker, and a block
whose workers die ``TASK_RETRIES + 1`` times is given up). A block that fails on every attempt does
not stop the others: the run finishes every block it can, then raises
:class:`~wirelessdata.source.writer.BlockError` naming the block, its shards and its error. A
:class:`~wirelessdata.errors.WirelessDataError` from a task (disk full, permission denied: the same for every
block) stops the run at once. Either way the finished
blocks stay valid and a rerun of the same command resumes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from wirelessdata.errors import WirelessDataError
from wirelessdata.generate.plan import DropSetPlan
from wirelessdata.shard.store import open_shard
from wirelessdata.source.writer import Pending, ShardResult, Target, write_shards

if TYPE_CHECKING:
    from distributed import Client

TASK_RETRIES = 2
"""A block task that raises is retried this often; on a local cluster a block may also lose its worker this often
(``distributed.scheduler.allowed-failures``; an external scheduler uses its own setting, 3 by default)."""


BlockCallback = Callable[[DropSetPlan, int], None]


def write_block_task(
    plan: DropSetPlan, block: int, bands: tuple[str, ...], slots: Mapping[str, int] | None = None
) -> dict[str, int]:
    """Generate ``block`` of ``plan`` and write it into the shards of ``bands``.

    :param slots: on Dask, the task slots (worker threads) of each host; torch then uses
        ``cores // slots`` threads here, so that tasks x threads matches the cores of the host. None: leave as is.
    :returns: the block checksum written into each band's shard.
    """
    if slots:
        import torch
        from distributed import get_worker
        from distributed.comm import get_address_host

        host = get_address_host(get_worker().address)
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // slots.get(host, 1)))
    return write_block(plan, block, bands, plan.generate(block))


def write_block(
    plan: DropSetPlan, block: int, bands: tuple[str, ...], data: Mapping[str, Mapping[str, Any]]
) -> dict[str, int]:
    """Write the generated ``data`` of ``block`` (``{band: arrays}``) into the shards of ``bands``.

    :returns: the block checksum written into each band's shard.
    """
    return {band: open_shard(plan.shards[band].url).write_block(block, data[band]) for band in bands}


@contextlib.contextmanager
def executor(workers: int = 1, scheduler: str | None = None, timeout: str = "10s") -> Iterator[Client | None]:
    """A Dask client for the run, or None for serial execution in this process.

    :param workers: local worker processes; more than one starts a :func:`local_client`.
    :param scheduler: address of an existing scheduler (``tcp://host:8786``); overrides ``workers``. Its workers
        must have this process's versions of :data:`BYTES_PACKAGES` (checked here, one-line error otherwise).
    :param timeout: how long to try to reach ``scheduler``.
    """
    if scheduler is None and workers <= 1:
        yield None
        return
    from distributed import Client

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=timeout)
        except OSError as exc:
            raise WirelessDataError(
                f"scheduler {scheduler}: unreachable ({exc}); start it (dask scheduler) or drop --scheduler"
            ) from exc
        with client:
            check_worker_versions(client)
            yield client
        return
    with local_client(workers) as client:
        yield client


@contextlib.contextmanager
def local_client(workers: int) -> Iterator[Client]:
    """A client of a ``LocalCluster`` of ``workers`` processes on loopback, one task thread each.

    BLAS/OpenMP threads are ``cores // workers`` per worker, and a block is given up after ``TASK_RETRIES + 1``
    worker deaths. ``executor`` uses it for more than one worker; one worker runs serially there.
    """
    import dask
    from distributed import Client, LocalCluster

    threads = str(max(1, (os.cpu_count() or 1) // workers))
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
    # Dask's default MALLOC_TRIM_THRESHOLD_ switches off glibc's adaptive mmap threshold: every large tensor of a
    # block is then mmap'ed and zero-filled afresh, which made worker blocks 1.2x slower and memory-bound
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    config = {
        "distributed.scheduler.allowed-failures": TASK_RETRIES,
        # read by the nannies when they (re)start their worker process: BLAS and torch threads per worker
        "distributed.nanny.pre-spawn-environ": {
            **environ,
            **dict.fromkeys(("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"), threads),
        },
    }
    with dask.config.set(config):
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        )
    with cluster, Client(cluster) as client:
        yield client


BYTES_PACKAGES = ("wirelessdata", "numpy", "zarr", "torch", "sionna")
"""Packages whose version shapes the bytes of a block: every worker must have the driver's version."""


def check_worker_versions(client: Client) -> None:
    """Refuse, in one line, a cluster whose workers have other versions of :data:`BYTES_PACKAGES` than this process.

    Packages not installed here are not checked. A worker that lacks one counts as a mismatch.
    """
    from importlib.metadata import PackageNotFoundError, version

    for name in BYTES_PACKAGES:
        try:
            here = version(name)
        except PackageNotFoundError:
            continue
        for worker, there in sorted(client.run(version, name, on_error="return").items()):
            if there != here:
                got = there if isinstance(there, str) else "not installed"
                raise WirelessDataError(
                    f"worker {worker}: {name} {got}, {here} here; install the same package versions on every "
                    "worker (same bytes need the same code), or drop --scheduler"
                )


def _task_slots(client: Client) -> dict[str, int]:
    """Worker threads of the cluster per host: how many block tasks a host runs at once."""
    slots: dict[str, int] = {}
    for info in client.scheduler_info(n_workers=-1)["workers"].values():
        slots[info["host"]] = slots.get(info["host"], 0) + int(info["nthreads"])
    return slots


def run_plan(
    plan: DropSetPlan,
    overwrite: bool = False,
    on_block: BlockCallback | None = None,
    client: Client | None = None,
) -> list[ShardResult]:
    """Write, commit and validate the shards of one drop set, through the one writer
    (:func:`~wirelessdata.source.writer.write_shards`).

    :param plan: the drop set's plan.
    :param overwrite: replace shards that exist with another recipe (otherwise that is an error).
    :param on_block: called after each block, also for blocks skipped because they were done.
    :param client: a Dask client to run the block tasks on; None runs them here, in order.
    """
    return write_shards(
        plan.root,
        {band: Target(sp.url, sp.layout) for band, sp in plan.shards.items()},
        lambda pending: _execute(plan, pending, client),
        overwrite=overwrite,
        on_block=None if on_block is None else lambda block: on_block(plan, block),
        mapper=lambda fn, urls: _map(client, fn, urls),
        attempts=1 if client is None else TASK_RETRIES + 1,
    )


def _map(client: Client | None, fn: Callable, args: Sequence) -> list:
    """``[fn(a) for a in args]``, as Dask tasks when there is a client."""
    if client is None or len(args) < 2:
        return [fn(a) for a in args]
    return client.gather(client.map(fn, args, pure=False))


def _execute(plan: DropSetPlan, pending: Pending, client: Client | None) -> Iterator[tuple[int, BaseException | None]]:
    """Run the block tasks; yield ``(block, None)`` as each finishes, ``(block, error)`` when one failed for good.

    A :class:`~wirelessdata.errors.WirelessDataError` (disk full, permission denied) is raised at once; on
    Dask the tasks not started yet are cancelled (running ones finish or fail on their own).
    """
    if client is None:
        yield from _execute_here(plan, pending)
        return
    from distributed import as_completed

    slots = _task_slots(client)
    futures = {
        client.submit(
            write_block_task,
            plan,
            block,
            bands,
            slots,
            key=f"{plan.drops.name}-{plan.recipe_hash[:12]}-block-{block}",
            retries=TASK_RETRIES,
            pure=False,
        ): block
        for block, bands in pending.items()
    }
    try:
        for future in as_completed(futures):
            try:
                future.result()
            except WirelessDataError:
                raise
            except Exception as exc:  # failed on every attempt (or cancelled by a restarted scheduler)
                yield futures[future], exc
            else:
                yield futures[future], None
    finally:
        client.cancel(list(futures))  # releases them; stops the ones not started when the run stopped early


def _execute_here(plan: DropSetPlan, pending: Pending) -> Iterator[tuple[int, BaseException | None]]:
    """The blocks in order in this process, each written in a background thread while the next one is generated
    (Sionna and torch release the GIL, and so do zarr's codecs and the file writes)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        writing: tuple[int, Future] | None = None
        for block, bands in pending.items():
            try:
                data = plan.generate(block)
            except WirelessDataError:
                raise
            except Exception as exc:  # the block's own failure; the other blocks go on
                yield block, exc
                continue
            if writing is not None:
                yield _written(*writing)
            writing = (block, pool.submit(write_block, plan, block, bands, data))
        if writing is not None:
            yield _written(*writing)


def _written(block: int, future: Future) -> tuple[int, BaseException | None]:
    """``(block, None)`` once its write is done, ``(block, error)`` when it failed; a WirelessDataError is raised."""
    try:
        future.result()
    except WirelessDataError:
        raise
    except Exception as exc:  # the block's own failure; the other blocks go on
        return block, exc
    return block, None


def run_plans(
    plans: Sequence[DropSetPlan],
    overwrite: bool = False,
    on_block: BlockCallback | None = None,
    client: Client | None = None,
) -> list[ShardResult]:
    """:func:`run_plan` for each plan; results in plan order.

    Without a client the plans run in turn (this process generates one block at a time: Sionna's generator is
    process-wide). On a Dask client several run at once, one driver thread each, as many as the cluster has task
    slots plus one: a drawn corpus is many small configurations of a block or two, and one at a time would leave
    every worker but one idle while the driver finishes a shard. A failing plan stops the plans not started yet;
    the ones started finish (their shards stay valid) and the first error in plan order is raised; an interrupt
    (Ctrl-C) does not wait for them. A rerun resumes.
    """
    if client is None or len(plans) < 2:
        return [r for plan in plans for r in run_plan(plan, overwrite, on_block, client)]
    for plan in plans:  # their models built here, in order, rather than by the plan threads at once
        _ = plan.shards
    pool = ThreadPoolExecutor(max_workers=sum(_task_slots(client).values()) + 1, thread_name_prefix="wirelessdata-plan")
    futures = [pool.submit(run_plan, plan, overwrite, on_block, client) for plan in plans]
    try:
        wait(futures, return_when=FIRST_EXCEPTION)
    except KeyboardInterrupt:  # stop now: the running plans end when the caller closes the client
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(cancel_futures=True)  # after an error: the plans not started are dropped, the running ones finish
    return [r for future in futures for r in future.result()]  # the first error in plan order is raised
