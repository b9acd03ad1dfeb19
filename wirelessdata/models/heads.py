"""Frozen-encoder task heads: an attentive probe on the token features of a (pretrained or random) WiFo encoder.

The encoder is frozen: every sample is encoded once (``encoder_features``), then a small head is trained on a few
labelled samples (``fit_probe``) and applied to the rest (``probe_predict``). The same head on a randomly
initialised encoder of the same architecture is the control that shows what pretraining adds.

Input of a head, per sample: the encoder's token features ``[L, D]`` of the normalised, noisy CSI (as the model
sees it in evaluation) and the sample's mean channel power in dB, which the per-sample normalisation removes from
the model input but which carries the path loss (and so much of the distance). The head pools the tokens with one
learned query (multi-head cross-attention, as in attentive probing of masked autoencoders), concatenates the power,
and maps the result through a two-layer MLP to class logits or to regression outputs (standardised with the
labelled samples' mean and standard deviation).

CSI carries an arbitrary global phase per sample (the UE's clock and position within a wavelength): ``h`` and
``h e^{jφ}`` are the same channel, yet the encoder (a real network on the real and imaginary parts) gives them
different tokens, so a head learns the task and the phase at once from a few labels. ``pooling`` chooses how the
features treat it (``encoder_features``; ``POOLINGS``):

- ``attentive``: the encoder sees the sample as given; the features depend on its global phase;
- ``phase-invariant``: every sample is first rotated to a canonical phase (``canonical_phase``: the phase of the
  power-weighted coherent sum ``c = Σ_i h_i |h_i|^2`` over all entries becomes 0). ``c`` turns with the sample
  (``c(h e^{jφ}) = c(h) e^{jφ}``), so the rotated sample and hence the features are exactly the same for any
  ``φ``, at the cost of one extra pass over the CSI. (No continuous canonicalisation exists everywhere: where
  ``c`` is near 0, e.g. a lone path of flat power, the canonical phase is ill-conditioned; the features stay
  invariant but change abruptly between similar samples.)
- ``rotation-mean``: the mean of the tokens of the sample turned by ``e^{j 2π m / 4}``, ``m = 0..3`` (four
  encoder passes): invariant to quarter turns only, approximately so for other angles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from wirelessdata.errors import ConfigError, WirelessDataError
from wirelessdata.models.wifo import WiFo, add_noise, csi_to_input, normalise

HEAD_KINDS = ("classify", "regress")

#: How the encoder features treat the global phase of a sample (see the module docstring).
POOLINGS = ("attentive", "phase-invariant", "rotation-mean")

#: Global rotations whose tokens ``rotation-mean`` averages.
ROTATIONS = 4


@dataclass(frozen=True)
class ProbeConfig:
    """A head and its training: ``kind`` classify (cross-entropy over ``num_outputs`` classes) or regress (MSE on
    ``num_outputs`` standardised values); AdamW for ``steps`` steps of ``batch_size`` labelled samples.

    ``pooling`` (one of ``POOLINGS``) is how the head's features treat the global phase of a sample: compute them
    with ``encoder_features(..., pooling=cfg.pooling)``. ``seed`` seeds the head's initialisation and batches.
    """

    kind: str
    num_outputs: int
    steps: int = 300
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.01
    num_heads: int = 4
    hidden: int = 128
    seed: int = 0
    pooling: str = "attentive"

    def __post_init__(self) -> None:
        if self.kind not in HEAD_KINDS:
            raise ConfigError(f"unknown head kind {self.kind!r}; choose one of {', '.join(HEAD_KINDS)}")
        check_pooling(self.pooling)
        if self.num_outputs < 1 or self.steps < 1 or self.batch_size < 1:
            raise ConfigError("a head needs num_outputs, steps and batch_size of at least 1")


class AttentiveProbe(nn.Module):
    """Cross-attention pooling with one learned query, the sample power appended, then an MLP.

    Input ``tokens`` ``[B, L, D]`` and ``power_db`` ``[B]``; output ``[B, num_outputs]`` (logits, or standardised
    regression values: ``predict`` undoes the standardisation).
    """

    def __init__(self, dim: int, cfg: ProbeConfig) -> None:
        super().__init__()
        self.kind = cfg.kind
        self.query = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.norm = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, cfg.num_heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(dim + 1, cfg.hidden), nn.GELU(), nn.Linear(cfg.hidden, cfg.num_outputs))
        self.register_buffer("power_stats", torch.tensor([0.0, 1.0]))  # mean, std of power_db (labelled samples)
        self.register_buffer("target_stats", torch.zeros(2, cfg.num_outputs))  # mean, std of regression targets
        self.target_stats[1] = 1.0

    def forward(self, tokens: Tensor, power_db: Tensor) -> Tensor:
        kv = self.norm(tokens)
        pooled = self.attn(self.query.expand(tokens.shape[0], -1, -1), kv, kv, need_weights=False)[0][:, 0]
        power = ((power_db - self.power_stats[0]) / self.power_stats[1])[:, None]
        return self.mlp(torch.cat([pooled, power.to(pooled)], dim=1))


def check_pooling(pooling: str) -> str:
    """``pooling`` if it is one of ``POOLINGS``, else a one-line ``ConfigError``."""
    if pooling not in POOLINGS:
        raise ConfigError(f"unknown pooling {pooling!r}; choose one of {', '.join(POOLINGS)}")
    return pooling


def canonical_phase(csi: Tensor) -> Tensor:
    """Every sample of complex ``csi`` ``[S, ...]`` turned so that ``c = Σ_i h_i |h_i|^2`` (over all its entries)
    is real and non-negative: ``h e^{-j arg c}``, same shape and dtype.

    ``c`` is equivariant (``c(h e^{jφ}) = c(h) e^{jφ}``; weights that depend on ``|h|`` only), so the result does
    not depend on the sample's global phase; the ``|h|^2`` weights favour the strong entries, whose phase the noise
    disturbs least. A sample with ``c = 0`` (all zero) is left as is.
    """
    flat = csi.reshape(csi.shape[0], -1)
    c = (flat * flat.abs().square()).sum(1)  # [S]
    turn = torch.where(c.abs() > 0, c.conj() / c.abs().clamp_min(torch.finfo(c.abs().dtype).tiny), torch.ones_like(c))
    return csi * turn.view(-1, *([1] * (csi.dim() - 1)))


@torch.no_grad()
def encoder_features(
    model: WiFo,
    csi: Tensor,
    snr_db: float | None = 20.0,
    seed: int = 0,
    batch_size: int = 64,
    pooling: str = "attentive",
) -> tuple[Tensor, Tensor]:
    """Frozen token features of complex ``csi`` ``[S, T, K, Nbs, Nue]``.

    Each sample is (``pooling`` ``phase-invariant``) turned to its canonical phase (``canonical_phase``),
    normalised to unit mean power, noise at ``snr_db`` (dB, against that power; ``None``: none) is added from a
    generator seeded by ``seed``, and the encoder sees every token. With ``rotation-mean`` the tokens are the mean
    over the ``ROTATIONS`` quarter turns ``e^{j 2π m / 4}`` of the noisy sample.

    :returns: ``(tokens [S, L, D] float32, power_db [S])`` with ``power_db = 10 log10(mean |h|^2)`` of the clean CSI.
    """
    check_pooling(pooling)
    model.eval()
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    tokens, powers = [], []
    for k in range(0, csi.shape[0], batch_size):
        part = csi[k : k + batch_size]
        x, scale = normalise(csi_to_input(canonical_phase(part) if pooling == "phase-invariant" else part))
        x = add_noise(x, snr_db, gen).to(device)
        if pooling == "rotation-mean":
            turns = [_turn(x, 2 * math.pi * m / ROTATIONS) for m in range(ROTATIONS)]
            tokens.append(torch.stack([model.encode(t).float() for t in turns]).mean(0).cpu())
        else:
            tokens.append(model.encode(x).float().cpu())
        powers.append(20 * torch.log10(scale.flatten()))
    return torch.cat(tokens), torch.cat(powers)


def _turn(x: Tensor, angle: float) -> Tensor:
    """Model input ``x`` ``[B, 2, ...]`` (real, imaginary) of ``h`` → that of ``h e^{j angle}``."""
    cos, sin = math.cos(angle), math.sin(angle)
    return torch.stack([cos * x[:, 0] - sin * x[:, 1], sin * x[:, 0] + cos * x[:, 1]], dim=1)


def fit_probe(tokens: Tensor, power_db: Tensor, targets: Tensor, cfg: ProbeConfig) -> AttentiveProbe:
    """Train an :class:`AttentiveProbe` on labelled features.

    :param tokens: ``[S, L, D]`` from ``encoder_features``; ``power_db`` ``[S]``.
    :param targets: class indices ``[S]`` int64 (classify) or values ``[S, num_outputs]`` float (regress).
    """
    if tokens.shape[0] != targets.shape[0] or tokens.shape[0] == 0:
        raise WirelessDataError(
            f"{tokens.shape[0]} feature rows for {targets.shape[0]} labels; a head needs both, equal"
        )
    torch.manual_seed(cfg.seed)
    probe = AttentiveProbe(tokens.shape[-1], cfg)
    probe.power_stats.copy_(torch.stack([power_db.mean(), power_db.std().clamp_min(1e-6)]))
    if cfg.kind == "regress":
        targets = targets.float().reshape(targets.shape[0], cfg.num_outputs)
        probe.target_stats.copy_(torch.stack([targets.mean(0), targets.std(0).clamp_min(1e-6)]))
        targets = (targets - probe.target_stats[0]) / probe.target_stats[1]
        loss_fn = nn.functional.mse_loss
    else:
        targets = targets.long()
        if int(targets.min()) < 0 or int(targets.max()) >= cfg.num_outputs:
            raise WirelessDataError(f"class labels must lie in 0..{cfg.num_outputs - 1}")
        loss_fn = nn.functional.cross_entropy
    opt = torch.optim.AdamW(probe.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps)
    gen = torch.Generator().manual_seed(cfg.seed)
    probe.train()
    for _ in range(cfg.steps):
        idx = torch.randint(tokens.shape[0], (min(cfg.batch_size, tokens.shape[0]),), generator=gen)
        loss = loss_fn(probe(tokens[idx], power_db[idx]), targets[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return probe.eval()


@torch.no_grad()
def probe_predict(probe: AttentiveProbe, tokens: Tensor, power_db: Tensor, batch_size: int = 256) -> Tensor:
    """Head outputs ``[S, num_outputs]``: class logits, or regression values in the targets' units."""
    parts = range(0, len(tokens), batch_size)
    out = torch.cat([probe(tokens[k : k + batch_size], power_db[k : k + batch_size]) for k in parts])
    mean, std = probe.target_stats
    return out * std + mean if probe.kind == "regress" else out
