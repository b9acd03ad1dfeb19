"""Embedding distance: the Fréchet distance between two sets of samples in a reference model's encoder space.

As FID does for images: every sample goes through the encoder of a pretrained WiFo checkpoint
(``WiFo.encode``, nothing masked), the token features ``[L, D]`` are averaged over the tokens to one vector
``[D]`` per sample, and the Fréchet distance is taken between the Gaussians fitted to the two sets of
vectors (unstandardised: the encoder's LayerNorm already puts every dimension on one scale). The samples are
prepared as in training: ``csi_to_input`` and the per-sample normalisation ``normalise``, no noise.

Samples with non-finite or all-zero CSI have no embedding and are left out (they are flagged by curation).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wirelessdata.curate.blocks import iter_blocks, shard_info
from wirelessdata.curate.flags import finite_rows
from wirelessdata.curate.frechet import frechet_distance, sample_blocks
from wirelessdata.errors import WirelessDataError

EMBED_BATCH = 64
"""Samples per encoder call."""


@dataclass(frozen=True)
class Encoder:
    """A reference model's encoder, ready to embed.

    :param model: the ``WiFo`` model (eval mode).
    :param source: the checkpoint or run directory it was loaded from.
    :param patch: its patch ``(pt, pn, pk)``: time, antenna, subcarrier.
    :param dim: embedding width ``D``.
    :param step: training steps of the checkpoint.
    """

    model: Any
    source: str
    patch: tuple[int, int, int]
    dim: int
    step: int


def load_encoder(path: str | Path, device: str | None = None) -> Encoder:
    """The encoder of a checkpoint file or run directory written by ``wirelessdata train``.

    :param device: torch device (default: CUDA when present, else CPU).
    :raises WirelessDataError: torch missing; no checkpoint there; not a checkpoint; weights that do not match
        the model code (one line naming the file).
    """
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        raise WirelessDataError("--checkpoint needs torch; install wirelessdata[train]") from exc
    from wirelessdata.models.checkpoint import load_checkpoint

    try:
        ckpt = load_checkpoint(Path(path), device)
    except WirelessDataError as exc:
        reason = str(exc).split(";")[0].replace("does not match its own configuration", "does not match the model code")
        raise WirelessDataError(
            f"{reason}; give a run directory or checkpoint.pt written by this version of 'wirelessdata train'"
        ) from None
    cfg = ckpt.model.cfg
    return Encoder(ckpt.model, str(path), tuple(cfg.patch), int(cfg.embed_dim), ckpt.step)


def check_shape(url: str, csi_shape: tuple[int, ...] | None, patch: tuple[int, int, int]) -> None:
    """Refuse (one line) a shard without CSI or whose ``(T, N_bs * N_ue, K)`` the patch does not divide."""
    if csi_shape is None:
        raise WirelessDataError(f"{url}: has no CSI; the embedding distance embeds the CSI")
    t, k, nbs, nue = csi_shape
    if t % patch[0] or (nbs * nue) % patch[1] or k % patch[2]:
        raise WirelessDataError(
            f"{url}: CSI shape (time {t}, antennas {nbs * nue}, subcarriers {k}) is not divisible by the "
            f"checkpoint's patch {patch}; compare shards whose dimensions are multiples of it or use another checkpoint"
        )


def embed(csi: np.ndarray, encoder: Encoder) -> np.ndarray:
    """float64 [n', D] mean-pooled encoder features of the samples of ``csi`` complex [n, T, K, N_bs, N_ue] with
    finite, non-zero CSI (n' <= n, in order)."""
    import torch

    from wirelessdata.models.wifo import csi_to_input, normalise

    power = np.abs(csi.reshape(len(csi), -1)).max(axis=1) if csi.size else np.zeros(0)
    ok = finite_rows(csi) & (power > 0)
    csi = csi[ok]
    device = next(encoder.model.parameters()).device
    out = []
    with torch.inference_mode():
        for start in range(0, len(csi), EMBED_BATCH):
            x, _ = normalise(csi_to_input(torch.from_numpy(np.ascontiguousarray(csi[start : start + EMBED_BATCH]))))
            out.append(encoder.model.encode(x.to(device)).mean(dim=1).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, encoder.dim))


def shard_embeddings(url: str, encoder: Encoder, max_samples: int | None = None) -> np.ndarray:
    """float64 [m, D] embeddings of the samples of a shard, read block by block.

    :param max_samples: about this many samples at most: whole blocks evenly spaced over the shard (the blocks
        :func:`~wirelessdata.curate.distance.shard_features` reads: :func:`~wirelessdata.curate.frechet.sample_blocks`).
    """
    info = shard_info(url)
    check_shape(url, info.csi_shape, encoder.patch)
    parts = [embed(b["csi"], encoder) for _s, b in iter_blocks(info, ["csi"], sample_blocks(info, max_samples))]
    return np.concatenate(parts) if parts else np.zeros((0, encoder.dim))


def load_embeddings(urls: list[str], encoder: Encoder, max_samples: int | None = 2048) -> dict[str, np.ndarray]:
    """Embeddings [m, D] of every shard of ``urls``, by shard path."""
    return {u: shard_embeddings(u, encoder, max_samples) for u in urls}


def embedding_frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between the embeddings ``a`` [n, D] and ``b`` [m, D] (n, m >= 2)."""
    if min(len(a), len(b)) < 2:
        raise WirelessDataError(f"too few samples with an embedding ({len(a)} and {len(b)}); need 2 each")
    return frechet_distance(a, b)
