"""The 1-D view of a host probe set that the cloze transformer reads (baselines/cloze_host).

A component reads one projection of the activations, so its probe set is a 1-D probe set in
disguise: find the direction from the visible gradients (`netembench.eval.hostfeatures`), take the
component's input coordinate t, stretch [-0.8, 0.8] (where 91% of it falls) onto the 1-D model's
domain [-1, 1] and clamp, sort along it, and take the slope along it. Regions
of a component are intervals along its projection, so the 1-D model's region features apply.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from netembench.eval.hostfeatures import GRID_LIMIT, component_direction, projected_inputs


@dataclass
class View:
    """A host probe set as 1-D: `x`, `grad`, `mask`, `region` `[B, N]` sorted along the projection;
    `order` the sort, `direction [B, W]` and `du_dt [B]` to map slopes back to gradient vectors."""

    x: Tensor
    grad: Tensor
    mask: Tensor
    region: Tensor
    order: Tensor
    direction: Tensor
    du_dt: Tensor

    def slope_of(self, grad: Tensor) -> Tensor:
        """Another gradient field `[B, N, W]` at the same points, as sorted slopes `[B, N]`."""
        return ((grad * self.direction[:, None, :]).sum(-1) * self.du_dt[:, None]).gather(1, self.order)

    def vectors(self, slope: Tensor) -> Tensor:
        """Sorted slopes `[B, N]` back to gradient vectors `[B, N, W]` in the original point order."""
        unsorted = torch.empty_like(slope).scatter_(1, self.order, slope)
        return unsorted[..., None] / self.du_dt[:, None, None] * self.direction[:, None, :]


def project_view(x: Tensor, grad: Tensor, mask: Tensor, region: Tensor) -> View:
    """The 1-D view of host probes (`grad` zero where `mask` hides it): `t / GRID_LIMIT` clamped
    to [-1, 1], the 1-D model's domain."""
    direction = component_direction(x, grad)
    t, du_dt = projected_inputs(x, direction)
    t, du_dt = t / GRID_LIMIT, du_dt * GRID_LIMIT
    t, order = t.clamp(-1.0, 1.0).sort(1)
    slope = ((grad * direction[:, None, :]).sum(-1) * du_dt[:, None]).gather(1, order)
    return View(t, slope, mask.gather(1, order), region.gather(1, order), order, direction, du_dt)
