"""subspace_integ: for components of host networks. Finds the component's input direction as the
top singular vector of its gradients, projects the activations on it (t = a.(x - 0.25)/1.1, the
host tracks' input coordinate), integrates the gradient along it (trapezoid rule) and resamples at
64 even points of [-0.8, 0.8]: the component's function up to a constant. Non-learned; reads
gradients. Host tracks only (protocol v2 with distribution "host")."""

from __future__ import annotations

from netembench.eval.hostfeatures import subspace_integrated


class SubspaceInteg:
    name = "subspace_integ"
    reads = frozenset({"grad"})
    protocols = frozenset({2})
    distributions = frozenset({"host"})  # the host tracks only

    def embed(self, batch):
        return subspace_integrated(batch.x, batch.grad)


def load_embedder():
    return SubspaceInteg()
