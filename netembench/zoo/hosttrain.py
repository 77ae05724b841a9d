"""Training host networks end to end: K components per host, one loss on the host's output.

The components of M hosts form one stacked population of M K 1-D MLPs (host-major rows), trained
together in one batched computation as `population.train_population` does, with two differences:
a component's inputs are its projection `t_k` of its host's stem activations, and the loss is the
squared error of the host's sum `sum_k g_k(t_k)` against `sum_k p_k(clip(t_k, -1, 1))`, so the
gradient reaching every component of a host is the same host residual. Every operation is
correctly rounded and in a fixed order (`netembench.zoo.exact`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from netembench.zoo import exact
from netembench.zoo.host import (
    FIT_OFFSET,
    FIT_POINTS,
    HostFamily,
    Hosts,
    compose,
    host_inputs,
    host_normal,
    init_hosts,
)
from netembench.zoo.population import (
    TRAIN_BITS,
    Arch,
    ElementwiseAdam,
    Population,
    TrainConfig,
    init_population,
    polyval,
    training_layout,
)

_relu_grad = torch.ops.aten.threshold_backward


def host_targets(coef: Tensor, t: Tensor) -> Tensor:
    """`p_k(clip(t_k, -1, 1))` per component: `coef [M K, C]`, `t [M, K, N]` -> `[M, K, N]`."""
    m, k, n = t.shape
    return polyval(coef, t.reshape(m * k, n).clamp(-1.0, 1.0)).reshape(m, k, n)


def sum_components(v: Tensor) -> Tensor:
    """`[M, K, N]` -> `[M, N]`, the components added in order (exact, machine-independent)."""
    total = v[:, 0]
    for k in range(1, v.shape[1]):
        total = total + v[:, k]
    return total


def _forward_backward(params: list[Tensor], t: Tensor, residual_of: Callable[[Tensor], Tensor], bits: int):
    """Gradients of the host loss w.r.t. the stacked 1-D components (`training_layout` order)."""
    w_in, b_in, *hidden, w_out, b_out = params
    acts = [(t[:, :, None] * w_in[:, None, 0, :]).add_(b_in[:, None, :]).clamp_(min=0)]
    for w, b in zip(hidden[0::2], hidden[1::2]):
        acts.append(exact.matmul(acts[-1], w, bits).add_(b[:, None, :]).clamp_(min=0))
    out = exact.fixed_sum(acts[-1] * w_out[:, None, :], 2).add_(b_out[:, None])
    g = residual_of(out)  # d(loss)/d(component output): the host's residual, shared by its components
    grads = [exact.fixed_sum(g[:, :, None] * acts[-1], 1), exact.fixed_sum(g, 1)]
    g_act = g[:, :, None] * w_out[:, None, :]
    for i in range(len(hidden) // 2 - 1, -1, -1):
        g_z = _relu_grad(g_act, acts[i + 1], 0.0)
        grads[:0] = [exact.matmul(acts[i].transpose(1, 2), g_z, bits), exact.fixed_sum(g_z, 1)]
        g_act = exact.matmul(g_z, hidden[2 * i].transpose(1, 2), bits)
    g_z = _relu_grad(g_act, acts[0], 0.0)
    return [exact.fixed_sum(t[:, :, None] * g_z, 1)[:, None, :], exact.fixed_sum(g_z, 1), *grads]


def train_hosts(
    arch: Arch,
    coef: Tensor,
    component_keys: Tensor,
    host_keys: Tensor,
    config: TrainConfig,
    family: HostFamily,
    progress: Callable[[int], None] | None = None,
) -> Population:
    """Train M hosts (one key each) whose K components (`component_keys`, `coef`: M K rows,
    host-major) have the stored architecture `arch` (`D-W-W-W-1`: stem, then a 1-W-W-1 component).
    Returns the stored networks, one per component."""
    m, k = len(host_keys), len(component_keys) // len(host_keys)
    hosts = init_hosts(host_keys, k, arch.width, arch.inputs, family)
    inner = Arch(width=arch.width, depth=arch.depth - 1, inputs=1)
    params = training_layout(init_population(inner, component_keys))
    coef = coef.to(device=host_keys.device, dtype=torch.float32)
    opt = ElementwiseAdam(params)
    two_over_b = exact.f32(2.0 / config.batch_size)
    for step in range(config.steps):
        z = host_normal(host_keys, config.batch_size, arch.inputs, offset=step * config.batch_size)
        t = host_inputs(hosts, z)  # [M, K, B]
        target = sum_components(host_targets(coef, t))

        def residual_of(out: Tensor, target: Tensor = target) -> Tensor:
            host = sum_components(out.reshape(m, k, -1)).sub_(target).mul_(two_over_b)
            return host.repeat_interleave(k, 0)

        grads = _forward_backward(params, t.reshape(m * k, -1), residual_of, TRAIN_BITS)
        opt.step(grads, config.lr_at(step))
        if progress is not None:
            progress(1)
    w_in, b_in, *hidden, w_out, b_out = params
    weights = [w_in.transpose(1, 2).contiguous()] + [w.transpose(1, 2).contiguous() for w in hidden[0::2]]
    component = Population(inner, weights + [w_out[:, None, :]], [b_in, *hidden[1::2], b_out[:, None]])
    return compose(hosts, component)


def host_fit(stored: Population, hosts: Hosts, host_keys: Tensor, coef: Tensor) -> Tensor:
    """Each stored component's relative MSE against its task over its host's input distribution,
    after removing means (gradients do not see a constant): `var(g - p) / var(p)`, `[M K]`."""
    k = hosts.components
    z = host_normal(host_keys, FIT_POINTS, stored.arch.inputs, offset=FIT_OFFSET)
    target = host_targets(coef.to(torch.float32), host_inputs(hosts, z)).reshape(len(stored), -1)
    diff = stored.forward(z.repeat_interleave(k, 0)) - target
    diff = diff - exact.fixed_mean(diff, 1)[:, None]
    centred = target - exact.fixed_mean(target, 1)[:, None]
    return exact.fixed_mean(diff * diff, 1) / exact.fixed_mean(centred * centred, 1)
