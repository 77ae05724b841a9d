"""Host networks: zoo models that are components of a larger network (DESIGN §16).

A host takes inputs `z` (8-D, approximately standard normal), passes them through a frozen random
ReLU stem `h = relu(W z + b)` (width W, the shared activation space) and then through K component
blocks. The stem's units are alike: each row (w_j, b_j) has unit Euclidean norm and the same bias
`b_j = bias`, so every unit has the same marginal distribution. Component k reads its own 1-D
projection `t_k = a_k . (h - centre) / spread` of the stem's activations (a_k a unit vector with
sum(a_k) > 0; `centre` and `spread` are constants of the spec, so an embedder that finds a_k knows
t_k exactly) with a 1 -> W -> W -> 1 ReLU MLP `g_k`; the host's output is `sum_k g_k(t_k)`. Only
the sum is trained, on the target `sum_k p_k(clip(t_k, -1, 1))` with `p_k` a 1-D task: no
component is ever trained or supervised on its own.

Identifiability: the map z -> (t_1, ..., t_K) has rank K on a set of positive measure (checked in
`tests/test_host.py`), so the joint distribution of the t's has an interior. If
`sum_k f_k(t_k) = 0` there (f_k = g_k - p_k o clip), differentiating in t_k gives f_k' = 0 on the
interior of t_k's support: each component is its task up to a constant, which gradients do not see.
The component's task is its label.

A component is stored as one network `in-W-W-W-1` (`Population`): layer 0 is its host's stem,
layer 1 the component's first layer composed with its projection (`w1 (x) a_k / spread`),
layers 2 and 3 the rest of the component. Every number is computed with correctly rounded
elementwise operations in a fixed order (`netembench.zoo.exact`): the same bits on every machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor

from netembench.zoo import exact, rng
from netembench.zoo.population import Arch, Population
from netembench.zoo.tasks import FineFamily, SeparatedFamily

STREAM_STEM = 0x7000
STREAM_PROJECTION = 0x7001
STREAM_Z = 0x7002  # a host's data stream: training, statistics and fits use disjoint offsets
STREAM_ASSIGN = 0x7003
IRWIN_HALL = 4  # z is a standardised sum of 4 uniforms: near normal, and exact to compute
FIT_OFFSET = 1 << 41
FIT_POINTS = 2048


@dataclass(frozen=True)
class HostSeparatedFamily(SeparatedFamily):
    """Separated 1-D tasks, each learnt as a component of host networks of `components` blocks."""

    kind: ClassVar[str] = "host-separated"
    components: int = 3
    inputs: int = 8
    bias: float = -0.3  # every stem unit's bias (rows have unit norm): about 62% of activations are 0
    centre: float = 0.25  # about E[h_j]: relu(N(-0.3, 0.91)) has mean 0.249
    spread: float = 1.1  # about twice the median deviation of a . h: t is +-1 near +-2 sd


@dataclass(frozen=True)
class HostFineFamily(FineFamily):
    """Fine 1-D task families, each task learnt as a component of host networks."""

    kind: ClassVar[str] = "host-fine"
    components: int = 3
    inputs: int = 8
    bias: float = -0.3  # every stem unit's bias (rows have unit norm): about 62% of activations are 0
    centre: float = 0.25  # about E[h_j]: relu(N(-0.3, 0.91)) has mean 0.249
    spread: float = 1.1  # about twice the median deviation of a . h: t is +-1 near +-2 sd


HostFamily = HostSeparatedFamily | HostFineFamily


def is_host_family(family: object) -> bool:
    return isinstance(family, (HostSeparatedFamily, HostFineFamily))


def host_normal(keys: Tensor, n_points: int, dim: int, offset: int = 0) -> Tensor:
    """Host inputs `z [M, N, dim]`: (sum of 4 U[0,1) - 2) * sqrt(3), unit variance, exact."""
    u = rng.uniform_grid(keys, STREAM_Z, (n_points, dim, IRWIN_HALL), offset=offset * dim * IRWIN_HALL)
    total = ((u[..., 0] + u[..., 1]) + (u[..., 2] + u[..., 3])) - 2.0
    return total * exact.f32(math.sqrt(3.0))


def host_assignment(models: dict[str, np.ndarray], components: int, salt: int) -> np.ndarray:
    """Every model row's host index (table order): the models of one (split, seed) are shuffled by
    a seeded key and cut into hosts of `components`; each host holds distinct tasks."""
    host = np.full(len(models["model_id"]), -1, dtype=np.int64)
    next_host = 0
    pairs = dict.fromkeys(zip(models["split"].tolist(), models["seed"].tolist()))
    for index, (split, seed) in enumerate(pairs):
        rows = np.flatnonzero((models["split"] == split) & (models["seed"] == seed))
        if len(rows) % components:
            raise ValueError(
                f"split {split!r} has {len(rows)} tasks per seed, not a multiple of {components} components"
            )
        key = torch.as_tensor([rng.key_from_text(f"netembench-host:{salt}:{split}:{seed}")])
        order = rng.uniform(key, STREAM_ASSIGN, torch.arange(len(rows))).argsort().numpy()
        host[rows[order]] = next_host + np.arange(len(rows)) // components
        next_host += len(rows) // components
    return host


@dataclass
class Hosts:
    """M hosts: stems `w [M, W, D]`, `b [M, W]`; projections `a [M, K, W]`; their offsets and
    divisors `mu, div [M, K]` (t = (a.h - mu) / div)."""

    w: Tensor
    b: Tensor
    a: Tensor
    mu: Tensor
    div: Tensor

    @property
    def components(self) -> int:
        return self.a.shape[1]


def stem_forward(w: Tensor, b: Tensor, z: Tensor) -> Tensor:
    """`relu(W z + b)` for `z [M, N, D]`: `[M, N, W]`, elementwise in a fixed order (exact)."""
    pre = z[..., 0, None] * w[:, None, :, 0]
    for k in range(1, z.shape[-1]):
        pre = pre + z[..., k, None] * w[:, None, :, k]
    return pre.add_(b[:, None, :]).clamp_(min=0)


def project(a: Tensor, h: Tensor) -> Tensor:
    """`a_k . h` for `a [M, K, W]`, `h [M, N, W]`: `[M, K, N]`, summed in a fixed order."""
    return exact.fixed_sum(h[:, None, :, :] * a[:, :, None, :], 3)


def init_hosts(host_keys: Tensor, components: int, width: int, inputs: int, family: HostFamily) -> Hosts:
    """Draw every host's stem and projections from its key.

    Stem rows are U[-1, 1]^D directions scaled so that each row (w_j, bias) has unit norm (all
    units alike: sparse, non-negative, correlated activations); projections are U[-0.5, 1.5]^W
    directions (leaning to the common mode) normalised to unit length, with sum(a) > 0 (negation
    is exact): a component's input grows with the stem's overall activation, a sign an embedder
    reads off the direction it finds."""
    u = lambda stream, shape: rng.uniform_grid(host_keys, stream, shape)  # noqa: E731
    w = u(STREAM_STEM, (width, inputs)) * 2.0 - 1.0
    keep = exact.f32(math.sqrt(1.0 - family.bias * family.bias))
    w = w / exact.sqrt(exact.fixed_sum(w * w, 2))[..., None] * keep
    b = torch.full(w.shape[:2], exact.f32(family.bias), device=w.device)
    a = u(STREAM_PROJECTION, (components, width)) * 2.0 - 0.5
    a = a / exact.sqrt(exact.fixed_sum(a * a, 2))[..., None]
    flip = torch.where(exact.fixed_sum(a, 2) < 0, -1.0, 1.0)
    a = a * flip[..., None]
    mu = exact.fixed_sum(a, 2) * exact.f32(family.centre)  # t = (a . h - centre sum(a)) / spread
    return Hosts(w, b, a, mu, torch.full_like(mu, exact.f32(family.spread)))


def host_inputs(hosts: Hosts, z: Tensor) -> Tensor:
    """Every component's input `t [M, K, N]` at host inputs `z [M, N, D]`."""
    t = project(hosts.a, stem_forward(hosts.w, hosts.b, z))
    return (t - hosts.mu[..., None]) / hosts.div[..., None]


def compose(hosts: Hosts, component: Population) -> Population:
    """Stored networks `D-W-W-W-1`, one per component (host-major order: host m, component k is
    row m K + k): the host's stem, then the component's first layer read through its projection."""
    m, k = hosts.a.shape[:2]
    w_in, b_in = component.weights[0][..., 0], component.biases[0]  # [MK, W]
    a = hosts.a.reshape(m * k, -1)
    mu, div = hosts.mu.reshape(-1, 1), hosts.div.reshape(-1, 1)
    gain = w_in / div  # d(pre-activation)/d(a.h)
    first = gain[:, :, None] * a[:, None, :]
    bias = b_in - gain * mu
    stem_w = hosts.w.repeat_interleave(k, 0)
    stem_b = hosts.b.repeat_interleave(k, 0)
    arch = Arch(width=component.arch.width, depth=component.arch.depth + 1, inputs=hosts.w.shape[2])
    if hosts.w.shape[1] != arch.width:
        raise ValueError(f"stem width {hosts.w.shape[1]} differs from component width {arch.width}")
    return Population(
        arch,
        [stem_w, first, *component.weights[1:]],
        [stem_b, bias, *component.biases[1:]],
    )


def split_stored(pop: Population) -> tuple[Tensor, Tensor, Population]:
    """(stem weights `[M, W, D]`, stem biases `[M, W]`, the component as a network on R^W)."""
    arch = Arch(width=pop.arch.width, depth=pop.arch.depth - 1, inputs=pop.arch.width)
    return pop.weights[0], pop.biases[0], Population(arch, pop.weights[1:], pop.biases[1:])


def card_text(family: HostFamily) -> str:
    """What a host zoo's models are, for its dataset card."""
    return (
        f"Each task is learnt as one of {family.components} components of host networks: "
        f"z ~ Irwin-Hall({IRWIN_HALL}) standardised in R^{family.inputs} -> a frozen random ReLU stem -> "
        f"components each reading its own projection t = a.(h - {family.centre}) / {family.spread} of the stem's "
        f"activations (unit-norm stem rows of bias {family.bias}); the host is trained end to end on the sum of its components' tasks only. "
        "A stored model is one component with its host's stem as layer 0."
    )
