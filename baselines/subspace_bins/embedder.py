"""subspace_bins: for components of host networks, the host analogue of grad_bins. The component's
direction from the top singular vector of its gradients; then the mean slope along the
projection in 16 equal bins of [-0.8, 0.8]. Non-learned; reads gradients. Host tracks only."""

from __future__ import annotations

from netembench.eval.features import bin_means
from netembench.eval.hostfeatures import GRID_LIMIT, component_direction, projected_inputs


class SubspaceBins:
    name = "subspace_bins"
    reads = frozenset({"grad"})
    protocols = frozenset({2})
    distributions = frozenset({"host"})  # the host tracks only

    def embed(self, batch):
        direction = component_direction(batch.x, batch.grad)
        t, du_dt = projected_inputs(batch.x, direction)
        slope = (batch.grad * direction[:, None, :]).sum(-1) * du_dt[:, None]
        return bin_means(t / GRID_LIMIT, slope, 16)  # 16 bins of [-0.8, 0.8], as the profiles


def load_embedder():
    return SubspaceBins()
