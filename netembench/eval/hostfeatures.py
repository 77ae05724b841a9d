"""Features of host probe sets (components inside host networks, DESIGN §16), for the
non-learned host baselines: find the component's input direction from its gradients, then read the
component along it.

A component reads one projection of the activations, so its gradients are all parallel to one
direction `a` of activation space. The top right singular vector of `grad [N, W]` recovers it,
oriented as the host tracks orient projections (`a . mean(x) > 0`: the input grows with the mean
activation). Projected points are standardised with the probe set's own mean and deviation, at
the scale the host tracks use (+-1 at +-2 sd), since an embedder does not know the host's.
"""

from __future__ import annotations

import torch
from torch import Tensor

from netembench.eval.features import fixed_grid, integrated_profile, resample

SCALE = 2.0  # +-1 at +-SCALE standard deviations, as the host tracks standardise projections


def component_direction(x: Tensor, grad: Tensor) -> Tensor:
    """The unit direction `[B, W]` the gradients `grad [B, N, W]` span (top right singular vector),
    oriented so that it correlates positively with the mean activation of `x [B, N, W]`."""
    v = torch.linalg.svd(grad.double(), full_matrices=False).Vh[:, 0, :]
    sign = torch.where((v * x.double().mean(1)).sum(-1) < 0, -1.0, 1.0)
    return (v * sign[:, None]).to(x.dtype)


def projected_inputs(x: Tensor, direction: Tensor) -> tuple[Tensor, Tensor]:
    """(`t [B, N]`, the standardised projections `(u - mean) / (SCALE sd)` of `u = direction . x`;
    `d u / d t` `[B]`, to turn gradients along `u` into slopes in `t`)."""
    u = (x * direction[:, None, :]).sum(-1)
    mean, sd = u.mean(1, keepdim=True), u.std(1, keepdim=True).clamp_min(1e-12)
    return (u - mean) / (SCALE * sd), SCALE * sd[:, 0]


def sorted_along(t: Tensor, *values: Tensor) -> tuple[Tensor, ...]:
    """`t` sorted ascending per row, and each of `values [B, N]` in the same order."""
    t, order = t.sort(1)
    return (t, *(v.gather(1, order) for v in values))


def subspace_integrated(x: Tensor, grad: Tensor, n: int = 64) -> Tensor:
    """The component reconstructed from its gradients along its direction, up to a constant:
    project, integrate the slope along the sorted projections, resample at `n` points. `[B, n]`."""
    direction = component_direction(x, grad)
    t, du_dt = projected_inputs(x, direction)
    slope = (grad * direction[:, None, :]).sum(-1) * du_dt[:, None]
    t, slope = sorted_along(t, slope)
    return integrated_profile(t, slope, n)


def subspace_values(x: Tensor, grad: Tensor, y: Tensor, n: int = 64) -> Tensor:
    """The component's outputs along its direction (found from the gradients), resampled at `n`
    points, mean removed. `[B, n]`."""
    t, _ = projected_inputs(x, component_direction(x, grad))
    t, y = sorted_along(t, y)
    f = resample(t, y, fixed_grid(n, x.device))
    return f - f.mean(1, keepdim=True)
