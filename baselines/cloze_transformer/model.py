"""The cloze transformer: a small pre-norm transformer over probe points, read top to bottom.

Each of the N sorted probe points of a model is a token built from (x, dy/dx or MASK), a few exact
features of the visible gradients and, for the cloze task only, where its linear region starts and
ends; a CLS token is prepended. One transformer, two uses:
- cloze (`cloze`): a head on the point tokens predicts a correction to neighbour interpolation of
  the hidden gradients, averaged over each linear region (a ReLU network's gradient is constant on
  one). Region boundaries mark the network's kinks, which makes the cloze far easier;
- embedding (`embed`): the CLS state of a *region-blind* pass (the boundary features zeroed). Kink
  positions are a fingerprint of the individual network, not of its task: an embedding that sees
  them learns to tell seeds apart instead of tasks. Two objectives shape it: InfoNCE between two
  independent probe draws of the same network (which the prototype found essential), and decoding
  the other draw's gradients from the CLS alone, which makes it a code of the whole function.
Self-supervised: nothing here sees task ids, families or coefficients.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from netembench.features import fill_hidden, integrate, region_mean

N_FEATURES = 9


@dataclass(frozen=True)
class Config:
    d_model: int = 64
    n_layers: int = 3
    n_heads: int = 4
    d_ff: int = 128
    proj_dim: int = 64
    n_knots: int = 33  # the function decoder's piecewise-linear basis on [-1, 1]

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def token_features(x: Tensor, grad: Tensor, mask: Tensor, region: Tensor | None) -> Tensor:
    """Per-point features `[B, N, N_FEATURES]`, all computable from visible gradients alone:
    x, the visible gradient (0 if hidden), the mask flag, the interpolated gradient, the
    reconstructed function (integral of the interpolated gradient, mean removed), the gaps to
    the neighbouring points, and whether the point starts or ends its linear region (both 0 when
    `region` is None: region-blind)."""
    visible = grad.masked_fill(mask, 0.0)
    filled = fill_hidden(x, visible, mask)
    f = integrate(x, filled)
    f = f - f.mean(1, keepdim=True)
    n = x.shape[1]
    gap_prev = torch.cat([x[:, :1] + 1.0, x[:, 1:] - x[:, :-1]], 1) * n / 2
    gap_next = torch.cat([x[:, 1:] - x[:, :-1], 1.0 - x[:, -1:]], 1) * n / 2
    if region is None:
        starts = ends = torch.zeros_like(x)
    else:
        change = (region[:, 1:] != region[:, :-1]).to(x.dtype)
        starts, ends = F.pad(change, (1, 0), value=1.0), F.pad(change, (0, 1), value=1.0)
    return torch.stack([x, visible / 2, mask.float(), filled / 2, f * 4, gap_prev, gap_next, starts, ends], dim=-1)


class Block(nn.Module):
    """Pre-norm self-attention and MLP, each with a residual connection."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.n_heads = cfg.n_heads
        self.norm1 = nn.LayerNorm(cfg.d_model)
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.out = nn.Linear(cfg.d_model, cfg.d_model)
        self.norm2 = nn.LayerNorm(cfg.d_model)
        self.mlp = nn.Sequential(nn.Linear(cfg.d_model, cfg.d_ff), nn.GELU(), nn.Linear(cfg.d_ff, cfg.d_model))

    def forward(self, h: Tensor) -> Tensor:
        b, t, d = h.shape
        q, k, v = self.qkv(self.norm1(h)).view(b, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        attn = F.scaled_dot_product_attention(q, k, v)
        h = h + self.out(attn.transpose(1, 2).reshape(b, t, d))
        return h + self.mlp(self.norm2(h))


class ClozeTransformer(nn.Module):
    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.cfg = cfg
        self.tokens = nn.Linear(N_FEATURES, cfg.d_model)
        self.cls = nn.Parameter(torch.zeros(1, 1, cfg.d_model))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = nn.LayerNorm(cfg.d_model)
        self.cloze_head = nn.Linear(cfg.d_model, 1)
        self.projection = nn.Sequential(nn.Linear(cfg.d_model, cfg.d_model), nn.GELU(), nn.Linear(cfg.d_model, cfg.proj_dim))
        self.decoder = nn.Linear(cfg.d_model, cfg.n_knots)

    def encode(self, x: Tensor, grad: Tensor, mask: Tensor, region: Tensor | None) -> Tensor:
        """Final hidden states `[B, 1 + N, d_model]` (CLS first); `region=None` is region-blind."""
        h = self.tokens(token_features(x, grad, mask, region))
        h = torch.cat([self.cls.expand(h.shape[0], -1, -1), h], dim=1)
        for block in self.blocks:
            h = block(h)
        return self.norm(h)

    def embed(self, x: Tensor, grad: Tensor, mask: Tensor) -> Tensor:
        """The embedding `[B, d_model]`: the CLS state of a region-blind pass."""
        return self.encode(x, grad, mask, None)[:, 0]

    def cloze(self, x: Tensor, grad: Tensor, mask: Tensor, region: Tensor) -> Tensor:
        """dy/dx at every point `[B, N]`: predicted where `mask` hides it (one value per hidden
        region, as the cloze mask hides whole regions), passed through where visible."""
        h = self.encode(x, grad, mask, region)
        visible = grad.masked_fill(mask, 0.0)
        pred = region_mean(fill_hidden(x, visible, mask) + self.cloze_head(h[:, 1:])[..., 0], region)
        return torch.where(mask, pred, visible)

    def decode(self, cls: Tensor, x: Tensor) -> Tensor:
        """dy/dx at any points `x [B, Q]` read from the CLS embedding alone: a linear map to the
        values of a piecewise-linear function at `n_knots` even knots. It makes the CLS a code of the
        whole gradient function, not just of what tells two draws apart."""
        knots = torch.linspace(-1.0, 1.0, self.cfg.n_knots, device=x.device)
        hats = (1.0 - (x[..., None] - knots).abs() * (self.cfg.n_knots - 1) / 2.0).clamp_min(0.0)
        return (hats * self.decoder(cls)[:, None, :]).sum(-1)


def cloze_loss(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Squared error on hidden points over each model's gradient variance (the harness's NMSE)."""
    var = target.var(1, unbiased=False, keepdim=True).clamp_min(1e-6)
    m = mask.float()
    return (((pred - target) ** 2 / var) * m).sum() / m.sum().clamp_min(1.0)


def info_nce(a: Tensor, b: Tensor, temperature: float = 0.1) -> Tensor:
    """Symmetric InfoNCE between two views: row i of `a` and of `b` come from the same model."""
    a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    logits = a @ b.T / temperature
    labels = torch.arange(len(a), device=a.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))
