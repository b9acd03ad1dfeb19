"""Distributions of a shard, measured at commit in one streaming pass over its blocks.

Every metric of :data:`METRICS` is summarised as count, mean, std, min, max, the 5/25/50/75/95 %
quantiles and a histogram over fixed edges (:class:`Edges`, defined once here and stored with each
summary), so shards can be compared and their histograms summed (:func:`merge_summaries`).

Labels (path gain, delay spread, K-factor, LoS, indoor, distance, UE velocity) are read for every
sample, block by block. The CSI-derived metrics (CSI power, angular-spread proxy) are measured on one
CSI chunk (along ``sample``) in ``stride``, whole chunks, so the pass reads about 1/stride of the CSI
bytes: ``stride = clip(num_samples // CSI_MIN_SAMPLES, 1, CSI_CHUNK_STRIDE)`` (small shards are read
whole); their ``count`` says how many samples were measured. Only per-sample scalars are kept across
blocks (8 bytes x samples x metrics), for exact quantiles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from wirelessdata.constants import SPEED_OF_LIGHT

if TYPE_CHECKING:  # zarr is imported where shards are read: the catalog's queries need only the definitions
    import zarr

STATS_VERSION = 1
"""Version of the ``stats`` attribute layout and of the metric definitions; bumped when either changes."""

QUANTILES = (5, 25, 50, 75, 95)
SUMMARY_STATS = ("count", "mean", "std", "min", "max", *(f"p{q:02d}" for q in QUANTILES))
"""Scalar fields of a summary, in order; the catalog flattens them into ``<metric>_<stat>`` columns."""

CSI_CHUNK_STRIDE = 8
"""CSI-derived metrics read at least one CSI chunk in this many ..."""
CSI_MIN_SAMPLES = 128
"""... and at least about this many samples (all of a smaller shard)."""

COVARIANCE_SNAPSHOTS = 4
COVARIANCE_SUBCARRIERS = 16
"""The BS spatial covariance of a sample is estimated from at most this many evenly spaced snapshots x subcarriers."""


@dataclass(frozen=True)
class Edges:
    """Fixed histogram edges: ``bins`` bins from ``lo`` to ``hi``, evenly spaced in value or in log10."""

    scale: str
    lo: float
    hi: float
    bins: int

    def array(self) -> np.ndarray:
        """float64 [bins + 1] edges."""
        if self.scale == "log":
            return np.logspace(np.log10(self.lo), np.log10(self.hi), self.bins + 1)
        return np.linspace(self.lo, self.hi, self.bins + 1)


@dataclass(frozen=True)
class Metric:
    """One measured distribution: name (as used in catalog fields), units, meaning, histogram edges."""

    name: str
    units: str
    description: str
    edges: Edges


DB_EDGES = Edges("linear", -200.0, 40.0, 120)
SHARE_EDGES = Edges("linear", -0.5, 1.5, 2)  # two bins: false, true; the mean is the share of true

METRICS: tuple[Metric, ...] = (
    Metric("path_gain", "dB", "path gain, label path_gain_db", DB_EDGES),
    Metric("csi_power", "dB", "10 log10 of the mean |H|^2 of the CSI over time, subcarriers and antennas", DB_EDGES),
    Metric("delay_spread", "s", "RMS delay spread, label delay_spread_s", Edges("log", 1e-9, 1e-5, 40)),
    Metric("k_factor", "dB", "Ricean K-factor, label k_factor_db (LoS samples)", Edges("linear", -20.0, 40.0, 60)),
    Metric("los", "1", "line of sight present (mean = LoS share)", SHARE_EDGES),
    Metric("indoor", "1", "UE indoors (mean = indoor share)", SHARE_EDGES),
    Metric("distance", "m", "3D BS-UE distance, label distance_m", Edges("log", 1.0, 1e5, 50)),
    Metric("ue_speed", "m s-1", "UE speed |ue_vel|", Edges("linear", 0.0, 100.0, 100)),
    Metric("doppler", "Hz", "maximum Doppler shift, UE speed x carrier frequency / c", Edges("log", 1.0, 1e5, 50)),
    Metric(
        "angular_spread",
        "1",
        "angular-spread proxy 1 - sum(l^2)/sum(l)^2 over the eigenvalues l of the sample's BS spatial covariance "
        "(0: one direction; 1 - 1/N_bs: isotropic)",
        Edges("linear", 0.0, 1.0, 50),
    ),
)
METRIC_BY_NAME = {m.name: m for m in METRICS}

LABELS = {
    "path_gain": "path_gain_db",
    "delay_spread": "delay_spread_s",
    "k_factor": "k_factor_db",
    "los": "los",
    "indoor": "indoor",
    "distance": "distance_m",
}
"""Metrics read straight from a per-sample label variable."""


def summarize(metric: Metric, values: np.ndarray) -> dict[str, Any] | None:
    """Summary of the finite values of ``values`` (any shape); None when there is none.

    :returns: the :data:`SUMMARY_STATS` fields, ``hist`` (counts per bin of ``metric.edges``, values on
        the edges included), ``underflow`` / ``overflow`` (values below / above the edges) and ``edges``.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if not v.size:
        return None
    edges = metric.edges.array()
    hist, _ = np.histogram(v, edges)
    return {
        "count": int(v.size),
        "mean": float(v.mean()),
        "std": float(v.std()),
        "min": float(v.min()),
        "max": float(v.max()),
        **{f"p{q:02d}": float(x) for q, x in zip(QUANTILES, np.percentile(v, QUANTILES), strict=True)},
        "hist": hist.tolist(),
        "underflow": int((v < edges[0]).sum()),
        "overflow": int((v > edges[-1]).sum()),
        "edges": asdict(metric.edges),
    }


def merge_summaries(summaries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One summary of the union of the samples behind ``summaries`` (same metric, same edges).

    Count, mean, std, min and max are exact; histograms are summed; quantiles are interpolated in the
    summed histogram (exact when there is one summary), with under/overflow spread over [min, first
    edge] and [last edge, max].
    """
    if not summaries:
        raise ValueError("merge_summaries needs at least one summary")
    if len(summaries) == 1:
        return dict(summaries[0])
    first = summaries[0]
    if any(s["edges"] != first["edges"] for s in summaries):
        raise ValueError("summaries have different histogram edges; recompute their stats with one wirelessdata")
    n = np.array([s["count"] for s in summaries], dtype=np.float64)
    mu = np.array([s["mean"] for s in summaries])
    sd = np.array([s["std"] for s in summaries])
    total = n.sum()
    mean = float((n * mu).sum() / total)
    std = float(np.sqrt((n * (sd**2 + (mu - mean) ** 2)).sum() / total))
    hist = np.sum([s["hist"] for s in summaries], axis=0)
    under, over = sum(s["underflow"] for s in summaries), sum(s["overflow"] for s in summaries)
    lo, hi = min(s["min"] for s in summaries), max(s["max"] for s in summaries)
    edges = Edges(**first["edges"]).array()
    qs = _hist_quantiles(edges, hist, under, over, lo, hi)
    return {
        "count": int(total),
        "mean": mean,
        "std": std,
        "min": lo,
        "max": hi,
        **{f"p{q:02d}": float(x) for q, x in zip(QUANTILES, qs, strict=True)},
        "hist": hist.tolist(),
        "underflow": int(under),
        "overflow": int(over),
        "edges": dict(first["edges"]),
    }


def _hist_quantiles(edges: np.ndarray, hist: np.ndarray, under: int, over: int, lo: float, hi: float) -> np.ndarray:
    """:data:`QUANTILES` of a histogram (under/overflow as bins [lo, first edge], [last edge, hi]).

    Linear within the bin where the cumulative count reaches the quantile, clipped to [lo, hi].
    """
    xs = np.concatenate([[min(lo, edges[0])], edges, [max(hi, edges[-1])]])  # bin j spans xs[j] .. xs[j + 1]
    counts = np.concatenate([[under], hist, [over]]).astype(np.float64)
    cum = np.cumsum(counts)
    target = np.array(QUANTILES) / 100 * cum[-1]
    j = np.searchsorted(cum, target, side="left")  # first bin reaching the target: it is not empty
    frac = (target - (cum[j] - counts[j])) / counts[j]
    return np.clip(xs[j] + frac * (xs[j + 1] - xs[j]), lo, hi)


LABEL_VARIABLES = (*LABELS.values(), "ue_vel")
"""The per-sample variables a :class:`StatsPass` reads besides CSI."""


class StatsPass:
    """The statistics of a shard measured block by block: :meth:`add` each block in order, then :meth:`result`.

    :func:`shard_stats` reads the blocks for it; a new shard's validation pass feeds it the blocks it reads anyway
    (:func:`~wirelessdata.shard.validate.validate_shard` with ``measure``), so that a new shard is read once.

    :param attrs: the shard's group attributes (``num_samples``; ``carrier_frequency_hz`` for Doppler).
    :param csi_chunk: samples per CSI chunk along ``sample``; None for a shard without CSI.
    """

    def __init__(self, attrs: Mapping[str, Any], csi_chunk: int | None) -> None:
        self.num_samples = int(attrs["num_samples"])
        self.carrier = attrs.get("carrier_frequency_hz")
        self.csi_chunk = csi_chunk
        self.stride = int(np.clip(self.num_samples // CSI_MIN_SAMPLES, 1, CSI_CHUNK_STRIDE))
        self._parts: dict[str, list[np.ndarray]] = {m.name: [] for m in METRICS}

    def csi_ranges(self, start: int, stop: int) -> list[tuple[int, int]]:
        """The sample ranges of samples ``[start, stop)`` whose CSI is measured: whole chunks, one in ``stride``."""
        return [] if self.csi_chunk is None else _csi_ranges(self.csi_chunk, self.stride, start, stop)

    def add(self, labels: Mapping[str, np.ndarray], csi: Sequence[np.ndarray]) -> None:
        """One block: its arrays of :data:`LABEL_VARIABLES` (by variable name; those the shard has, others are
        ignored) and the CSI of its :meth:`csi_ranges`, ``[samples, T, K, N_bs, N_ue]`` each."""
        data = {name: labels[var] for name, var in LABELS.items() if var in labels}
        if "ue_vel" in labels:
            data["ue_vel"] = labels["ue_vel"]
        for name, values in _measure(data, list(csi), self.carrier).items():
            self._parts[name].append(values)

    def result(self) -> dict[str, Any]:
        """``{"version", "num_samples", "csi_chunk_stride", "metrics": {name: summary}}`` of the blocks added;
        metrics with no finite value (or whose variables are absent) are left out."""
        summaries = {m.name: summarize(m, np.concatenate(self._parts[m.name])) for m in METRICS if self._parts[m.name]}
        return {
            "version": STATS_VERSION,
            "num_samples": self.num_samples,
            "csi_chunk_stride": self.stride,
            "metrics": {k: v for k, v in summaries.items() if v is not None},
        }


def shard_stats(group: zarr.Group) -> dict[str, Any]:
    """Distributions of a shard, read block by block (never the whole shard) by ``read_ahead``: the
    :meth:`StatsPass.result` of its blocks.

    :param group: an open shard (attrs ``num_samples``, ``block_size``; ``carrier_frequency_hz`` for Doppler).
    :returns: ``{"version", "num_samples", "csi_chunk_stride", "metrics": {name: summary}}``
        (``csi_chunk_stride``: one CSI chunk in this many was measured).
    """
    from wirelessdata.shard.read import read_ahead  # zarr's readers: not needed by the catalog's queries

    attrs = group.attrs.asdict()
    arrays = dict(group.arrays())
    csi = arrays.get("csi")
    measure = StatsPass(attrs, None if csi is None else int(csi.chunks[0]))
    labels = {var: arrays[var] for var in LABEL_VARIABLES if var in arrays}
    block_size = int(attrs["block_size"])
    blocks = [
        (start, min(start + block_size, measure.num_samples)) for start in range(0, measure.num_samples, block_size)
    ]
    requests = (
        [(a, start, stop) for a in labels.values()] + [(csi, a, b) for a, b in measure.csi_ranges(start, stop)]
        for start, stop in blocks
    )
    for got in read_ahead(requests, str(group.store_path)):
        for value in got:
            if isinstance(value, BaseException):
                raise value
        measure.add(dict(zip(labels, got[: len(labels)], strict=True)), got[len(labels) :])
    return measure.result()


def _csi_ranges(chunk: int, stride: int, start: int, stop: int) -> list[tuple[int, int]]:
    """Sample ranges of the CSI chunks of ``[start, stop)`` whose global index is a multiple of ``stride``."""
    first, last = start // chunk, (stop - 1) // chunk
    return [(max(c * chunk, start), min((c + 1) * chunk, stop)) for c in range(first, last + 1) if c % stride == 0]


def _measure(data: Mapping[str, np.ndarray], chunks: list[np.ndarray], carrier: float | None) -> dict[str, np.ndarray]:
    """Per-sample values of each metric measurable from one block's arrays."""
    out = {name: values for name, values in data.items() if name in LABELS}
    if "ue_vel" in data:
        speed = np.linalg.norm(data["ue_vel"].astype(np.float64), axis=-1)
        out["ue_speed"] = speed
        if carrier:
            out["doppler"] = speed * float(carrier) / SPEED_OF_LIGHT
    if chunks:
        csi = np.concatenate(chunks)
        out["csi_power"] = csi_power_db(csi)
        out["angular_spread"] = angular_spread(csi)
    return out


def csi_power_db(csi: np.ndarray) -> np.ndarray:
    """float64 [n]: 10 log10 of the mean |H|^2 of each sample of ``csi`` [n, ...] (-inf for zero CSI)."""
    flat = np.ascontiguousarray(csi).reshape(csi.shape[0], -1)
    flat = flat.view(flat.real.dtype)  # real and imaginary parts side by side
    with np.errstate(divide="ignore"):
        return 10 * np.log10(np.einsum("ij,ij->i", flat, flat, dtype=np.float64) / (flat.shape[1] // 2))


def angular_spread(csi: np.ndarray) -> np.ndarray:
    """float64 [n]: 1 - sum(l^2) / sum(l)^2 over the eigenvalues l of each sample's BS spatial covariance.

    :param csi: complex [n, T, K, N_bs, N_ue]; the covariance ``R = sum_v h_v h_v^H`` (N_bs x N_bs) sums
        over at most :data:`COVARIANCE_SNAPSHOTS` x :data:`COVARIANCE_SUBCARRIERS` evenly spaced
        snapshots and subcarriers and all UE antennas. ``sum(l^2) = ||R||_F^2`` and ``sum(l) = tr R``, so
        no eigendecomposition is needed. 0 when all power comes from one direction, ``1 - 1/N_bs`` for
        isotropic (white) spatial covariance; NaN for zero CSI.
    """
    n, t, k, nbs, _ = csi.shape
    ti = np.unique(np.linspace(0, t - 1, min(t, COVARIANCE_SNAPSHOTS)).round().astype(int))
    ki = np.unique(np.linspace(0, k - 1, min(k, COVARIANCE_SUBCARRIERS)).round().astype(int))
    h = csi[:, ti][:, :, ki].transpose(0, 3, 1, 2, 4).reshape(n, nbs, -1)
    # einsum, not matmul: numpy's loop, single-threaded, no BLAS threads competing with a running generator
    cov = np.einsum("nbv,ncv->nbc", h, h.conj())
    trace = np.einsum("nii->n", cov).real.astype(np.float64)
    frob2 = (np.abs(cov) ** 2).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1.0 - frob2 / trace**2
