"""Probe sets: what an embedder sees of a model, computed exactly and in one batch for M models.

For sorted inputs `x [M, N]`: outputs `y`, input-gradients `dy/dx` in closed form (forward-mode
through the activation masks, exact for a piecewise-linear net), and `region`, the index of each
point's linear region. In 1D an activation pattern holds on one interval (the set where a fixed
pattern's affine pre-activations keep their signs is convex), so regions are the runs of equal
pattern along sorted `x`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor

from netembench import exact, rng
from netembench.population import Population


@torch.no_grad()
def forward_with_gradients(pop: Population, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(`y`, `dy/dx`, `region`) at inputs `x [M, N]` (sorted per row for `region` to be runs).
    Bit-identical on every machine (`exact.matmul`), so every CPU shows an embedder the same probes."""
    h = (x[..., None] * pop.weights[0][:, None, :, 0]).add_(pop.biases[0][:, None, :])
    tangent = pop.weights[0][:, None, :, 0].expand_as(h)
    changed = torch.zeros(x.shape, dtype=torch.bool, device=x.device)
    for w, b in zip(pop.weights[1:], pop.biases[1:]):
        active = h > 0
        changed[:, 1:] |= (active[:, 1:] != active[:, :-1]).any(-1)
        h = exact.matmul(h.clamp_(min=0), w.transpose(1, 2)).add_(b[:, None, :])
        tangent = exact.matmul(tangent * active, w.transpose(1, 2))
    region = torch.cumsum(changed.to(torch.int64), dim=1)
    return h[..., 0], tangent[..., 0], region


STREAM_X = 0x3000
STREAM_MASK = 0x3001


@dataclass(frozen=True)
class Protocol:
    """Probe-set protocol parameters; results record them and change only with a version bump."""

    version: int = 1
    n_points: int = 64
    mask_ratio: float = 0.25
    n_draws: int = 4
    budgets: tuple[int, ...] = (8, 16, 32, 64, 128)  # probe-set sizes of the budget curve
    inputs: str = "per model, keyed on its weights"  # not on its id (harness 1.1)

    def as_dict(self) -> dict:
        return {**self.__dict__, "budgets": list(self.budgets)}

    def at(self, n_points: int) -> Protocol:
        return dataclasses.replace(self, n_points=n_points)


PROTOCOL_V1 = Protocol()


@dataclass
class ProbeBatch:
    """What an embedder sees of B models: probe sets of N sorted points each.

    Fields an embedder does not declare in `reads` are None. In a cloze batch, `grad` is zeroed
    where `mask` is True (hidden); in an embedding batch nothing is hidden.
    """

    x: Tensor  # [B, N] sorted ascending
    mask: Tensor  # [B, N] bool, True = hidden
    region: Tensor  # [B, N] int64, linear-region index along x
    model_id: Tensor  # [B] int64
    grad: Tensor | None = None  # [B, N] dy/dx, zero where masked
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
        return self.region[:, -1] + 1

    def batch(self, reads: frozenset[str], masked: bool) -> ProbeBatch:
        mask = self.mask if masked else torch.zeros_like(self.mask)
        return ProbeBatch(
            x=self.x,
            mask=mask,
            region=self.region,
            model_id=self.model_id,
            grad=self.grad.masked_fill(mask, 0.0) if "grad" in reads else None,
            y=self.y if "y" in reads else None,
            weights=self.population if "weights" in reads else None,
        )


def cloze_mask(region: Tensor, keys: Tensor, mask_ratio: float) -> Tensor:
    """Hide whole regions: `k = clamp(round(ratio * R), 1, R - 1)` of each model's `R` regions,
    chosen by `keys` (round half to even). Models with `R = 1` get no mask."""
    n = region.shape[1]
    n_regions = region[:, -1] + 1
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
    x = rng.uniform_grid(keys, STREAM_X, (protocol.n_points,)) * 2.0 - 1.0
    x = x.sort(1).values
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
