"""grad_bins: the mean input-gradient in 16 equal-width x-bins (in 2-D: the mean gradient vector
in 4 x 4 equal cells); empty bins are filled from their neighbours. Non-learned; reads gradients."""

from __future__ import annotations

from netembench.features import bin_means, cell_means


class GradBins:
    name = "grad_bins"
    reads = frozenset({"grad"})
    protocols = frozenset({1, 2})

    def embed(self, batch):
        if batch.x.dim() == 3:
            return cell_means(batch.x, batch.grad, cells=4)
        return bin_means(batch.x, batch.grad, n_bins=16)


def load_embedder():
    return GradBins()
