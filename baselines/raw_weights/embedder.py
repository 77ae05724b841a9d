"""raw_weights: every weight and bias, flattened. Reads weights. Defined only where all models of
a zoo share one architecture; elsewhere it raises Unsupported and that zoo is skipped."""

from __future__ import annotations

import torch

from netembench.embedders import Unsupported


class RawWeights:
    name = "raw_weights"
    reads = frozenset({"weights"})
    protocols = frozenset({1, 2})

    def __init__(self):
        self.arch = None

    def prepare(self, zoo):
        self.arch = None  # one worker may embed several zoos in turn

    def embed(self, batch):
        pop = batch.weights
        if self.arch is None:
            self.arch = pop.arch
        elif pop.arch != self.arch:
            raise Unsupported(
                f"raw_weights needs one architecture per zoo; this zoo mixes {self.arch.name} and {pop.arch.name}"
            )
        return torch.cat([t.flatten(1) for pair in zip(pop.weights, pop.biases) for t in pair], dim=1)


def load_embedder():
    return RawWeights()
