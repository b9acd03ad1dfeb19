"""Curation figures, printed as ratios.

- curate / generate: samples/s of ``curate(root)`` (flags, hashes, fingerprints, duplicate search, flag
  writes, catalog) over samples/s of the TR 38.901 pipeline that wrote the root (default command: UMa,
  sub6 + 28 GHz correlated, T=24, K=64, BS 4x8: drops, Zarr writes, commit statistics, validation),
  both counted in shard samples, same machine, same run. Goal >= 10.
- near-duplicate recall and precision: planted copies (30 dB AWGN, random common phase) of random samples
  of a corpus of --samples samples. The corpus is :func:`wirelessdata.curate.plant.multipath_csi` at a
  small shape (T=4, K=16, N_bs=8, N_ue=1: 4 KB a sample, so 100,000 samples are written in about a minute;
  a generator would need hours), in shards of 5,000. Goal >= 0.99 each.
- cost from 10,000 to 100,000 samples: curate seconds of a 10,000-sample root and of the 100,000-sample
  root (same shape, shards of 5,000); the ratio of the two (10 would be linear).

- calibration (``--calibrate ROOT [ROOT ...] [-o FIG]``): fingerprint distances of planted copies of each
  ROOT's samples at 30, 25, 20 and 15 dB against the nearest distinct drop of that ROOT (same ``sample_id`` at
  another band excluded), as a table and a histogram with the root's derived threshold: docs/curation.md.

Run: .venv/bin/python benchmarks/curate.py [--drops 256] [--samples 100000] [--planted 1000]
     .venv/bin/python benchmarks/curate.py --calibrate DEFAULT_ROOT NARROW_ROOT -o docs/img/curation_calibration.png
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from wirelessdata._testing import synthetic_block, synthetic_layout
from wirelessdata.catalog import register_shard
from wirelessdata.curate.blocks import iter_blocks
from wirelessdata.curate.duplicates import fingerprints, resolvable_bins, spacing_hz
from wirelessdata.curate.pipeline import curate
from wirelessdata.curate.plant import multipath_csi
from wirelessdata.curate.scan import shard_threshold
from wirelessdata.generate.plan import DropSetPlan
from wirelessdata.generate.planting import near_copy
from wirelessdata.generate.recipe import drop_sets
from wirelessdata.generate.run import run_plan
from wirelessdata.shard.info import shard_info
from wirelessdata.shard.read import ShardReader
from wirelessdata.shard.schema import load_schema
from wirelessdata.shard.store import create_shard
from wirelessdata.shard.url import find_shards

SIZES = {"time": 4, "subcarrier": 16, "bs_ant": 8, "ue_ant": 1}
SHARD_SAMPLES, BLOCK = 5000, 1000


def write_shard(root: Path, name: str, csi: np.ndarray, first_id: int) -> str:
    """A committed, registered shard of ``csi`` [n, 4, 16, 8, 1] with sample ids from ``first_id``."""
    layout = synthetic_layout(num_samples=len(csi), block_size=BLOCK, sizes=SIZES, seed=first_id)
    layout = dataclasses.replace(layout, attrs={**layout.attrs, "scenario": "multipath"})
    shard = create_shard(str(root / f"{name}.zarr"), layout)
    gain = (10 * np.log10(np.mean(np.abs(csi) ** 2, axis=(1, 2, 3, 4)))).astype(np.float32)
    for b in range(layout.num_blocks):
        lo, hi = layout.block_range(b)
        ids = np.arange(first_id + lo, first_id + hi, dtype=np.uint64)
        data = {**synthetic_block(layout, b), "csi": csi[lo:hi], "sample_id": ids, "path_gain_db": gain[lo:hi]}
        shard.write_block(b, data)
    shard.commit({})
    register_shard(str(root), shard.url)
    return shard.url


def generator_vs_curate(drops: int, work: Path) -> None:
    root = work / "tr38901"
    (sets,) = drop_sets({"configs": [{"scenario": "UMa"}]}, {"samples": drops})
    start = time.perf_counter()
    results = run_plan(DropSetPlan(sets, str(root)))
    gen_s = time.perf_counter() - start
    samples = sum(r.num_samples for r in results)
    start = time.perf_counter()
    curate(str(root))
    cur_s = time.perf_counter() - start
    print(
        f"generate: {samples} shard samples ({drops} drops x {len(results)} bands) in {gen_s:.1f} s = "
        f"{samples / gen_s:.1f} samples/s"
    )
    print(f"curate:   {samples} samples in {cur_s:.2f} s = {samples / cur_s:.1f} samples/s")
    print(f"curate / generate samples/s: {gen_s / cur_s:.1f} (goal >= 10)")


def corpus(root: Path, samples: int, seed: int) -> np.random.Generator:
    """Write ``samples`` multipath samples under ``root`` in shards of :data:`SHARD_SAMPLES`."""
    rng = np.random.default_rng(seed)
    for s, lo in enumerate(range(0, samples, SHARD_SAMPLES)):
        n = min(SHARD_SAMPLES, samples - lo)
        write_shard(root, f"corpus-{s:03d}", multipath_csi(rng, n, tuple(SIZES.values())) * 1e-4, seed * 10**9 + lo)
    return rng


def recall_precision(root: Path, samples: int, planted: int, rng: np.random.Generator) -> None:
    """Plant ``planted`` 30 dB copies of random corpus samples in a shard of their own, curate, score."""
    shards = sorted(root.glob("corpus-*.zarr"))
    picks = np.sort(rng.choice(samples, planted, replace=False))
    originals = []
    for s, path in enumerate(shards):
        mine = picks[(picks >= s * SHARD_SAMPLES) & (picks < (s + 1) * SHARD_SAMPLES)] - s * SHARD_SAMPLES
        if mine.size:
            originals.append(ShardReader(str(path), ("csi",)).read(mine)["csi"])
    write_shard(root, "planted", near_copy(np.concatenate(originals), 30.0, rng), 10**12)
    start = time.perf_counter()
    report = curate(str(root))
    seconds = time.perf_counter() - start
    near = np.uint32(load_schema().flag_bit("near_duplicate"))
    hits = {Path(s.url).name: s.counts["near_duplicate"] for s in report.shards}
    caught = hits.pop("planted.zarr")
    false = sum(hits.values())
    flags = ShardReader(str(root / "planted.zarr"), ("quality_flags",)).read_range(0, planted)["quality_flags"]
    assert caught == int(((flags & near) != 0).sum())
    print(
        f"near duplicates in {samples + planted} samples ({planted} planted, 30 dB, shape {tuple(SIZES.values())}): "
        f"recall {caught / planted:.4f}, precision {caught / max(caught + false, 1):.4f} "
        f"({false} distinct samples flagged); threshold {report.shards[0].threshold:.3f}; curate {seconds:.1f} s"
    )


def scaling(small: Path, large: Path, n_small: int, n_large: int) -> None:
    """Wall and CPU seconds (all threads of this process) of curating each root, and their ratios."""
    times, cpu = [], []
    for root in (small, large):
        start, start_cpu = time.perf_counter(), time.process_time()
        curate(str(root))
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    print(
        f"curate cost {n_small} -> {n_large} samples: {times[0]:.1f} s -> {times[1]:.1f} s, ratio "
        f"{times[1] / times[0]:.1f} for {n_large / n_small:.0f}x the samples "
        f"({n_small / times[0]:.0f} vs {n_large / times[1]:.0f} samples/s); CPU {cpu[0]:.1f} s -> {cpu[1]:.1f} s, "
        f"ratio {cpu[1] / cpu[0]:.1f}"
    )


def load() -> str:
    """The machine's load averages (1, 5, 15 min) and cores: the benchmark shares the machine."""
    return f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores"


@dataclasses.dataclass
class Calibration:
    """Fingerprint distances of one configuration (CSI shape and resolvable bins) of a calibration root."""

    label: str
    threshold: float
    fingerprints: list = dataclasses.field(default_factory=list)
    ids: list = dataclasses.field(default_factory=list)
    copies: dict = dataclasses.field(default_factory=lambda: {snr: [] for snr in (30, 25, 20, 15)})

    def rows(self) -> dict[str, np.ndarray]:
        """Copy distances per SNR and the distance of every sample to its nearest distinct drop (band twin excluded)."""
        import faiss

        f, sid = np.concatenate(self.fingerprints), np.concatenate(self.ids)
        nearest = np.full(len(f), np.inf)
        for v in range(f.shape[1]):
            index = faiss.IndexFlatL2(f.shape[2])
            index.add(np.ascontiguousarray(f[:, v]))
            dist, idx = index.search(np.ascontiguousarray(f[:, v]), 10)
            other = (idx != np.arange(len(f))[:, None]) & (sid[idx] != sid[:, None])  # not itself, not its twin
            nearest = np.minimum(nearest, np.where(other, np.sqrt(np.maximum(dist, 0)), np.inf).min(axis=1))
        rows = {f"copies {snr} dB": np.concatenate(d) for snr, d in self.copies.items()}
        rows["nearest distinct drop"] = nearest
        return rows


def calibrate_root(root: str, rng: np.random.Generator, per_block: int = 16) -> list[Calibration]:
    """Distances of planted copies (of the first ``per_block`` samples of every block) at 30, 25, 20 and 15 dB, and
    of the nearest distinct drop, over the shards of ``root``, per configuration (CSI shape, resolvable bins)."""
    groups: dict[tuple, Calibration] = {}
    for url in find_shards(root):
        info = shard_info(url)
        bins = resolvable_bins(info.csi_shape, spacing_hz(info.coords.get("subcarrier")))
        t, k, nbs, nue = info.csi_shape
        label = f"{Path(root).name}: T={t}, K={k}, BS {nbs}, UE {nue}, {bins} resolvable bins"
        cal = groups.setdefault((info.csi_shape, bins), Calibration(label, shard_threshold(info)))
        for _start, block in iter_blocks(info, ["csi", "sample_id"]):
            cal.fingerprints.append(fingerprints(block["csi"]))
            cal.ids.append(block["sample_id"])
            for snr, out in cal.copies.items():
                planted = fingerprints(near_copy(block["csi"][:per_block], snr, rng))
                out.append(np.linalg.norm(planted - cal.fingerprints[-1][:per_block], axis=2).min(axis=1))
    return list(groups.values())


def calibrate(roots: list[str], figure: Path | None) -> None:
    """Calibration table (and figure) of every configuration of every root: copies and nearest distinct drops
    against the configuration's threshold."""
    rng = np.random.default_rng(0)
    results = []
    for root in roots:
        for cal in calibrate_root(root, rng):
            rows = cal.rows()
            results.append((cal, rows))
            print(f"{cal.label} ({rows['nearest distinct drop'].size} samples): threshold {cal.threshold:.3f}")
            for name, d in rows.items():
                print(
                    f"  {name:22s} n={d.size:5d} median {np.median(d):.3f} p99 {np.percentile(d, 99):.3f} "
                    f"min {d.min():.3f} max {d.max():.3f} below threshold {(d < cal.threshold).mean():.2%}"
                )
    if figure is None:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(results), 1, figsize=(7, 3 * len(results)), constrained_layout=True, squeeze=False)
    edges = np.geomspace(0.004, 1.5, 80)
    for ax, (cal, rows) in zip(axes[:, 0], results, strict=True):
        for name, d in rows.items():
            clipped = np.clip(d, edges[0], edges[-1])
            ax.hist(clipped, edges, weights=np.full(d.size, 1 / d.size), histtype="step", linewidth=1.5, label=name)
        ax.axvline(cal.threshold, color="k", linestyle="--", label=f"threshold {cal.threshold:.3f}")
        ax.set_xscale("log")
        ax.set_ylabel("share per bin")
        ax.set_title(f"{cal.label}, {rows['nearest distinct drop'].size} samples", fontsize="medium")
        ax.legend(fontsize="x-small", loc="upper left")
    axes[-1, 0].set_xlabel("fingerprint distance to the original / to the nearest distinct drop")
    fig.savefig(figure, dpi=110)
    print(f"figure: {figure}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--drops", type=int, default=256, help="drops of the TR 38.901 root (x2 bands)")
    parser.add_argument("--samples", type=int, default=100_000, help="corpus samples for recall and scaling")
    parser.add_argument("--planted", type=int, default=1000, help="planted near duplicates")
    parser.add_argument("--keep", type=Path, default=None, help="keep the roots in this folder")
    parser.add_argument("--calibrate", metavar="ROOT", nargs="+", help="only the threshold calibration on ROOTs")
    parser.add_argument("-o", "--output", type=Path, default=None, help="calibration figure")
    args = parser.parse_args()
    if args.calibrate:
        calibrate(args.calibrate, args.output)
        return
    work = args.keep or Path(tempfile.mkdtemp(prefix="wd-curate-bench-"))
    print(f"start: {load()}")
    try:
        generator_vs_curate(args.drops, work)
        small, large = work / "small", work / "large"
        corpus(small, 10_000, seed=1)
        rng = corpus(large, args.samples, seed=2)
        scaling(small, large, 10_000, args.samples)
        recall_precision(large, args.samples, args.planted, rng)
        print(f"end: {load()}")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
