"""The weight-space encoder: a permutation-equivariant network over an MLP's weights, read top to bottom.

A zoo model's weights and biases are a `WeightSpaceFeatures` with one channel. Three HNP layers of
neural functionals (`nfn.layers.HNPLinear`, Zhou et al. 2023: equivariant to permutations of every
hidden layer's units, the exact permutation symmetry of an MLP; inputs and output keep their order)
with ReLUs between them map it to 16 channels per weight; invariant pooling (`HNPPool`: means over
hidden units) gives a vector that an MLP turns into the embedding. The layers depend on the number
of layers and the input and output sizes, not on the hidden width: one encoder reads 1-16-16-1 and
1-64-64-1 nets alike, but a depth-1 or depth-3 net not at all.

Rescaling symmetry (positive per-unit factors between ReLU layers) is not built in: no published
equivariant layer handles it and permutations at once in `nfn`; the encoder learns it from
augmented pairs (`augment`), which the twin metrics then measure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from nfn.common import NetworkSpec, WeightSpaceFeatures
from nfn.common.data import ArraySpec
from nfn.layers import HNPLinear, HNPPool, TupleOp
from torch import Tensor, nn

from netembench.population import Arch, Population


@dataclass(frozen=True)
class Config:
    depth: int = 2  # hidden layers of the networks it reads
    inputs: int = 1
    channels: int = 16
    n_layers: int = 3
    d_embed: int = 64
    proj_dim: int = 64
    n_classes: int = 0  # > 0: the supervised variant's task classifier
    decode_points: int = 33  # per input axis: the network's outputs the embedding decodes

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def network_spec(cfg: Config) -> NetworkSpec:
    """nfn's description of the networks read: -1 marks a permutable (hidden) dimension."""
    sizes = [cfg.inputs, *[-1] * cfg.depth, 1]
    return NetworkSpec(
        [ArraySpec((o, i)) for i, o in zip(sizes[:-1], sizes[1:])], [ArraySpec((o,)) for o in sizes[1:]]
    )


def canonical_scale(pop: Population) -> Population:
    """The same networks with every hidden unit's incoming weights and bias scaled to unit norm, the
    factor moved to its outgoing weights (layer by layer): one representative of each rescaling
    orbit, so everything downstream is exactly invariant to positive per-unit rescaling."""
    weights, biases = list(pop.weights), list(pop.biases)
    for layer in range(pop.arch.depth):
        norm = torch.cat([weights[layer], biases[layer][..., None]], -1).norm(dim=-1).clamp_min(1e-12)
        weights[layer], biases[layer] = weights[layer] / norm[..., None], biases[layer] / norm
        weights[layer + 1] = weights[layer + 1] * norm[:, None, :]
    return Population(pop.arch, weights, biases)


def features(pop: Population) -> WeightSpaceFeatures:
    """A population as one-channel weight-space features `[M, 1, out, in]` / `[M, 1, out]`, after
    `canonical_scale`."""
    pop = canonical_scale(pop)
    return WeightSpaceFeatures([w[:, None] for w in pop.weights], [b[:, None] for b in pop.biases])


class WeightEncoder(nn.Module):
    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.cfg = cfg
        spec = network_spec(cfg)
        layers: list[nn.Module] = []
        for i in range(cfg.n_layers):
            layers += [HNPLinear(spec, 1 if i == 0 else cfg.channels, cfg.channels), TupleOp(nn.ReLU())]
        self.equivariant = nn.Sequential(*layers)
        self.pool = HNPPool(spec)
        pooled = cfg.channels * HNPPool.get_num_outs(spec)
        # Pooled features differ between networks by a few percent of their common value: batch
        # normalisation (over networks) makes those differences what the head sees.
        self.head = nn.Sequential(
            nn.BatchNorm1d(pooled), nn.Linear(pooled, 2 * cfg.d_embed), nn.GELU(), nn.Linear(2 * cfg.d_embed, cfg.d_embed)
        )
        self.projection = nn.Sequential(nn.Linear(cfg.d_embed, cfg.d_embed), nn.GELU(), nn.Linear(cfg.d_embed, cfg.proj_dim))
        self.classifier = nn.Linear(cfg.d_embed, cfg.n_classes) if cfg.n_classes else None
        self.decoder = nn.Linear(cfg.d_embed, cfg.decode_points**cfg.inputs)

    def reads(self, arch: Arch) -> bool:
        return arch.depth == self.cfg.depth and arch.inputs == self.cfg.inputs

    def forward(self, pop: Population) -> Tensor:
        """The embedding `[M, d_embed]`: invariant to permutations of hidden units."""
        pooled = self.pool(self.equivariant(features(pop)))
        return self.head(pooled.flatten(1))


def decode_points(cfg: Config) -> Tensor:
    """The fixed inputs whose outputs the decoder predicts: an even grid on [-1, 1]^d, `[P, d]`."""
    side = torch.linspace(-1.0, 1.0, cfg.decode_points)
    return torch.stack(torch.meshgrid(*[side] * cfg.inputs, indexing="ij"), -1).reshape(-1, cfg.inputs)


def outputs_at(pop: Population, points: Tensor) -> Tensor:
    """Each network's outputs at `points [P, d]`: the decoding target, computed from the weights
    themselves (no labels). `[M, P]`."""
    x = points.to(pop.weights[0].device).expand(len(pop), *points.shape)
    return pop.forward(x[..., 0] if points.shape[1] == 1 else x.contiguous())


def augment(pop: Population, generator: torch.Generator, max_scale: float = 4.0, noise: float = 0.01) -> Population:
    """A copy computing (nearly) the same function: hidden units permuted, each rescaled by a
    positive factor (log-uniform in [1/max_scale, max_scale]) between ReLU layers, then small
    Gaussian noise relative to each tensor's scale. Random per model."""
    weights, biases = [w.clone() for w in pop.weights], [b.clone() for b in pop.biases]
    m, width = len(pop), pop.arch.width
    for layer in range(pop.arch.depth):
        order = torch.rand(m, width, generator=generator).argsort(1).to(weights[0].device)
        log_c = (torch.rand(m, width, generator=generator) * 2 - 1) * torch.log(torch.tensor(max_scale))
        c = log_c.exp().to(weights[0].device)
        weights[layer] = weights[layer].gather(1, order[:, :, None].expand_as(weights[layer])) * c[:, :, None]
        biases[layer] = biases[layer].gather(1, order) * c
        nxt = weights[layer + 1]
        weights[layer + 1] = nxt.gather(2, order[:, None, :].expand_as(nxt)) / c[:, None, :]
    jitter = lambda t: t + noise * t.std(dim=tuple(range(1, t.dim())), correction=0, keepdim=True) * torch.randn(  # noqa: E731
        t.shape, generator=generator
    ).to(t.device)
    return Population(pop.arch, [jitter(w) for w in weights], [jitter(b) for b in biases])


def info_nce(a: Tensor, b: Tensor, temperature: float = 0.1) -> Tensor:
    """Symmetric InfoNCE between two views: row i of `a` and of `b` come from the same network."""
    a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    logits = a @ b.T / temperature
    labels = torch.arange(len(a), device=a.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))
