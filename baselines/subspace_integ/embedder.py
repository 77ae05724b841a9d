"""subspace_integ: for components of host networks. Finds the component's input direction as the
top singular vector of its gradients, projects the activations on it (standardised with the probe
set's own mean and deviation), integrates the gradient along the projection (trapezoid rule) and
resamples at 64 fixed points: the component's function up to a constant. Non-learned; reads
gradients. Host tracks only (protocol v2 with distribution "host")."""

from __future__ import annotations

from netembench.eval.hostfeatures import subspace_integrated


class SubspaceInteg:
    name = "subspace_integ"
    reads = frozenset({"grad"})
    protocols = frozenset({2})

    def embed(self, batch):
        return subspace_integrated(batch.x, batch.grad)


def load_embedder():
    return SubspaceInteg()
