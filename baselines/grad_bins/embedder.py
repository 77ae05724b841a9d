"""grad_bins: the mean input-gradient in 16 equal-width x-bins; empty bins are filled from their
neighbours. Non-learned; reads gradients."""

from __future__ import annotations

from netembench.features import bin_means


class GradBins:
    name = "grad_bins"
    reads = frozenset({"grad"})

    def embed(self, batch):
        return bin_means(batch.x, batch.grad, n_bins=16)


def load_embedder():
    return GradBins()
