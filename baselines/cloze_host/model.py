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

v3 handles d inputs (protocol v2, `x`/`grad [B, N, d]`, `Config.inputs = d`): tokens from the input
vector, the visible and nearest-filled gradient vectors, the mask flag, the point's region size
(in 2-D most points have a linear region of their own) and the value there of the potential
reconstructed from the filled gradients (the 2-D analogue of the 1-D tokens' integrated function),
whose values on a 5 x 5 grid also enter the CLS token; the cloze head predicts a d-vector
correction to the nearest-visible fill; the decoder reads a potential on the 13 x 13 bilinear grid from
the CLS and takes its gradient at the query points. With `inputs = 1` it is the 1-D model unchanged
(the 1-D checkpoints load and compute as before).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from netembench.features import (
    GRID_NODES,
    fill_hidden,
    grid_operators,
    integrate,
    nearest_fill,
    potential_grid,
    region_mean,
)

N_FEATURES = 9


@dataclass(frozen=True)
class Config:
    d_model: int = 64
    n_layers: int = 3
    n_heads: int = 4
    d_ff: int = 128
    proj_dim: int = 64
    n_knots: int = 33  # the function decoder's piecewise-linear basis on [-1, 1]
    inputs: int = 1  # d: 1 (protocol v1) or more (protocol v2)

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


def n_features(inputs: int) -> int:
    return N_FEATURES if inputs == 1 else 3 * inputs + 3


POTENTIAL_SUMMARY = 25  # the CLS's view of the reconstructed potential: every third node, 5 x 5


@torch.no_grad()
def potential_features(x: Tensor, filled: Tensor) -> tuple[Tensor, Tensor]:
    """(the potential reconstructed from the filled gradients at each point `[B, N]`, its values at
    every third grid node `[B, 25]`); d = 2."""
    nodes = potential_grid(x, filled)
    value_op, _ = grid_operators(x, GRID_NODES)
    at_points = (value_op @ nodes[..., None])[..., 0]
    summary = nodes.reshape(-1, GRID_NODES, GRID_NODES)[:, ::3, ::3].reshape(len(x), -1)
    return at_points, summary


def token_features_nd(x: Tensor, grad: Tensor, mask: Tensor, region: Tensor | None) -> tuple[Tensor, Tensor]:
    """Per-point features in d > 1 `[B, N, 3d + 3]`: x, the visible gradient (0 if hidden), the
    mask flag, the gradient filled from the nearest visible point, the share of the probe points
    in the point's linear region (0 when `region` is None: region-blind), and the reconstructed
    potential there; and the potential's 5 x 5 summary `[B, 25]` for the CLS token."""
    visible = grad.masked_fill(mask[..., None], 0.0)
    filled = nearest_fill(x, visible, mask)
    if region is None:
        share = torch.zeros_like(x[..., 0])
    else:
        counts = torch.zeros_like(x[..., 0]).scatter_add_(1, region, torch.ones_like(x[..., 0]))
        share = counts.gather(1, region) * (8.0 / x.shape[1])
    f, summary = potential_features(x, filled)
    tokens = torch.cat([x, visible / 2, mask.float()[..., None], filled / 2, share[..., None], 4 * f[..., None]], -1)
    return tokens, 4 * summary


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
        self.tokens = nn.Linear(n_features(cfg.inputs), cfg.d_model)
        self.cls = nn.Parameter(torch.zeros(1, 1, cfg.d_model))
        self.cls_potential = nn.Linear(POTENTIAL_SUMMARY, cfg.d_model) if cfg.inputs > 1 else None
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = nn.LayerNorm(cfg.d_model)
        self.cloze_head = nn.Linear(cfg.d_model, cfg.inputs)
        self.projection = nn.Sequential(nn.Linear(cfg.d_model, cfg.d_model), nn.GELU(), nn.Linear(cfg.d_model, cfg.proj_dim))
        self.decoder = nn.Linear(cfg.d_model, cfg.n_knots if cfg.inputs == 1 else GRID_NODES**2)

    def encode(self, x: Tensor, grad: Tensor, mask: Tensor, region: Tensor | None) -> Tensor:
        """Final hidden states `[B, 1 + N, d_model]` (CLS first); `region=None` is region-blind."""
        if self.cfg.inputs == 1:
            h = self.tokens(token_features(x, grad, mask, region))
            cls = self.cls.expand(h.shape[0], -1, -1)
        else:
            tokens, summary = token_features_nd(x, grad, mask, region)
            h = self.tokens(tokens)
            cls = self.cls + self.cls_potential(summary)[:, None, :]
        h = torch.cat([cls, h], dim=1)
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
        if self.cfg.inputs > 1:
            visible = grad.masked_fill(mask[..., None], 0.0)
            pred = nearest_fill(x, visible, mask) + self.cloze_head(h[:, 1:])
            pred = torch.stack([region_mean(pred[..., k], region) for k in range(self.cfg.inputs)], -1)
            return torch.where(mask[..., None], pred, visible)
        visible = grad.masked_fill(mask, 0.0)
        pred = region_mean(fill_hidden(x, visible, mask) + self.cloze_head(h[:, 1:])[..., 0], region)
        return torch.where(mask, pred, visible)

    def decode(self, cls: Tensor, x: Tensor) -> Tensor:
        """dy/dx at any points `x [B, Q]` read from the CLS embedding alone: a linear map to the
        values of a piecewise-linear function at `n_knots` even knots. It makes the CLS a code of the
        whole gradient function, not just of what tells two draws apart. In d > 1 (`x [B, Q, d]`):
        the gradient at `x` of a potential on the bilinear grid, read from the CLS."""
        if self.cfg.inputs > 1:
            _, grad_op = grid_operators(x, GRID_NODES)
            return torch.einsum("bqdg,bg->bqd", grad_op, self.decoder(cls))
        knots = torch.linspace(-1.0, 1.0, self.cfg.n_knots, device=x.device)
        hats = (1.0 - (x[..., None] - knots).abs() * (self.cfg.n_knots - 1) / 2.0).clamp_min(0.0)
        return (hats * self.decoder(cls)[:, None, :]).sum(-1)


def cloze_loss(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Squared error on hidden points over each model's gradient variance (the harness's NMSE; in
    d > 1 squared norms over summed variances)."""
    var = target.var(1, unbiased=False, keepdim=True).clamp_min(1e-6)
    sq = (pred - target) ** 2 / var
    if target.dim() == 3:
        sq = (pred - target).pow(2).sum(-1) / var.sum(-1)
    m = mask.float()
    return (sq * m).sum() / m.sum().clamp_min(1.0)


def info_nce(a: Tensor, b: Tensor, temperature: float = 0.1) -> Tensor:
    """Symmetric InfoNCE between two views: row i of `a` and of `b` come from the same model."""
    a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    logits = a @ b.T / temperature
    labels = torch.arange(len(a), device=a.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))
