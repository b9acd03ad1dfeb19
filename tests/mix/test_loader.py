"""The mixture loader: exact resume, worker-independent order, chunk-level split, per-shard batches, damaged
chunks, verification."""

import faulthandler

import numpy as np
import pytest
import torch
import zarr
from torch.utils.data import DataLoader

from conftest import chunk_file, mixture_manifest
from wirelessdata.errors import WirelessDataError
from wirelessdata.mix.loader import MixtureDataset
from wirelessdata.mix.manifest import Manifest, ManifestError, load_manifest
from wirelessdata.shard.chunks import ChunkError


@pytest.fixture
def manifest(tmp_path):
    return mixture_manifest(tmp_path)


def ids_of(batches):
    return [b["sample_id"].numpy().tolist() for b in batches]


def test_epoch_content_and_per_shard_batches(manifest):
    ds = MixtureDataset(manifest, batch_size=5, buffer=16)
    batches = list(ds)
    per_shard = {"s0": [], "s1": []}
    for b in batches:
        assert b["csi"].dtype == torch.complex64 and b["csi"].shape[1:] == (4, 8 if b["shard"] == "s0" else 16, 4, 1)
        per_shard[b["shard"]] += (b["sample_id"].numpy() & 0xFFFFFFFF).tolist()
    assert sorted(per_shard["s0"]) == list(range(1, 40, 2))  # each selected sample exactly once
    assert sorted(per_shard["s1"]) == sorted(list(range(24)) * 2)  # per_epoch = 2 x available: each twice
    assert ds.state_dict() == {"epoch": 1, "batch": 0}  # a finished epoch moves on
    assert ids_of(list(ds)) != ids_of(batches)  # a new order each epoch


def test_values_match_the_store(manifest):
    ds = MixtureDataset(manifest, batch_size=4, buffer=8)
    b = next(iter(ds))
    url = manifest.shards[[s.name for s in manifest.shards].index(b["shard"])].url
    stored = zarr.open_group(url, mode="r")["csi"][:]
    idx = (b["sample_id"].numpy() & 0xFFFFFFFF).astype(int)
    np.testing.assert_array_equal(b["csi"].numpy(), stored[idx])


def test_resume_mid_epoch_is_exact(manifest):
    full = ids_of(MixtureDataset(manifest, batch_size=3, buffer=10))
    ds = MixtureDataset(manifest, batch_size=3, buffer=10)
    it = iter(ds)
    head = [next(it) for _ in range(7)]
    state = ds.state_dict()
    assert state == {"epoch": 0, "batch": 7}
    resumed = MixtureDataset(manifest, batch_size=3, buffer=10)
    resumed.load_state_dict(state)
    assert ids_of(head) + ids_of(resumed) == full


def test_same_stream_with_dataloader_workers(manifest):
    single = ids_of(MixtureDataset(manifest, batch_size=4, buffer=8))
    loader = DataLoader(MixtureDataset(manifest, batch_size=4, buffer=8), batch_size=None, num_workers=2)
    got = list(loader)
    assert ids_of(got) == single
    assert [b["batch_index"] for b in got] == list(range(len(single)))
    stored = {s.name: zarr.open_group(s.url, mode="r")["csi"][:] for s in manifest.shards}
    for b in got:  # the values too: a worker's reused batch arrays never reach the main process half-overwritten
        np.testing.assert_array_equal(b["csi"].numpy(), stored[b["shard"]][(b["sample_id"].numpy() & 0xFFFFFFFF)])


def test_ranks_partition_the_stream(manifest):
    single = ids_of(MixtureDataset(manifest, batch_size=4, buffer=8))
    r0 = ids_of(MixtureDataset(manifest, batch_size=4, buffer=8, rank=0, world_size=2))
    r1 = ids_of(MixtureDataset(manifest, batch_size=4, buffer=8, rank=1, world_size=2))
    assert r0 == single[0::2] and r1 == single[1::2]


def test_real_output_and_normalisation(manifest):
    b = next(iter(MixtureDataset(manifest, batch_size=4, output="real", normalize="sample")))
    assert b["csi"].dtype == torch.float32 and b["csi"].shape[1] == 2
    power = (b["csi"] ** 2).sum(dim=1).mean(dim=(1, 2, 3, 4))
    np.testing.assert_allclose(power.numpy(), 1.0, rtol=1e-4)


def test_changed_shard_and_bad_manifest_are_refused(manifest, tmp_path):
    manifest.save(tmp_path / "m.json")
    again = load_manifest(tmp_path / "m.json")
    assert ids_of(MixtureDataset(again, batch_size=4)) == ids_of(MixtureDataset(manifest, batch_size=4))
    zarr.open_group(manifest.shards[0].url, mode="r+").attrs["checksum"] = "0" * 64
    with pytest.raises(ManifestError, match="s0 .* changed"):
        MixtureDataset(manifest)
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ManifestError, match="malformed"):
        load_manifest(tmp_path / "bad.json")
    with pytest.raises(ManifestError, match="no such file"):
        load_manifest(tmp_path / "none.json")
    with pytest.raises(ManifestError, match="no split 'val'"):
        MixtureDataset(again, split="val")


def chunks_of(batches, chunk=8):
    return {(b["shard"], int(i) // chunk) for b in batches for i in b["sample_id"].numpy() & 0xFFFFFFFF}


def test_readers_split_chunks_and_see_every_sample_once(manifest):
    """Workers and ranks take every sample of the epoch exactly once, and (but for the last batches, merged
    from the partitions' leftovers) the chunks of one reader are read by no other."""
    expect = sorted(ids_of_flat(MixtureDataset(manifest, batch_size=4, buffer=8)))
    for workers in (0, 1, 2):
        got = list(DataLoader(MixtureDataset(manifest, batch_size=4, buffer=8), batch_size=None, num_workers=workers))
        assert sorted(ids_of_flat(got)) == expect
        assert [b["batch_index"] for b in got] == list(range(len(got)))
    ranks = [list(MixtureDataset(manifest, batch_size=4, buffer=8, rank=r, world_size=2)) for r in (0, 1)]
    assert sorted(ids_of_flat(ranks[0] + ranks[1])) == expect
    tail = chunks_of(got[-4:])
    assert not (chunks_of(ranks[0]) & chunks_of(ranks[1])) - tail
    assert not (chunks_of(got[0::2]) & chunks_of(got[1::2])) - tail


def ids_of_flat(batches):
    return [i for b in ids_of(batches) for i in b]


def test_resume_mid_epoch_with_workers_gives_the_remaining_stream(manifest):
    full = ids_of(DataLoader(MixtureDataset(manifest, batch_size=3, buffer=10), batch_size=None, num_workers=2))
    for start in (5, 6):
        resumed = MixtureDataset(manifest, batch_size=3, buffer=10)
        resumed.load_state_dict({"epoch": 0, "batch": start})
        assert ids_of(DataLoader(resumed, batch_size=None, num_workers=2)) == full[start:]


def test_same_seed_same_stream_other_seed_differs(manifest):
    a = ids_of(MixtureDataset(manifest, batch_size=4, buffer=8))
    assert ids_of(MixtureDataset(manifest, batch_size=4, buffer=8)) == a
    other = Manifest(seed=8, shards=manifest.shards, splits=manifest.splits)
    assert ids_of(MixtureDataset(other, batch_size=4, buffer=8)) != a


def test_zarr_reads_give_the_same_batches_as_chunk_files(manifest, monkeypatch):
    direct = list(MixtureDataset(manifest, batch_size=4, buffer=8))
    monkeypatch.setattr("wirelessdata.mix.loader.ChunkFiles.of", lambda array, shard: None)
    through_zarr = list(MixtureDataset(manifest, batch_size=4, buffer=8))
    for a, b in zip(direct, through_zarr, strict=True):
        assert torch.equal(a["csi"], b["csi"]) and torch.equal(a["sample_id"], b["sample_id"])


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("direct", [True, False])
def test_a_damaged_chunk_stops_the_loader_with_one_line(manifest, workers, direct, monkeypatch):
    if not direct:
        monkeypatch.setattr("wirelessdata.mix.loader.ChunkFiles.of", lambda array, shard: None)
    chunk = chunk_file(manifest.shards[0].url, "csi", 1)
    with open(chunk, "r+b") as f:
        f.truncate(100)
    faulthandler.dump_traceback_later(120, exit=True)  # a hung worker pool fails the run instead of waiting
    try:
        with pytest.raises(ChunkError) as err:
            list(DataLoader(MixtureDataset(manifest, batch_size=4, buffer=8), batch_size=None, num_workers=workers))
    finally:
        faulthandler.cancel_dump_traceback_later()
    message = str(err.value)
    assert isinstance(err.value, WirelessDataError) and "\n" not in message
    assert message.startswith("s0: chunk 1 of 'csi' (samples 8..15) cannot be read")


def test_batches_in_use_are_never_overwritten_and_dropped_ones_are_reused(manifest):
    from wirelessdata.mix.loader import BatchBuffers

    stored = {s.name: zarr.open_group(s.url, mode="r")["csi"][:] for s in manifest.shards}

    def check(csi, batch, rows=slice(None)):
        idx = (batch["sample_id"].numpy() & 0xFFFFFFFF).astype(int)[rows]
        np.testing.assert_array_equal(csi.numpy(), stored[batch["shard"]][idx])

    ds = MixtureDataset(manifest, batch_size=4, buffer=8)
    for batch in list(ds):  # every batch held until the end of the epoch
        check(batch["csi"], batch)
    held = [(b["csi"][1:3], {"sample_id": b["sample_id"], "shard": b["shard"]}) for b in ds]  # views only
    for view, batch in held:
        check(view, batch, slice(1, 3))
    del held, view, batch  # nothing of those epochs is held any more
    reused = 0
    for batch in ds:  # each batch dropped before the next: the stream reuses its arrays
        check(batch["csi"], batch)
        reused += any(np.shares_memory(batch["csi"].numpy(), a) for a in ds._buffers.arrays)
    assert len(ds._buffers.arrays) <= BatchBuffers.KEEP and reused >= len(ds) - BatchBuffers.KEEP
