"""The model layout of CSI: real/imaginary channels over (time, antenna, subcarrier), and per-sample scaling.

Complex CSI ``[B, T, K, Nbs, Nue]`` (the store's order) ↔ real ``[B, 2, T, N, K]`` float32 with
``N = Nbs * Nue``, antenna ``n = bs * Nue + ue``: the input of the reference model and of the classical
extrapolators (:mod:`wirelessdata.tasks.extrapolation`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from wirelessdata.errors import WirelessDataError


def csi_to_input(csi: Tensor) -> Tensor:
    """Complex CSI ``[B, T, K, Nbs, Nue]`` → real model layout ``[B, 2, T, N, K]`` float32, ``N = Nbs * Nue``.

    Antenna ``n = bs * Nue + ue``. No scaling here: see ``normalise``.
    """
    if not torch.is_tensor(csi) or not csi.is_complex() or csi.dim() != 5:
        got = f"{csi.dtype} of shape {tuple(csi.shape)}" if torch.is_tensor(csi) else type(csi).__name__
        raise WirelessDataError(f"csi must be a complex tensor [sample, time, subcarrier, bs_ant, ue_ant], got {got}")
    if not torch.isfinite(torch.view_as_real(csi)).all():
        raise WirelessDataError("csi holds NaN or infinite values; validate the shard (wirelessdata validate)")
    b, t, k, nbs, nue = csi.shape
    x = torch.view_as_real(csi.to(torch.complex64).reshape(b, t, k, nbs * nue))  # [B, T, K, N, 2]
    return x.permute(0, 4, 1, 3, 2).contiguous()


def normalise(x: Tensor, ref: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Per-sample normalisation: ``x / s`` with ``s`` the RMS complex amplitude of ``ref`` (default ``x``).

    :param x: ``[B, 2, ...]`` real/imaginary channels.
    :param ref: ``[B, 2, ...]`` the part the scale is measured on (the known part in evaluation).
    :returns: ``(x / s, s)`` with ``s`` of shape ``[B, 1, 1, 1, 1]``; a normalised sample has mean ``|h|^2 = 1``.
    """
    ref = x if ref is None else ref
    power = ref.square().flatten(1).mean(1) * 2  # mean |h|^2 = mean(re^2 + im^2)
    scale = power.sqrt().clamp_min(torch.finfo(x.dtype).tiny).view(-1, *([1] * (x.dim() - 1)))
    return x / scale, scale


def input_to_csi(x: Tensor, num_bs: int, num_ue: int) -> Tensor:
    """Model layout ``[B, 2, T, N, K]`` -> complex ``[B, T, K, Nbs, Nue]`` (inverse of ``csi_to_input``)."""
    b, _, t, _, k = x.shape
    return torch.view_as_complex(x.permute(0, 2, 4, 3, 1).contiguous()).reshape(b, t, k, num_bs, num_ue)
