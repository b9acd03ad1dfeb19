"""Where a task view reads from: shard paths or a mixture manifest, resolved to shards and sample selections.

A source is a shard path, a directory of shards, a manifest JSON path, a :class:`~wirelessdata.mix.manifest.Manifest`,
a list of shard paths, or a list of :class:`ShardSamples` (shards with their samples already chosen, e.g. by
``shard_info(url, indices)``; split ``all`` only). ``split`` picks the samples:

- shards: ``all``; ``train`` / ``test``: the two sides of a hash of ``(seed, sample_id)`` with ``test_fraction``
  on the test side (:func:`wirelessdata.mix.split.val_mask`; paired bands of one drop land on the same side);
- a manifest: one of its splits (``train``, ``val``, held-out names) or ``all`` (the union of its splits).
"""

from __future__ import annotations

import dataclasses
import functools
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wirelessdata.errors import ConfigError
from wirelessdata.mix.manifest import Manifest, load_manifest
from wirelessdata.mix.split import val_mask
from wirelessdata.shard.info import ShardInfo
from wirelessdata.shard.info import shard_info as read_shard_info
from wirelessdata.shard.read import ShardReader
from wirelessdata.shard.store import open_group
from wirelessdata.shard.url import find_shards, is_url
from wirelessdata.shard.validate import shard_urls

Source = str | Path | Manifest | Sequence[str | Path] | Sequence["ShardSamples"]


@dataclass
class ShardSamples:
    """One shard of a view: the shard (:class:`~wirelessdata.shard.info.ShardInfo`) and the samples the view uses.

    :param info: the shard; its ``name`` is the one the source gives it (a manifest's shard name).
    :param indices: sample indices used (sorted int64).
    """

    info: ShardInfo
    indices: np.ndarray
    key: int = field(init=False)

    def __post_init__(self) -> None:
        self.key = zlib.crc32(self.name.encode())

    @property
    def name(self) -> str:
        """The shard's name in the view."""
        return self.info.name

    @property
    def url(self) -> str:
        """Where the shard is."""
        return self.info.url

    @property
    def attrs(self) -> dict[str, Any]:
        """The shard's group attributes."""
        return self.info.attrs

    @property
    def time_s(self) -> np.ndarray:
        """``[T]`` snapshot times, s."""
        return self.info.time_s

    @property
    def subcarrier_hz(self) -> np.ndarray:
        """``[K]`` subcarrier offsets, Hz."""
        return self.info.subcarrier_hz

    @property
    def shape(self) -> tuple[int, ...]:
        """CSI shape of a sample ``(T, K, Nbs, Nue)``."""
        assert self.info.csi_shape is not None  # shard_samples admits CSI shards only
        return self.info.csi_shape

    def describe(self) -> dict[str, Any]:
        """Name, url, checksum, band, scenario and sample count, for a definition."""
        keys = ("checksum", "band", "scenario", "generator", "recipe_hash")
        return {"name": self.name, "url": self.url, "samples": int(self.indices.size)} | {
            k: self.attrs[k] for k in keys if k in self.attrs
        }


WHOLE_BYTES = 4096
"""Per-sample variables of at most this many bytes a sample (labels, positions) are read whole when a :class:`Labels`
is made; larger ones (images, depth maps) and ragged ones are read batch by batch in :meth:`Labels.take`."""


class Labels:
    """Per-sample variables of a shard, looked up by ``sample_id``.

    Small variables (:data:`WHOLE_BYTES` a sample at most) are read whole once; larger ones (images, depth maps) are
    read for each :meth:`take`, so memory stays that of a batch. A ragged variable (first dimension a ragged one of
    the shard, e.g. ``lidar_points`` or ``scatterer_points_lidar``) comes as an object array ``[n]`` of per-sample
    arrays ``[count_i, ...]``, cut by its ``<prefix>_start`` / ``<prefix>_count`` (read whole) and read per take.
    """

    def __init__(self, url: str, names: Sequence[str]) -> None:
        group = open_group(url)
        missing = [n for n in names if n not in group]
        if missing:
            raise ConfigError(f"shard {url} has no {', '.join(missing)}; the task needs it (regenerate with labels)")
        prefixes = {r["dim"]: r["prefix"] for r in group.attrs.get("ragged", [])}
        ragged = {n: prefixes[d] for n in names if (d := group[n].metadata.dimension_names[0]) in prefixes}
        large = [n for n in names if n not in ragged and _sample_bytes(group[n]) > WHOLE_BYTES]
        whole = [n for n in names if n not in ragged and n not in large]
        rows = sorted({f"{p}_{end}" for p in ragged.values() for end in ("start", "count")})
        data = ShardReader(url, ("sample_id", *whole, *rows)).read_range(0, int(group.attrs["num_samples"]))
        self.rows = {p: (data[f"{p}_start"], data[f"{p}_count"]) for p in set(ragged.values())}
        self.ragged = {p: ShardReader(url, [n for n, q in ragged.items() if q == p]) for p in self.rows}
        self.large = ShardReader(url, large) if large else None
        ids = data.pop("sample_id").astype(np.uint64)
        self.order = np.argsort(ids, kind="stable")
        self.sorted_ids = ids[self.order]
        self.data = {n: data[n] for n in whole}
        self.url = url

    def take(self, sample_ids: np.ndarray) -> dict[str, np.ndarray]:
        """The variables of ``sample_ids`` ``[B]`` (uint64 or their int64 view), in that order."""
        ids = np.asarray(sample_ids).view(np.uint64) if np.asarray(sample_ids).dtype == np.int64 else sample_ids
        pos = np.searchsorted(self.sorted_ids, ids)
        pos = np.minimum(pos, self.sorted_ids.size - 1)
        if not np.array_equal(self.sorted_ids[pos], ids):
            raise ConfigError(f"shard {self.url} lacks some sample_ids of the view; pair shards of one drop set")
        idx = self.order[pos]
        out = {name: arr[idx] for name, arr in self.data.items()}
        if self.large is not None:
            out |= self.large.read(idx)
        for prefix, reader in self.ragged.items():
            starts, counts = (r[idx].astype(np.int64) for r in self.rows[prefix])
            parts = reader.read_ranges([(int(a), int(a + c)) for a, c in zip(starts, counts, strict=True)])
            for name in reader.arrays:
                out[name] = np.empty(len(idx), object)
                out[name][:] = [part[name] for part in parts]
        return out


def _sample_bytes(array: Any) -> int:
    """Bytes of one sample of a per-sample zarr array."""
    return int(np.prod(array.shape[1:], dtype=np.int64)) * array.dtype.itemsize


@functools.lru_cache(maxsize=16)
def shard_labels(url: str, names: tuple[str, ...], checksum: str | None) -> Labels:
    """:class:`Labels` of ``names`` of the shard at ``url``, read once per process and shard ``checksum`` (a shard
    written again at the same url is read again): the side information a baseline looks up by ``Meta.sample_id``."""
    return Labels(url, names)


def shard_info(url: str, indices: np.ndarray | None = None, name: str | None = None) -> ShardSamples:
    """The CSI shard at ``url`` (:func:`wirelessdata.shard.info.shard_info`) with all or the given sample indices,
    under ``name`` (default: its file name)."""
    info = read_shard_info(str(url), need_csi=True)
    if name is not None:
        info = dataclasses.replace(info, name=name)
    n = info.num_samples
    return ShardSamples(info, np.arange(n, dtype=np.int64) if indices is None else np.asarray(indices, np.int64))


def _paths(source: str | Path | Sequence[str | Path]) -> list[str]:
    return shard_urls([source] if isinstance(source, str | Path) else list(source))


def resolve(
    source: Source, split: str = "all", seed: int = 0, test_fraction: float = 0.25
) -> tuple[list[ShardSamples], dict[str, Any]]:
    """The shards of ``source`` with the samples of ``split`` (module doc), and a description of the source."""
    if isinstance(source, str | Path) and str(source).endswith(".json"):
        source = load_manifest(source)
    if not isinstance(source, str | Path | Manifest) and source and all(isinstance(s, ShardSamples) for s in source):
        if split != "all":
            raise ConfigError(f"split {split!r} of chosen samples: use all (the samples are chosen already)")
        shards = [dataclasses.replace(s, indices=np.asarray(s.indices, np.int64)) for s in source]
        desc: dict[str, Any] = {"kind": "samples", "split": split}
    elif isinstance(source, Manifest):
        source.verify()
        names = list(source.splits) if split == "all" else [split]
        chosen: dict[int, list[np.ndarray]] = {}
        for name in names:
            for src in source.split(name):
                for sel in src.selections:
                    chosen.setdefault(sel.shard, []).append(sel.indices)
        shards = [
            shard_info(source.shards[i].url, np.unique(np.concatenate(parts)), source.shards[i].name)
            for i, parts in sorted(chosen.items())
        ]
        desc = {"kind": "manifest", "seed": source.seed, "split": split}
    else:
        if split not in ("all", "train", "test"):
            raise ConfigError(f"split {split!r} of shard paths: use all, train or test (manifests have named splits)")
        if not 0 < test_fraction < 1:
            raise ConfigError(f"test_fraction {test_fraction} must be between 0 and 1")
        shards = [shard_info(u) for u in _paths(source)]
        if split != "all":
            for s in shards:
                ids = ShardReader(s.url, ("sample_id",)).read_range(0, int(s.attrs["num_samples"]))["sample_id"]
                test = val_mask(ids, test_fraction, seed)
                s.indices = np.flatnonzero(test if split == "test" else ~test).astype(np.int64)
        desc = {"kind": "shards", "split": split} | ({"test_fraction": test_fraction} if split != "all" else {})
    names = [s.name for s in shards]
    if dup := sorted({n for n in names if names.count(n) > 1}):
        raise ConfigError(f"two shards named {dup[0]} in the source; give shards with distinct names")
    return shards, desc


def find_partner(shard: ShardSamples, candidates: Sequence[ShardSamples], band: str) -> ShardSamples:
    """The shard of the same drop set (same ``recipe_hash``) at ``band``: among ``candidates``, else a sibling
    ``*.zarr`` of ``shard``'s directory."""
    want = shard.attrs.get("recipe_hash")

    def matches(attrs: dict[str, Any]) -> bool:
        return attrs.get("band") == band and attrs.get("recipe_hash") == want

    for c in candidates:
        if matches(c.attrs):
            return c
    parent = Path(shard.url).parent
    if not is_url(shard.url) and parent.is_dir():
        for url in find_shards(str(parent)):
            if url != shard.url and matches(open_group(url).attrs.asdict()):
                return shard_info(url)
    raise ConfigError(
        f"shard {shard.name} has no paired {band} shard (same recipe_hash) in the source or beside it; "
        f"generate paired bands, e.g. --bands {shard.attrs.get('band')},{band}"
    )
