"""Receiver impairments applied to clean CSI inside a task view, reproducibly per sample.

The clean channel ``H[t, k, b, u]`` (snapshot ``t`` at time ``t_t`` s, subcarrier ``k`` at offset ``f_k`` Hz from
the carrier, BS antenna ``b``, UE antenna ``u``) becomes the observation, in this fixed order:

1. timing offset ``tau`` (ns):          ``H[t, k] * exp(-j 2 pi f_k tau)``  (a linear phase across subcarriers)
2. carrier-frequency offset ``eps`` (Hz): ``H[t, k] * exp(j 2 pi eps t_t)``  (common phase across snapshots; the
   inter-carrier interference of a fractional CFO is neglected)
3. phase noise, Wiener, ``sigma`` (deg rms per snapshot): ``H[t] * exp(j phi_t)``, ``phi_0 = 0``,
   ``phi_t = phi_{t-1} + w_t``, ``w_t ~ N(0, sigma^2)``; an oscillator of 3 dB linewidth ``beta`` (Hz) sampled
   every ``dt`` s has ``sigma^2 = 2 pi beta dt`` (rad^2)
4. AWGN at ``snr`` (dB): ``H + N``, ``N ~ CN(0, P 10^(-snr/10))`` i.i.d., ``P`` the sample's mean ``|H|^2`` over
   all its snapshots, subcarriers and antennas (after steps 1-3, which keep ``P``); the formula is
   :func:`wirelessdata.tasks.noise.noise_std` (also used by the model's ``add_noise``)
5. IQ quantisation to ``b`` bits: I and Q separately, uniform mid-rise, full scale ``A`` = the sample's largest
   ``|Re|`` or ``|Im|`` (an ideal AGC): ``q(x) = clip(D (floor(x / D) + 1/2), -A + D/2, A - D/2)``, ``D = 2A / 2^b``,
   so ``|q(x) - x| <= D / 2`` and the error power is about ``D^2 / 12`` per component
6. erased snapshots with probability ``p`` each: ``H[t] = 0``

Every numeric setting is a number (applied as is) or a range ``(lo, hi)`` drawn uniformly per sample. All random
draws of a sample come from one generator seeded by ``(seed, shard key, sample_id)``, and every sample draws the
same quantities whichever impairments are on: the observation of a sample does not depend on the batch it is in,
on the order of the stream, or on which other impairments are enabled.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch
from torch import Tensor

from wirelessdata.errors import ConfigError
from wirelessdata.tasks.noise import noise_std, unit_noise

Value = float | tuple[float, float]

#: settings, their unit and meaning (the docs and ``task show`` print this)
IMPAIRMENTS: dict[str, tuple[str, str]] = {
    "timing_offset_ns": ("ns", "timing offset: linear phase -2 pi f_k tau across subcarriers"),
    "cfo_hz": ("Hz", "carrier-frequency offset: phase 2 pi eps t across snapshots"),
    "phase_noise_deg": ("deg", "Wiener phase noise: rms phase increment per snapshot"),
    "snr_db": ("dB", "AWGN: SNR against the sample's mean channel power"),
    "quant_bits": ("bit", "IQ quantisation: bits per I and per Q, full scale = the sample's peak"),
    "erase_prob": ("1", "erased snapshots: probability that a snapshot is zeroed"),
}


def parse_value(name: str, value: Any) -> Value | None:
    """A setting as a float or a ``(lo, hi)`` range: accepts numbers, pairs and strings ``"10"`` / ``"0:20"``."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, str):
            parts = value.split(":")
            value = float(parts[0]) if len(parts) == 1 else tuple(float(p) for p in parts)
        if isinstance(value, list | tuple):
            lo, hi = (float(v) for v in value)
            if not lo <= hi:
                raise ValueError
            return (lo, hi)
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: {value!r} is not a number or a range lo:hi with lo <= hi") from None


@dataclass(frozen=True)
class Impairments:
    """Impairment settings (units in :data:`IMPAIRMENTS`); ``None`` switches one off."""

    timing_offset_ns: Value | None = None
    cfo_hz: Value | None = None
    phase_noise_deg: Value | None = None
    snr_db: Value | None = None
    quant_bits: int | None = None
    erase_prob: float | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, parse_value(f.name, getattr(self, f.name)))
        if self.quant_bits is not None:
            bits = self.quant_bits
            if isinstance(bits, tuple) or bits != int(bits) or not 1 <= bits <= 24:
                raise ConfigError(f"quant_bits: {bits!r} is not a whole number of bits in 1..24")
            object.__setattr__(self, "quant_bits", int(bits))
        if self.erase_prob is not None and (isinstance(self.erase_prob, tuple) or not 0 <= self.erase_prob < 1):
            raise ConfigError(f"erase_prob: {self.erase_prob!r} is not a probability in [0, 1)")
        pn = self.phase_noise_deg
        if pn is not None and min(pn if isinstance(pn, tuple) else (pn,)) < 0:
            raise ConfigError(f"phase_noise_deg: {pn!r} must be >= 0")

    @property
    def active(self) -> bool:
        """Whether any impairment is on."""
        return any(getattr(self, f.name) is not None for f in fields(self))

    def to_dict(self) -> dict[str, Any]:
        """The settings that are on, JSON-ready (ranges as ``[lo, hi]``)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items() if v is not None}


def sample_rng(seed: int, shard_key: int, sample_id: int) -> np.random.Generator:
    """The generator of one sample's impairment draws."""
    return np.random.default_rng([seed, shard_key, int(sample_id)])


def _draw(rng: np.random.Generator, value: Value | None) -> float:
    u = rng.random()  # always drawn: the draws of a sample do not depend on the settings
    if value is None:
        return math.nan
    if isinstance(value, tuple):
        return value[0] + u * (value[1] - value[0])
    return float(value)


def draw(imp: Impairments, sample_ids: np.ndarray, num_time: int, seed: int, shard_key: int) -> dict[str, np.ndarray]:
    """Per-sample draws: ``timing_offset_ns, cfo_hz, phase_noise_deg, snr_db`` ``[B]`` (NaN where off),
    ``phase_increment`` ``[B, T]`` standard normal, ``erase_uniform`` ``[B, T]`` in [0, 1), ``noise_seed`` ``[B]``."""
    b = len(sample_ids)
    out = {name: np.empty(b) for name in ("timing_offset_ns", "cfo_hz", "phase_noise_deg", "snr_db")}
    out |= {"phase_increment": np.empty((b, num_time)), "erase_uniform": np.empty((b, num_time))}
    out["noise_seed"] = np.empty(b, np.int64)
    for i, sid in enumerate(np.asarray(sample_ids).astype(np.uint64)):
        rng = sample_rng(seed, shard_key, int(sid))
        for name in ("timing_offset_ns", "cfo_hz", "phase_noise_deg", "snr_db"):
            out[name][i] = _draw(rng, getattr(imp, name))
        out["phase_increment"][i] = rng.standard_normal(num_time)
        out["erase_uniform"][i] = rng.random(num_time)
        out["noise_seed"][i] = rng.integers(0, 2**62)
    return out


def phase_rotation(draws: dict[str, np.ndarray], time_s: np.ndarray, subcarrier_hz: np.ndarray) -> np.ndarray | None:
    """Phase ``[B, T, K]`` (rad) of steps 1-3, or None when they are all off."""
    tau = np.nan_to_num(draws["timing_offset_ns"]) * 1e-9
    eps = np.nan_to_num(draws["cfo_hz"])
    sigma = np.radians(np.nan_to_num(draws["phase_noise_deg"]))
    if not (tau.any() or eps.any() or sigma.any()):
        return None
    wiener = np.cumsum(draws["phase_increment"], axis=1) - draws["phase_increment"][:, :1]  # phi_0 = 0
    per_time = 2 * np.pi * eps[:, None] * np.asarray(time_s)[None] + sigma[:, None] * wiener  # [B, T]
    per_freq = -2 * np.pi * tau[:, None] * np.asarray(subcarrier_hz)[None]  # [B, K]
    return per_time[:, :, None] + per_freq[:, None, :]


def quantise(csi: Tensor, bits: int) -> Tensor:
    """Step 5: I and Q of every sample of ``csi`` ``[B, ...]`` to ``bits`` bits with the sample's peak as full scale."""
    x = torch.view_as_real(csi)  # [B, ..., 2]
    full = x.abs().flatten(1).amax(1).clamp_min(torch.finfo(x.dtype).tiny).view(-1, *([1] * (x.dim() - 1)))
    step = 2 * full / 2**bits
    level = (x / step).floor_().clamp_(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)  # integer level of each component
    return torch.view_as_complex(level.add_(0.5).mul_(step))


Region = tuple[slice, slice]
WHOLE: Region = (slice(None), slice(None))


def apply(
    imp: Impairments,
    csi: Tensor,
    sample_ids: np.ndarray,
    time_s: np.ndarray,
    subcarrier_hz: np.ndarray,
    seed: int,
    shard_key: int,
    region: Region = WHOLE,
) -> tuple[Tensor, dict[str, np.ndarray]]:
    """The observation of clean ``csi`` ``[B, T, K, Nbs, Nue]`` complex on ``region`` (module doc), and the draws.

    :param sample_ids: ``[B]`` the samples' ids (with ``seed`` and ``shard_key`` they seed the draws).
    :param time_s: ``[T]`` snapshot times, s; ``subcarrier_hz``: ``[K]`` subcarrier offsets, Hz.
    :param region: (snapshot slice, subcarrier slice) that is observed, e.g. a pilot grid; the noise power still
        refers to the whole sample's mean power, and the phase processes run over all snapshots.
    :returns: ``(observed [B, T', K', Nbs, Nue], draws)``; ``draws`` as :func:`draw` plus ``erased`` ``[B, T']``
        bool, empty when no impairment is on (then nothing is drawn, and ``observed`` is a view of ``csi``, not a
        copy: treat it as read-only). No step writes into ``csi``.
    """
    t_sel, k_sel = region
    out = csi[:, t_sel, k_sel]
    if not imp.active:
        return out, {}
    draws = draw(imp, sample_ids, csi.shape[1], seed, shard_key)
    draws["erased"] = (draws["erase_uniform"] < (imp.erase_prob or 0.0))[:, t_sel]
    phase = phase_rotation(draws, time_s, subcarrier_hz)
    if phase is not None:
        out = out * torch.from_numpy(np.exp(1j * phase[:, t_sel][:, :, k_sel]).astype(np.complex64))[..., None, None]
    if imp.snr_db is not None:
        std = noise_std(torch.view_as_real(csi), torch.from_numpy(draws["snr_db"].astype(np.float32)))
        noise = unit_noise(tuple(out.shape[1:]), draws["noise_seed"])
        out = out + noise * std.view(-1, *([1] * (out.dim() - 1)))
    if imp.quant_bits is not None:
        out = quantise(out, imp.quant_bits)
    if draws["erased"].any():
        out = out * torch.from_numpy(~draws["erased"]).to(out.dtype)[..., None, None, None]
    return out, draws
