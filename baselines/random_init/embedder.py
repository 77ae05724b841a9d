"""random_init: an untrained transformer over (x, dy/dx) tokens with a fixed seed, mean-pooled (in
d dimensions a token is (x, grad), 2d numbers, through its own fixed random map). Reads gradients.
The floor a trained sequence model must clear."""

from __future__ import annotations

import torch
from torch import nn

SEED = 0


class RandomInit(nn.Module):
    name = "random_init"
    reads = frozenset({"grad"})
    protocols = frozenset({1, 2})

    def __init__(self, dim: int = 64, depth: int = 2, heads: int = 4):
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(SEED)
            self.tokens = nn.Linear(2, dim)
            layer = nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout=0.0, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
            self.tokens_2d = nn.Linear(4, dim)  # drawn last: the 1-D weights are as before
        self.eval()

    def embed(self, batch):
        if batch.x.dim() == 3:
            tokens = self.tokens_2d(torch.cat([batch.x, batch.grad], dim=-1))
        else:
            tokens = self.tokens(torch.stack([batch.x, batch.grad], dim=-1))
        return self.encoder(tokens).mean(1)


def load_embedder():
    return RandomInit()
