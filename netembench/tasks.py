"""Task families: random 1D polynomials on [-1, 1] with guaranteed separation.

A task is a polynomial of degree 3-4, normalised to zero mean and unit range (max - min) over the
domain. Families are seeded samplers. Both guarantee, by rejection, a minimum RMS distance between
any two tasks (labels of near-duplicate tasks would be meaningless) and record the one achieved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.polynomial import chebyshev as C
from numpy.polynomial import polynomial as P

MAX_DEGREE = 4
N_COEF = MAX_DEGREE + 1
GRID = np.linspace(-1.0, 1.0, 1025)  # the dense grid on which distances and fits are measured


class TaskSamplingError(RuntimeError):
    """The rejection sampler could not meet its distance constraints."""


def normalise(coef: np.ndarray) -> np.ndarray:
    """Shift and scale monomial coefficients to zero mean and unit range over [-1, 1] (exact)."""
    coef = np.asarray(coef, dtype=np.float64)
    integral = P.polyint(coef)
    mean = (P.polyval(1.0, integral) - P.polyval(-1.0, integral)) / 2.0
    critical = P.polyroots(P.polyder(coef)) if len(np.trim_zeros(coef, "b")) > 2 else np.array([])
    critical = critical[np.abs(critical.imag) < 1e-9].real
    points = np.concatenate([[-1.0, 1.0], critical[np.abs(critical) <= 1.0]])
    values = P.polyval(points, coef)
    span = values.max() - values.min()
    if span <= 1e-12:
        raise TaskSamplingError("cannot normalise a constant polynomial")
    out = coef.copy()
    out[0] -= mean
    return out / span


def evaluate(coef: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Values of `[T, N_COEF]` monomial polynomials at points `x`: `[T, len(x)]`."""
    powers = np.asarray(x, dtype=np.float64)[None, :] ** np.arange(N_COEF)[:, None]
    return np.asarray(coef, dtype=np.float64) @ powers


def rms_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise RMS distance on `GRID` between two stacks of tasks: `[len(a), len(b)]`."""
    va, vb = evaluate(a, GRID), evaluate(b, GRID)
    sq = (va**2).mean(1)[:, None] + (vb**2).mean(1)[None, :] - 2.0 * va @ vb.T / GRID.size
    return np.sqrt(np.clip(sq, 0.0, None))


@dataclass(frozen=True)
class TaskSet:
    """Sampled tasks; task id = row. Unseen tasks are held out of train/validation/test."""

    coef: np.ndarray  # [T, N_COEF] monomial coefficients, low -> high
    family: np.ndarray  # [T] coarse label; equals the task id for `separated`
    unseen: np.ndarray  # [T] bool
    min_distance: float  # smallest pairwise RMS distance achieved, over all tasks

    def __len__(self) -> int:
        return len(self.coef)

    @property
    def degree(self) -> np.ndarray:
        nonzero = np.abs(self.coef) > 1e-12
        return (N_COEF - 1 - np.argmax(nonzero[:, ::-1], axis=1)).astype(np.int64)

    @property
    def chebyshev(self) -> np.ndarray:
        return np.stack([np.pad(C.poly2cheb(c), (0, N_COEF - len(C.poly2cheb(c)))) for c in self.coef])

    def seen_ids(self) -> np.ndarray:
        return np.flatnonzero(~self.unseen)

    def unseen_ids(self) -> np.ndarray:
        return np.flatnonzero(self.unseen)


def _root_polynomial(rng: np.random.Generator, degrees: tuple[int, ...], root_range: float) -> np.ndarray:
    degree = int(rng.choice(degrees))
    roots = rng.uniform(-root_range, root_range, size=degree)
    sign = rng.choice([-1.0, 1.0])
    coef = np.zeros(N_COEF)
    coef[: degree + 1] = sign * P.polyfromroots(roots)
    return normalise(coef)


class _Accepted:
    """Accepted tasks and their grid values, for fast distance checks during rejection."""

    def __init__(self, capacity: int) -> None:
        self.coef: list[np.ndarray] = []
        self.values = np.empty((capacity, GRID.size))
        self.sq_norms = np.empty(capacity)

    def distance_to(self, coef: np.ndarray) -> float:
        n = len(self.coef)
        if n == 0:
            return np.inf
        v = evaluate(coef[None], GRID)[0]
        sq = self.sq_norms[:n] + v @ v - 2.0 * (self.values[:n] @ v)
        return float(np.sqrt(max(sq.min(), 0.0) / GRID.size))

    def add(self, coef: np.ndarray) -> None:
        v = evaluate(coef[None], GRID)[0]
        self.values[len(self.coef)], self.sq_norms[len(self.coef)] = v, v @ v
        self.coef.append(coef)


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

    def sample(self, seed: int) -> TaskSet:
        rng = np.random.default_rng([seed, 0x7A5C])
        total = self.n_tasks + self.n_unseen
        accepted = _Accepted(total)
        for i in range(total):
            accepted.add(
                _draw_until(
                    lambda: _root_polynomial(rng, self.degrees, self.root_range),
                    accepted, self.min_distance, f"task {i} of {total}", self.max_attempts,
                )
            )
        coef = np.stack(accepted.coef)
        return _task_set(coef, np.arange(total), np.arange(total) >= self.n_tasks)


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

    def sample(self, seed: int) -> TaskSet:
        rng = np.random.default_rng([seed, 0xF1E])
        draw = lambda: _root_polynomial(rng, self.degrees, self.root_range)  # noqa: E731
        n_bases = self.n_families + self.n_unseen_families
        bases = _Accepted(n_bases)
        for f in range(n_bases):
            bases.add(_draw_until(draw, bases, self.base_min_distance, f"family base {f}", self.max_attempts))

        n_tasks = (self.n_families + self.n_unseen_families) * self.n_variants + self.n_families * self.n_unseen_variants
        tasks, families, unseen = _Accepted(n_tasks), [], []

        def add_variants(family: int, count: int, held_out: bool) -> None:
            base = bases.coef[family]
            for v in range(count):
                variant = lambda: normalise(base + self.eps * draw())  # noqa: E731
                tasks.add(_draw_until(variant, tasks, self.floor, f"variant {v} of family {family}", self.max_attempts))
                families.append(family)
                unseen.append(held_out)

        for f in range(self.n_families):
            add_variants(f, self.n_variants, False)
        for f in range(self.n_families):
            add_variants(f, self.n_unseen_variants, True)
        for f in range(self.n_families, n_bases):
            add_variants(f, self.n_variants, True)
        return _task_set(np.stack(tasks.coef), np.array(families), np.array(unseen))


def _task_set(coef: np.ndarray, family: np.ndarray, unseen: np.ndarray) -> TaskSet:
    dist = rms_distances(coef, coef)
    np.fill_diagonal(dist, np.inf)
    min_distance = float(dist.min()) if len(coef) > 1 else float("inf")
    return TaskSet(coef=coef, family=family.astype(np.int64), unseen=unseen.astype(bool), min_distance=min_distance)


TaskFamily = SeparatedFamily | FineFamily
FAMILIES: dict[str, type[SeparatedFamily] | type[FineFamily]] = {"separated": SeparatedFamily, "fine": FineFamily}
