"""Simple, exact features of probe sets, vectorised over a batch: what the non-learned baselines
and the cloze references are made of. Public so that submissions can build on them."""

from __future__ import annotations

import torch
from torch import Tensor

FIXED_POINTS = 64


def fixed_grid(n: int = FIXED_POINTS, device: torch.device | str = "cpu") -> Tensor:
    return torch.linspace(-1.0, 1.0, n, device=device)


def resample(x: Tensor, values: Tensor, grid: Tensor) -> Tensor:
    """Piecewise-linear interpolation of `values [B, N]` at sorted `x [B, N]` onto `grid [G]`,
    constant beyond the first and last point. `[B, G]`."""
    idx = torch.searchsorted(x.contiguous(), grid.expand(x.shape[0], -1).contiguous()).clamp(
        1, x.shape[1] - 1
    )
    x0, x1 = x.gather(1, idx - 1), x.gather(1, idx)
    v0, v1 = values.gather(1, idx - 1), values.gather(1, idx)
    t = ((grid[None, :] - x0) / (x1 - x0).clamp_min(1e-12)).clamp(0.0, 1.0)
    return v0 + t * (v1 - v0)


def integrate(x: Tensor, grad: Tensor) -> Tensor:
    """Trapezoid-rule antiderivative of `grad` along sorted `x`, starting at 0. `[B, N]`."""
    steps = 0.5 * (grad[:, 1:] + grad[:, :-1]) * (x[:, 1:] - x[:, :-1])
    return torch.cat([torch.zeros_like(x[:, :1]), steps.cumsum(1)], dim=1)


def integrated_profile(x: Tensor, grad: Tensor, n: int = FIXED_POINTS) -> Tensor:
    """The function reconstructed from its gradients, up to a constant: integrate, resample at `n`
    fixed points, subtract the mean. `[B, n]`."""
    f = resample(x, integrate(x, grad), fixed_grid(n, x.device))
    return f - f.mean(1, keepdim=True)


def bin_means(x: Tensor, values: Tensor, n_bins: int = 16) -> Tensor:
    """Mean of `values` in `n_bins` equal-width bins of [-1, 1]; an empty bin takes the linear
    interpolation of its nearest non-empty neighbours (the nearest one at the edges). `[B, n_bins]`."""
    b = x.shape[0]
    index = ((x + 1.0) * 0.5 * n_bins).long().clamp(0, n_bins - 1)
    sums = torch.zeros(b, n_bins, dtype=values.dtype, device=x.device).scatter_add_(1, index, values)
    counts = torch.zeros(b, n_bins, dtype=values.dtype, device=x.device).scatter_add_(
        1, index, torch.ones_like(values)
    )
    centres = (torch.arange(n_bins, device=x.device) + 0.5) * (2.0 / n_bins) - 1.0
    return fill_hidden(centres.expand(b, -1), sums / counts.clamp_min(1), counts == 0)


def fill_hidden(x: Tensor, values: Tensor, hidden: Tensor) -> Tensor:
    """Neighbour interpolation: each hidden entry becomes the linear interpolation (in `x`) of the
    nearest visible entries to its left and right, or the nearest visible one at an edge. Rows
    with nothing visible become 0."""
    b, n = values.shape
    pos = torch.arange(n, device=values.device).expand(b, n)
    left = torch.where(hidden, -1, pos).cummax(1).values
    right = torch.where(hidden, n, pos).flip(1).cummin(1).values.flip(1)
    has_left, has_right = left >= 0, right < n
    li, ri = left.clamp(0, n - 1), right.clamp(0, n - 1)
    vl, vr = values.gather(1, li), values.gather(1, ri)
    xl, xr = x.gather(1, li), x.gather(1, ri)
    t = ((x - xl) / (xr - xl).clamp_min(1e-12)).clamp(0.0, 1.0)
    both = vl + t * (vr - vl)
    filled = torch.where(
        has_left & has_right,
        both,
        torch.where(has_left, vl, torch.where(has_right, vr, torch.zeros_like(vl))),
    )
    return torch.where(hidden, filled, values)


def region_mean(values: Tensor, region: Tensor) -> Tensor:
    """Each entry replaced by the mean of its row's entries in the same linear region (`region
    [B, N]`, indices from 0 along x): a ReLU network's gradient is constant on a region."""
    sums = torch.zeros_like(values).scatter_add_(1, region, values)
    counts = torch.zeros_like(values).scatter_add_(1, region, torch.ones_like(values))
    return (sums / counts.clamp_min(1)).gather(1, region)


def mean_fill(values: Tensor, hidden: Tensor) -> Tensor:
    """Each hidden entry of `values [B, N]` or `[B, N, d]` becomes the mean of its row's visible
    entries."""
    if values.dim() == 3:
        hidden = hidden[..., None]
    visible = (~hidden).to(values.dtype)
    mean = (values * visible).sum(1, keepdim=True) / visible.sum(1, keepdim=True).clamp_min(1)
    return torch.where(hidden, mean.expand_as(values), values)


def nearest_fill(x: Tensor, values: Tensor, hidden: Tensor) -> Tensor:
    """In d dimensions (`x [B, N, d]`, `values [B, N, ...]`): each hidden entry becomes the value of
    the nearest visible point (Euclidean); rows with nothing visible become 0."""
    dist = torch.cdist(x, x).masked_fill(hidden[:, None, :], float("inf"))
    nearest = dist.argmin(2)
    index = nearest.reshape(*nearest.shape, *([1] * (values.dim() - 2))).expand_as(values)
    filled = values.gather(1, index)
    filled = torch.where(hidden.all(1).reshape(-1, *([1] * (values.dim() - 1))), 0.0, filled)
    mask = hidden.reshape(*hidden.shape, *([1] * (values.dim() - 2)))
    return torch.where(mask, filled, values)
