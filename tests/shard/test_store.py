import json

import numpy as np
import pytest
import xarray as xr
import zarr

from conftest import write_synthetic
from wirelessdata._testing import synthetic_block, synthetic_layout
from wirelessdata.errors import StoreError
from wirelessdata.shard.store import consolidate, create_shard, open_shard


def test_shard_opens_with_plain_xarray(tmp_path):
    url = str(tmp_path / "a.zarr")
    _, layout = write_synthetic(url, num_samples=20, block_size=8)
    ds = xr.open_zarr(url)
    assert ds.csi.dims == ("sample", "time", "subcarrier", "bs_ant", "ue_ant")
    assert ds.csi.dtype == np.complex64
    assert ds.csi.shape == (20, 4, 8, 4, 1)
    assert "sample_id" in ds.coords and ds.sample_id.dtype == np.uint64
    assert ds.time.attrs["units"] == "s" and ds.subcarrier.attrs["units"] == "Hz"
    assert ds.attrs["status"] == "complete" and ds.attrs["schema"] == "wirelessdata.csi"
    for name, var in ds.variables.items():
        assert "units" in var.attrs and "long_name" in var.attrs, name
    expect = np.concatenate([synthetic_block(layout, b)["csi"] for b in range(layout.num_blocks)])
    np.testing.assert_array_equal(ds.csi.values, expect)


def test_chunks_never_cross_blocks(tmp_path):
    url = str(tmp_path / "a.zarr")
    shard, layout = write_synthetic(url, num_samples=30, block_size=12, sizes={"subcarrier": 64})
    for _, arr in shard.group.arrays():
        if arr.metadata.dimension_names[0] == "sample":
            assert layout.block_size % arr.chunks[0] == 0, arr.path


def test_memory_store_roundtrip(memory_url):
    shard, _ = write_synthetic(memory_url, num_samples=10, block_size=4)
    assert shard.status == "complete"
    assert open_shard(memory_url).pending_blocks() == []


def test_interrupted_run_resumes_without_rewriting(tmp_path):
    url = str(tmp_path / "a.zarr")
    shard, layout = write_synthetic(url, commit=False, blocks=[0, 2], num_samples=20, block_size=8)
    before = shard.block_checksums().copy()
    again = create_shard(url, layout)
    assert again.pending_blocks() == [1]
    np.testing.assert_array_equal(again.block_checksums(), before)
    with pytest.raises(StoreError, match="1 of 3 blocks unwritten"):
        again.commit({})
    again.write_block(1, synthetic_block(layout, 1))
    full, _ = write_synthetic(str(tmp_path / "b.zarr"), num_samples=20, block_size=8)
    assert again.commit({}) == full.group.attrs["checksum"]


def test_other_recipe_is_refused_and_overwrite_replaces(tmp_path):
    url = str(tmp_path / "a.zarr")
    write_synthetic(url, num_samples=10, block_size=5, seed=1)
    other = synthetic_layout(num_samples=10, block_size=5, seed=2)
    with pytest.raises(StoreError, match="exists with another recipe"):
        create_shard(url, other)
    assert open_shard(url).status == "complete"  # nothing lost
    replaced = create_shard(url, other, overwrite=True)
    assert replaced.pending_blocks() == [0, 1]


def test_not_a_shard_is_refused(tmp_path):
    import zarr

    zarr.open_group(str(tmp_path / "x.zarr"), mode="w", zarr_format=3)
    with pytest.raises(StoreError, match="not a wirelessdata shard"):
        create_shard(str(tmp_path / "x.zarr"), synthetic_layout())


def test_block_with_wrong_shape_or_missing_variable_is_refused(tmp_path):
    layout = synthetic_layout(num_samples=8, block_size=4)
    shard = create_shard(str(tmp_path / "a.zarr"), layout)
    data = synthetic_block(layout, 0)
    with pytest.raises(StoreError, match="variable 'csi' has shape"):
        shard.write_block(0, {**data, "csi": data["csi"][:2]})
    with pytest.raises(StoreError, match="missing \\['los'\\]"):
        shard.write_block(0, {k: v for k, v in data.items() if k != "los"})
    assert shard.pending_blocks() == [0, 1]


def test_ragged_lidar_roundtrip(tmp_path):
    url = str(tmp_path / "l.zarr")
    _, layout = write_synthetic(url, num_samples=9, block_size=4, modalities=("csi", "lidar", "rgb", "radar"))
    ds = xr.open_zarr(url)
    blocks = [synthetic_block(layout, b) for b in range(layout.num_blocks)]
    points = np.concatenate([b["lidar_points"] for b in blocks])
    counts = np.concatenate([b["lidar_count"] for b in blocks])
    got = [ds.lidar_points.values[s : s + c] for s, c in zip(ds.lidar_start.values, ds.lidar_count.values, strict=True)]
    np.testing.assert_array_equal(np.concatenate(got), points)
    np.testing.assert_array_equal(ds.lidar_count.values, counts)
    assert ds.rgb.dtype == np.uint8 and ds.radar_cube.dtype == np.complex64


def test_a_folder_that_is_not_a_shard_is_never_wiped(tmp_path):
    folder = tmp_path / "a.zarr"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="exists and is not a wirelessdata shard"):
        create_shard(str(folder), synthetic_layout())
    assert (folder / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("damage", ["truncate", "remove"])
def test_a_damaged_chunk_is_named_by_every_read(tmp_path, damage):
    """ShardReader (exports, curation, plots, the loader's Zarr path) names the shard, the variable, the chunk and
    its samples when a chunk does not decode, instead of the codec's own error."""
    from wirelessdata.shard.chunks import ChunkError
    from wirelessdata.shard.read import ShardReader

    url = str(tmp_path / "d.zarr")
    write_synthetic(url, num_samples=32, block_size=8)
    reader = ShardReader(url, ("los", "csi"))
    size = int(reader.arrays["csi"].chunks[0])
    files = sorted(p for p in (tmp_path / "d.zarr" / "csi").rglob("*") if p.is_file() and p.name != "zarr.json")
    victim = files[1]  # the second chunk along sample
    if damage == "truncate":
        victim.write_bytes(victim.read_bytes()[:100])
    else:
        victim.unlink()
    if damage == "remove":  # a missing chunk is the fill value in Zarr: nothing to name, the read succeeds
        assert reader.read_range(0, 32)["csi"].shape[0] == 32
        return
    expected = f"d: chunk 1 of 'csi' \\(samples {size}..{2 * size - 1}\\) cannot be read"
    with pytest.raises(ChunkError, match=expected):
        reader.read_range(0, 32)
    with pytest.raises(ChunkError, match=expected):
        reader.read([size + 1, 0])
    assert reader.read_range(0, size)["csi"].shape[0] == size  # the chunks before it still read


def test_commit_keeps_the_consolidated_metadata(tmp_path):
    """The commit writes the group's attributes without consolidating again: what it keeps is what consolidating
    would write, and a reader of the consolidated metadata sees the committed attributes."""
    url = str(tmp_path / "s.zarr")
    write_synthetic(url, num_samples=20, block_size=8, modalities=("csi", "lidar"))
    doc = json.loads((tmp_path / "s.zarr" / "zarr.json").read_text())
    assert doc["attributes"]["status"] == "complete"
    kept = doc["consolidated_metadata"]["metadata"]
    consolidate(zarr.open_group(url, mode="r+"))
    assert json.loads((tmp_path / "s.zarr" / "zarr.json").read_text())["consolidated_metadata"]["metadata"] == kept
    assert set(kept) == set(zarr.open_group(url, use_consolidated=False).array_keys())
    assert zarr.open_group(url, use_consolidated=True).attrs["status"] == "complete"


def test_new_shards_hold_the_documents_zarr_writes(tmp_path):
    """create_shard serialises Zarr's metadata objects itself: each array's zarr.json is byte for byte the one
    zarr.create_array writes for the same array, and the group's consolidated metadata is what consolidating
    writes."""
    url = str(tmp_path / "s.zarr")
    create_shard(url, synthetic_layout(num_samples=20, block_size=8, modalities=("csi", "lidar")))
    group = zarr.open_group(url, use_consolidated=False)
    names = sorted(group.array_keys())
    assert "csi" in names and "lidar_points" in names
    for name in names:
        own = (tmp_path / "s.zarr" / name / "zarr.json").read_bytes()
        doc = json.loads(own)
        compressors = [zarr.codecs.ZstdCodec(**c["configuration"]) for c in doc["codecs"] if c["name"] == "zstd"]
        arr = group[name]
        store = zarr.storage.MemoryStore()
        zarr.create_array(
            store,
            shape=arr.shape,
            chunks=arr.chunks,
            dtype=arr.dtype,
            fill_value=arr.metadata.fill_value,
            dimension_names=arr.metadata.dimension_names,
            chunk_key_encoding={"name": "default", "separator": "."},
            attributes=doc["attributes"],
            compressors=compressors or None,
        )
        assert store._store_dict["zarr.json"].to_bytes() == own, name
    written = json.loads((tmp_path / "s.zarr" / "zarr.json").read_text())
    assert written["attributes"]["status"] == "incomplete"
    consolidate(zarr.open_group(url, mode="r+"))
    again = json.loads((tmp_path / "s.zarr" / "zarr.json").read_text())
    assert again == written
