"""Batches handed from DataLoader workers to the main process in shared memory that is allocated once and reused.

PyTorch hands every tensor a worker returns over in a new shared-memory segment: the worker copies the batch into
it, passes its file descriptor over a socket, and both processes fault its pages in, for every batch. For a loader
whose own work is a copy from the page cache that hand-over cost more than the loading (``benchmarks/loader.py``
measures both), so workers made the stream slower. Here each worker keeps up to :data:`SLOTS` batch tensors in
shared memory (its *slots*). The first batch in a slot carries the slot's tensor (PyTorch passes its descriptor and
the main process maps it, once; it keeps the mapping); later batches in the slot carry only the slot's number and
the batch's shape, and the main process views the batch in the mapping it has. Small tensors (``sample_id``) travel
inside the message as bytes.

A slot is reused only once the main process no longer uses the batch in it. The protocol, over one shared int64
array of *leases* (:class:`Leases`, made in the main process before the workers start):

1. a worker takes a slot whose lease is 0, writes a new nonzero lease id into it, copies the batch in and sends
   a :class:`Packed` batch;
2. unpickled in the main process (:func:`_unpack`), it becomes the plain batch (what the consumer sees), and the
   slot and its lease id are noted;
3. whenever a batch arrives, the main process looks at the slot batches it received before: one whose storage is
   referenced by nothing but the main process's own note (no batch, tensor or view of it left: PyTorch's storage
   use count) gets its lease cleared to 0, when it still holds that batch's id. Only the main process clears a
   lease and only the worker sets one, so no slot is written while any of its data is in use.

A worker that finds no free slot sends the batch as it is (PyTorch's own hand-over): a consumer that holds many
batches slows the stream down, never corrupts it. A lease left set by a worker that died stays set, and that slot
is not used again by the worker that replaces it.
"""

from __future__ import annotations

import itertools
import os
import secrets
import threading
import weakref
from typing import Any

import numpy as np
import torch
from torch import Tensor

SLOTS = 6
"""Shared batch tensors a worker keeps: the DataLoader's prefetch (2 a worker), the batch being written and the
batches the consumer still holds when the next arrives (two in a plain ``for`` loop)."""

SLOT_BYTES = 1 << 30
"""Shared memory a worker's slots may take, bytes; a batch that does not fit goes by PyTorch's own hand-over."""

MAX_WORKERS = 256
"""DataLoader workers a :class:`Leases` array has room for; workers beyond use PyTorch's own hand-over."""

SLOT_KEY = "csi"
"""The batch entry that travels in a slot."""


class Leases:
    """The shared lease array of one dataset: int64 ``[MAX_WORKERS * SLOTS]``, 0 where a slot is free.

    Made in the main process, which registers it under a random token; it travels to the workers with the dataset
    (forked or pickled), and each worker uses :meth:`slots` of its own.
    """

    def __init__(self) -> None:
        self.array = torch.zeros(MAX_WORKERS * SLOTS, dtype=torch.int64).share_memory_()
        self.token = secrets.randbits(62)
        self._slots: WorkerSlots | None = None
        _ARRAYS[self.token] = self.array
        weakref.finalize(self, _forget, self.token)

    def slots(self, worker: int) -> WorkerSlots | None:
        """This worker process's slots (made on first use in the process); None for a worker beyond the array."""
        if worker >= MAX_WORKERS:
            return None
        if self._slots is None or self._slots.pid != os.getpid():
            self._slots = WorkerSlots(self.array, self.token, worker)
        return self._slots

    def __getstate__(self) -> dict[str, Any]:
        return {"array": self.array, "token": self.token, "_slots": None}


class WorkerSlots:
    """The slots of one worker process: shared tensors of the batch's shape, taken while their lease is 0.

    The reader copies a batch straight into a slot (:meth:`get`, the :class:`~wirelessdata.mix.loader.BatchBuffers`
    interface); :meth:`pack` then sends it without a copy, or copies a batch made elsewhere (a normalised one) into
    a slot.
    """

    def __init__(self, leases: Tensor, token: int, worker: int) -> None:
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

    def pack(self, batch: dict[str, Any]) -> Packed | dict[str, Any]:
        """``batch`` with its :data:`SLOT_KEY` tensor in a slot (the one :meth:`get` gave, or one it is copied
        into); ``batch`` itself when no slot is free."""
        data = batch.get(SLOT_KEY)
        slot, self.pending = self.pending, None
        if not isinstance(data, Tensor):
            self._release(slot)
            return batch
        tensor = self.tensors[slot] if slot is not None else None
        if tensor is None or data.data_ptr() != tensor.data_ptr() or not self._fits(slot, data):  # made elsewhere
            if tensor is None or not self._fits(slot, data):
                self._release(slot)
                slot = self._take(tuple(data.shape), data.dtype)
                if slot is None:
                    return batch
                tensor = self.tensors[slot]
                assert tensor is not None
            tensor.copy_(data)
        carried = None if self.sent[slot] else tensor  # the main process maps a slot once, from its first batch
        self.sent[slot] = True
        rest = {k: v.numpy() if isinstance(v, Tensor) else v for k, v in batch.items() if k != SLOT_KEY}
        lease = int(self.leases[self.first + slot])
        return Packed(self.token, self.first + slot, lease, carried, tuple(tensor.shape), tensor.dtype, rest)

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

    def _release(self, slot: int | None) -> None:
        """Give back a slot taken but not sent (the main process never saw its lease)."""
        if slot is not None:
            self.leases[self.first + slot] = 0

    def _release_pending(self) -> None:
        self._release(self.pending)
        self.pending = None


class Packed:
    """A batch on its way to the main process; unpickled there as the plain batch (:func:`_unpack`).

    :param fields: ``(token, lease index, lease id, tensor, shape, dtype, rest)``: the dataset's token, the slot's
        place in the lease array and its lease id; the slot's tensor with its first batch (PyTorch passes it as a
        shared-memory descriptor), None once the main process has the slot mapped; the batch's shape and dtype;
        the batch's other entries, tensors as numpy arrays (pickled inline).
    """

    def __init__(self, *fields: Any) -> None:
        self.fields = fields

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return _unpack, (self.fields,)


_ARRAYS: dict[int, Tensor] = {}
"""Main process: the lease arrays of the live datasets, by token."""

_MAPPED: dict[tuple[int, int], torch.UntypedStorage] = {}
"""Main process: per (token, lease index), the slot's storage (kept mapped while the dataset lives)."""

_HELD: dict[tuple[int, int], int] = {}
"""Main process: per (token, lease index) whose batch was received and not yet released, its lease id."""

_LOCK = threading.Lock()  # batches are unpickled in the main thread, or in the pin-memory thread


def _unpack(fields: tuple[Any, ...]) -> dict[str, Any]:
    """Main process: the plain batch of a :class:`Packed` one; notes its slot and releases unused slots."""
    token, index, lease, tensor, shape, dtype, rest = fields
    key = (token, index)
    with _LOCK:
        release_unused()
        if tensor is not None:
            _MAPPED[key] = tensor.untyped_storage()
        if key not in _MAPPED:
            raise RuntimeError(f"batch slot {index} arrived before its memory (a DataLoader worker lost a batch)")
        data = torch.empty(0, dtype=dtype).set_(_MAPPED[key], 0, shape)
        _HELD[key] = lease
    return {SLOT_KEY: data, **{k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in rest.items()}}


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
        del _HELD[key]


def _forget(token: int) -> None:
    """Drop what the main process keeps of a dataset that is gone."""
    with _LOCK:
        _ARRAYS.pop(token, None)
        for key in [k for k in _MAPPED if k[0] == token]:
            del _MAPPED[key]
        for key in [k for k in _HELD if k[0] == token]:
            del _HELD[key]
