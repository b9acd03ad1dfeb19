"""Which tokens the encoder sees: WiFo's three masks over the patch grid ``(T', N', K')``.

Tokens are numbered in row-major (time, antenna, subcarrier) order, ``(t * N' + n) * K' + k``.

- ``random``: each sample hides ``ratio`` (85 %) of its tokens, drawn independently per sample; the
  encoder sees ``max(1, int(L * (1 - ratio)))`` tokens.
- ``temporal``: every sample sees the first half of the time patches (``t < T' // 2``), the rest is predicted.
- ``frequency``: every sample sees the first half of the subcarrier patches (``k < K' // 2``).

All samples of a batch share the grid, so every mask has the same number of visible tokens per sample and
the visible tokens stack into one ``[B, L_keep]`` index tensor; different batches may have different grids.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from wirelessdata.errors import ConfigError

MASK_KINDS: tuple[str, ...] = ("random", "temporal", "frequency")
_AXIS = {"temporal": (0, "time"), "frequency": (2, "subcarrier")}


@dataclass(frozen=True)
class TokenMask:
    """Visible tokens ``keep`` (``[B, L_keep]`` int64, ascending) and ``masked`` (``[B, L]`` bool, True = hidden)."""

    keep: Tensor
    masked: Tensor


def _from_keep(keep: Tensor, length: int) -> TokenMask:
    masked = torch.ones(keep.shape[0], length, dtype=torch.bool, device=keep.device)
    return TokenMask(keep=keep, masked=masked.scatter(1, keep, False))


def random_mask(
    batch: int, grid: tuple[int, int, int], ratio: float = 0.85, generator: torch.Generator | None = None
) -> TokenMask:
    """Hide ``ratio`` of the ``L = T' N' K'`` tokens of each of ``batch`` samples, uniformly at random.

    The permutations are drawn on the CPU from ``generator``; the mask lives on the CPU.
    """
    length = math.prod(grid)
    n_keep = max(1, int(length * (1 - ratio)))
    if n_keep >= length:
        raise ConfigError(f"random masking of ratio {ratio} hides nothing on a grid of {length} patches")
    order = torch.rand(batch, length, generator=generator).argsort(dim=1)
    return _from_keep(order[:, :n_keep].sort(dim=1).values, length)


def prefix_mask(kind: str, batch: int, grid: tuple[int, int, int], keep: int | None = None) -> TokenMask:
    """``temporal`` / ``frequency`` mask: show the first ``keep`` time / subcarrier patches (default half).

    :raises ConfigError: when ``keep`` leaves nothing visible or nothing hidden along that axis.
    """
    axis, name = _AXIS[kind]
    keep = grid[axis] // 2 if keep is None else keep
    if not 0 < keep < grid[axis]:
        raise ConfigError(
            f"{kind} masking needs at least one visible and one hidden {name} patch; the grid has {grid[axis]} "
            f"{name} patches and {keep} would be visible (use more {name}s or a smaller patch along them)"
        )
    index = torch.arange(math.prod(grid)).view(grid).narrow(axis, 0, keep).flatten()
    return _from_keep(index.expand(batch, -1), math.prod(grid))


def make_mask(
    kind: str,
    batch: int,
    grid: tuple[int, int, int],
    ratio: float = 0.85,
    generator: torch.Generator | None = None,
) -> TokenMask:
    """The mask ``kind`` (one of ``MASK_KINDS``) for ``batch`` samples on ``grid``; ``ratio`` is for ``random``."""
    if kind == "random":
        return random_mask(batch, grid, ratio, generator)
    if kind in _AXIS:
        return prefix_mask(kind, batch, grid)
    raise ConfigError(f"unknown mask {kind!r}; choose from {', '.join(MASK_KINDS)}")
