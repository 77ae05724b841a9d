"""Functional twins: a network rewritten by the symmetries of ReLU MLPs, computing the same function.

Two symmetries leave an MLP's function unchanged: permuting the units of a hidden layer (rows of
its weight and bias, columns of the next weight), and scaling a hidden unit's incoming weights and
bias by c > 0 while dividing its outgoing weights by c (relu(c z) = c relu(z)). A twin applies a
random permutation and random factors in [1/4, 4] to every hidden layer, all drawn from per-model
keys, so twins are reproducible and vectorised over the population. Outputs agree up to float
rounding (`tests/test_twins.py`); the harness probes each twin at its original's inputs, so the
twin metrics isolate the symmetry from the sampling.
"""

from __future__ import annotations

import torch
from torch import Tensor

from netembench.zoo import rng
from netembench.zoo.population import Population

STREAM_PERMUTATION = 0x5000
STREAM_SCALE = 0x5100
STREAM_INVERT = 0x5200
MAX_SCALE = 4.0


def twin_transforms(keys: Tensor, width: int, layer: int) -> tuple[Tensor, Tensor]:
    """(permutation `[M, W]`, positive factors `[M, W]` in [1/MAX_SCALE, MAX_SCALE]) of one hidden
    layer, one per key. Factors are 1 + 3u or its inverse, symmetric in log scale."""
    units = torch.arange(width, device=keys.device)
    order = rng.uniform(keys[:, None], STREAM_PERMUTATION + layer, units[None, :]).argsort(1)
    factor = 1.0 + (MAX_SCALE - 1.0) * rng.uniform(keys[:, None], STREAM_SCALE + layer, units[None, :])
    invert = rng.uniform(keys[:, None], STREAM_INVERT + layer, units[None, :]) < 0.5
    return order, torch.where(invert, 1.0 / factor, factor)


@torch.no_grad()
def functional_twin(pop: Population, keys: Tensor) -> Population:
    """The twin of every model of `pop` (one key each): permuted and rescaled hidden units."""
    weights = [w.clone() for w in pop.weights]
    biases = [b.clone() for b in pop.biases]
    for layer in range(pop.arch.depth):
        order, factor = twin_transforms(keys.to(weights[0].device), pop.arch.width, layer)
        rows = order[:, :, None].expand_as(weights[layer])
        weights[layer] = weights[layer].gather(1, rows) * factor[:, :, None]
        biases[layer] = biases[layer].gather(1, order) * factor
        cols = order[:, None, :].expand_as(weights[layer + 1])
        weights[layer + 1] = weights[layer + 1].gather(2, cols) / factor[:, None, :]
    return Population(pop.arch, weights, biases)
