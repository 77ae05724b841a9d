"""Task families: random 1D polynomials on [-1, 1] with guaranteed separation.

A task is a polynomial of degree 3-4, normalised to zero mean and unit range (max - min) over the
domain. Families are seeded samplers. Both guarantee, by rejection, a minimum RMS distance between
any two tasks (labels of near-duplicate tasks would be meaningless) and record the one achieved.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from typing import ClassVar

import numpy as np

from netembench.zoo import sampler
from netembench.zoo.sampler import (
    TaskSamplingError,
    TaskSet,
    sample_fine,
    sample_separated,
    uniform,
)

MAX_DEGREE = 4
N_COEF = MAX_DEGREE + 1
# The dense grid on which distances and fits are measured: k / 512, exact binary fractions.
GRID = np.arange(-512, 513, dtype=np.float64) / 512.0

# Tasks are part of a zoo's identity, so every number here is computed with elementwise IEEE
# arithmetic in a fixed order: no BLAS (`@`, `convolve`), no LAPACK (`polyroots`), no SIMD math
# library (`**`), whose results differ between CPUs.


def _horner(coef: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Values of polynomials `coef [..., K]` (low -> high) at `x` (broadcast against `coef[..., 0]`)."""
    y = np.zeros(np.broadcast_shapes(coef.shape[:-1], np.shape(x))) + coef[..., -1]
    for k in range(coef.shape[-1] - 2, -1, -1):
        y = y * x + coef[..., k]
    return y


def _derivative_roots(coef: np.ndarray, grid_points: int = 2049, iterations: int = 64) -> np.ndarray:
    """Sign changes of p' inside [-1, 1], refined by bisection: the interior extrema of p."""
    deriv = coef[1:] * np.arange(1, len(coef))
    x = np.arange(grid_points, dtype=np.float64) / ((grid_points - 1) / 2) - 1.0
    v = _horner(deriv, x)
    bracket = np.flatnonzero(np.sign(v[:-1]) * np.sign(v[1:]) < 0)
    lo, hi = x[bracket], x[bracket + 1]
    lo_sign = np.sign(v[bracket])
    for _ in range(iterations):
        mid = (lo + hi) * 0.5
        same = np.sign(_horner(deriv, mid)) == lo_sign
        lo, hi = np.where(same, mid, lo), np.where(same, hi, mid)
    return np.concatenate([(lo + hi) * 0.5, x[np.flatnonzero(v == 0)]])


def normalise(coef: np.ndarray) -> np.ndarray:
    """Shift and scale monomial coefficients to zero mean and unit range (max - min) over [-1, 1]."""
    coef = np.asarray(coef, dtype=np.float64)
    mean = 0.0
    for k in range(0, len(coef), 2):  # the mean of x^k over [-1, 1] is 1 / (k + 1) for even k
        mean = mean + coef[k] / (k + 1)
    points = np.concatenate([[-1.0, 1.0], _derivative_roots(coef)])
    values = _horner(coef, points)
    span = values.max() - values.min()
    if span <= 1e-12:
        raise TaskSamplingError("cannot normalise a constant polynomial")
    out = coef.copy()
    out[0] -= mean
    return out / span


def from_roots(roots: np.ndarray) -> np.ndarray:
    """Monomial coefficients (low -> high, padded to N_COEF) of the monic polynomial with `roots`."""
    coef = np.zeros(N_COEF)
    coef[0] = 1.0
    for r in roots:
        coef = np.concatenate([[0.0], coef[:-1]]) - r * coef
    return coef


def evaluate(coef: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Values of `[T, N_COEF]` monomial polynomials at points `x`: `[T, len(x)]`."""
    return _horner(np.asarray(coef, dtype=np.float64)[:, None, :], np.asarray(x, dtype=np.float64)[None, :])


def _grid_gram() -> np.ndarray:
    """G[i, j] = mean over GRID of x^(i + j), exact rationals rounded once to float64."""
    k = range(-512, 513)
    moments = [Fraction(sum(j**p for j in k), 512**p * len(k)) for p in range(2 * N_COEF - 1)]
    return np.array([[float(moments[i + j]) for j in range(N_COEF)] for i in range(N_COEF)])


GRAM = _grid_gram()


def rms_distances(a: np.ndarray, b: np.ndarray, gram: np.ndarray = GRAM) -> np.ndarray:
    """Pairwise RMS distance on `GRID` (or the lattice of `gram`) between two stacks of tasks."""
    return sampler.rms_distances(a, b, gram)


def _root_polynomial(rng: np.random.Generator, degrees: tuple[int, ...], root_range: float) -> np.ndarray:
    degree = int(rng.choice(degrees))
    roots = uniform(rng, -root_range, root_range, degree)
    sign = rng.choice([-1.0, 1.0])
    return normalise(sign * from_roots(roots))


@dataclass(frozen=True)
class SeparatedFamily:
    """Independent polynomials with random real roots, pairwise at least `min_distance` apart."""

    kind: ClassVar[str] = "separated"
    n_tasks: int
    n_unseen: int = 0
    min_distance: float = 0.1
    degrees: tuple[int, ...] = (3, 4)
    root_range: float = 1.2
    max_attempts: int = 10_000

    def sample(self, seed: int, private: tuple[int, ...] = ()) -> TaskSet:
        """The tasks of `seed`; with `private` words (`netembench.zoo.private`) the unseen tasks come
        from a stream seeded by them, the seen tasks stay those of the public build."""
        rng = np.random.default_rng([seed, 0x7A5C])
        held = np.random.default_rng([seed, 0x7A5C, *private]) if private else rng
        draw = partial(_root_polynomial, rng, self.degrees, self.root_range)
        held_draw = partial(_root_polynomial, held, self.degrees, self.root_range)
        return sample_separated(self, draw, held_draw, GRAM, 1)


@dataclass(frozen=True)
class FineFamily:
    """`n_families` base polynomials, each with `n_variants` close variants.

    A variant is `normalise(base + eps * d)` with `d` a random normalised polynomial. Bases are at
    least `base_min_distance` apart and any two tasks at least `floor` apart. Unseen tasks are new
    variants of the seen families and/or variants of new families.
    """

    kind: ClassVar[str] = "fine"
    n_families: int
    n_variants: int
    eps: float = 0.05
    floor: float = 0.005
    base_min_distance: float = 0.1
    n_unseen_variants: int = 0
    n_unseen_families: int = 0
    degrees: tuple[int, ...] = (3, 4)
    root_range: float = 1.2
    max_attempts: int = 10_000

    def sample(self, seed: int, private: tuple[int, ...] = ()) -> TaskSet:
        """The tasks of `seed`; with `private` words the unseen ones differ (`sample_fine`)."""
        rng = np.random.default_rng([seed, 0xF1E])
        draw = partial(_root_polynomial, rng, self.degrees, self.root_range)
        held = np.random.default_rng([seed, 0xF1E, *private]) if private else None
        held_draw = partial(_root_polynomial, held, self.degrees, self.root_range) if held else None
        return sample_fine(self, draw, normalise, GRAM, 1, held_draw)


TaskFamily = SeparatedFamily | FineFamily
FAMILIES: dict[str, type[SeparatedFamily] | type[FineFamily]] = {
    "separated": SeparatedFamily,
    "fine": FineFamily,
}
