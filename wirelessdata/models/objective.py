"""The masked-reconstruction objective on CSI batches: what the model sees, and its loss per mask.

Shared by training (the loss of a step, the held-out losses that early stopping watches) and evaluation
(``reconstruction_losses``), so that the evaluation's objective is the training one by construction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from wirelessdata.models.masking import make_mask
from wirelessdata.models.wifo import WiFo, add_noise, csi_to_input, masked_mse, normalise, patch_grid, patchify


def objective_inputs(
    csi: Any, patch: tuple[int, int, int], snr_db: float | None, generator: torch.Generator, device: torch.device
) -> tuple[Tensor, Tensor, tuple[int, int, int]]:
    """What the masked objective sees of a complex CSI batch ``[B, T, K, Nbs, Nue]``: the unit-power model input
    with noise at ``snr_db`` ``[B, 2, T, N, K]`` (on ``device``), its clean patches ``[B, L, P]`` (the target)
    and the patch grid ``(T', N', K')``."""
    x, _ = normalise(csi_to_input(csi).to(device))
    return add_noise(x, snr_db, generator), patchify(x, patch), patch_grid(tuple(x.shape[2:]), patch)


@torch.no_grad()
def masked_losses(
    model: WiFo,
    batches: Iterable[Mapping[str, Any]],
    masks: Sequence[str],
    *,
    mask_ratio: float,
    snr_db: float | None,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """The masked MSE of ``model`` and of the all-zero prediction for each mask over ``batches`` (dicts with
    ``"csi"`` complex ``[B, T, K, Nbs, Nue]``), sample-weighted: ``{mask: {"model": loss, "zeros": loss}}``.

    Masks and noise come from a generator seeded by ``seed``, so the same batches give the same draws every
    call (a learning curve compares like with like). The model is evaluated in eval mode and left in it.
    """
    device = next(model.parameters()).device
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    sums = {kind: [0.0, 0.0, 0] for kind in masks}
    for batch in batches:
        csi = batch["csi"]
        noisy, target, grid = objective_inputs(csi, model.cfg.patch, snr_db, generator, device)
        for kind in masks:
            mask = make_mask(kind, csi.shape[0], grid, mask_ratio, generator)
            sums[kind][0] += masked_mse(model(noisy, mask), target, mask).item() * csi.shape[0]
            sums[kind][1] += masked_mse(torch.zeros_like(target), target, mask).item() * csi.shape[0]
            sums[kind][2] += csi.shape[0]
    return {k: {"model": m / n, "zeros": z / n} for k, (m, z, n) in sums.items() if n}
