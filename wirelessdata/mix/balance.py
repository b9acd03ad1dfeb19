"""Distribution balancing: re-weight a source's samples so that a statistic follows a target histogram.

A spec's ``[balance]`` table (or a source's own ``balance`` table, or ``balance = false``)::

    [balance]
    statistic = "delay_spread"             # a per-sample label: see STATISTICS
    edges = [1e-9, 3e-8, 1e-7, 3e-7, 1e-5] # bin edges (default: the catalog's histogram edges of the metric)
    target = "uniform"                     # or one weight per bin, e.g. [1, 1, 2, 0]

Balancing works on **per-sample labels**, read from each shard when the manifest is built (one small
array per shard, as ``sample_id`` already is), not on the catalog's per-shard histograms: a shard's
histogram covers all its samples, not the training samples left after quality flags, the validation
hash, held-out rules and ``max_fraction``, and it can only re-weight whole shards, which cannot change
the distribution inside a shard (one shard of mixed LoS stays mixed). Per-sample bins make the
realised histogram exact: every epoch draws ``quota[b]`` samples of bin ``b``, the target share of the
source's samples per epoch apportioned by largest remainder, so the realised histogram differs from
the target by less than one sample per bin. Which samples of a bin an epoch uses changes from epoch to
epoch (seeded by the root seed and the epoch, :mod:`wirelessdata.mix.order`).

Samples outside the edges (or with a NaN label) and samples of zero-target bins are left out of the
source. A bin with a non-zero target and no sample, a label the shards lack, and a bin that would have
to repeat more than the source's ``max_epochs`` allows are one-line errors naming the source.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from wirelessdata.errors import ConfigError
from wirelessdata.mix.manifest import Selection, Source
from wirelessdata.shard.read import ShardReader
from wirelessdata.shard.stats import LABELS, METRIC_BY_NAME

BALANCE_KEYS = ("statistic", "edges", "target")
STATISTICS = LABELS
"""Statistics a mixture can be balanced on: metric name (as in the catalog) -> per-sample label variable."""


@dataclass(frozen=True)
class BalanceSpec:
    """A target histogram of one statistic.

    :param statistic: a key of :data:`STATISTICS`, e.g. ``delay_spread`` (label ``delay_spread_s``, seconds).
    :param edges: increasing bin edges in the label's units (``len(target) + 1`` of them); the last bin
        includes its right edge, as in ``numpy.histogram``.
    :param target: share of each bin (non-negative, sums to 1).
    """

    statistic: str
    edges: tuple[float, ...]
    target: tuple[float, ...]

    @property
    def label(self) -> str:
        """The per-sample label variable the statistic is read from."""
        return STATISTICS[self.statistic]

    def bin_name(self, b: int) -> str:
        """``[lo, hi)`` of bin ``b`` (``]`` for the last)."""
        close = "]" if b == len(self.target) - 1 else ")"
        return f"[{self.edges[b]:.3g}, {self.edges[b + 1]:.3g}{close}"


def parse_balance(where: str, raw: Any) -> BalanceSpec | None:
    """Validate a ``balance`` table (``false``: no balancing); one-line errors naming ``where``."""
    if raw is False:
        return None
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: give a table {{statistic = ..., edges = [...], target = 'uniform'}} or false")
    unknown = sorted(set(raw) - set(BALANCE_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; valid keys: {list(BALANCE_KEYS)}")
    statistic = raw.get("statistic")
    if statistic not in STATISTICS:
        raise ConfigError(
            f"{where}.statistic: {statistic!r} is not a per-sample statistic; choose from {list(STATISTICS)}"
        )
    edges = raw.get("edges", METRIC_BY_NAME[statistic].edges.array().tolist())
    if (
        not isinstance(edges, list)
        or len(edges) < 2
        or not all(isinstance(e, int | float) and not isinstance(e, bool) for e in edges)
        or not np.all(np.diff(np.asarray(edges, dtype=float)) > 0)
    ):
        raise ConfigError(f"{where}.edges: give at least two increasing numbers, e.g. [1e-9, 1e-7, 1e-5]")
    bins = len(edges) - 1
    target = raw.get("target", "uniform")
    if target == "uniform":
        weights = np.ones(bins)
    elif (
        isinstance(target, list)
        and len(target) == bins
        and all(isinstance(t, int | float) and not isinstance(t, bool) and t >= 0 for t in target)
        and sum(target) > 0
    ):
        weights = np.asarray(target, dtype=float)
    else:
        raise ConfigError(
            f"{where}.target: give 'uniform' or {bins} non-negative weights (one per bin of the edges), not all 0"
        )
    return BalanceSpec(str(statistic), tuple(float(e) for e in edges), tuple((weights / weights.sum()).tolist()))


def bin_of(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """int64 bin of each value, as ``numpy.histogram`` counts it (last bin closed); -1 outside or NaN."""
    v = np.asarray(values, dtype=np.float64)
    e = np.asarray(edges, dtype=np.float64)
    b = np.searchsorted(e, v, side="right") - 1
    b[v == e[-1]] = e.size - 2
    b[~np.isfinite(v) | (v < e[0]) | (v > e[-1])] = -1
    return b.astype(np.int64)


def read_bins(spec: BalanceSpec, source: str, shard: str, url: str, indices: np.ndarray) -> np.ndarray:
    """The bin of each sample ``indices`` of a shard, from its per-sample label (one read of the label)."""
    try:
        reader = ShardReader(url, (spec.label,))
    except KeyError:
        raise ConfigError(
            f"source '{source}': cannot balance {spec.statistic}: shard {shard} has no per-sample label "
            f"{spec.label}; balance another statistic or set balance = false on the source"
        ) from None
    values = reader.read_range(0, len(reader))[spec.label]
    return bin_of(values[indices], spec.edges)


def keep_targeted(spec: BalanceSpec, selections: Sequence[Selection]) -> tuple[tuple[Selection, ...], dict[str, Any]]:
    """The selections (with ``bins``) cut to samples inside the edges and in bins of non-zero target.

    :param selections: selections whose ``bins`` are set (:func:`read_bins`).
    :returns: the kept selections, and the source's natural histogram ``{"natural": counts per bin,
        "outside": samples outside the edges}`` before the cut.
    """
    target = np.asarray(spec.target)
    natural = np.zeros(target.size, dtype=np.int64)
    outside = 0
    kept = []
    for sel in selections:
        if sel.bins is None:
            raise ValueError(f"selection of shard {sel.shard} has no bins; set them with read_bins first")
        inside = sel.bins >= 0
        natural += np.bincount(sel.bins[inside], minlength=target.size)
        outside += int((~inside).sum())
        keep = inside & (target[np.maximum(sel.bins, 0)] > 0)
        kept.append(Selection(sel.shard, sel.indices[keep], sel.bins[keep]))
    return tuple(kept), {"natural": natural.tolist(), "outside": outside}


def check_reachable(spec: BalanceSpec, source: str, natural: Sequence[int]) -> None:
    """A one-line error when a bin of non-zero target has no usable training sample."""
    for b, (t, n) in enumerate(zip(spec.target, natural, strict=True)):
        if t > 0 and n == 0:
            raise ConfigError(
                f"source '{source}': cannot balance {spec.statistic}: bin {spec.bin_name(b)} has target "
                f"{t:.3g} but no usable training sample; merge it into a neighbouring bin (edges) or give it target 0"
            )


def quotas(spec: BalanceSpec, per_epoch: int) -> np.ndarray:
    """int64 samples of each bin in an epoch of ``per_epoch``: the target shares apportioned by largest remainder."""
    exact = np.asarray(spec.target) * per_epoch
    out = np.floor(exact).astype(np.int64)
    short = per_epoch - int(out.sum())
    out[np.argsort(-(exact - out), kind="stable")[:short]] += 1
    return out


def plan_quota(
    spec: BalanceSpec, source: str, per_epoch: int, natural: Sequence[int], max_epochs: float
) -> tuple[tuple[int, ...], dict[str, Any]]:
    """Samples per bin of one epoch, checked against the repetition cap, and the report of the balancing.

    :returns: the quota per bin and ``{"statistic", "label", "edges", "target", "natural", "quota",
        "realised"}`` (shares are fractions of the source's samples per epoch).
    """
    quota = quotas(spec, per_epoch)
    for b, (q, n) in enumerate(zip(quota, natural, strict=True)):
        cap = int(np.floor(n * max_epochs))
        if q > cap:
            raise ConfigError(
                f"source '{source}': balancing {spec.statistic} needs {q} samples an epoch from bin "
                f"{spec.bin_name(b)} but it has {n} usable (max_epochs {max_epochs:g} allows {cap}); raise "
                "max_epochs, lower the source's weight or count, or lower that bin's target"
            )
    info = {
        "statistic": spec.statistic,
        "label": spec.label,
        "edges": list(spec.edges),
        "target": list(spec.target),
        "quota": quota.tolist(),
        "realised": (quota / max(per_epoch, 1)).tolist(),
    }
    return tuple(int(q) for q in quota), info


def by_bin(source: Source) -> list[Source]:
    """A balanced source as one sub-source per bin of non-zero quota (``per_epoch`` = the bin's quota).

    An unbalanced source is returned as it is.
    """
    if not source.quota:
        return [source]
    parts = []
    for b, q in enumerate(source.quota):
        if q:
            sels = tuple(Selection(s.shard, s.indices[s.bins == b]) for s in source.selections if s.bins is not None)
            parts.append(Source(f"{source.name}[{b}]", tuple(s for s in sels if s.indices.size), q))
    return parts
