"""A population of M same-shaped ReLU MLPs (d -> width^depth -> 1) held as stacked tensors.

Public layout (what zoos store): `layers.{i}.weight [M, out, in]`, `layers.{i}.bias [M, out]`.
Training runs one batched computation over all M models: a hand-written forward/backward
(batched matmuls for hidden layers, elementwise ops for the d-wide input and 1-wide output layers) and one
elementwise Adam over the stacked tensors. Adam is elementwise and the loss is a sum of per-model
losses, so every model's update is exactly its own, as if it had been trained alone. All of it is
in arithmetic whose rounding is fixed (`netembench.zoo.exact`), so the weights are the same bits on
every CPU and thread count.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from netembench.zoo import exact, rng, tabulated, tasks2d
from netembench.zoo.tasks import GRID, N_COEF

# Training matmuls keep 9 significant bits per operand (bfloat16 has 8) with exact float32
# accumulation, as tensor cores compute: exact in float32 for widths and batches up to 64, and
# twice as fast as float64 accumulation of 24-bit operands. Measured on 400 poly-fine models: median
# fit 1.3e-4 against 9.5e-5 at 24 bits, the same worst fit (3.0e-3). Fits, probes and every
# stored number use 24 bits (`Population.forward`).
TRAIN_BITS = 9
STREAM_INIT = 0x1000
STREAM_DATA = 0x2000


MAX_INPUTS = 64  # the host tracks show weight readers components on 32-D activations


@dataclass(frozen=True)
class Arch:
    """An MLP with `inputs` inputs, `depth` hidden ReLU layers of `width` units, and 1 output."""

    width: int
    depth: int
    inputs: int = 1

    @classmethod
    def parse(cls, name: str) -> Arch:
        """Parse `"1-32-32-1"` or `"2-64-64-1"`; every hidden layer has the same width."""
        try:
            sizes = [int(s) for s in name.split("-")]
        except ValueError:
            sizes = []
        if (
            len(sizes) < 3
            or not 1 <= sizes[0] <= MAX_INPUTS
            or sizes[-1] != 1
            or len(set(sizes[1:-1])) != 1
            or sizes[1] < 1
        ):
            raise ValueError(
                f"architecture {name!r} is not of the form 'D-W-...-W-1' with 1 <= D <= {MAX_INPUTS} "
                "inputs (e.g. '1-32-32-1', '2-64-64-1')"
            )
        return cls(width=sizes[1], depth=len(sizes) - 2, inputs=sizes[0])

    @property
    def name(self) -> str:
        return "-".join([str(self.inputs), *[str(self.width)] * self.depth, "1"])

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Per-model tensor shapes in the public layout, in layer order."""
        sizes = [self.inputs, *[self.width] * self.depth, 1]
        out: dict[str, tuple[int, ...]] = {}
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            out[f"layers.{i}.weight"] = (fan_out, fan_in)
            out[f"layers.{i}.bias"] = (fan_out,)
        return out

    @property
    def n_params(self) -> int:
        return sum(int(np.prod(s)) for s in self.shapes().values())


@dataclass
class Population:
    """Stacked weights of M models of one architecture (public layout)."""

    arch: Arch
    weights: list[Tensor]  # [M, out, in] per layer
    biases: list[Tensor]  # [M, out] per layer

    def __len__(self) -> int:
        return self.weights[0].shape[0]

    def __repr__(self) -> str:  # not the tensors
        return f"Population({self.arch.name}, {len(self)} models, {self.weights[0].device})"

    def __call__(self, x: Tensor) -> Tensor:
        """`forward(x)`: every model's outputs."""
        return self.forward(x)

    @classmethod
    def from_state_dict(cls, arch: Arch, tensors: dict[str, Tensor]) -> Population:
        """Build from `layers.{i}.weight/bias`, checking every shape against `arch`."""
        expected = arch.shapes()
        missing = sorted(set(expected) - set(tensors))
        extra = sorted(set(tensors) - set(expected))
        if missing or extra:
            raise ValueError(
                f"tensors do not match architecture {arch.name}: missing {missing}, unexpected {extra}"
            )
        count = {t.shape[0] for t in tensors.values()}
        if len(count) != 1:
            raise ValueError(f"stacked tensors disagree on the number of models: {sorted(count)}")
        for key, shape in expected.items():
            if tuple(tensors[key].shape[1:]) != shape:
                raise ValueError(
                    f"{key} has shape {tuple(tensors[key].shape)}; expected [M, {', '.join(map(str, shape))}]"
                )
        n = arch.depth + 1
        return cls(
            arch,
            [tensors[f"layers.{i}.weight"] for i in range(n)],
            [tensors[f"layers.{i}.bias"] for i in range(n)],
        )

    def state_dict(self) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            out[f"layers.{i}.weight"] = w.contiguous()
            out[f"layers.{i}.bias"] = b.contiguous()
        return out

    def select(self, index: Tensor | slice) -> Population:
        return Population(self.arch, [w[index] for w in self.weights], [b[index] for b in self.biases])

    def clone(self) -> Population:
        return Population(self.arch, [w.clone() for w in self.weights], [b.clone() for b in self.biases])

    def to(self, device: torch.device | str) -> Population:
        return Population(
            self.arch, [w.to(device) for w in self.weights], [b.to(device) for b in self.biases]
        )

    @torch.no_grad()
    def forward(self, x: Tensor, chunk: int = 1 << 22) -> Tensor:
        """Outputs `[M, N]` for inputs `x [M, N]` (1 input) or `[M, N, d]` (model m sees row m), in
        chunks of models to bound memory. Bit-identical on every machine (`exact.matmul`)."""
        per_model = x.shape[1] * self.arch.width
        step = max(1, chunk // per_model)
        x = x[..., None] if x.dim() == 2 else x
        outs = []
        for s in range(0, len(self), step):
            h = x[s : s + step]
            for w, b in zip(self.weights, self.biases):
                h = exact.matmul(h, w[s : s + step].transpose(1, 2)).add_(b[s : s + step, None, :])
                if w is not self.weights[-1]:
                    h = h.clamp_(min=0)
            outs.append(h[..., 0])
        return torch.cat(outs) if outs else x.new_zeros(x.shape[:2])


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of population training (part of a zoo spec)."""

    steps: int = 2000
    batch_size: int = 32
    lr: float = 1e-2
    lr_final: float = 1e-5

    def lr_at(self, step: int) -> float:
        """Cosine decay from `lr` to `lr_final` (exponential decay cooled too early: worst fits 1e-2),
        the same float on every platform (`exact.cos_pi`, not libm)."""
        return self.schedule()[step]

    @functools.cache
    def schedule(self) -> tuple[float, ...]:
        """The learning rate of every step, computed once per config."""
        scale = 0.5 * (self.lr - self.lr_final)
        return tuple(self.lr_final + scale * (1.0 + exact.cos_pi(s, self.steps)) for s in range(self.steps))


def init_population(arch: Arch, keys: Tensor) -> Population:
    """Initialise one model per key. First-layer kinks (hyperplanes in d > 1) pass through points
    spread uniformly over the domain [-1, 1]^d.

    With the default (uniform weight and bias) init about half the first-layer units have their
    kink outside the domain and are dead or linear there; that is what made some fits fail.
    """
    m, w, d = len(keys), arch.width, arch.inputs

    def u(stream: int, shape: tuple[int, ...], low: float, high: float) -> Tensor:
        return low + (high - low) * rng.uniform_grid(keys, STREAM_INIT + stream, shape)

    first_w = u(0, (w, d), -1.0, 1.0) * exact.f32(math.sqrt(6.0 / d))  # He-uniform bound, fan_in = d
    through = u(1, (w, d), -1.0, 1.0)  # a point on each unit's kink
    offset = first_w[..., 0] * through[..., 0]
    for k in range(1, d):
        offset = offset + first_w[..., k] * through[..., k]
    weights, biases = [first_w], [-offset]
    for i in range(1, arch.depth):
        bound = exact.f32(math.sqrt(6.0 / w))
        weights.append(u(2 * i, (w, w), -bound, bound))
        biases.append(torch.zeros(m, w, device=keys.device))
    bound = exact.f32(math.sqrt(3.0 / w))
    weights.append(u(2 * arch.depth, (1, w), -bound, bound))
    biases.append(torch.zeros(m, 1, device=keys.device))
    return Population(arch, weights, biases)


def polyval(coef: Tensor, x: Tensor) -> Tensor:
    """Evaluate each model's task at its inputs: 1-D `[M, N_COEF]` monomial coefficients at
    `x [M, N]` (Horner), or 2-D `[M, tasks2d.N_COEF]` at `x [M, N, 2]`; tabulated tasks (knot
    values, `tabulated.is_tabulated`) by interpolation. `[M, N]`."""
    if tabulated.is_tabulated(coef.shape[-1], 1 if x.dim() == 2 else x.shape[-1]):
        return tabulated.interpolate(coef, x)
    if x.dim() == 3:
        return tasks2d.evaluate(coef[:, None, :], x)
    y = coef[:, -1:].expand_as(x).clone()
    for k in range(N_COEF - 2, -1, -1):
        y.mul_(x).add_(coef[:, k : k + 1])
    return y


def training_inputs(keys: Tensor, step: int, batch_size: int, inputs: int = 1) -> Tensor:
    """The training inputs `x ~ U[-1, 1]^d` of each model at one step: `[M, batch_size]` for one
    input, `[M, batch_size, d]` for several."""
    shape = (batch_size,) if inputs == 1 else (batch_size, inputs)
    offset = step * batch_size * inputs
    return rng.uniform_grid(keys, STREAM_DATA, shape, offset=offset) * 2.0 - 1.0


_relu_grad = torch.ops.aten.threshold_backward  # grad * (activation > 0): a select, exact


def training_layout(pop: Population) -> list[Tensor]:
    """A population's tensors as trained: the first layer as [M, d, W], the last as an [M, W]
    vector, hidden weights as [M, in, out]; in order w_in, b_in, (w, b) per hidden layer, w_out,
    b_out."""
    params = [pop.weights[0].transpose(1, 2).contiguous(), pop.biases[0]]
    for w, b in zip(pop.weights[1:-1], pop.biases[1:-1]):
        params += [w.transpose(1, 2).contiguous(), b]
    return params + [pop.weights[-1][:, 0, :].contiguous(), pop.biases[-1][:, 0].contiguous()]


class ElementwiseAdam:
    """Adam (torch's defaults, no weight decay) written as single, correctly rounded operations.

    `torch.optim.Adam`'s fused and foreach kernels use multiply-adds whose rounding differs between
    SIMD widths, and `torch.sqrt` on CPU is not correctly rounded. Here every tensor operation is
    one IEEE operation on float32 values and float32 constants (`exact.sqrt` for the root), and
    the bias corrections are running products of Python floats: the same bits on every CPU and GPU.
    The corrected second moment's root is multiplied by the rounded reciprocal of its correction
    (CUDA would do that silently for a division by a scalar; here it is the definition everywhere).
    """

    def __init__(
        self, params: list[Tensor], betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ) -> None:
        self.params, self.betas, self.eps = params, betas, exact.f32(eps)
        self.exp_avg = [torch.zeros_like(p) for p in params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in params]
        self.beta_powers = (1.0, 1.0)  # b1 ** steps, b2 ** steps, by repeated float64 products

    @torch.no_grad()
    def step(self, grads: list[Tensor], lr: float) -> None:
        b1, b2 = self.betas
        self.beta_powers = (self.beta_powers[0] * b1, self.beta_powers[1] * b2)
        step_size = exact.f32(lr / (1.0 - self.beta_powers[0]))
        inverse_root = exact.f32(1.0 / math.sqrt(1.0 - self.beta_powers[1]))
        keep1, take1, keep2, take2 = (exact.f32(c) for c in (b1, 1.0 - b1, b2, 1.0 - b2))
        for p, g, m, v in zip(self.params, grads, self.exp_avg, self.exp_avg_sq):
            m.mul_(keep1).add_(g * take1)
            v.mul_(keep2).add_((g * g).mul_(take2))
            denom = exact.sqrt(v).mul_(inverse_root).add_(self.eps)
            p.sub_((m / denom).mul_(step_size))


def train_population(
    arch: Arch,
    coef: Tensor,
    keys: Tensor,
    config: TrainConfig,
    progress: Callable[[int], None] | None = None,
    matmul_bits: int = TRAIN_BITS,
) -> Population:
    """Train one model per (task coefficients, key) pair; all on `keys.device`, in one batch.

    A hand-written forward and backward pass over stacked tensors, in arithmetic whose rounding is
    fixed (`exact`): a model's weights are the same bits on every CPU, at every thread count and
    whatever other models share its batch. `matmul_bits` is the operand precision of its matmuls
    (tests compare 24 bits with plain float32 training).
    """
    params = training_layout(init_population(arch, keys))
    coef = coef.to(device=keys.device, dtype=torch.float32)
    opt = ElementwiseAdam(params)
    w_in, b_in, *hidden, w_out, b_out = params
    d = arch.inputs
    for step in range(config.steps):
        x = training_inputs(keys, step, config.batch_size, d)
        y = polyval(coef, x)
        x = x[..., None] if d == 1 else x  # [M, B, d]
        pre = x[:, :, 0, None] * w_in[:, None, 0, :]
        for k in range(1, d):  # the d-wide input layer: elementwise, summed in a fixed order
            pre = pre + x[:, :, k, None] * w_in[:, None, k, :]
        acts = [pre.add_(b_in[:, None, :]).clamp_(min=0)]
        for w, b in zip(hidden[0::2], hidden[1::2]):
            acts.append(exact.matmul(acts[-1], w, matmul_bits).add_(b[:, None, :]).clamp_(min=0))
        out = exact.fixed_sum(acts[-1] * w_out[:, None, :], 2).add_(b_out[:, None])
        g = out.sub_(y).mul_(exact.f32(2.0 / config.batch_size))  # d(sum of per-model MSE)/d(out)
        grads = [exact.fixed_sum(g[:, :, None] * acts[-1], 1), exact.fixed_sum(g, 1)]
        g_act = g[:, :, None] * w_out[:, None, :]
        for i in range(len(hidden) // 2 - 1, -1, -1):
            w = hidden[2 * i]
            g_z = _relu_grad(g_act, acts[i + 1], 0.0)
            grads[:0] = [exact.matmul(acts[i].transpose(1, 2), g_z, matmul_bits), exact.fixed_sum(g_z, 1)]
            g_act = exact.matmul(g_z, w.transpose(1, 2), matmul_bits)
        g_z = _relu_grad(g_act, acts[0], 0.0)
        g_w_in = torch.stack([exact.fixed_sum(x[:, :, k, None] * g_z, 1) for k in range(d)], 1)
        grads[:0] = [g_w_in, exact.fixed_sum(g_z, 1)]
        opt.step(grads, config.lr_at(step))
        if progress is not None:
            progress(1)
    weights = [w_in.transpose(1, 2).contiguous()] + [w.transpose(1, 2).contiguous() for w in hidden[0::2]]
    biases = [b_in] + list(hidden[1::2])
    weights.append(w_out[:, None, :])
    biases.append(b_out[:, None])
    return Population(arch, weights, biases)


def fit_rel_mse(pop: Population, coef: Tensor) -> Tensor:
    """Relative MSE of each model on the dense grid (`tasks.GRID`, `tasks2d.GRID2D` for 2 inputs):
    mean (f - p)^2 / variance of p. `[M]`. Bit-identical on every machine: it is stored in the
    zoo's metadata."""
    device = pop.weights[0].device
    points = GRID if pop.arch.inputs == 1 else tasks2d.GRID2D
    grid = torch.as_tensor(points, dtype=torch.float32, device=device).expand(len(pop), *points.shape)
    target = polyval(coef.to(device=device, dtype=torch.float32), grid)
    diff = pop.forward(grid) - target
    centred = target - exact.fixed_mean(target, 1)[:, None]
    return (exact.fixed_mean(diff * diff, 1) / exact.fixed_mean(centred * centred, 1)).cpu()


def train_one_reference(
    arch: Arch, coef: Tensor, key: Tensor, config: TrainConfig, steps: int | None = None
) -> Population:
    """Train one model the plain way (`nn.Sequential`, autograd, `torch.optim.Adam`) on the same
    initialisation and data stream as `train_population`. The reference the vectorised trainer is
    tested against (same weights) and benchmarked against (`benchmarks/bench_zoo.py`)."""
    init = init_population(arch, key.reshape(1))
    layers: list[torch.nn.Module] = []
    for i, (w, b) in enumerate(zip(init.weights, init.biases)):
        linear = torch.nn.Linear(w.shape[2], w.shape[1])
        with torch.no_grad():
            linear.weight.copy_(w[0])
            linear.bias.copy_(b[0])
        layers += [linear] if i == arch.depth else [linear, torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    n_steps = config.steps if steps is None else steps
    # The whole data stream at once (identical to training_inputs step by step): the loop below
    # times training alone.
    xs = rng.uniform_grid(key.reshape(1), STREAM_DATA, (n_steps * config.batch_size,))[0] * 2.0 - 1.0
    ys = polyval(coef.reshape(1, -1).to(torch.float32), xs[None])[0]
    xs, ys = xs.reshape(n_steps, config.batch_size, 1), ys.reshape(n_steps, config.batch_size)
    for step in range(n_steps):
        loss = torch.nn.functional.mse_loss(net(xs[step])[:, 0], ys[step])
        opt.zero_grad()
        loss.backward()
        for group in opt.param_groups:
            group["lr"] = config.lr_at(step)
        opt.step()
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    return Population(
        arch, [m.weight.detach()[None] for m in linears], [m.bias.detach()[None] for m in linears]
    )
