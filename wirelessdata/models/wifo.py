"""WiFo-style masked autoencoder over space-time-frequency CSI, and the tensors it consumes.

Input layout: real/imaginary channels over (time, antenna, subcarrier), ``x`` of shape ``[B, 2, T, N, K]``
float32 with ``N = Nbs * Nue`` (``csi_to_input`` and ``normalise``, from :mod:`wirelessdata.tasks.layout`).
Tokens are non-overlapping 3D patches of size ``patch = (pt, pn, pk)`` in row-major (time, antenna,
subcarrier) order: token ``(t, n, k)`` has index ``(t * N' + n) * K' + k`` on the patch grid
``(T', N', K') = (T / pt, N / pn, K / pk)``. A shape that the patch does not divide is refused with a
one-line error (no padding: the prediction tasks cut at patch boundaries, so padding would shift the "first
half" away from half of the real snapshots).

Pipeline: Conv3d patch embedding (kernel = stride = patch) + STF-PE → encoder over the visible tokens →
linear projection to the decoder width, mask tokens at the hidden positions + STF-PE → decoder → linear head
(zero at initialisation) to the ``2 * pt * pn * pk`` values of every patch. Every attention adds the 3D ALiBi
``locality_bias`` (``ModelConfig.locality``). The loss is the MSE on the hidden patches. Named sizes are in
``sizes.toml``.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from importlib import resources

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wirelessdata.errors import ConfigError, WirelessDataError
from wirelessdata.models.masking import TokenMask
from wirelessdata.tasks.layout import csi_to_input, normalise
from wirelessdata.tasks.noise import noise_std

__all__ = [
    "DEFAULT_PATCH",
    "MODEL_SIZES",
    "ModelConfig",
    "WiFo",
    "add_noise",
    "csi_to_input",
    "locality_bias",
    "masked_mse",
    "normalise",
    "patch_grid",
    "patchify",
    "stf_pos_embed",
    "unpatchify",
]

Patch = tuple[int, int, int]
Grid = tuple[int, int, int]

#: Named architectures (``sizes.toml``, data): size → ModelConfig fields (widths, blocks, heads).
MODEL_SIZES: dict[str, dict[str, int]] = tomllib.loads(
    resources.files("wirelessdata.models").joinpath("sizes.toml").read_text()
)

#: The default patch (time, antenna, subcarrier): it divides every WiFo configuration (T 16/24, N 4-32,
#: K 32-128) and its halves along time and subcarriers, which the prediction tasks cut at.
DEFAULT_PATCH: Patch = (4, 4, 8)


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a ``WiFo`` model; ``of_size`` gives the named sizes of ``sizes.toml``.

    ``locality``: the 3D ALiBi attention bias of ``locality_bias`` in every block (encoder and decoder).
    """

    embed_dim: int = 128
    depth: int = 6
    decoder_dim: int = 64
    decoder_depth: int = 2
    num_heads: int = 4
    mlp_ratio: float = 2.0
    patch: Patch = DEFAULT_PATCH
    locality: bool = True

    @classmethod
    def of_size(cls, size: str, patch: Patch = DEFAULT_PATCH) -> ModelConfig:
        """The architecture ``size`` of ``sizes.toml`` with ``patch`` = (time, antenna, subcarrier)."""
        if size not in MODEL_SIZES:
            raise ConfigError(f"unknown model size {size!r}; choose one of {', '.join(MODEL_SIZES)}")
        return cls(**MODEL_SIZES[size], patch=tuple(patch))


def add_noise(x: Tensor, snr_db: float | None, generator: torch.Generator | None = None) -> Tensor:
    """``x`` plus complex white Gaussian noise at ``snr_db`` (dB) relative to each sample's mean power.

    ``snr_db=None`` returns ``x`` unchanged. The noise is drawn on the CPU from ``generator`` (reproducible on any
    device), then moved to ``x.device``, and scaled by ``wirelessdata.tasks.noise.noise_std`` (the one SNR
    formula, shared with the task views). Shapes: ``[B, 2, ...]`` in and out.
    """
    if snr_db is None:
        return x
    std = noise_std(x, snr_db).view(-1, *([1] * (x.dim() - 1)))
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    return x + noise * std


def patch_grid(shape: tuple[int, int, int], patch: Patch) -> Grid:
    """Patch grid ``(T', N', K')`` of a ``(T, N, K)`` input; a one-line error when the patch does not divide it."""
    if any(s % p for s, p in zip(shape, patch, strict=True)):
        t, n, k = shape
        raise WirelessDataError(
            f"CSI shape (time {t}, antennas {n}, subcarriers {k}) is not divisible by the patch size {tuple(patch)}; "
            "use shards whose dimensions are multiples of it or another patch size"
        )
    return shape[0] // patch[0], shape[1] // patch[1], shape[2] // patch[2]


def patchify(x: Tensor, patch: Patch) -> Tensor:
    """``[B, 2, T, N, K]`` → ``[B, L, 2 * pt * pn * pk]``, tokens in (t, n, k) order, values in (c, dt, dn, dk)."""
    b, c = x.shape[:2]
    (gt, gn, gk), (pt, pn, pk) = patch_grid(tuple(x.shape[2:]), patch), patch
    x = x.reshape(b, c, gt, pt, gn, pn, gk, pk).permute(0, 2, 4, 6, 1, 3, 5, 7)
    return x.reshape(b, gt * gn * gk, c * pt * pn * pk)


def unpatchify(patches: Tensor, patch: Patch, shape: tuple[int, int, int]) -> Tensor:
    """Inverse of ``patchify``: ``[B, L, 2 * pt * pn * pk]`` → ``[B, 2, T, N, K]`` for ``shape = (T, N, K)``."""
    (gt, gn, gk), (pt, pn, pk) = patch_grid(shape, patch), patch
    x = patches.reshape(patches.shape[0], gt, gn, gk, -1, pt, pn, pk).permute(0, 4, 1, 5, 2, 6, 3, 7)
    return x.reshape(patches.shape[0], -1, *shape)


def sincos_1d(positions: Tensor, width: int) -> Tensor:
    """Fixed sin-cos encoding ``[M, width]`` of integer ``positions`` ``[M]``.

    ``h = ceil(width / 2)`` frequencies ``w_i = 10000^(-i / h)``; columns ``sin(p w_0..w_{h-1})`` then
    ``cos(p w_0..w_{width-h-1})`` (an odd width drops the last cosine).
    """
    half = (width + 1) // 2
    omega = 10000.0 ** (-torch.arange(half, dtype=torch.float64) / half)
    angles = positions.to(torch.float64)[:, None] * omega[None, :]
    return torch.cat([angles.sin(), angles.cos()[:, : width - half]], dim=1).float()


def stf_pos_embed(grid: Grid, dim: int) -> Tensor:
    """STF-PE ``[L, dim]`` of the patch grid ``(T', N', K')``, tokens in (t, n, k) order.

    Concatenation of the sin-cos encodings of the time, antenna and subcarrier patch positions, of widths
    ``dim // 3``, ``dim // 3`` and the rest. Fixed (not learned); it depends only on the grid, so one model
    serves every shape.
    """
    widths = (dim // 3, dim // 3, dim - 2 * (dim // 3))
    coords = torch.meshgrid(*(torch.arange(g) for g in grid), indexing="ij")
    return torch.cat([sincos_1d(c.flatten(), w) for c, w in zip(coords, widths, strict=True)], dim=1)


def grid_coords(grid: Grid, device: torch.device | None = None) -> Tensor:
    """Patch coordinates ``[L, 3]`` (t, n, k) of the tokens of ``grid``, in token order, float32."""
    axes = torch.meshgrid(*(torch.arange(g, device=device) for g in grid), indexing="ij")
    return torch.stack([a.flatten() for a in axes], dim=1).float()


def locality_bias(grid: Grid, tokens: Tensor, num_heads: int) -> Tensor:
    """Additive attention bias ``[B', heads, L', L']`` between the tokens ``tokens`` ``[B', L']`` of ``grid``.

    ALiBi on the 3D patch grid: head ``h`` adds ``-2^-h * d`` with ``d`` the L1 distance in patches over
    (time, antenna, subcarrier); the last head adds nothing (global). At initialisation every hidden token then
    draws mostly from its nearest visible ones, which are the ones correlated with it: the decoder starts copying
    phase-coherently instead of averaging random phases to zero (the all-zero plateau of CSI reconstruction).
    """
    coords = grid_coords(grid, tokens.device)[tokens]  # [B', L', 3]
    slopes = torch.tensor([2.0**-h for h in range(num_heads - 1)] + [0.0], device=tokens.device)
    dist = torch.cdist(coords, coords, p=1)  # [B', L', L']
    return -slopes.view(1, -1, 1, 1) * dist[:, None]


def _shared_rows(keep: Tensor) -> Tensor:
    """``keep`` ``[B, L']`` as ``[1, L']`` when every sample keeps the same tokens (prefix masks), else as is."""
    return keep[:1] if keep.shape[0] == 1 or bool((keep == keep[:1]).all()) else keep


class Block(nn.Module):
    """Pre-norm transformer block: multi-head self-attention and an MLP (GELU), both residual; ``[B, L, D]``."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float) -> None:
        super().__init__()
        if dim % num_heads:
            raise ConfigError(f"width {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: Tensor, bias: Tensor | None = None) -> Tensor:
        """``x`` ``[B, L, D]``; ``bias`` (optional) an additive attention bias ``[B or 1, heads, L, L]``."""
        b, length, dim = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(b, length, 3, self.num_heads, dim // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attn = F.scaled_dot_product_attention(q, k, v, attn_mask=bias).transpose(1, 2).reshape(b, length, dim)
        x = x + self.proj(attn)
        return x + self.mlp(self.norm2(x))


class WiFo(nn.Module):
    """Masked autoencoder with 3D patches and STF-PE; one model for every input shape the patch divides."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        patch_values = 2 * math.prod(cfg.patch)
        self.patch_embed = nn.Conv3d(2, cfg.embed_dim, kernel_size=cfg.patch, stride=cfg.patch)
        self.encoder = nn.ModuleList(Block(cfg.embed_dim, cfg.num_heads, cfg.mlp_ratio) for _ in range(cfg.depth))
        self.encoder_norm = nn.LayerNorm(cfg.embed_dim, eps=1e-6)
        self.decoder_embed = nn.Linear(cfg.embed_dim, cfg.decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(cfg.decoder_dim))
        self.decoder = nn.ModuleList(
            Block(cfg.decoder_dim, cfg.num_heads, cfg.mlp_ratio) for _ in range(cfg.decoder_depth)
        )
        self.decoder_norm = nn.LayerNorm(cfg.decoder_dim, eps=1e-6)
        self.head = nn.Linear(cfg.decoder_dim, patch_values)
        self.apply(_init_weights)
        nn.init.normal_(self.mask_token, std=0.02)
        # The head starts at zero: the first prediction is the all-zero one (loss 0.5 on unit-power samples,
        # instead of about 0.7 for a random head), so early steps learn signal rather than undo noise.
        nn.init.zeros_(self.head.weight)

    def forward(self, x: Tensor, mask: TokenMask) -> Tensor:
        """Predicted patch values ``[B, L, 2 * pt * pn * pk]`` (``patchify`` layout) of ``x`` ``[B, 2, T, N, K]``.

        Only the tokens in ``mask.keep`` reach the encoder; the others are predicted from mask tokens.
        """
        grid = patch_grid(tuple(x.shape[2:]), self.cfg.patch)
        if mask.masked.shape != (x.shape[0], math.prod(grid)):
            raise WirelessDataError(f"mask of shape {tuple(mask.masked.shape)} does not fit {x.shape[0]} x {grid}")
        keep = mask.keep.to(x.device)
        z = self.decoder_embed(self._encode(x, keep))
        full = self.mask_token.to(z.dtype).expand(x.shape[0], math.prod(grid), -1)
        z = full.scatter(1, keep[..., None].expand(-1, -1, z.shape[-1]), z)
        z = z + stf_pos_embed(grid, self.cfg.decoder_dim).to(z)
        bias = None
        if self.cfg.locality:
            everything = torch.arange(math.prod(grid), device=x.device)[None]
            bias = locality_bias(grid, everything, self.cfg.num_heads).to(z.dtype)
        for block in self.decoder:
            z = block(z, bias)
        return self.head(self.decoder_norm(z))

    def encode(self, x: Tensor) -> Tensor:
        """Encoder features of every token of ``x`` ``[B, 2, T, N, K]`` (nothing hidden): ``[B, L, embed_dim]``.

        Tokens in (t, n, k) order as ``patchify``; the input of frozen-encoder task heads and embedding distances.
        """
        grid = patch_grid(tuple(x.shape[2:]), self.cfg.patch)
        keep = torch.arange(math.prod(grid), device=x.device).expand(x.shape[0], -1)
        return self._encode(x, keep)

    def _encode(self, x: Tensor, keep: Tensor) -> Tensor:
        """Patch embedding + STF-PE, the tokens ``keep`` ``[B, L_keep]`` through the encoder: ``[B, L_keep, D]``."""
        grid = patch_grid(tuple(x.shape[2:]), self.cfg.patch)
        tokens = self.patch_embed(x).flatten(2).transpose(1, 2)  # [B, L, D]
        tokens = tokens + stf_pos_embed(grid, self.cfg.embed_dim).to(tokens)
        z = tokens.gather(1, keep[..., None].expand(-1, -1, tokens.shape[-1]))
        bias = locality_bias(grid, _shared_rows(keep), self.cfg.num_heads).to(z.dtype) if self.cfg.locality else None
        for block in self.encoder:
            z = block(z, bias)
        return self.encoder_norm(z)

    def reconstruct(self, x: Tensor, mask: TokenMask) -> Tensor:
        """The model's estimate of the whole input, ``[B, 2, T, N, K]``, from the tokens in ``mask.keep``."""
        return unpatchify(self(x, mask), self.cfg.patch, tuple(x.shape[2:]))


def masked_mse(pred: Tensor, target: Tensor, mask: TokenMask) -> Tensor:
    """Mean squared error over the hidden patches: ``pred`` and ``target`` ``[B, L, P]``, a scalar."""
    per_patch = (pred - target).square().mean(-1)
    hidden = mask.masked.to(per_patch)
    return (per_patch * hidden).sum() / hidden.sum()


def _init_weights(module: nn.Module) -> None:
    """MAE initialisation: Xavier-uniform weights (the patch embedding as a linear map), zero biases."""
    if isinstance(module, nn.Linear | nn.Conv3d):
        nn.init.xavier_uniform_(module.weight.view(module.weight.shape[0], -1))
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
