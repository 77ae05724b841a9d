"""subspace_bins: for components of host networks, the host analogue of grad_bins. The component's
direction from the top singular vector of its gradients; then the mean slope along the
standardised projection in 16 equal bins of [-1, 1]. Non-learned; reads gradients. Host tracks only."""

from __future__ import annotations

from netembench.eval.features import bin_means
from netembench.eval.hostfeatures import component_direction, projected_inputs


class SubspaceBins:
    name = "subspace_bins"
    reads = frozenset({"grad"})
    protocols = frozenset({2})

    def embed(self, batch):
        direction = component_direction(batch.x, batch.grad)
        t, du_dt = projected_inputs(batch.x, direction)
        slope = (batch.grad * direction[:, None, :]).sum(-1) * du_dt[:, None]
        return bin_means(t, slope, 16)


def load_embedder():
    return SubspaceBins()
