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


#: model-layout axis of the CSI-layout axes a task can be given along: 1 (snapshots) -> 2 (T), 2 (subcarriers) -> 4 (K)
MODEL_AXIS: dict[int, int] = {1: 2, 2: 4}


def given_input(given: Tensor, n_unknown: int, axis: int) -> tuple[Tensor, Tensor]:
    """The given part of a prediction task as the normalised model input, and its per-sample scale.

    :param given: complex CSI ``[B, T, K, Nbs, Nue]`` holding the ``n_known`` given entries along CSI ``axis``
        (1: snapshots, 2: subcarriers).
    :param n_unknown: entries to predict after them along ``axis``.
    :returns: ``(x / s, s)``: ``x`` ``[B, 2, T, N, K]`` float32 (``csi_to_input``) with the given part zero-padded
        by ``n_unknown`` along the task axis, ``s`` ``[B, 1, 1, 1, 1]`` the RMS complex amplitude of the given part
        (``normalise``), in the CSI's unit. Classical predictors, the WiFo model and the Wiener fit all see this.
    """
    n_known = given.shape[axis]
    shape = list(given.shape)
    shape[axis] = n_known + n_unknown
    full = torch.zeros(shape, dtype=torch.complex64)
    full.narrow(axis, 0, n_known).copy_(given)
    x = csi_to_input(full)
    _, scale = normalise(x.narrow(MODEL_AXIS[axis], 0, n_known))
    return x / scale, scale
