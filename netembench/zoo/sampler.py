"""The rejection sampler that every task family (1-D and 2-D) draws its tasks with.

A family supplies a `draw()` of one normalised task and the Gram matrix of its lattice; the sampler
accepts a draw only if it is at least a minimum RMS distance from every task accepted before (labels
of near-duplicate tasks would be meaningless), and records the smallest distance achieved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from netembench.zoo.bases import chebyshev_1d, chebyshev_2d, total_degrees

Draw = Callable[[], np.ndarray]


class TaskSamplingError(RuntimeError):
    """The rejection sampler could not meet its distance constraints."""


@dataclass(frozen=True)
class TaskSet:
    """Sampled tasks; task id = row. Unseen tasks are held out of train/validation/test."""

    coef: np.ndarray  # [T, N_COEF] monomial coefficients, low -> high
    family: np.ndarray  # [T] coarse label; equals the task id for `separated`
    unseen: np.ndarray  # [T] bool
    min_distance: float  # smallest pairwise RMS distance achieved, over all tasks
    dim: int = 1  # input dimension: 1 (`tasks`) or 2 (`tasks2d`, coefficients in its order)
    tabulated: bool = False  # `coef` holds knot values (`tabulated`), not monomial coefficients

    def __len__(self) -> int:
        return len(self.coef)

    @property
    def degree(self) -> np.ndarray:
        """Total degree of each task (-1 for tabulated tasks)."""
        if self.tabulated:
            return np.full(len(self), -1, dtype=np.int64)
        return total_degrees(self.coef, self.dim)

    @property
    def chebyshev(self) -> np.ndarray:
        """Coefficients in the (product) Chebyshev basis, in the monomials' order (none if tabulated)."""
        if self.tabulated:
            return np.zeros((len(self), 0))
        return chebyshev_2d(self.coef) if self.dim == 2 else chebyshev_1d(self.coef)

    def seen_ids(self) -> np.ndarray:
        return np.flatnonzero(~self.unseen)

    def unseen_ids(self) -> np.ndarray:
        return np.flatnonzero(self.unseen)


def uniform(rng: np.random.Generator, low: float, high: float, size: int) -> np.ndarray:
    """`rng.uniform(low, high, size)` as separate IEEE operations on `rng.random`, the same draws:
    numpy's compiled `low + (high - low) * u` may be contracted to a fused multiply-add."""
    return low + (high - low) * rng.random(size)


def sq_distances(diff: np.ndarray, gram: np.ndarray) -> np.ndarray:
    """Mean squared difference on a lattice of polynomials whose coefficient differences are `diff
    [..., K]`: the quadratic form diff' G diff with the lattice's Gram matrix, in a fixed order."""
    total = np.zeros(diff.shape[:-1])
    for i in range(len(gram)):
        total = total + diff[..., i] * diff[..., i] * gram[i, i]
        for j in range(i + 1, len(gram)):
            total = total + diff[..., i] * diff[..., j] * (2.0 * gram[i, j])
    return np.maximum(total, 0.0)


def rms_distances(a: np.ndarray, b: np.ndarray, gram: np.ndarray) -> np.ndarray:
    """Pairwise RMS distance on the lattice of `gram` between two stacks of tasks: `[len(a), len(b)]`."""
    return np.sqrt(sq_distances(np.asarray(a)[:, None, :] - np.asarray(b)[None, :, :], gram))


class Accepted:
    """Accepted tasks, for distance checks during rejection (RMS on the lattice of `gram`)."""

    def __init__(self, gram: np.ndarray) -> None:
        self.gram = gram
        self.coef = np.empty((0, len(gram)))

    def distance_to(self, coef: np.ndarray) -> float:
        if not len(self.coef):
            return np.inf
        return float(np.sqrt(sq_distances(self.coef - coef, self.gram).min()))

    def add(self, coef: np.ndarray) -> None:
        self.coef = np.concatenate([self.coef, coef[None]])


def draw_until(draw: Draw, accepted: Accepted, min_distance: float, what: str, max_attempts: int) -> np.ndarray:
    """The first of `draw()`'s tasks at least `min_distance` from every accepted one."""
    for _ in range(max_attempts):
        coef = draw()
        if accepted.distance_to(coef) >= min_distance:
            return coef
    raise TaskSamplingError(
        f"could not sample {what} at RMS distance >= {min_distance} after {max_attempts} attempts; "
        "lower the distance or the number of tasks in the spec"
    )


def task_set(coef: np.ndarray, family: np.ndarray, unseen: np.ndarray, gram: np.ndarray, dim: int) -> TaskSet:
    """A `TaskSet`, with the smallest pairwise distance it achieves."""
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


def sample_fine(
    family, draw: Draw, normalise: Callable[[np.ndarray], np.ndarray], gram: np.ndarray, dim: int, held_draw: Draw | None = None
) -> TaskSet:
    """The fine families' sampler, for any input dimension: bases from `draw()` at least
    `family.base_min_distance` apart, then `normalise(base + eps * draw())` variants at least
    `family.floor` apart (RMS on the grid of `gram`): seen variants, unseen variants of seen
    families, then variants of unseen families.

    With `held_draw` (a private build) the seen tasks are drawn exactly as without it, then the
    unseen families' bases and every unseen variant come from `held_draw` instead."""
    n_bases = family.n_families + family.n_unseen_families
    bases = Accepted(gram)
    for f in range(n_bases):
        bases.add(draw_until(draw, bases, family.base_min_distance, f"family base {f}", family.max_attempts))
    tasks, families, unseen = Accepted(gram), [], []

    def add_variants(index: int, count: int, held_out: bool, source) -> None:
        for v in range(count):
            variant = lambda: normalise(bases.coef[index] + family.eps * source())  # noqa: E731
            what = f"variant {v} of family {index}"
            tasks.add(draw_until(variant, tasks, family.floor, what, family.max_attempts))
            families.append(index)
            unseen.append(held_out)

    for f in range(family.n_families):
        add_variants(f, family.n_variants, False, draw)
    if held_draw is not None:
        bases.coef = bases.coef[: family.n_families]
        for f in range(family.n_families, n_bases):
            what = f"family base {f}"
            bases.add(draw_until(held_draw, bases, family.base_min_distance, what, family.max_attempts))
    for f in range(family.n_families):
        add_variants(f, family.n_unseen_variants, True, held_draw or draw)
    for f in range(family.n_families, n_bases):
        add_variants(f, family.n_variants, True, held_draw or draw)
    return task_set(tasks.coef, np.array(families), np.array(unseen), gram, dim)


def sample_separated(
    family, draw: Draw, held_draw: Draw, gram: np.ndarray, dim: int
) -> TaskSet:
    """The separated families' sampler, for any input dimension: `family.n_tasks` seen tasks from
    `draw()`, then `family.n_unseen` unseen ones from `held_draw()` (the same stream but for a
    private build), each at least `family.min_distance` from every task before it."""
    total = family.n_tasks + family.n_unseen
    accepted = Accepted(gram)
    for i in range(total):
        source = draw if i < family.n_tasks else held_draw
        accepted.add(draw_until(source, accepted, family.min_distance, f"task {i} of {total}", family.max_attempts))
    return task_set(accepted.coef, np.arange(total), np.arange(total) >= family.n_tasks, gram, dim)
