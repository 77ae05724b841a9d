"""Probe sets: what an embedder sees of a model, computed exactly and in one batch for M models.

Protocol v1 (1 input): sorted inputs `x [M, N]`, outputs `y`, input-gradients `dy/dx` in closed
form (forward-mode through the activation masks, exact for a piecewise-linear net), and `region`,
the index of each point's linear region. In 1D an activation pattern holds on one interval (the set
where a fixed pattern's affine pre-activations keep their signs is convex), so regions are the runs
of equal pattern along sorted `x`.
Protocol v2 (d inputs, DESIGN §13): `x [M, N, d]` in draw order, `grad [M, N, d]`, and `region`:
equal ids for equal activation patterns, numbered by first appearance (v1's runs, in 1-D).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from netembench.zoo import exact, rng
from netembench.zoo.population import Population


@torch.no_grad()
def forward_with_gradients(pop: Population, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(`y [M, N]`, `dy/dx`, `region [M, N]`) at inputs `x [M, N]` (v1: sorted per row, regions are
    runs; gradients `[M, N]`) or `x [M, N, d]` (v2: regions by first appearance; gradients
    `[M, N, d]`). Bit-identical on every machine (`exact.matmul`), so every CPU shows an embedder
    the same probes."""
    one_d = x.dim() == 2
    xd = x[..., None] if one_d else x
    m, n, d = xd.shape
    w0 = pop.weights[0]
    h = xd[..., 0, None] * w0[:, None, :, 0]
    for k in range(1, d):
        h = h + xd[..., k, None] * w0[:, None, :, k]
    h = h.add_(pop.biases[0][:, None, :])
    tangent = w0.transpose(1, 2)[:, None].expand(m, n, d, -1)  # dh/dx: [M, N, d, W]
    patterns = []
    for w, b in zip(pop.weights[1:], pop.biases[1:]):
        active = h > 0
        patterns.append(active)
        h = exact.matmul(h.clamp_(min=0), w.transpose(1, 2)).add_(b[:, None, :])
        masked = (tangent * active[:, :, None, :]).reshape(m, n * d, -1)
        tangent = exact.matmul(masked, w.transpose(1, 2)).reshape(m, n, d, -1)
    if one_d:
        changed = torch.zeros(x.shape, dtype=torch.bool, device=x.device)
        for active in patterns:
            changed[:, 1:] |= (active[:, 1:] != active[:, :-1]).any(-1)
        return h[..., 0], tangent[..., 0, 0], torch.cumsum(changed.to(torch.int64), dim=1)
    return h[..., 0], tangent[..., 0], first_appearance_ids(torch.cat(patterns, -1))


def first_appearance_ids(pattern: Tensor) -> Tensor:
    """`[M, N]` ids of the rows of `pattern [M, N, H]` (bool): equal rows of one model get equal
    ids, numbered 0, 1, ... in order of first appearance. Exact (no hashing), vectorised."""
    m, n, bits = pattern.shape
    words = -(-bits // 62)
    padded = torch.nn.functional.pad(pattern, (0, words * 62 - bits)).reshape(m, n, words, 62)
    weights = torch.ones(62, dtype=torch.int64, device=pattern.device) << torch.arange(
        62, device=pattern.device
    )
    packed = (padded.to(torch.int64) * weights).sum(-1)  # [M, N, words], exact integers
    model = torch.arange(m, device=pattern.device)[:, None, None].expand(m, n, 1)
    _, group = torch.unique(torch.cat([model, packed], -1).reshape(m * n, -1), dim=0, return_inverse=True)
    position = torch.arange(m * n, device=pattern.device)
    first = torch.full((int(group.max()) + 1,), m * n, device=pattern.device)
    first = first.scatter_reduce(0, group, position, reduce="amin")[group].reshape(m, n)
    local = first - torch.arange(m, device=pattern.device)[:, None] * n  # index of the first occurrence
    is_first = local == torch.arange(n, device=pattern.device)[None, :]
    return (torch.cumsum(is_first.to(torch.int64), 1) - 1).gather(1, local)


STREAM_X = 0x3000
STREAM_MASK = 0x3001


@dataclass(frozen=True)
class Protocol:
    """Probe-set protocol parameters; results record them and change only with a version bump.

    Version 1 is 1-D (`x [B, N]`, sorted); version 2 has `dim` inputs (`x [B, N, d]`, draw order).
    `distribution` names where inputs come from: `INPUT_DISTRIBUTIONS` maps it to a sampler (the
    uniform cube now; activations of host networks are the planned next entry)."""

    version: int = 1
    n_points: int = 64
    mask_ratio: float = 0.25
    n_draws: int = 4
    budgets: tuple[int, ...] = (8, 16, 32, 64, 128)  # probe-set sizes of the budget curve
    inputs: str = "per model, keyed on its weights"  # not on its id (harness 1.1)
    dim: int = 1
    distribution: str = "uniform"

    def as_dict(self) -> dict:
        return {**self.__dict__, "budgets": list(self.budgets)}

    def at(self, n_points: int) -> Protocol:
        return dataclasses.replace(self, n_points=n_points)


def protocol_v2(dim: int, n_points: int, budgets: tuple[int, ...]) -> Protocol:
    return Protocol(version=2, n_points=n_points, budgets=budgets, dim=dim)


PROTOCOL_V1 = Protocol()


def uniform_cube(keys: Tensor, n_points: int, dim: int) -> Tensor:
    """`x ~ U[-1, 1]^d` per key: `[M, N, d]`."""
    return rng.uniform_grid(keys, STREAM_X, (n_points, dim)) * 2.0 - 1.0


INPUT_DISTRIBUTIONS = {"uniform": uniform_cube}
# Distributions that place the model inside a host network (`netembench.eval.hostprobes`, which
# registers them): they draw the whole probe set from the stored network, whose first layer is the
# host's stem, so they receive the population too.
PROBE_DRAWERS: dict[str, Callable[[Population, Tensor, Tensor, Protocol], ProbeSet]] = {}


@dataclass
class ProbeBatch:
    """What an embedder sees of B models: probe sets of N sorted points each.

    Fields an embedder does not declare in `reads` are None. In a cloze batch, `grad` is zeroed
    where `mask` is True (hidden); in an embedding batch nothing is hidden.
    """

    x: Tensor  # [B, N] sorted ascending (v1), or [B, N, d] (v2)
    mask: Tensor  # [B, N] bool, True = hidden
    region: Tensor  # [B, N] int64, linear-region id (v1: index along x; v2: by first appearance)
    model_id: Tensor  # [B] int64
    grad: Tensor | None = None  # [B, N] dy/dx (v1) or [B, N, d] (v2), zero where masked
    y: Tensor | None = None  # [B, N]
    weights: Population | None = None

    def __len__(self) -> int:
        return self.x.shape[0]

    def copy(self) -> ProbeBatch:
        """A batch of fresh tensors: what an embedder does to it cannot reach the harness."""
        clone = lambda t: None if t is None else t.clone()  # noqa: E731
        weights = None if self.weights is None else self.weights.clone()
        return ProbeBatch(
            clone(self.x),
            clone(self.mask),
            clone(self.region),
            clone(self.model_id),
            clone(self.grad),
            clone(self.y),
            weights,
        )

    def to(self, device: torch.device | str) -> ProbeBatch:
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        weights = None if self.weights is None else self.weights.to(device)
        return ProbeBatch(
            move(self.x),
            move(self.mask),
            move(self.region),
            move(self.model_id),
            move(self.grad),
            move(self.y),
            weights,
        )


@dataclass
class ProbeSet:
    """Full probe data of B models, from which embedding and cloze batches are cut."""

    x: Tensor
    y: Tensor
    grad: Tensor  # exact, nothing hidden
    region: Tensor
    mask: Tensor  # the draw's cloze mask
    model_id: Tensor
    population: Population

    @property
    def n_regions(self) -> Tensor:
        return self.region.amax(1) + 1

    def batch(self, reads: frozenset[str], masked: bool) -> ProbeBatch:
        mask = self.mask if masked else torch.zeros_like(self.mask)
        hide = mask if self.grad.dim() == 2 else mask[..., None]
        return ProbeBatch(
            x=self.x,
            mask=mask,
            region=self.region,
            model_id=self.model_id,
            grad=self.grad.masked_fill(hide, 0.0) if "grad" in reads else None,
            y=self.y if "y" in reads else None,
            weights=self.population if "weights" in reads else None,
        )


def cloze_mask(region: Tensor, keys: Tensor, mask_ratio: float) -> Tensor:
    """Hide whole regions: `k = clamp(round(ratio * R), 1, R - 1)` of each model's `R` regions,
    chosen by `keys` (round half to even). Models with `R = 1` get no mask."""
    n = region.shape[1]
    n_regions = region.amax(1) + 1
    k = torch.clamp(torch.round(mask_ratio * n_regions), min=1).minimum(n_regions - 1)
    scores = rng.uniform(keys[:, None], STREAM_MASK, torch.arange(n, device=region.device)[None, :])
    scores = scores.masked_fill(torch.arange(n, device=region.device)[None, :] >= n_regions[:, None], 2.0)
    rank = scores.argsort(1).argsort(1)  # rank of region r among the model's regions
    hidden_region = rank < k[:, None]
    return torch.gather(hidden_region, 1, region)


def draw_probes(
    pop: Population, model_ids: Tensor, keys: Tensor, protocol: Protocol = PROTOCOL_V1
) -> ProbeSet:
    """One probe draw for every model of `pop`: `keys` (one per model) fix x and the mask."""
    device = pop.weights[0].device
    keys = keys.to(device)
    if protocol.distribution in PROBE_DRAWERS:
        return PROBE_DRAWERS[protocol.distribution](pop, model_ids.to(device), keys, protocol)
    if protocol.version == 1:
        x = rng.uniform_grid(keys, STREAM_X, (protocol.n_points,)) * 2.0 - 1.0
        x = x.sort(1).values
    else:
        x = INPUT_DISTRIBUTIONS[protocol.distribution](keys, protocol.n_points, protocol.dim)
    y, grad, region = forward_with_gradients(pop, x)
    return ProbeSet(
        x, y, grad, region, cloze_mask(region, keys, protocol.mask_ratio), model_ids.to(device), pop
    )


def evaluation_keys(fingerprint: str, draw: int, pop: Population) -> Tensor:
    """Keys of evaluation draw `draw`, one per model of `pop`: derived from (zoo fingerprint, draw,
    the bits of the model's weights). Harness 1.0 keyed draws on model ids, which the public spec
    maps to tasks, so a submission could recompute which model a probe set came from; from weights
    it cannot without the weights of every model (a rebuilt zoo)."""
    flat = torch.cat([t.reshape(len(pop), -1) for t in pop.weights + pop.biases], 1).contiguous()
    identity = rng.content_keys(flat.view(torch.int32).to(torch.int64))
    return rng.model_keys(rng.key_from_text(f"netembench-eval:{fingerprint}:{draw}"), identity)
