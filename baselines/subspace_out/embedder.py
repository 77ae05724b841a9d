"""subspace_out: the ceiling of the host tracks (out_probe's role there). The component's direction
from the top singular vector of its gradients, then its *outputs* along its input coordinate
(t = a.(x - 0.25)/1.1), resampled at 64 even points of [-0.8, 0.8], mean removed. Reads outputs, and gradients for the direction only.
Host tracks only (out_probe's bilinear grid does not scale to 32-D activations)."""

from __future__ import annotations

from netembench.eval.hostfeatures import subspace_values


class SubspaceOut:
    name = "subspace_out"
    reads = frozenset({"y", "grad"})
    protocols = frozenset({2})
    distributions = frozenset({"host"})  # the host tracks only

    def embed(self, batch):
        return subspace_values(batch.x, batch.grad, batch.y)


def load_embedder():
    return SubspaceOut()
