"""Batches from DataLoader workers in reused shared-memory slots: never overwritten while any of their data is in
use, reused once released, the same values as without workers for every output."""

import gc

import numpy as np
import pytest
import torch
import zarr
from torch.utils.data import DataLoader

from conftest import mixture_manifest
from wirelessdata.mix import handover
from wirelessdata.mix.loader import MixtureDataset


@pytest.fixture
def manifest(tmp_path):
    return mixture_manifest(tmp_path)


@pytest.fixture
def stored(manifest):
    return {s.name: zarr.open_group(s.url, mode="r")["csi"][:] for s in manifest.shards}


def rows(batch):
    return (batch["sample_id"].numpy() & 0xFFFFFFFF).astype(int)


def in_slot(tensor):
    """Whether ``tensor`` lies in a shared-memory slot the main process keeps mapped."""
    return any(tensor.untyped_storage() is storage for storage in handover._MAPPED.values())


def loader(manifest, **kwargs):
    dataset = MixtureDataset(manifest, batch_size=4, buffer=8, **kwargs)
    return DataLoader(dataset, batch_size=None, num_workers=2, persistent_workers=True)


def test_held_batches_and_views_are_never_overwritten(manifest, stored):
    ld = loader(manifest)
    held = list(ld)  # every batch of the epoch held: the workers run out of free slots and send the rest plainly
    assert sum(in_slot(b["csi"]) for b in held) == 2 * handover.SLOTS
    views = [  # tensor views and numpy views (a numpy array of a tensor keeps the tensor alive)
        (b["csi"][1:3] if i % 2 else b["csi"].numpy()[1:3], b["shard"], rows(b)[1:3]) for i, b in enumerate(held)
    ]
    del held
    gc.collect()
    list(ld)  # a second epoch while only views of the first are held
    for view, shard, idx in views:
        np.testing.assert_array_equal(np.asarray(view), stored[shard][idx])
    for _ in range(2):
        for batch in ld:  # views still held: their slots stay leased
            np.testing.assert_array_equal(batch["csi"].numpy(), stored[batch["shard"]][rows(batch)])
    for view, shard, idx in views:
        np.testing.assert_array_equal(np.asarray(view), stored[shard][idx])


def test_released_slots_are_reused(manifest, stored):
    ld = loader(manifest)
    total = slotted = 0
    for _ in range(3):
        for batch in ld:  # each batch dropped when the next arrives
            np.testing.assert_array_equal(batch["csi"].numpy(), stored[batch["shard"]][rows(batch)])
            total += 1
            slotted += in_slot(batch["csi"])
    assert slotted >= total - 2 * handover.SLOTS  # all but a few came in reused slots
    mapped = [s for key, s in handover._MAPPED.items() if key[0] == ld.dataset._leases.token]
    assert 0 < len(mapped) <= 2 * handover.SLOTS  # slots are mapped once and kept, never one per batch


@pytest.mark.parametrize(("output", "normalize"), [("complex", "none"), ("real", "sample"), ("complex", "shard")])
def test_workers_give_the_batches_of_a_single_process(manifest, output, normalize):
    single = list(MixtureDataset(manifest, batch_size=4, buffer=8, output=output, normalize=normalize))
    got = []
    for batch in loader(manifest, output=output, normalize=normalize):
        got.append({k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in batch.items()})
    assert [b.keys() for b in got] == [b.keys() for b in single]
    for a, b in zip(got, single, strict=True):
        assert a["csi"].dtype == b["csi"].dtype and a["shard"] == b["shard"] and a["batch_index"] == b["batch_index"]
        np.testing.assert_array_equal(a["csi"].numpy(), b["csi"].numpy())
        np.testing.assert_array_equal(a["sample_id"].numpy(), b["sample_id"].numpy())


def test_a_gone_dataset_is_forgotten(manifest):
    ld = loader(manifest)
    list(ld)
    token = ld.dataset._leases.token
    assert any(key[0] == token for key in handover._MAPPED)
    del ld
    gc.collect()
    assert not any(key[0] == token for key in handover._MAPPED) and token not in handover._ARRAYS


class DyingDataset(MixtureDataset):
    """Its worker 1 is killed (SIGKILL) after its first batch."""

    def __iter__(self):
        import os
        import signal

        from torch.utils.data import get_worker_info

        for i, batch in enumerate(super().__iter__()):
            if i == 1 and get_worker_info().id == 1:
                os.kill(os.getpid(), signal.SIGKILL)
            yield batch


def test_a_worker_that_dies_is_reported_and_what_arrived_stays_whole(manifest, stored):
    import time

    dataset = DyingDataset(manifest, batch_size=4, buffer=8)
    got = []
    began = time.monotonic()
    killed = r"DataLoader worker \(pid(\(s\))? \d+\) (is killed by signal: Killed|exited unexpectedly)"
    with pytest.raises(RuntimeError, match=killed):  # PyTorch's words: from its signal handler or its status check
        for batch in DataLoader(dataset, batch_size=None, num_workers=2):
            got.append(batch)
    assert time.monotonic() - began < 60  # reported, not waited on forever
    assert got and all(in_slot(b["csi"]) for b in got)
    for batch in got:
        np.testing.assert_array_equal(batch["csi"].numpy(), stored[batch["shard"]][rows(batch)])
