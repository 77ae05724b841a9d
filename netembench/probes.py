"""Probe sets: what an embedder sees of a model, computed exactly and in one batch for M models.

For sorted inputs `x [M, N]`: outputs `y`, input-gradients `dy/dx` in closed form (forward-mode
through the activation masks, exact for a piecewise-linear net), and `region`, the index of each
point's linear region. In 1D an activation pattern holds on one interval (the set where a fixed
pattern's affine pre-activations keep their signs is convex), so regions are the runs of equal
pattern along sorted `x`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from netembench.population import Population


@torch.no_grad()
def forward_with_gradients(pop: Population, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(`y`, `dy/dx`, `region`) at inputs `x [M, N]` (sorted per row for `region` to be runs)."""
    h = torch.addcmul(pop.biases[0][:, None, :], x[..., None], pop.weights[0][:, None, :, 0])
    tangent = pop.weights[0][:, None, :, 0].expand_as(h)
    changed = torch.zeros(x.shape, dtype=torch.bool, device=x.device)
    for w, b in zip(pop.weights[1:], pop.biases[1:]):
        active = h > 0
        changed[:, 1:] |= (active[:, 1:] != active[:, :-1]).any(-1)
        h = torch.baddbmm(b[:, None, :], h.clamp_(min=0), w.transpose(1, 2))
        tangent = torch.bmm(tangent * active, w.transpose(1, 2))
    region = torch.cumsum(changed.to(torch.int64), dim=1)
    return h[..., 0], tangent[..., 0], region
