"""Probe sets of components inside host networks (protocol v2, distribution "host"; DESIGN §16).

A host zoo stores each component as one network whose layer 0 is its host's frozen stem
(`netembench.zoo.host`). For a draw, the host's inputs `z` come from the keys
(`INPUT_DISTRIBUTIONS["host"]`, near-normal in R^D) and are pushed through the stem; an embedder
sees `x [B, N, W]`, the stem's activations entering the component (non-negative, correlated,
sparse: not a box), and `grad [B, N, W]`, the exact gradient of the component's output unit with
respect to them. Regions are the component's activation patterns (the stem's pattern is not part
of the component); cloze masks hide whole regions as in v2. Weight readers get the component alone,
a network on R^W.

The stem's units are presented in a canonical order and scale: each unit's (weights, bias) row is
divided by its Euclidean norm (the component's first layer takes the factor; on the host tracks
stems are stored with unit-norm rows, so this changes nothing but rounding) and units are sorted by
their first normalised weight. A host rewritten by the ReLU symmetries (`eval.twins` permutes and rescales
the stem's units too) then presents the same activations, up to rounding, to the same component.
"""

from __future__ import annotations

import torch
from torch import Tensor

from netembench.eval.probes import (
    INPUT_DISTRIBUTIONS,
    PROBE_DRAWERS,
    ProbeSet,
    Protocol,
    cloze_mask,
    forward_with_gradients,
)
from netembench.zoo import exact
from netembench.zoo.host import host_normal, split_stored, stem_forward
from netembench.zoo.population import Arch, Population

HOST = "host"
# Probe-set size and budget curve of the host tracks (README: host budget table).
N_POINTS_HOST = 64
BUDGETS_HOST = (16, 32, 64, 128, 256)
STEM_WIDTH = 32  # the activations' width on the canonical host tracks (x [B, N, 32])
HOST_PROTOCOL = Protocol(
    version=2, n_points=N_POINTS_HOST, budgets=BUDGETS_HOST, dim=STEM_WIDTH, distribution=HOST
)


def host_inputs_sampler(keys: Tensor, n_points: int, dim: int) -> Tensor:
    """The host's data distribution `z [M, N, dim]` (standardised Irwin-Hall(4): near normal), one
    stream per evaluation key. The activations an embedder sees are these pushed through the stem."""
    return host_normal(keys, n_points, dim)


@torch.no_grad()
def canonical_component(pop: Population) -> tuple[Tensor, Tensor, Population]:
    """(stem weights, stem biases, component on R^W) with the stem's units normalised and sorted."""
    stem_w, stem_b, component = split_stored(pop)
    norm = exact.sqrt(exact.fixed_sum(stem_w * stem_w, 2) + stem_b * stem_b)  # [M, W]
    norm = torch.where(norm > 0, norm, torch.ones_like(norm))
    w, b = stem_w / norm[..., None], stem_b / norm
    order = w[..., 0].argsort(dim=1, stable=True)  # biases are alike on the host tracks
    w = w.gather(1, order[..., None].expand_as(w))
    b = b.gather(1, order)
    first = component.weights[0] * norm[:, None, :]
    first = first.gather(2, order[:, None, :].expand_as(first))
    weights = [first, *component.weights[1:]]
    return w, b, Population(component.arch, weights, list(component.biases))


def draw_host_probes(pop: Population, model_ids: Tensor, keys: Tensor, protocol: Protocol) -> ProbeSet:
    """One probe draw of every stored component of `pop` (`D-W-...-1`, layer 0 the stem)."""
    stem_w, stem_b, component = canonical_component(pop)
    z = INPUT_DISTRIBUTIONS[HOST](keys, protocol.n_points, stem_w.shape[2])
    x = stem_forward(stem_w, stem_b, z)
    y, grad, region = forward_with_gradients(component, x)
    return ProbeSet(x, y, grad, region, cloze_mask(region, keys, protocol.mask_ratio), model_ids, component)


def component_arch(stored: Arch) -> Arch:
    """The architecture weight readers see: the component as a network on R^W."""
    return Arch(width=stored.width, depth=stored.depth - 1, inputs=stored.width)


INPUT_DISTRIBUTIONS[HOST] = host_inputs_sampler
PROBE_DRAWERS[HOST] = draw_host_probes
