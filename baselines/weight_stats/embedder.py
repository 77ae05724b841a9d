"""weight_stats: summary statistics of the weights (mean, std, min, quartiles, max) of the input
layer, the hidden layers pooled, and the output layer, weights and biases apart. Reads weights; the
width is the same for every architecture (a depth-1 net's hidden statistics are zeros)."""

from __future__ import annotations

import torch

QUANTILES = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0])


def _stats(t):
    if t is None:
        return None
    flat = t.reshape(t.shape[0], -1)
    q = torch.quantile(flat, QUANTILES.to(flat.device), dim=1).T
    return torch.cat([flat.mean(1, keepdim=True), flat.std(1, unbiased=False, keepdim=True), q], dim=1)


class WeightStats:
    name = "weight_stats"
    reads = frozenset({"weights"})
    protocols = frozenset({1, 2})

    def embed(self, batch):
        pop = batch.weights
        hidden_w = torch.cat([w.flatten(1) for w in pop.weights[1:-1]], 1) if len(pop.weights) > 2 else None
        hidden_b = torch.cat([b.flatten(1) for b in pop.biases[1:-1]], 1) if len(pop.biases) > 2 else None
        groups = [pop.weights[0], pop.biases[0], hidden_w, hidden_b, pop.weights[-1], pop.biases[-1]]
        b = len(batch)
        return torch.cat([_stats(g) if g is not None else torch.zeros(b, 7, device=batch.x.device) for g in groups], dim=1)


def load_embedder():
    return WeightStats()
