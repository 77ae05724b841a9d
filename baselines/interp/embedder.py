"""interp: a non-learned cloze embedder. Masked gradients are predicted by linear interpolation
between the nearest visible neighbours; embeddings are those of `integ`."""

from __future__ import annotations

from netembench.features import fill_hidden, integrated_profile


class Interp:
    name = "interp"
    reads = frozenset({"grad"})

    def embed(self, batch):
        return integrated_profile(batch.x, batch.grad)

    def predict_masked(self, batch):
        return fill_hidden(batch.x, batch.grad, batch.mask)


def load_embedder():
    return Interp()
