"""potential: the function recovered from scattered gradient samples, for d = 2 inputs. Solves for a
potential on a 13 x 13 bilinear grid whose gradient best matches the samples (least squares, a
Laplacian penalty, mean fixed at 0) and embeds its 169 node values: the 2-D analogue of `integ`, and
the strongest non-learned gradient baseline on the 2-D tracks. Non-learned; reads gradients."""

from __future__ import annotations

from netembench.features import potential_grid


class Potential:
    name = "potential"
    reads = frozenset({"grad"})
    protocols = frozenset({2})

    def embed(self, batch):
        return potential_grid(batch.x, batch.grad)


def load_embedder():
    return Potential()
