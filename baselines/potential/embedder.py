"""potential: the function recovered from scattered gradient samples, for d = 2 inputs. Solves for a
potential on a 13 x 13 bilinear grid whose gradient best matches the samples (least squares, a
Laplacian penalty, mean fixed at 0) and embeds its values at every third node (5 x 5, spacing 0.5):
the 2-D analogue of `integ`, and the strongest non-learned gradient baseline on the 2-D tracks.
Non-learned; reads gradients.

Why every third node: the 169 node values are so correlated that the harness's converged probe
took 60-100 s a fit (measured on poly2d-fine, draw 0); 5 x 5 nodes take 0.5 s at N = 128 with probe
accuracy 0.48, 7 x 7 nodes 23 s with 0.53, all 169 nodes 104 s with 0.51."""

from __future__ import annotations

from netembench.features import GRID_NODES, potential_grid


class Potential:
    name = "potential"
    reads = frozenset({"grad"})
    protocols = frozenset({2})

    def embed(self, batch):
        nodes = potential_grid(batch.x, batch.grad).reshape(len(batch.x), GRID_NODES, GRID_NODES)
        return nodes[:, ::3, ::3].reshape(len(batch.x), -1)


def load_embedder():
    return Potential()
