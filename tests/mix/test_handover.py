"""Batches from DataLoader workers in reused shared-memory slots: never overwritten while any of their data is in
use, reused once released, the same values as without workers for every output."""

import gc

import numpy as np
import pytest
import torch
import zarr
from torch.utils.data import DataLoader

from conftest import mixture_manifest
from wirelessdata.errors import WirelessDataError
from wirelessdata.mix import handover
from wirelessdata.mix.loader import MixtureDataset


@pytest.fixture
def manifest(tmp_path):
    return mixture_manifest(tmp_path)


@pytest.fixture(autouse=True)
def small_slots(monkeypatch):
    """The CSI of these small batches (4-8 KB) goes in a slot, their sample ids (32 B) inline, and a worker has 4
    slots (the workers are forked after this: they see it too)."""
    monkeypatch.setattr(handover, "INLINE_BYTES", 1024)
    monkeypatch.setattr(handover, "SLOTS", 4)


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
    """Its worker 1 is killed (SIGKILL) when asked for its third batch: the main process asks for that only once
    batches have arrived (two requests a worker are in flight at first), so that some did before the death."""

    def __iter__(self):
        import os
        import signal

        from torch.utils.data import get_worker_info

        for i, batch in enumerate(super().__iter__()):
            if i == 2 and get_worker_info().id == 1:
                os.kill(os.getpid(), signal.SIGKILL)
            yield batch


def test_a_worker_that_dies_is_reported_and_what_arrived_stays_whole(manifest, stored):
    import time

    dataset = DyingDataset(manifest, batch_size=4, buffer=8)
    got = []
    began = time.monotonic()
    killed = r"DataLoader worker \(pid(\(s\))? \d+\) (is killed by signal: Killed|exited unexpectedly)"
    loader = iter(DataLoader(dataset, batch_size=None, num_workers=2))
    with pytest.raises(RuntimeError, match=killed):  # PyTorch's words: from its signal handler or its status check
        try:
            for batch in loader:
                got.append(batch)
        finally:  # unregisters the workers: PyTorch's SIGCHLD handler would otherwise report the dead one again at
            loader._shutdown_workers()  # any later child's exit, anywhere in the test run
    assert time.monotonic() - began < 60  # reported, not waited on forever
    assert got and all(in_slot(b["csi"]) for b in got)
    for batch in got:
        np.testing.assert_array_equal(batch["csi"].numpy(), stored[batch["shard"]][rows(batch)])


def test_a_task_views_pairs_come_in_slots(manifest):
    """A task view (which reads the stream inside its workers) hands its input and target over in slots too."""
    from wirelessdata.tasks.registry import get

    urls = [s.url for s in manifest.shards]
    view = get("channel-estimation", urls, batch_size=4, shuffle=True, snr_db=10)  # targets 4-8 KB: in slots
    alone = [(x.clone(), y.clone()) for x, y in view]
    ld = DataLoader(view, batch_size=None, num_workers=2, persistent_workers=True)
    for _ in range(2):
        got = list(ld)  # held: the workers run out of slots and send the rest plainly
        assert len(got) == len(alone)
        assert sum(in_slot(y) for _, y in got) == 2 * handover.SLOTS
        for (x, y), (ex, ey) in zip(got, alone, strict=True):
            assert torch.equal(x, ex) and torch.equal(y, ey)
        del got, x, y  # released: the next epoch uses the slots again


def test_a_collate_fn_of_ones_own_gets_a_one_line_error_or_plain_batches(manifest):
    dataset = MixtureDataset(manifest, batch_size=4, buffer=8)
    double = DataLoader(dataset, batch_size=None, num_workers=2, collate_fn=lambda b: {**b, "csi": 2 * b["csi"]})
    with pytest.raises(WirelessDataError) as err:
        list(double)
    assert (
        str(err.value)
        .splitlines()[-1]
        .endswith(
            "a batch packed for the main process reached a collate_fn in a DataLoader worker; use the dataset with "
            "batch_size=None and the default collate_fn, or set its shared_memory = False"
        )
    )
    single = list(MixtureDataset(manifest, batch_size=4, buffer=8))
    dataset.shared_memory = False
    for a, b in zip(double, single, strict=True):
        assert torch.equal(a["csi"], 2 * b["csi"])


def test_pairs_look_the_same_with_and_without_workers(manifest):
    from wirelessdata.tasks.registry import get

    view = get("channel-estimation", [s.url for s in manifest.shards], batch_size=4)
    kinds = {count: [type(b) for b in DataLoader(view, batch_size=None, num_workers=count)] for count in (0, 2)}
    assert kinds[0] == kinds[2] and set(kinds[0]) == {list}  # the DataLoader's default conversion, either way


def test_spawned_workers_use_pytorchs_hand_over(manifest, stored):
    """Workers started with ``spawn`` get a pickled dataset, without the lease array: plain batches, the same."""
    dataset = MixtureDataset(manifest, batch_size=4, buffer=8)
    ld = DataLoader(dataset, batch_size=None, num_workers=2, multiprocessing_context="spawn")
    got = list(ld)
    assert got and not any(in_slot(b["csi"]) for b in got)
    for batch in got:
        np.testing.assert_array_equal(batch["csi"].numpy(), stored[batch["shard"]][rows(batch)])
