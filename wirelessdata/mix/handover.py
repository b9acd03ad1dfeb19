"""Batches handed from DataLoader workers to the main process in shared memory that is allocated once and reused.

PyTorch hands every tensor a worker returns over in a new shared-memory segment: the worker copies the batch into
it, passes its file descriptor over a socket, and both processes fault its pages in, for every batch. For a loader
whose own work is a copy from the page cache that hand-over cost more than the loading (``benchmarks/loader.py``
measures both), so workers made the stream slower. Here each worker keeps up to :data:`SLOTS` tensors in shared
memory (its *slots*) and sends every large tensor of a batch (a dict, tuple or list of them: the mixture stream's
CSI, a task view's input and target) in one. The first tensor in a slot carries the slot itself (PyTorch passes its
descriptor and the main process maps it, once; it keeps the mapping); later ones carry only the slot's number and
their shape, and the main process views them in the mapping it has. Small tensors (``sample_id``) travel inside the
message as bytes.

A slot is reused only once the main process no longer uses the batch in it. The protocol, over one shared int64
array of *leases* (:class:`Leases`, made in the main process before the workers start):

1. a worker takes a slot whose lease is 0, writes a new nonzero lease id into it, copies the tensor in (or has read
   it there in the first place: :meth:`WorkerSlots.get`) and sends the batch :class:`Packed`;
2. unpickled in the main process (:func:`_unpack`), it becomes the plain batch (what the consumer sees), and each
   slot and its lease id are noted;
3. whenever a batch arrives, the main process looks at the slot tensors it received before: one whose storage is
   referenced by nothing but the main process's own note (no batch, tensor or view of it left: PyTorch's storage
   use count) gets its lease cleared to 0, when it still holds that tensor's id. Only the main process clears a
   lease and only the worker sets one, so no slot is written while any of its data is in use.

A tensor that finds no free slot goes as it is (PyTorch's own hand-over): a consumer that holds many batches slows
the stream down, never corrupts it. A lease left set by a worker that died stays set, and that slot is not used
again by the worker that replaces it.
"""

from __future__ import annotations

import itertools
import mmap
import os
import secrets
import threading
import weakref
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import default_convert

from wirelessdata.errors import ConfigError

SLOTS = 12
"""Shared tensors a worker keeps (made when needed): for the DataLoader's prefetch (2 batches a worker), the batch
being made and the batches the consumer still holds when the next arrives (two in a plain ``for`` loop), each of
up to two large tensors (a task view's input and target)."""

INLINE_BYTES = 1 << 16
"""Tensors smaller than this travel inside the message (pickled bytes), not in a slot."""

SLOT_BYTES = 1 << 30
"""Shared memory a worker's slots may take, bytes; a batch that does not fit goes by PyTorch's own hand-over."""

MAX_WORKERS = 256
"""DataLoader workers a :class:`Leases` array has room for; workers beyond use PyTorch's own hand-over."""


class Leases:
    """The shared lease array of one dataset: int64 ``[MAX_WORKERS * SLOTS]``, 0 where a slot is free.

    Made in the main process, which registers it under a random token, in anonymous shared memory (no file
    descriptor held per dataset): DataLoader workers forked from the main process share it, and each uses
    :meth:`slots` of its own. A copy that is pickled instead (workers started with ``spawn`` or ``forkserver``)
    has no array, and its workers use PyTorch's own hand-over.
    """

    def __init__(self) -> None:
        self._memory = mmap.mmap(-1, MAX_WORKERS * SLOTS * 8)  # MAP_SHARED: kept shared across fork
        self.array: np.ndarray | None = np.frombuffer(self._memory, dtype=np.int64)
        self.token = secrets.randbits(62)
        self._slots: WorkerSlots | None = None
        _ARRAYS[self.token] = self.array
        weakref.finalize(self, _forget, self.token)

    def slots(self, worker: int) -> WorkerSlots | None:
        """This worker process's slots (made on first use in the process); None for a worker beyond the array or
        without it."""
        if worker >= MAX_WORKERS or self.array is None:
            return None
        if self._slots is None or self._slots.pid != os.getpid():
            self._slots = WorkerSlots(self.array, self.token, worker)
        return self._slots

    def __getstate__(self) -> dict[str, Any]:
        return {"array": None, "token": self.token, "_slots": None}


class WorkerSlots:
    """The slots of one worker process: shared tensors, each taken while its lease is 0.

    A reader may copy a batch straight into a slot (:meth:`get`, the :class:`~wirelessdata.mix.loader.BatchBuffers`
    interface); :meth:`pack` then sends it without a copy, and copies every other large tensor (a normalised batch,
    a task's input and target) into a slot of its own.
    """

    def __init__(self, leases: np.ndarray, token: int, worker: int) -> None:
        self.leases, self.token, self.first, self.pid = leases, token, worker * SLOTS, os.getpid()
        self.tensors: list[Tensor | None] = [None] * SLOTS
        self.sent = [False] * SLOTS
        self.ids = itertools.count(1)
        self.pending: int | None = None  # the slot handed out by get() for the batch being made

    def get(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """An array of ``shape`` and ``dtype`` to read the next batch into: a leased slot when one is free."""
        self._release_pending()
        self.pending = self._take(shape, torch.from_numpy(np.empty(0, dtype)).dtype)
        if self.pending is None:
            return np.empty(shape, dtype)
        tensor = self.tensors[self.pending]
        assert tensor is not None
        return tensor.numpy()

    def pack(self, batch: Any) -> Packed:
        """``batch`` (a tensor, or a dict, tuple or list of them and other values) for the main process: each large
        tensor in a slot (the one :meth:`get` gave, when the tensor lies there; else copied into a free one), small
        ones as bytes."""
        try:
            return Packed(self.token, self._pack(batch))
        finally:
            self._release_pending()

    def _pack(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self._pack(v) for k, v in value.items()}
        if isinstance(value, tuple | list):
            return _rebuilt(value, [self._pack(v) for v in value])
        if not isinstance(value, Tensor):
            return value
        if value.device.type != "cpu":
            return value
        if value.numel() * value.element_size() < INLINE_BYTES:
            # a copy: the queue pickles the message later, in its feeder thread, and the tensor may lie in a slot
            # that is taken again by then
            return _Inline(value.numpy().copy())
        slot = self.pending
        if slot is not None and self._fits(slot, value) and value.data_ptr() == self.tensors[slot].data_ptr():
            self.pending = None  # read into its slot already
        else:
            slot = self._take(tuple(value.shape), value.dtype)
            if slot is None:
                return value  # no free slot: PyTorch's own hand-over
            self.tensors[slot].copy_(value)
        tensor = self.tensors[slot]
        carried = None if self.sent[slot] else tensor  # the main process maps a slot once, from its first tensor
        self.sent[slot] = True
        lease = int(self.leases[self.first + slot])
        return _Slot(self.first + slot, lease, carried, tuple(tensor.shape), tensor.dtype)

    def _take(self, shape: tuple[int, ...], dtype: torch.dtype) -> int | None:
        """A free slot of ``shape`` and ``dtype`` (made when needed and within :data:`SLOT_BYTES`), leased; None
        when there is none."""
        free = [s for s in range(SLOTS) if int(self.leases[self.first + s]) == 0]
        same = [s for s in free if (t := self.tensors[s]) is not None and t.shape == shape and t.dtype == dtype]
        if same:
            slot = same[0]
        elif free:  # a free slot made anew (another shard, a last partial batch), if it fits
            slot = next((s for s in free if self.tensors[s] is None), free[0])
            sizes = [t.untyped_storage().nbytes() if t is not None else 0 for t in self.tensors]
            nbytes = int(np.prod(shape)) * torch.empty(0, dtype=dtype).element_size()
            if sum(sizes) - sizes[slot] + nbytes > SLOT_BYTES:
                return None
            self.tensors[slot] = torch.empty(shape, dtype=dtype).share_memory_()
            self.sent[slot] = False
        else:
            return None
        self.leases[self.first + slot] = next(self.ids)
        return slot

    def _fits(self, slot: int | None, data: Tensor) -> bool:
        tensor = self.tensors[slot] if slot is not None else None
        return tensor is not None and tensor.shape == data.shape and tensor.dtype == data.dtype

    def _release_pending(self) -> None:
        """Give back the slot of :meth:`get` when it was not sent (the main process never saw its lease)."""
        if self.pending is not None:
            self.leases[self.first + self.pending] = 0
        self.pending = None


class Packed:
    """A batch on its way to the main process; unpickled there as the plain batch (:func:`_unpack`).

    :param token: the dataset's :class:`Leases` token.
    :param tree: the batch, each large tensor replaced by its :class:`_Slot`, each small one by :class:`_Inline`.
    """

    def __init__(self, token: int, tree: Any) -> None:
        self.token, self.tree = token, tree

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return _unpack, (self.token, self.tree)

    # code in the worker that looks into the batch (a collate_fn of one's own) gets a one-line error
    def __getitem__(self, key: Any) -> Any:
        raise ConfigError(MISUSED)

    def __iter__(self) -> Any:
        raise ConfigError(MISUSED)

    def __len__(self) -> int:
        raise ConfigError(MISUSED)

    def keys(self) -> Any:  # ``{**batch}`` looks for it on the type
        raise ConfigError(MISUSED)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # what pickle and copy look for
            raise AttributeError(name)
        raise MisusedError(MISUSED)


class MisusedError(ConfigError, AttributeError):
    """An attribute of a :class:`Packed` batch was asked for in the worker (an ``AttributeError`` too, so that
    ``hasattr`` stays safe; looking into it as a mapping or sequence raises a plain :class:`ConfigError`, which
    Python does not turn into a ``TypeError``)."""


MISUSED = (
    "a batch packed for the main process reached a collate_fn in a DataLoader worker; use the dataset with "
    "batch_size=None and the default collate_fn, or set its shared_memory = False"
)
"""What a :class:`Packed` batch says when code in the worker looks into it."""


class _Slot(NamedTuple):
    """A tensor in slot ``index`` of the lease array, leased as ``lease``; ``tensor``: the slot itself with its first
    tensor (PyTorch passes it as a shared-memory descriptor), None once the main process has it mapped."""

    index: int
    lease: int
    tensor: Tensor | None
    shape: tuple[int, ...]
    dtype: torch.dtype


class _Inline(NamedTuple):
    """A small tensor, as the numpy array it is pickled as."""

    array: np.ndarray


_ARRAYS: dict[int, np.ndarray] = {}
"""Main process: the lease arrays of the live datasets, by token."""

_MAPPED: dict[tuple[int, int], torch.UntypedStorage] = {}
"""Main process: per (token, lease index), the slot's storage (kept mapped while the dataset lives)."""

_HELD: dict[tuple[int, int], int] = {}
"""Main process: per (token, lease index) whose batch was received and not yet released, its lease id."""

_LOCK = threading.RLock()
"""Batches are unpickled in the main thread or in the pin-memory thread; reentrant, because a dataset's finalizer
(:func:`_forget`) may run from a garbage collection inside :func:`_unpack`."""


def _unpack(token: int, tree: Any) -> Any:
    """Main process: the plain batch of a :class:`Packed` one, as the DataLoader's default conversion of the
    unpacked batch would have given it (tuples become lists); notes its slots and releases unused ones."""
    with _LOCK:
        release_unused()
        return default_convert(_unpacked(token, tree))


def _unpacked(token: int, value: Any) -> Any:
    if isinstance(value, _Slot):
        key = (token, value.index)
        if value.tensor is not None:
            _MAPPED[key] = value.tensor.untyped_storage()
        if key not in _MAPPED:
            raise RuntimeError(f"slot {value.index} arrived before its memory (a DataLoader worker lost a batch)")
        _HELD[key] = value.lease
        return torch.empty(0, dtype=value.dtype).set_(_MAPPED[key], 0, value.shape)
    if isinstance(value, _Inline):
        return torch.from_numpy(value.array)
    if isinstance(value, dict):
        return {k: _unpacked(token, v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return _rebuilt(value, [_unpacked(token, v) for v in value])
    return value


def _rebuilt(like: tuple | list, items: list[Any]) -> tuple | list:
    """``items`` in a container of ``like``'s type (a named tuple by its fields)."""
    return type(like)(*items) if hasattr(like, "_fields") else type(like)(items)


def release_unused() -> None:
    """Clear the lease of every received slot batch that nothing references any more: its storage's only
    reference left is :data:`_MAPPED`'s (PyTorch keeps one Python object per storage, so the count is exact)."""
    for key, lease in list(_HELD.items()):
        storage = _MAPPED.get(key)
        if storage is not None and torch._C._storage_Use_Count(storage._cdata) > 1:
            continue
        leases = _ARRAYS.get(key[0])
        if leases is not None and int(leases[key[1]]) == lease:
            leases[key[1]] = 0
        _HELD.pop(key, None)


def _forget(token: int) -> None:
    """Drop what the main process keeps of a dataset that is gone."""
    with _LOCK:
        _ARRAYS.pop(token, None)
        for key in [k for k in _MAPPED if k[0] == token]:
            del _MAPPED[key]
        for key in [k for k in _HELD if k[0] == token]:
            del _HELD[key]
