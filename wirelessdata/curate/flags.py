"""Quality rules: one function per flag of the schema's ``quality_flags``, each with its threshold written down.

Block rules see one block's per-sample arrays (first axis ``n``) and the shard's :class:`ShardInfo`
and return a bool mask ``[n]`` of the samples that break them. :func:`zero_power` needs the whole
shard's power distribution and runs after the pass; the duplicate flags are set across a root by
:mod:`wirelessdata.curate.duplicates`.

Thresholds:

- ``non_finite``: any NaN or infinity in a variable the schema marks ``finite`` (the CSI, positions,
  velocities, path gain, delay spread, distance). NaN where the schema allows it (K-factor of NLoS
  drops, padded clusters) is not a defect.
- ``zero_power``: mean ``|H|^2`` below the shard's floor, :data:`ZERO_POWER_MARGIN_DB` below the median
  CSI power of the shard's samples (all-zero CSI is ``-inf`` dB).
- ``path_gain_out_of_range``: ``path_gain_db`` above 0 dB (a passive channel), below
  :data:`PATH_GAIN_MIN_DB`, or more than :data:`FREE_SPACE_EXCESS_DB` above the free-space (Friis) gain
  at the sample's ``distance_m``.
- ``delay_spread_outlier``: ``|log10(DS) - mu_lgDS| > OUTLIER_SIGMAS * sigma_lgDS`` with the
  mean and std of TR 38.901 Table 7.5-6 for the shard's scenario, the sample's link state (LoS,
  NLoS, O2I) and the shard's carrier (:mod:`wirelessdata.curate.lsp`; correlated multi-band drops map shared
  variates through each band's own table, so the band's carrier is the right one); shards of other
  scenarios (synthetic, measured) are not checked.
- ``k_factor_outlier``: LoS samples with ``|K - mu_K| > OUTLIER_SIGMAS * sigma_K`` (same table), or no
  finite K at all.
- ``sensing_misaligned``: a timestamp variable (``beam_time``, ``rgb_time``, ...) further than the shard's
  ``sensing_time_tolerance_s`` (schema default 1 ms) from every CSI snapshot time, or NaN.
- ``importer_defect``: the bit as the importer wrote it (carried forward), or a NaN / infinite
  ``beam_power`` (e.g. DeepSense rows with missing beam powers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from wirelessdata.constants import SPEED_OF_LIGHT
from wirelessdata.curate.lsp import link_state, lsp_stats, spec_version
from wirelessdata.shard.info import ShardInfo
from wirelessdata.shard.schema import load_schema

ZERO_POWER_MARGIN_DB = 100.0
"""Floor of ``zero_power``: this many dB below the shard's median CSI power.

TR 38.901 drops of one configuration span about 80 dB of path gain (UMa at 28 GHz, 35-289 m, O2I
included: -175 to -92 dB); 100 dB below the median is outside any of them, and far above float32's
resolution (about -760 dB)."""

PATH_GAIN_MIN_DB = -300.0
"""Lowest physical path gain, dB: the largest TR 38.901 loss of the generator's ranges (UMa NLoS at 289 m
and 100 GHz with high-loss O2I, about 250 dB) with 4-sigma shadowing, rounded down."""

FREE_SPACE_EXCESS_DB = 30.0
"""Largest gain above free space, dB: 8 dBi BS element (Table 7.3-1), LoS path loss up to 2 dB above
Friis, 4 sigma of LoS shadow fading (4 dB), 4 dB margin."""

OUTLIER_SIGMAS = 4.0
"""Delay spread and K-factor outliers lie beyond this many standard deviations of the table."""


Block = Mapping[str, np.ndarray]
BlockRule = Callable[[Block, ShardInfo], np.ndarray]

LABELS = ("sample_id", "quality_flags", "los", "indoor", "k_factor_db", "beam_power")
"""Per-sample variables the rules read besides the schema's finite and timestamp variables."""


def rule_variables() -> tuple[str, ...]:
    """Every per-sample variable a block rule may read."""
    schema = load_schema()
    checked = [v.name for v in schema.variables.values() if v.per_sample and (v.finite or v.timestamp)]
    return tuple(dict.fromkeys([*LABELS, *checked]))


def _n(block: Block) -> int:
    return len(block["sample_id"])


def finite_rows(values: np.ndarray) -> np.ndarray:
    """bool [n]: rows of ``values`` [n, ...] without NaN or infinity.

    One float64 sum per row (NaN and infinities propagate through it; float32 or complex64 values cannot
    overflow it), about twice as fast as ``isfinite(...).all(...)``.
    """
    flat = values.reshape(len(values), -1)
    if flat.dtype.kind == "c":
        flat = flat.view(flat.real.dtype)
    if flat.dtype.kind != "f":
        return np.ones(len(values), bool)
    return np.isfinite(flat.sum(axis=1, dtype=np.float64))


def non_finite(block: Block, info: ShardInfo) -> np.ndarray:
    """Samples with a NaN or infinity in a variable the schema marks finite."""
    schema = load_schema()
    bad = np.zeros(_n(block), bool)
    for name, values in block.items():
        if schema.variables[name].finite:
            bad |= ~finite_rows(values)
    return bad


def power_floor_db(power_db: np.ndarray) -> float:
    """The shard's zero-power floor: :data:`ZERO_POWER_MARGIN_DB` below the median finite power (dB); NaN if none."""
    finite = power_db[np.isfinite(power_db)]
    return float(np.median(finite) - ZERO_POWER_MARGIN_DB) if finite.size else float("nan")


def zero_power(power_db: np.ndarray) -> np.ndarray:
    """Samples whose CSI power (dB [n], ``-inf`` for zero CSI, NaN for non-finite) is below :func:`power_floor_db`.

    All-zero CSI (``-inf``) is flagged even when no sample of the shard has a finite power.
    """
    return (power_db < power_floor_db(power_db)) | (power_db == -np.inf)


def friis_gain_db(distance_m: np.ndarray, carrier_hz: float) -> np.ndarray:
    """Free-space path gain ``20 log10(c / (4 pi d f))`` in dB for distances ``d`` [m] at carrier ``f`` [Hz]."""
    with np.errstate(divide="ignore"):
        return 20 * np.log10(SPEED_OF_LIGHT / (4 * np.pi * np.asarray(distance_m, np.float64) * carrier_hz))


def path_gain_out_of_range(block: Block, info: ShardInfo) -> np.ndarray:
    """Samples whose ``path_gain_db`` lies outside [:data:`PATH_GAIN_MIN_DB`, 0] dB or above free space + excess."""
    if "path_gain_db" not in block:
        return np.zeros(_n(block), bool)
    gain = block["path_gain_db"].astype(np.float64)
    bad = (gain > 0.0) | (gain < PATH_GAIN_MIN_DB)
    if "distance_m" in block and info.attrs.get("carrier_frequency_hz"):
        bound = friis_gain_db(block["distance_m"], float(info.attrs["carrier_frequency_hz"])) + FREE_SPACE_EXCESS_DB
        bad |= gain > bound  # NaN distances compare False: nothing to say
    return bad


def _table(block: Block, info: ShardInfo, field: str) -> tuple[np.ndarray, np.ndarray]:
    """float64 [n] mean and std of each sample's table (``field``: ``lgds`` or ``k_db``); NaN where none applies."""
    n = _n(block)
    mu, sigma = np.full(n, np.nan), np.full(n, np.nan)
    scenario = str(info.attrs.get("scenario"))
    los = block["los"].astype(bool) if "los" in block else np.zeros(n, bool)
    indoor = block["indoor"].astype(bool) if "indoor" in block else np.zeros(n, bool)
    states = np.array([link_state(scenario, a, b) for a, b in zip(los, indoor, strict=True)])
    version = spec_version(info.attrs.get("spec_version"))
    for state in np.unique(states):
        stats = lsp_stats(scenario, str(state), float(info.attrs.get("carrier_frequency_hz") or 0.0), version)
        if stats is not None:
            m = states == state
            lgds = field == "lgds"
            mu[m] = stats.mu_lgds if lgds else stats.mu_k_db
            sigma[m] = stats.sigma_lgds if lgds else stats.sigma_k_db
    sigma[sigma <= 0] = np.nan  # a state without spread (K of NLoS) has nothing to check
    return mu, sigma


def delay_spread_outlier(block: Block, info: ShardInfo) -> np.ndarray:
    """Samples whose log10 delay spread lies beyond :data:`OUTLIER_SIGMAS` of their TR 38.901 table."""
    if "delay_spread_s" not in block:
        return np.zeros(_n(block), bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        lgds = np.log10(block["delay_spread_s"].astype(np.float64))
    mu, sigma = _table(block, info, "lgds")
    return np.abs(lgds - mu) > OUTLIER_SIGMAS * sigma  # NaN (no table, NaN label) compares False


def k_factor_outlier(block: Block, info: ShardInfo) -> np.ndarray:
    """LoS samples whose K-factor lies beyond :data:`OUTLIER_SIGMAS` of their table, or is not finite."""
    if "k_factor_db" not in block or "los" not in block:
        return np.zeros(_n(block), bool)
    mu, sigma = _table(block, info, "k_db")
    checked = block["los"].astype(bool) & np.isfinite(sigma)
    return checked & ~(np.abs(block["k_factor_db"] - mu) <= OUTLIER_SIGMAS * sigma)


def sensing_misaligned(block: Block, info: ShardInfo) -> np.ndarray:
    """Samples with a sensing timestamp further than the tolerance from every CSI snapshot time (or NaN)."""
    schema = load_schema()
    times = info.coords.get("time", np.zeros(1))
    tol = float(info.attrs.get("sensing_time_tolerance_s", schema.defaults["sensing_time_tolerance_s"]))
    bad = np.zeros(_n(block), bool)
    for name, values in block.items():
        if schema.variables[name].timestamp:
            dist = np.abs(values.astype(np.float64)[..., None] - times).min(axis=-1)
            bad |= ~(dist <= tol).reshape(len(values), -1).all(axis=1)
    return bad


def importer_defect(block: Block, info: ShardInfo) -> np.ndarray:
    """Samples the importer flagged (the bit is carried forward) or with a non-finite ``beam_power``."""
    bad = (block["quality_flags"] & np.uint32(load_schema().flag_bit("importer_defect"))) != 0
    if "beam_power" in block:
        bad |= ~finite_rows(block["beam_power"])
    return bad


BLOCK_RULES: dict[str, BlockRule] = {
    "non_finite": non_finite,
    "path_gain_out_of_range": path_gain_out_of_range,
    "delay_spread_outlier": delay_spread_outlier,
    "k_factor_outlier": k_factor_outlier,
    "sensing_misaligned": sensing_misaligned,
    "importer_defect": importer_defect,
}
"""Rules evaluated block by block, by flag name."""

ROOT_FLAGS = ("zero_power", "exact_duplicate", "near_duplicate")
"""Flags set after the pass (they need the whole shard or the whole root)."""


def curated_mask() -> int:
    """Bits curation owns (recomputed on every run); any other bit of ``quality_flags`` is kept as it is."""
    schema = load_schema()
    return sum(schema.flag_bit(name) for name in (*BLOCK_RULES, *ROOT_FLAGS))


def block_flags(block: Block, info: ShardInfo) -> np.ndarray:
    """uint32 [n]: the bits of every block rule the samples of ``block`` break."""
    schema = load_schema()
    out = np.zeros(_n(block), np.uint32)
    for name, rule in BLOCK_RULES.items():
        out[rule(block, info)] |= np.uint32(schema.flag_bit(name))
    return out


def counts(flags: np.ndarray) -> dict[str, int]:
    """Samples carrying each schema flag in ``flags`` (uint32 [n]), by flag name, in bit order."""
    schema = load_schema()
    return {name: int(((flags & np.uint32(schema.flag_bit(name))) != 0).sum()) for name in schema.quality_flags}
