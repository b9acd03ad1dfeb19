"""The processes of a training run launched by ``torchrun``: the process group's set-up and teardown, the rank of
this process, and the few collectives the training loop needs.

``torchrun`` (``python -m torch.distributed.run``) sets ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK`` and
``MASTER_ADDR``/``MASTER_PORT`` in every process it starts; with ``WORLD_SIZE`` > 1, :func:`process_group` joins the
process group: backend ``nccl`` on ``cuda:LOCAL_RANK`` when CUDA is present, ``gloo`` on the CPU otherwise. Without
them (or with ``WORLD_SIZE=1``) a run is one process and nothing here talks to anything.

A collective waits at most ``WIRELESSDATA_DDP_TIMEOUT`` seconds (default :data:`DEFAULT_TIMEOUT_S`) for the other
ranks: a rank that hangs makes the others fail with :func:`lost_contact`'s one-line error instead of waiting for
ever (a rank that dies makes torchrun stop the others at once, naming it as the root cause). Every rank records the
step it works on in the launch's key-value store (:func:`heartbeat`), so that the error of a rank that waited in
vain names the ranks that stayed behind.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist

from wirelessdata.errors import ConfigError, WirelessDataError

#: Environment variable: seconds a collective waits for the other ranks before failing.
TIMEOUT_ENV = "WIRELESSDATA_DDP_TIMEOUT"
#: Default of :data:`TIMEOUT_ENV`, seconds (long enough for a held-out check or a checkpoint on rank 0).
DEFAULT_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class Ranks:
    """This process's place in the run: ``rank`` of ``world_size`` processes, ``local_rank`` on its node, and the
    device it trains on (``cuda:LOCAL_RANK`` or the CPU)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device | None = None
    store: Any = field(default=None, compare=False, repr=False)  # the launch's key-value store (distributed)

    @property
    def distributed(self) -> bool:
        """More than one process: gradients, losses and decisions are shared through the process group."""
        return self.world_size > 1

    @property
    def main(self) -> bool:
        """Rank 0: the process that writes checkpoints, model cards and progress, and runs the held-out checks."""
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError:
        raise ConfigError(f"environment variable {name}={value!r} is not an integer; torchrun sets it") from None


def timeout() -> datetime.timedelta:
    """How long a collective waits for the other ranks: ``WIRELESSDATA_DDP_TIMEOUT`` seconds (default 1800)."""
    value = os.environ.get(TIMEOUT_ENV, "")
    try:
        seconds = float(value) if value else DEFAULT_TIMEOUT_S
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ConfigError(
            f"{TIMEOUT_ENV}={value!r} must be a positive number of seconds (default {DEFAULT_TIMEOUT_S:g})"
        )
    return datetime.timedelta(seconds=seconds)


def launched() -> Ranks:
    """The ranks ``torchrun`` gave this process (one process of rank 0 without torchrun), device not chosen."""
    world = _env_int("WORLD_SIZE", 1)
    rank, local = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    if world < 1 or not 0 <= rank < world:
        raise ConfigError(
            f"RANK {rank} and WORLD_SIZE {world} do not fit (0 <= RANK < WORLD_SIZE); launch with torchrun"
        )
    return Ranks(rank, world, local)


@contextmanager
def process_group(device: str | torch.device | None = None) -> Iterator[Ranks]:
    """This process's :class:`Ranks`, inside the process group of a ``torchrun`` launch (joined here and left at
    the end, unless the caller had joined it already); one process without torchrun.

    :param device: the device to train on; default ``cuda:LOCAL_RANK`` under torchrun when CUDA is present (made
        the current CUDA device), else the CPU; without torchrun, None (the caller's default).
    """
    ranks = launched()
    if not ranks.distributed:
        yield Ranks(device=torch.device(device) if device else None)
        return
    if device is None:
        device = f"cuda:{ranks.local_rank}" if torch.cuda.is_available() else "cpu"
    chosen = torch.device(device)
    if chosen.type == "cuda":
        torch.cuda.set_device(chosen)
    joined = not dist.is_initialized()
    store = None
    if joined:
        backend = "nccl" if chosen.type == "cuda" else "gloo"
        options = {"device_id": chosen} if chosen.type == "cuda" else {}
        store, rank, world = next(dist.rendezvous("env://", timeout=timeout()))
        dist.init_process_group(backend, timeout=timeout(), store=store, rank=rank, world_size=world, **options)
    try:
        yield Ranks(dist.get_rank(), dist.get_world_size(), ranks.local_rank, chosen, store)
    finally:
        if joined:
            dist.destroy_process_group()


def all_sum(value: torch.Tensor) -> torch.Tensor:
    """The sum of ``value`` (a tensor on this rank's device) over all ranks, on every rank."""
    total = value.detach().clone()
    dist.all_reduce(total)
    return total


def from_main(flag: bool, device: torch.device) -> bool:
    """Rank 0's ``flag`` on every rank (a decision only rank 0 can take, e.g. early stopping)."""
    value = torch.tensor([int(flag)], device=device)
    dist.broadcast(value, 0)
    return bool(value.item())


def barrier(device: torch.device) -> None:
    """Wait until every rank gets here (an all-reduce, so that the process group's timeout applies on any backend)."""
    all_sum(torch.zeros(1, device=device))


def _key(rank: int) -> str:
    return f"wirelessdata/step/{rank}"


def heartbeat(ranks: Ranks, step: int) -> None:
    """Record in the launch's store that this rank works on ``step`` (1-based; nothing without a store)."""
    if ranks.store is not None:
        ranks.store.set(_key(ranks.rank), str(step))


def collective_failed(exc: BaseException) -> bool:
    """``exc`` is a collective that failed: a ``torch.distributed`` error, or gloo's timeout or closed connection
    (plain ``RuntimeError``s naming gloo)."""
    return isinstance(exc, dist.DistError) or (isinstance(exc, RuntimeError) and "gloo" in str(exc))


def _behind(ranks: Ranks, step: int) -> str:
    """Which ranks had not reached ``step`` (from the store; empty when unknown)."""
    if ranks.store is None:
        return ""
    try:
        ranks.store.set_timeout(datetime.timedelta(seconds=5))
        steps = {r: int(ranks.store.get(_key(r))) for r in range(ranks.world_size) if ranks.store.check([_key(r)])}
    except (RuntimeError, ValueError):  # the store went with its host
        return ""
    late = [f"rank {r} (at step {s})" for r, s in sorted(steps.items()) if s < step]
    late += [f"rank {r} (no step)" for r in range(ranks.world_size) if r not in steps]
    if late:
        return f"; behind it: {', '.join(late)}"
    return f"; every rank had reached step {step}: one hung inside it (rank 0's held-out check or checkpoint?)"


def lost_contact(ranks: Ranks, exc: BaseException, step: int) -> WirelessDataError:
    """The one-line error of a rank whose collective at ``step`` failed: another rank died or hung past the
    timeout; names the ranks that had not reached ``step`` when the store can tell."""
    first = str(exc).strip().splitlines()[0].split("] ", 1)[-1] if str(exc).strip() else type(exc).__name__
    return WirelessDataError(
        f"rank {ranks.rank} of {ranks.world_size} lost contact with the other ranks at step {step} ({first[:120]})"
        f"{_behind(ranks, step)}: a rank died or hung for over {timeout().total_seconds():g} s ({TIMEOUT_ENV}); "
        "resume from the last checkpoint with --resume"
    )


@contextmanager
def errors_named(ranks: Ranks, step: Callable[[], int]) -> Iterator[None]:
    """Name this rank in the errors of a distributed run: a :class:`WirelessDataError` gets ``rank R of W:`` in
    front; a failed collective becomes :func:`lost_contact`'s error at ``step()``. Nothing for one process."""
    try:
        yield
    except WirelessDataError as exc:
        if not ranks.distributed:
            raise
        raise type(exc)(f"rank {ranks.rank} of {ranks.world_size}: {exc}") from None
    except RuntimeError as exc:
        if not (ranks.distributed and collective_failed(exc)):
            raise
        raise lost_contact(ranks, exc, step()) from None
