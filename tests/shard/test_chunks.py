"""Chunk files written straight (``ChunkFiles.write``) hold the bytes Zarr writes for the same data."""

import filecmp
import os

import numpy as np
import pytest
import zarr

from conftest import write_synthetic
from wirelessdata.shard import store
from wirelessdata.shard.chunks import ChunkFiles


def _files(root):
    return sorted(
        os.path.relpath(os.path.join(d, f), root)
        for d, _, names in os.walk(root)
        for f in names
        if f != "zarr.json"  # metadata: timestamps differ
    )


@pytest.mark.parametrize("num_samples", [24, 21])  # whole blocks; a short last block (an edge chunk)
def test_direct_writes_hold_zarrs_bytes(tmp_path, monkeypatch, num_samples):
    kw = {"num_samples": num_samples, "block_size": 8, "modalities": ("csi", "lidar", "rgb", "radar")}
    direct, _ = write_synthetic(str(tmp_path / "direct.zarr"), **kw)
    with monkeypatch.context() as m:
        m.setattr(store.ChunkFiles, "of", classmethod(lambda cls, array, shard: None))
        write_synthetic(str(tmp_path / "zarr.zarr"), **kw)
    group = zarr.open_group(str(tmp_path / "direct.zarr"))
    raw = [name for name, arr in group.arrays() if ChunkFiles.of(arr, "x") is not None]
    assert {"csi", "block_checksum", "lidar_start"} <= set(raw)  # the direct path was taken
    names = _files(tmp_path / "direct.zarr")
    assert names == _files(tmp_path / "zarr.zarr")
    assert [n for n in names if "partial" in n] == []  # no temporary file is left
    for name in names:
        assert filecmp.cmp(tmp_path / "direct.zarr" / name, tmp_path / "zarr.zarr" / name, shallow=False), name
    assert direct.block_checksums().all()


def test_write_refuses_part_of_a_chunk(tmp_path):
    write_synthetic(str(tmp_path / "s.zarr"), num_samples=24, block_size=8)
    files = ChunkFiles.of(zarr.open_group(str(tmp_path / "s.zarr"))["csi"], "s")
    rows = np.zeros((3, *files.sample_shape), files.dtype)
    with pytest.raises(ValueError, match="not whole chunks"):
        files.write(1, rows)


def test_parallel_read_equals_serial(tmp_path, monkeypatch):
    from wirelessdata.shard import chunks

    write_synthetic(str(tmp_path / "s.zarr"), num_samples=40, block_size=8)
    files = ChunkFiles.of(zarr.open_group(str(tmp_path / "s.zarr"))["csi"], "s")
    stored = zarr.open_group(str(tmp_path / "s.zarr"))["csi"][...]
    idx = np.random.default_rng(0).integers(0, 40, 33)  # unsorted, repeats, runs across chunks
    monkeypatch.setattr(chunks, "PARALLEL_BYTES", 1)  # small batches split too
    for threads in (1, 2, 3):
        out = np.empty((idx.size, *files.sample_shape), files.dtype)
        files.read_into(idx, out, threads)
        np.testing.assert_array_equal(out, stored[idx])
