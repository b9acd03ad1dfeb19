"""Chunk files written straight (``ChunkFiles.write``) hold the bytes Zarr writes for the same data."""

import filecmp
import os

import numpy as np
import pytest
import zarr

from conftest import write_synthetic
from wirelessdata.shard import chunks, store
from wirelessdata.shard.chunks import ChunkError, ChunkFiles


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
    write_synthetic(str(tmp_path / "s.zarr"), num_samples=40, block_size=8)
    files = ChunkFiles.of(zarr.open_group(str(tmp_path / "s.zarr"))["csi"], "s")
    stored = zarr.open_group(str(tmp_path / "s.zarr"))["csi"][...]
    idx = np.random.default_rng(0).integers(0, 40, 33)  # unsorted, repeats, runs across chunks
    monkeypatch.setattr(chunks, "PARALLEL_BYTES", 1)  # small batches split too
    for threads in (1, 2, 3):
        out = np.empty((idx.size, *files.sample_shape), files.dtype)
        files.read_into(idx, out, threads)
        np.testing.assert_array_equal(out, stored[idx])


ALIGNED = {"time": 4, "subcarrier": 16, "bs_ant": 8}  # 4,096 bytes a sample of CSI: O_DIRECT reads qualify


def _spy(monkeypatch, owner, name):
    """Wrap ``owner.name`` so that its results are recorded; returns the list of results."""
    results, original = [], getattr(owner, name)

    def spied(*args, **kwargs):
        results.append(original(*args, **kwargs))
        return results[-1]

    monkeypatch.setattr(owner, name, spied)
    return results


def _refuse_direct(monkeypatch):
    """A filesystem without O_DIRECT: ``os.open`` with the flag fails with EINVAL, as on such filesystems."""
    import errno

    original = os.open

    def open_(path, flags, *args, **kwargs):
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), path)
        return original(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_)


@pytest.mark.parametrize("refused", [False, True])
def test_direct_io_holds_zarrs_bytes_and_reads_them_back(tmp_path, monkeypatch, refused):
    """Chunk files written and read with O_DIRECT (page-cache-free) hold Zarr's bytes; where the filesystem
    refuses O_DIRECT the same bytes go through the page cache."""
    from wirelessdata.shard.read import read_slices

    kw = {"num_samples": 21, "block_size": 8, "sizes": ALIGNED}
    with monkeypatch.context() as m:
        m.setattr(store.ChunkFiles, "of", classmethod(lambda cls, array, shard: None))
        write_synthetic(str(tmp_path / "zarr.zarr"), **kw)
    if refused:
        _refuse_direct(monkeypatch)
    written = _spy(monkeypatch, chunks, "direct_write")
    write_synthetic(str(tmp_path / "direct.zarr"), **kw)
    assert any(written) is not refused  # the CSI went straight to the disk, or through the page cache
    for name in _files(tmp_path / "zarr.zarr"):
        assert filecmp.cmp(tmp_path / "direct.zarr" / name, tmp_path / "zarr.zarr" / name, shallow=False), name
    csi = zarr.open_group(str(tmp_path / "direct.zarr"))["csi"]
    calls, original = [], chunks.ChunkFiles._read_files

    def spied(files, start, out, flags):
        calls.append((bool(flags & os.O_DIRECT), original(files, start, out, flags)))
        return calls[-1][1]

    monkeypatch.setattr(chunks.ChunkFiles, "_read_files", spied)
    for a, b in [(0, 21), (3, 13), (16, 21), (5, 5)]:  # across chunks, from inside one, the edge chunk, none
        (got,) = read_slices([(csi, a, b)], "direct")
        np.testing.assert_array_equal(got, csi[a:b])
        assert got.flags.c_contiguous
    # read straight from the disk; or, refused, through the page cache after one direct try each
    assert calls == ([(True, False), (False, True)] * 3 if refused else [(True, True)] * 3)


def test_a_short_chunk_file_is_named_by_direct_reads(tmp_path):
    write_synthetic(str(tmp_path / "s.zarr"), num_samples=16, block_size=8, sizes=ALIGNED)
    csi = zarr.open_group(str(tmp_path / "s.zarr"))["csi"]
    files = ChunkFiles.of(csi, "s")
    path = tmp_path / "s.zarr" / "csi" / "c.1.0.0.0.0"
    os.truncate(path, 4096)
    with pytest.raises(ChunkError, match=r"s: chunk 1 of 'csi' \(samples \d+\.\.\d+\) cannot be read: .* holds 4096"):
        files.read_range(0, 16)
    os.remove(path)
    with pytest.raises(ChunkError, match="No such file"):
        files.read_range(0, 16)


def test_the_process_keeps_at_most_mapped_files_and_a_reader_drops_its_own(tmp_path, monkeypatch):
    import gc

    write_synthetic(str(tmp_path / "s.zarr"), num_samples=40, block_size=8)
    csi = zarr.open_group(str(tmp_path / "s.zarr"))["csi"]
    monkeypatch.setattr(chunks, "MAPPED_FILES", 3)
    monkeypatch.setattr(chunks, "_MAPPINGS", type(chunks._MAPPINGS)())
    files, other = ChunkFiles.of(csi, "s"), ChunkFiles.of(csi, "s")
    idx = np.arange(40)[::-1]  # every chunk, the last one first
    out = np.empty((40, *files.sample_shape), files.dtype)
    files.read_into(idx, out)
    np.testing.assert_array_equal(out, csi[idx])
    assert len(chunks._MAPPINGS) == 3  # the least recently used went
    other.read_into(np.arange(8), out[:8])
    assert len(chunks._MAPPINGS) == 3 and sum(key[0] == other._token for key in chunks._MAPPINGS) == 1
    files.close()
    assert list(chunks._MAPPINGS) == [(other._token, 0)]
    del other
    gc.collect()
    assert not chunks._MAPPINGS
