"""What a shard is, read from its metadata: the one :class:`ShardInfo` of every reader (exports, curation,
task views, plots), and the one check that a location holds a finished shard (with CSI, when asked)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from wirelessdata.errors import StoreError
from wirelessdata.shard.schema import load_schema
from wirelessdata.shard.store import STATUS_COMPLETE, open_group
from wirelessdata.shard.url import shard_name


@dataclass(frozen=True)
class ShardInfo:
    """A shard's location, name, group attributes, per-sample variables and coordinates (no sample data read).

    :param url: the shard's path or URL.
    :param name: its file name without ``.zarr``.
    :param attrs: its group attributes (``num_samples``, ``block_size``, ``band``, ``recipe``, ...).
    :param variables: names of its per-sample (``sample``-dim) schema variables.
    :param coords: its ``time`` [T] (s) and ``subcarrier`` [K] (Hz) coordinates, when present.
    :param csi_shape: ``(T, K, N_bs, N_ue)`` of one sample's CSI, None without CSI.
    """

    url: str
    name: str
    attrs: dict[str, Any]
    variables: tuple[str, ...]
    coords: dict[str, np.ndarray]
    csi_shape: tuple[int, ...] | None

    @property
    def num_samples(self) -> int:
        """Samples in the shard."""
        return int(self.attrs["num_samples"])

    @property
    def block_size(self) -> int:
        """Samples per block."""
        return int(self.attrs["block_size"])

    @property
    def modalities(self) -> list[str]:
        """Modalities the shard declares (``core`` implied)."""
        return list(self.attrs.get("modalities", []))

    @property
    def time_s(self) -> np.ndarray:
        """``[T]`` snapshot times, s (float64)."""
        return np.asarray(self.coords["time"], np.float64)

    @property
    def subcarrier_hz(self) -> np.ndarray:
        """``[K]`` subcarrier offsets from the carrier, Hz (float64)."""
        return np.asarray(self.coords["subcarrier"], np.float64)


def shard_info(url: str, need_csi: bool = False, complete: bool = True) -> ShardInfo:
    """The :class:`ShardInfo` of the shard at ``url``.

    One-line :class:`~wirelessdata.errors.StoreError` for a location that is not a wirelessdata shard, a shard
    that is not finished (unless ``complete`` is False) and, with ``need_csi``, a shard without CSI.
    """
    group = open_group(str(url), mode="r")
    attrs = group.attrs.asdict()
    if "schema" not in attrs or "num_samples" not in attrs:
        raise StoreError(f"{url}: not a wirelessdata shard (no 'schema' attribute); give shards wirelessdata wrote")
    if complete and attrs.get("status") != STATUS_COMPLETE:
        raise StoreError(
            f"{url}: shard is {attrs.get('status')}, not complete; finish it (rerun the command that wrote it) first"
        )
    arrays = dict(group.arrays())
    if need_csi and "csi" not in arrays:
        raise StoreError(f"{url}: shard has no csi (modalities {attrs.get('modalities')}); give a shard with CSI")
    schema = load_schema()
    per_sample = tuple(
        n for n, a in arrays.items() if n in schema.variables and a.metadata.dimension_names[0] == "sample"
    )
    coords = {n: np.asarray(arrays[n][:]) for n in ("time", "subcarrier") if n in arrays}
    csi = arrays.get("csi")
    return ShardInfo(
        str(url), shard_name(url), attrs, per_sample, coords, tuple(csi.shape[1:]) if csi is not None else None
    )
