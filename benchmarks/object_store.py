"""Object-store figures, each a ratio against local disk measured in the same run, against a local S3 server
(moto, started here as its own process on 127.0.0.1, as the tests do).

- generate: seconds of the same drop sets written to ``s3://bucket/root`` and to a local folder (shards, commit,
  statistics, catalog, validation); goal s3 / local throughput >= 0.8.
- stream: batches per second of the mixture loader alone (batch 32, one process, nothing done with them) from the
  object store and from local disk, and the bound: the server's own throughput, every CSI chunk object fetched
  with 16 requests in flight, in MB/s against the loader's;
- train: samples/s of ``wirelessdata train`` (batch 32, the default model) with its manifest over the object store
  and over local disk: what "a remote corpus trains at close to local speed" means; goal >= 0.8 (the loader reads
  the next batches' runs ahead, mix/loader.py PREFETCH_BATCHES).

A local server has no network latency: these ratios measure the client path (requests, listing, the catalog's
conditional writes); a remote store adds its round trip per request.

Run: .venv/bin/python benchmarks/object_store.py [--samples 256] [--batches 200] [--steps 12]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

import s3fs

from wirelessdata.generate.plan import DropSetPlan
from wirelessdata.generate.recipe import drop_sets
from wirelessdata.generate.run import run_plans
from wirelessdata.mix.loader import MixtureDataset
from wirelessdata.mix.spec import build_manifest, parse_spec


def start_server(log: str) -> tuple[subprocess.Popen, str]:
    """A moto S3 server on a free local port, as its own process, its access log (one line per request) in ``log``;
    its endpoint."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=open(log, "w"),  # noqa: SIM115 (the server process keeps it open)
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, endpoint
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("moto server did not start")


def generate(root: str, samples: int) -> float:
    """Seconds to generate the default paired corpus (sub6 + 28GHz) at ``root``."""
    sets = drop_sets({}, {"samples": samples, "bands": ["sub6", "28GHz"], "block_size": 64})
    plans = [DropSetPlan(d, root) for d in sets]
    for p in plans:
        _ = p.shards  # Sionna models built outside the timing, for both
    start = time.perf_counter()
    run_plans(plans)
    return time.perf_counter() - start


def stream(root: str, batches: int) -> float:
    """Training batches per second of the mixture loader over every shard of ``root``."""
    spec = parse_spec({"seed": 0, "sources": [{"name": "all", "where": ["status=complete"]}]})
    manifest = build_manifest(spec, root)
    data = MixtureDataset(manifest, "train", batch_size=32)
    it = iter(data)
    next(it)  # open the shards outside the timing
    start = time.perf_counter()
    done = 0
    while done < batches:
        try:
            next(it)
        except StopIteration:
            it = iter(data)
            continue
        done += 1
    return done / (time.perf_counter() - start)


def manifest_of(root: str) -> str:
    """A manifest over every shard of ``root``, written beside them; its location."""
    spec = parse_spec({"seed": 0, "sources": [{"name": "all", "where": ["status=complete"]}]})
    location = f"{root.rstrip('/')}/bench-manifest.json"
    build_manifest(spec, root).save(location)
    return location


def server_mb_s(root: str) -> float:
    """MB/s of the server: every ``csi`` chunk object under ``root`` fetched, 16 requests in flight."""
    fs = s3fs.S3FileSystem()
    keys = [k for k in fs.find(root.removeprefix("s3://")) if "/csi/c." in k]
    start = time.perf_counter()
    data = fs.cat(keys, batch_size=16)
    return sum(len(v) for v in data.values()) / (time.perf_counter() - start) / 1e6


def requests_served(log: str) -> int:
    """Requests the server has answered so far (the HTTP request lines of its access log)."""
    with open(log) as f:
        return sum(1 for line in f if re.search(r'"(GET|PUT|POST|HEAD|DELETE) ', line))


def request_ms() -> tuple[float, float]:
    """Milliseconds per small request of the server: one at a time, and 50 with 16 in flight (per request)."""
    fs = s3fs.S3FileSystem()
    keys = [f"bench/latency/{i}" for i in range(50)]
    for k in keys:
        fs.pipe_file(k, b"x" * 1000)
    start = time.perf_counter()
    for k in keys:
        fs.cat_file(k)
    serial = (time.perf_counter() - start) / len(keys) * 1e3
    start = time.perf_counter()
    fs.cat(keys, batch_size=16)
    return serial, (time.perf_counter() - start) / len(keys) * 1e3


def train_rate(manifest: str, steps: int, out: str) -> float:
    """samples/s that ``wirelessdata train`` reports for ``steps`` steps of batch 32 on ``manifest``."""
    exe = os.path.join(os.path.dirname(sys.executable), "wirelessdata")
    res = subprocess.run(
        [exe, "train", "--manifest", manifest, "--out", out, "--steps", str(steps), "--batch-size", "32"],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(re.search(r"\(([0-9.]+) samples/s\)", res.stdout).group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--batches", type=int, default=200)
    ap.add_argument("--steps", type=int, default=12)
    args = ap.parse_args()
    log = os.path.join(tempfile.mkdtemp(), "server.log")
    proc, endpoint = start_server(log)
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint,
        WIRELESSDATA_CACHE=tempfile.mkdtemp(),
    )
    try:
        s3fs.S3FileSystem().mkdir("bench")
        local = tempfile.mkdtemp()
        generate(tempfile.mkdtemp(), 64)  # warm-up (first Sionna calls)
        serial, concurrent = request_ms()
        print(
            f"server: {serial:.1f} ms per request one at a time, {concurrent:.1f} ms each with 16 in flight "
            "(the bound of every request-bound figure below)"
        )
        t_local = generate(local, args.samples)
        before = requests_served(log)
        t_s3 = generate("s3://bench/root", args.samples)
        served = requests_served(log) - before
        print(
            f"generate {2 * args.samples} samples: local {t_local:.1f} s, s3 {t_s3:.1f} s; "
            f"s3 / local throughput {t_local / t_s3:.2f}  (goal >= 0.8)"
        )
        busy = served * concurrent / 1e3  # the server's time for them at its best rate (16 in flight)
        print(
            f"  bound: {served} requests take the server {busy:.1f} s at {concurrent:.1f} ms each (its rate with 16 "
            f"in flight): s3 / local <= {t_local / max(t_local, busy):.2f} on this server"
        )
        r_local = stream(local, args.batches)
        r_s3 = stream("s3://bench/root", args.batches)
        print(
            f"stream batches of 32: local {r_local:.1f} batches/s, s3 {r_s3:.1f} batches/s; "
            f"s3 / local {r_s3 / r_local:.2f}"
        )
        sample_mb = 24 * 64 * 32 * 8 / 1e6
        print(
            f"  bound: the server serves {server_mb_s('s3://bench/root'):.0f} MB/s of CSI chunks; the loader read "
            f"{r_s3 * 32 * sample_mb:.0f} MB/s from it"
        )
        t_local = train_rate(manifest_of(local), args.steps, tempfile.mkdtemp())
        t_s3 = train_rate(manifest_of("s3://bench/root"), args.steps, tempfile.mkdtemp())
        print(
            f"train, batch 32: local {t_local:.1f} samples/s, s3 {t_s3:.1f} samples/s; s3 / local {t_s3 / t_local:.2f}"
            "  (goal >= 0.8)"
        )
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
