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
from numpy.polynomial import chebyshev as C

MAX_DEGREE = 4
N_COEF = MAX_DEGREE + 1
# The dense grid on which distances and fits are measured: k / 512, exact binary fractions.
GRID = np.arange(-512, 513, dtype=np.float64) / 512.0

# Tasks are part of a zoo's identity, so every number here is computed with elementwise IEEE
# arithmetic in a fixed order: no BLAS (`@`, `convolve`), no LAPACK (`polyroots`), no SIMD math
# library (`**`), whose results differ between CPUs.


class TaskSamplingError(RuntimeError):
    """The rejection sampler could not meet its distance constraints."""


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


def _sq_distances(diff: np.ndarray, gram: np.ndarray = GRAM) -> np.ndarray:
    """Mean squared difference on a grid of polynomials whose coefficient differences are `diff
    [..., K]`: the quadratic form diff' G diff with the grid's Gram matrix, in a fixed order."""
    total = np.zeros(diff.shape[:-1])
    for i in range(len(gram)):
        total = total + diff[..., i] * diff[..., i] * gram[i, i]
        for j in range(i + 1, len(gram)):
            total = total + diff[..., i] * diff[..., j] * (2.0 * gram[i, j])
    return np.maximum(total, 0.0)


def rms_distances(a: np.ndarray, b: np.ndarray, gram: np.ndarray = GRAM) -> np.ndarray:
    """Pairwise RMS distance on the grid of `gram` (1-D: `GRID`) between two stacks of tasks:
    `[len(a), len(b)]`."""
    return np.sqrt(_sq_distances(np.asarray(a)[:, None, :] - np.asarray(b)[None, :, :], gram))


@dataclass(frozen=True)
class TaskSet:
    """Sampled tasks; task id = row. Unseen tasks are held out of train/validation/test."""

    coef: np.ndarray  # [T, N_COEF] monomial coefficients, low -> high
    family: np.ndarray  # [T] coarse label; equals the task id for `separated`
    unseen: np.ndarray  # [T] bool
    min_distance: float  # smallest pairwise RMS distance achieved, over all tasks
    dim: int = 1  # input dimension: 1 (this module) or 2 (`tasks2d`, coefficients in its order)

    def __len__(self) -> int:
        return len(self.coef)

    @property
    def degree(self) -> np.ndarray:
        """Total degree of each task."""
        nonzero = np.abs(self.coef) > 1e-12
        last = self.coef.shape[1] - 1 - np.argmax(nonzero[:, ::-1], axis=1)
        if self.dim == 1:
            return last.astype(np.int64)
        from netembench.zoo.tasks2d import EXPONENTS

        return np.array([sum(EXPONENTS[k]) for k in last], dtype=np.int64)

    @property
    def chebyshev(self) -> np.ndarray:
        """Coefficients in the (product) Chebyshev basis, in the monomials' order."""
        if self.dim == 2:
            from netembench.zoo.tasks2d import chebyshev

            return chebyshev(self.coef)
        return np.stack([np.pad(C.poly2cheb(c), (0, N_COEF - len(C.poly2cheb(c)))) for c in self.coef])

    def seen_ids(self) -> np.ndarray:
        return np.flatnonzero(~self.unseen)

    def unseen_ids(self) -> np.ndarray:
        return np.flatnonzero(self.unseen)


def uniform(rng: np.random.Generator, low: float, high: float, size: int) -> np.ndarray:
    """`rng.uniform(low, high, size)` as separate IEEE operations on `rng.random`, the same draws:
    numpy's compiled `low + (high - low) * u` may be contracted to a fused multiply-add."""
    return low + (high - low) * rng.random(size)


def _root_polynomial(rng: np.random.Generator, degrees: tuple[int, ...], root_range: float) -> np.ndarray:
    degree = int(rng.choice(degrees))
    roots = uniform(rng, -root_range, root_range, degree)
    sign = rng.choice([-1.0, 1.0])
    return normalise(sign * from_roots(roots))


class _Accepted:
    """Accepted tasks, for distance checks during rejection (RMS on the grid of `gram`)."""

    def __init__(self, gram: np.ndarray = GRAM) -> None:
        self.gram = gram
        self.coef = np.empty((0, len(gram)))

    def distance_to(self, coef: np.ndarray) -> float:
        if not len(self.coef):
            return np.inf
        return float(np.sqrt(_sq_distances(self.coef - coef, self.gram).min()))

    def add(self, coef: np.ndarray) -> None:
        self.coef = np.concatenate([self.coef, coef[None]])


def _draw_until(draw, accepted: _Accepted, min_distance: float, what: str, max_attempts: int) -> np.ndarray:
    for _ in range(max_attempts):
        coef = draw()
        if accepted.distance_to(coef) >= min_distance:
            return coef
    raise TaskSamplingError(
        f"could not sample {what} at RMS distance >= {min_distance} after {max_attempts} attempts; "
        "lower the distance or the number of tasks in the spec"
    )


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
        total = self.n_tasks + self.n_unseen
        accepted = _Accepted()
        for i in range(total):
            source = rng if i < self.n_tasks else held
            accepted.add(
                _draw_until(
                    partial(_root_polynomial, source, self.degrees, self.root_range),
                    accepted,
                    self.min_distance,
                    f"task {i} of {total}",
                    self.max_attempts,
                )
            )
        return _task_set(accepted.coef, np.arange(total), np.arange(total) >= self.n_tasks)


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
        return sample_fine(self, draw, normalise, held_draw=held_draw)


def sample_fine(family, draw, normalise, gram: np.ndarray = GRAM, dim: int = 1, held_draw=None) -> TaskSet:
    """The fine families' sampler, for any input dimension: bases from `draw()` at least
    `family.base_min_distance` apart, then `normalise(base + eps * draw())` variants at least
    `family.floor` apart (RMS on the grid of `gram`): seen variants, unseen variants of seen
    families, then variants of unseen families.

    With `held_draw` (a private build) the seen tasks are drawn exactly as without it, then the
    unseen families' bases and every unseen variant come from `held_draw` instead."""
    n_bases = family.n_families + family.n_unseen_families
    bases = _Accepted(gram)
    for f in range(n_bases):
        bases.add(_draw_until(draw, bases, family.base_min_distance, f"family base {f}", family.max_attempts))
    tasks, families, unseen = _Accepted(gram), [], []

    def add_variants(index: int, count: int, held_out: bool, source) -> None:
        for v in range(count):
            variant = lambda: normalise(bases.coef[index] + family.eps * source())  # noqa: E731
            what = f"variant {v} of family {index}"
            tasks.add(_draw_until(variant, tasks, family.floor, what, family.max_attempts))
            families.append(index)
            unseen.append(held_out)

    for f in range(family.n_families):
        add_variants(f, family.n_variants, False, draw)
    if held_draw is not None:
        bases.coef = bases.coef[: family.n_families]
        for f in range(family.n_families, n_bases):
            what = f"family base {f}"
            bases.add(_draw_until(held_draw, bases, family.base_min_distance, what, family.max_attempts))
    for f in range(family.n_families):
        add_variants(f, family.n_unseen_variants, True, held_draw or draw)
    for f in range(family.n_families, n_bases):
        add_variants(f, family.n_variants, True, held_draw or draw)
    return _task_set(tasks.coef, np.array(families), np.array(unseen), gram, dim)


def _task_set(
    coef: np.ndarray, family: np.ndarray, unseen: np.ndarray, gram: np.ndarray = GRAM, dim: int = 1
) -> TaskSet:
    dist = rms_distances(coef, coef, gram)
    np.fill_diagonal(dist, np.inf)
    min_distance = float(dist.min()) if len(coef) > 1 else float("inf")
    return TaskSet(
        coef=coef,
        family=family.astype(np.int64),
        unseen=unseen.astype(bool),
        min_distance=min_distance,
        dim=dim,
    )


TaskFamily = SeparatedFamily | FineFamily
FAMILIES: dict[str, type[SeparatedFamily] | type[FineFamily]] = {
    "separated": SeparatedFamily,
    "fine": FineFamily,
}
