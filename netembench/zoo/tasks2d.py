"""2-D task families: random polynomials in (x1, x2) of total degree <= 3 on the square [-1, 1]^2.

A task is normalised to zero mean over the square and unit range (max - min) on the `GRID2D`
lattice, and stored by its 10 monomial coefficients in `EXPONENTS` order. Distances are RMS on the
lattice, computed exactly from its moments (`GRAM`), as in 1-D.

Sampling matters more than in 1-D. Independent monomial coefficients (the naive sampler) make most
tasks look alike: x1^3 and x1 (x2^3 and x2, ...) are nearly collinear on the square, so after
normalisation a tilted plane with a little curvature dominates (`docs/tasks2d.png`, the test in
`tests/test_tasks2d.py`). The families here draw uniform coefficients in an *orthonormal* basis
(products of Legendre polynomials P_i(x1) P_j(x2), 1 <= i + j <= 3), so every direction of the
function space gets the same weight. Every number is elementwise IEEE arithmetic in a fixed order
(no BLAS, LAPACK or SIMD math library), so tasks are the same bits on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from typing import ClassVar

import numpy as np

from netembench.zoo import sampler
from netembench.zoo.bases import EXPONENTS_2D as EXPONENTS
from netembench.zoo.bases import MAX_DEGREE_2D as MAX_DEGREE
from netembench.zoo.bases import chebyshev_2d as chebyshev  # noqa: F401 (public: tasks2d.chebyshev)
from netembench.zoo.sampler import (
    TaskSamplingError,
    TaskSet,
    sample_fine,
    sample_separated,
    uniform,
)

DIM = 2
N_COEF = len(EXPONENTS)  # 10
# The lattice on which ranges, distances and fits are measured: (k / 64, l / 64), 129 x 129 points.
GRID_1D = np.arange(-64, 65, dtype=np.float64) / 64.0
GRID2D = np.stack(np.meshgrid(GRID_1D, GRID_1D, indexing="ij"), -1).reshape(-1, 2)


def evaluate(coef, x):
    """Values of polynomials `coef [..., N_COEF]` at points `x [..., 2]` (numpy or torch; the
    batch shapes broadcast). Monomials by repeated multiplication, summed in `EXPONENTS` order."""
    x1, x2 = x[..., 0], x[..., 1]
    p1, p2 = [x1 * 0 + 1, x1], [x2 * 0 + 1, x2]
    for _ in range(MAX_DEGREE - 1):
        p1.append(p1[-1] * x1)
        p2.append(p2[-1] * x2)
    y = coef[..., 0] * p1[0]
    for k, (a, b) in enumerate(EXPONENTS[1:], 1):
        y = y + coef[..., k] * (p1[a] * p2[b])
    return y


def values(coef: np.ndarray, points: np.ndarray = GRID2D) -> np.ndarray:
    """Values of `[T, N_COEF]` tasks at `points [P, 2]`: `[T, P]`."""
    return evaluate(np.asarray(coef, dtype=np.float64)[:, None, :], np.asarray(points)[None])


def _square_mean(p: int) -> Fraction:
    return Fraction(1, p + 1) if p % 2 == 0 else Fraction(0)


def normalise(coef: np.ndarray) -> np.ndarray:
    """Shift and scale to zero mean over the square and unit range on `GRID2D`."""
    coef = np.asarray(coef, dtype=np.float64)
    mean = 0.0
    for k, (a, b) in enumerate(EXPONENTS):
        mean = mean + coef[k] * float(_square_mean(a) * _square_mean(b))
    v = values(coef[None])[0]
    span = v.max() - v.min()
    if span <= 1e-12:
        raise TaskSamplingError("cannot normalise a constant polynomial")
    out = coef.copy()
    out[0] -= mean
    return out / span


def _lattice_gram() -> np.ndarray:
    """G[i, j] = mean over GRID2D of monomial i times monomial j, from exact 1-D lattice moments."""
    k = range(-64, 65)
    m = [Fraction(sum(j**p for j in k), 64**p * len(k)) for p in range(2 * MAX_DEGREE + 1)]
    return np.array(
        [[float(m[a + c] * m[b + d]) for (c, d) in EXPONENTS] for (a, b) in EXPONENTS], dtype=np.float64
    )


GRAM = _lattice_gram()


def sq_distances(diff: np.ndarray) -> np.ndarray:
    """Mean squared difference on GRID2D of polynomials differing by `diff [..., N_COEF]`."""
    return sampler.sq_distances(diff, GRAM)


def rms_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return sampler.rms_distances(a, b, GRAM)


def _legendre_monomials() -> np.ndarray:
    """Monomial coefficients `[9, N_COEF]` of the orthonormal (on the square) products
    sqrt((2i+1)(2j+1)) P_i(x1) P_j(x2), 1 <= i + j <= 3, computed as exact rationals."""
    legendre = [
        [Fraction(1)],
        [Fraction(0), Fraction(1)],
        [Fraction(-1, 2), Fraction(0), Fraction(3, 2)],
        [Fraction(0), Fraction(-3, 2), Fraction(0), Fraction(5, 2)],
    ]
    rows = []
    for i, j in EXPONENTS[1:]:
        row = [Fraction(0)] * N_COEF
        for a, ca in enumerate(legendre[i]):
            for b, cb in enumerate(legendre[j]):
                row[EXPONENTS.index((a, b))] += ca * cb
        scale = float(np.sqrt(float((2 * i + 1) * (2 * j + 1))))
        rows.append([float(c) * scale for c in row])
    return np.array(rows)


LEGENDRE = _legendre_monomials()


def orthonormal_polynomial(rng: np.random.Generator) -> np.ndarray:
    """A normalised task with uniform coefficients in the orthonormal basis (the families' draw)."""
    z = uniform(rng, -1.0, 1.0, len(LEGENDRE))
    coef = np.zeros(N_COEF)
    for k in range(len(LEGENDRE)):  # z @ LEGENDRE without BLAS
        coef = coef + z[k] * LEGENDRE[k]
    return normalise(coef)


def plane_share(coef: np.ndarray) -> np.ndarray:
    """The share of each task's variance on GRID2D that the best-fitting plane explains `[T]`: how
    much a task is a tilted plane (a diagnostic of samplers, not part of any zoo)."""
    v = values(coef)
    design = np.stack([np.ones(len(GRID2D)), GRID2D[:, 0], GRID2D[:, 1]], 1)
    residual = v.T - design @ np.linalg.lstsq(design, v.T, rcond=None)[0]
    return 1 - (residual**2).mean(0) / v.var(1)


def naive_polynomial(rng: np.random.Generator) -> np.ndarray:
    """Independent uniform monomial coefficients: the sampler the families do *not* use (tasks
    alike; kept to show why, in the plot and the test)."""
    return normalise(uniform(rng, -1.0, 1.0, N_COEF))


def task_set(coef: np.ndarray, family: np.ndarray, unseen: np.ndarray) -> TaskSet:
    return sampler.task_set(coef, family, unseen, GRAM, DIM)


@dataclass(frozen=True)
class Separated2DFamily:
    """Independent 2-D polynomials, pairwise at least `min_distance` apart (RMS on GRID2D)."""

    kind: ClassVar[str] = "separated2d"
    dim: ClassVar[int] = DIM
    n_tasks: int
    n_unseen: int = 0
    min_distance: float = 0.1
    max_attempts: int = 10_000

    def sample(self, seed: int, private: tuple[int, ...] = ()) -> TaskSet:
        """The tasks of `seed`; with `private` words the unseen tasks come from a stream seeded by
        them (`netembench.zoo.private`), the seen tasks stay those of the public build."""
        rng = np.random.default_rng([seed, 0x2D5E])
        held = np.random.default_rng([seed, 0x2D5E, *private]) if private else rng
        draw, held_draw = partial(orthonormal_polynomial, rng), partial(orthonormal_polynomial, held)
        return sample_separated(self, draw, held_draw, GRAM, DIM)


@dataclass(frozen=True)
class Fine2DFamily:
    """`n_families` base polynomials with `n_variants` close variants each: `normalise(base + eps *
    d)`, `d` a random task. Bases are >= `base_min_distance` apart, any two tasks >= `floor`."""

    kind: ClassVar[str] = "fine2d"
    dim: ClassVar[int] = DIM
    n_families: int
    n_variants: int
    eps: float = 0.1
    floor: float = 0.01
    base_min_distance: float = 0.15
    n_unseen_variants: int = 0
    n_unseen_families: int = 0
    max_attempts: int = 10_000

    def sample(self, seed: int, private: tuple[int, ...] = ()) -> TaskSet:
        """The tasks of `seed`; with `private` words the unseen ones differ (`tasks.sample_fine`)."""
        rng = np.random.default_rng([seed, 0xF2D])
        draw = partial(orthonormal_polynomial, rng)
        held = (
            partial(orthonormal_polynomial, np.random.default_rng([seed, 0xF2D, *private]))
            if private
            else None
        )
        return sample_fine(self, draw, normalise, GRAM, DIM, held)
