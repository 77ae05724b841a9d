"""Features of host probe sets (components inside host networks, DESIGN §16), for the
non-learned host baselines: find the component's input direction from its gradients, then read the
component along it.

A component reads one projection of the activations, so its gradients are all parallel to one
unit direction `a` of activation space. The top right singular vector of `grad [N, W]` recovers it,
oriented as the host tracks orient projections (`sum(a) > 0`). The component's input is then
`t = a . (x - CENTRE) / SPREAD` exactly, with the constants of the canonical host specs
(docs/protocol.md).
"""

from __future__ import annotations

import torch
from torch import Tensor

from netembench.eval.features import integrate, resample

CENTRE = 0.25  # host-seed / host-fine: t = a . (x - CENTRE) / SPREAD
SPREAD = 1.1
# Profiles are read on [-0.8, 0.8], where 91% of a component's inputs fall (t has a deviation of
# about 0.48). Pilot on host-fine (N = 64, 2 draws, probe accuracy), grid +-1.0 / 0.8 / 0.6:
# integration 0.637 / 0.652 / 0.629, outputs 0.877 / 0.925 / 0.948. 0.8 is the best grid for the
# gradient baseline; the output ceiling uses the same one.
GRID_LIMIT = 0.8


def profile_grid(n: int, device: torch.device | str = "cpu") -> Tensor:
    """`n` even points on [-GRID_LIMIT, GRID_LIMIT]: where host profiles are read."""
    return torch.linspace(-GRID_LIMIT, GRID_LIMIT, n, device=device)


def component_direction(x: Tensor, grad: Tensor) -> Tensor:
    """The unit direction `[B, W]` the gradients `grad [B, N, W]` span (top right singular vector),
    oriented so that its entries sum to a positive number. `x` gives the dtype."""
    v = torch.linalg.svd(grad.double(), full_matrices=False).Vh[:, 0, :]
    sign = torch.where(v.sum(-1) < 0, -1.0, 1.0)
    return (v * sign[:, None]).to(x.dtype)


def projected_inputs(x: Tensor, direction: Tensor) -> tuple[Tensor, Tensor]:
    """(`t [B, N]`, the component's inputs `direction . (x - CENTRE) / SPREAD`; `du/dt [B]`, to
    turn gradients along the direction into slopes in `t`)."""
    u = (x * direction[:, None, :]).sum(-1) - CENTRE * direction.sum(-1, keepdim=True)
    return u / SPREAD, torch.full_like(u[:, 0], SPREAD)


def sorted_along(t: Tensor, *values: Tensor) -> tuple[Tensor, ...]:
    """`t` sorted ascending per row, and each of `values [B, N]` in the same order."""
    t, order = t.sort(1)
    return (t, *(v.gather(1, order) for v in values))


def subspace_integrated(x: Tensor, grad: Tensor, n: int = 64) -> Tensor:
    """The component reconstructed from its gradients along its direction, up to a constant:
    project, integrate the slope along the sorted projections (trapezoid rule), resample at `n`
    points of `profile_grid`, mean removed. `[B, n]`."""
    direction = component_direction(x, grad)
    t, du_dt = projected_inputs(x, direction)
    slope = (grad * direction[:, None, :]).sum(-1) * du_dt[:, None]
    t, slope = sorted_along(t, slope)
    f = resample(t, integrate(t, slope), profile_grid(n, x.device))
    return f - f.mean(1, keepdim=True)


def subspace_values(x: Tensor, grad: Tensor, y: Tensor, n: int = 64) -> Tensor:
    """The component's outputs along its direction (found from the gradients), resampled at `n`
    points of `profile_grid`, mean removed. `[B, n]`."""
    t, _ = projected_inputs(x, component_direction(x, grad))
    t, y = sorted_along(t, y)
    f = resample(t, y, profile_grid(n, x.device))
    return f - f.mean(1, keepdim=True)
