"""random_init_host: random_init for inputs of any width (the host tracks' 32-D activations). An
untrained transformer with a fixed seed over one token per probe point, (x, dy/dx) through a fixed
random linear map of 2d numbers, mean-pooled. Reads gradients. The floor a trained sequence model
must clear; `random_init` itself maps tokens of 2 or 4 numbers only."""

from __future__ import annotations

import torch
from torch import nn

SEED = 0


class RandomInitHost(nn.Module):
    name = "random_init_host"
    reads = frozenset({"grad"})
    protocols = frozenset({2})
    distributions = frozenset({"host"})  # the host tracks only

    def __init__(self, dim: int = 64, depth: int = 2, heads: int = 4):
        super().__init__()
        self.dim = dim
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(SEED)
            layer = nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout=0.0, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.tokens: dict[int, nn.Linear] = {}
        self.eval()

    def token_map(self, width: int) -> nn.Linear:
        """The fixed random map of a token of `width` numbers (seeded by the width)."""
        if width not in self.tokens:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(SEED + width)
                self.tokens[width] = nn.Linear(width, self.dim)
        return self.tokens[width]

    @torch.no_grad()
    def embed(self, batch):
        tokens = torch.cat([batch.x, batch.grad], dim=-1)
        return self.encoder(self.token_map(tokens.shape[-1]).to(tokens.device)(tokens)).mean(1)


def load_embedder():
    return RandomInitHost()
