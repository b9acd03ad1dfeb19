"""White Gaussian noise at an SNR against a sample's mean power: the one formula, and per-sample seeded draws.

``noise_std`` is the formula used everywhere (the model's training noise :func:`wirelessdata.models.wifo.add_noise`
and the task views' AWGN): for real components ``x`` (real and imaginary parts as separate entries) of mean square
``m = P / 2`` (``P`` the mean ``|h|^2``), each noise component has standard deviation ``sqrt(m 10^(-SNR/10))``,
so the complex noise power is ``P 10^(-SNR/10)``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def noise_std(x: Tensor, snr_db: float | Tensor) -> Tensor:
    """Per-sample standard deviation ``[B]`` of each real noise component at ``snr_db`` (dB, a number or ``[B]``)
    for real data ``x`` ``[B, ...]`` (see the module doc)."""
    snr = torch.as_tensor(snr_db, dtype=x.dtype, device=x.device)
    flat = x.flatten(1)
    mean_square = torch.linalg.vector_norm(flat, dim=1).square() / flat.shape[1]  # no temporary copy of x
    return (mean_square * 10 ** (-snr / 10)).sqrt()


def unit_noise(shape: tuple[int, ...], seeds: np.ndarray) -> Tensor:
    """Complex64 noise ``[B, *shape]`` with i.i.d. N(0, 1) real and imaginary parts, sample ``i`` drawn from its own
    generator seeded by ``seeds[i]`` (so it does not depend on the rest of the batch)."""
    out = torch.empty((len(seeds), *shape, 2))
    for i, s in enumerate(seeds):
        torch.randn((*shape, 2), generator=torch.Generator().manual_seed(int(s)), out=out[i])
    return torch.view_as_complex(out)
