import os
import uuid
from pathlib import Path

import numpy as np
import pytest
import zarr

from wirelessdata._testing import synthetic_block, synthetic_layout
from wirelessdata.generate.plan import DropSetPlan
from wirelessdata.generate.recipe import drop_sets
from wirelessdata.generate.run import run_plan
from wirelessdata.mix.manifest import Manifest, ManifestShard, Selection, Source
from wirelessdata.shard.store import create_shard

SMALL_OVERRIDES = {
    "samples": 12,
    "block_size": 4,
    "num_time_steps": 4,
    "num_subcarriers": 16,
    "bs_array": "2x2",
    "bands": ["sub6", "28GHz"],
}
"""A small paired sub6/28GHz TR 38.901 drop set (recipe overrides): 12 drops in 3 blocks, T=4, K=16, 2x2 BS."""


def chunk_file(shard_url, name, chunk=0):
    """Path of chunk ``chunk`` (along the first axis) of array ``name`` of a local shard, as its metadata names it."""
    arr = zarr.open_array(os.path.join(str(shard_url), name), mode="r")
    return os.path.join(str(shard_url), name, arr.metadata.encode_chunk_key((chunk,) + (0,) * (arr.ndim - 1)))


def tiny_recipe(*configs):
    """A recipe of 16 drops per configuration (blocks of 8) on a tiny grid: T=8, K=16, 2x2 BS, one band (sub6)
    unless a configuration names its own; each configuration a dict (``name``, ``scenario``, ``tags``, ...)."""
    return {
        "samples": 16,
        "block_size": 8,
        "defaults": {"num_time_steps": 8, "num_subcarriers": 16, "bs_array": "2x2", "multiband": "independent"},
        "configs": [{"bands": ["sub6"], **c} for c in configs],
    }


def write_synthetic(url, commit=True, blocks=None, **layout_kwargs):
    """Create a synthetic shard at ``url``, write ``blocks`` (default all), commit when all are written."""
    layout = synthetic_layout(**layout_kwargs)
    shard = create_shard(url, layout)
    for b in range(layout.num_blocks) if blocks is None else blocks:
        shard.write_block(b, synthetic_block(layout, b))
    if commit:
        shard.commit({})
    return shard, layout


def write_csi(url, csi, block_size=8):
    """A committed synthetic shard at ``url`` holding ``csi`` (complex ``[n, T, K, Nbs, Nue]``); returns ``url``."""
    csi = np.asarray(csi, np.complex64)
    n, t, k, nbs, nue = csi.shape
    sizes = {"time": t, "subcarrier": k, "bs_ant": nbs, "ue_ant": nue}
    layout = synthetic_layout(num_samples=n, block_size=block_size, sizes=sizes)
    shard = create_shard(str(url), layout)
    for b in range(layout.num_blocks):
        start, stop = layout.block_range(b)
        shard.write_block(b, {**synthetic_block(layout, b), "csi": csi[start:stop]})
    shard.commit({})
    return str(url)


def mixture_manifest(root):
    """A manifest over two synthetic shards in ``root``: ``s0`` (40 samples, K=8) contributes its odd samples once
    an epoch, ``s1`` (24 samples, K=16) all of its samples twice (T=4, Nbs=4, Nue=1, blocks of 8)."""
    shards, sources = [], []
    for i, (n, k) in enumerate([(40, 8), (24, 16)]):
        url = str(Path(root) / f"s{i}.zarr")
        shard, _ = write_synthetic(url, num_samples=n, block_size=8, sizes={"subcarrier": k}, seed=i)
        shards.append(ManifestShard(f"s{i}", url, shard.group.attrs["checksum"], n, (4, k, 4, 1)))
        sel = np.arange(1, n, 2) if i == 0 else np.arange(n)
        sources.append(Source(f"src{i}", (Selection(i, sel),), per_epoch=int(sel.size) * (1 + i)))
    return Manifest(seed=7, shards=tuple(shards), splits={"train": tuple(sources)})


def generate_root(root, recipe, overrides=None):
    """Every drop set of ``recipe`` (a parsed recipe mapping) generated into ``root``; returns ``root``."""
    for drops in drop_sets(recipe, overrides):
        run_plan(DropSetPlan(drops, str(root)))
    return root


@pytest.fixture
def memory_url():
    return f"memory://{uuid.uuid4().hex}/shard.zarr"


@pytest.fixture
def one_thread():
    """Small models run fastest on one torch thread; two threads slow down badly (10x) when another process loads
    the CPU. Modules of small-model tests use it with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A local S3-compatible server (moto) on 127.0.0.1 for this test session; the environment points boto at it
    (fake credentials, ``AWS_ENDPOINT_URL``) and the catalog cache at a session folder. Yields the endpoint URL."""
    import os
    import socket

    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "WIRELESSDATA_CACHE": str(tmp_path_factory.mktemp("cache")),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield endpoint
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()


@pytest.fixture
def s3_root(s3_server):
    """A fresh dataset root ``s3://<new bucket>/corpus`` on the session's S3 server."""
    import s3fs

    bucket = f"wd-{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem(skip_instance_cache=True).mkdir(bucket)
    return f"s3://{bucket}/corpus"


@pytest.fixture(scope="module")
def rt():
    """Sionna RT with a usable LLVM, or skip."""
    from wirelessdata.errors import WirelessDataError
    from wirelessdata.generators import raytrace

    try:
        return raytrace.sionna_rt()
    except WirelessDataError as exc:
        pytest.skip(str(exc))


def raytraced(config, samples, block_size, folder):
    """The shards of one ray-traced configuration (a raytrace config table) written under ``folder``:
    ``{band: (ShardResult, xarray Dataset)}``."""
    import xarray as xr

    (drops,) = drop_sets({"generator": "raytrace", "samples": samples, "block_size": block_size, "configs": [config]})
    return {r.band: (r, xr.open_zarr(r.url)) for r in run_plan(DropSetPlan(drops, str(folder)))}
