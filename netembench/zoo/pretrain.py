"""Pretraining task families: broad mixtures of tabulated tasks that share no task with the benchmark.

A pretraining zoo (specs `pretrain-1d`, `pretrain-2d`) feeds a self-supervised embedder that is then
used unchanged on every canonical track, so its tasks must be broad (polynomials of other degrees
and coefficient laws, sinusoids, piecewise-linear functions, splines) yet none may be near a
benchmark task. Each draw picks a kind by the weights `mix`, builds its knot values
(`tabulated.py`) with elementwise float64 arithmetic (cosines from `exact.cos_pi`, not libm) and
normalises them; a draw within the avoided radius of a canonical task (`spec.avoided_tasks`: RMS
on the fine grid at most that track's `min_distance`, or `floor` for fine families) is rejected.
Draws are independent, so the accepted tasks are the first accepted ones of one seeded stream.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from netembench.zoo import exact, tabulated
from netembench.zoo.sampler import TaskSamplingError, TaskSet, uniform

KINDS = ("polynomial", "sinusoid", "piecewise-linear", "spline")
STREAM_1D, STREAM_2D = 0x9E7A1D, 0x9E7A2D  # task streams no canonical family uses


@functools.cache
def _cos_table(denominator: int) -> tuple[float, ...]:
    """cos(pi n / denominator) for n = 0 .. 2 denominator - 1, correctly rounded."""
    return tuple(exact.cos_pi(n, denominator) for n in range(2 * denominator))


def _cos(numerators: np.ndarray, denominator: int) -> np.ndarray:
    return np.asarray(_cos_table(denominator))[np.asarray(numerators) % (2 * denominator)]


def _chebyshev(x: np.ndarray, degree: int) -> list[np.ndarray]:
    """T_0 .. T_degree at `x`, by the recurrence T_{k+1} = 2x T_k - T_{k-1}."""
    out = [np.ones_like(x), x]
    for _ in range(degree - 1):
        out.append(2.0 * x * out[-1] - out[-2])
    return out[: degree + 1]


def _bspline_weights(x: np.ndarray, n_controls: int) -> np.ndarray:
    """Uniform cubic B-spline weights `[len(x), n_controls]` of `n_controls` control points at x."""
    u = (x + 1.0) * ((n_controls - 3) / 2.0)
    seg = np.minimum(np.floor(u), n_controls - 4).astype(np.int64)
    t = u - seg
    s = 1.0 - t
    basis = [s * s * s, (3.0 * t - 6.0) * t * t + 4.0, ((-3.0 * t + 3.0) * t + 3.0) * t + 1.0, t * t * t]
    out = np.zeros((len(x), n_controls))
    rows = np.arange(len(x))
    for j, b in enumerate(basis):
        out[rows, seg + j] = b / 6.0
    return out


def _weighted(weights: np.ndarray, controls: np.ndarray) -> np.ndarray:
    """weights @ controls without BLAS: terms summed in a fixed order."""
    total = np.zeros(weights.shape[0])
    for j in range(len(controls)):
        total = total + weights[:, j] * controls[j]
    return total


def _draw_1d(rng: np.random.Generator, f: Pretrain1DFamily, kind: int) -> np.ndarray:
    """One 1-D task of `kind` (index in `KINDS`): its knot values, before normalisation."""
    x = tabulated.KNOTS_1D
    if kind == 0:  # Chebyshev series, uniform coefficients
        degree = int(rng.integers(f.min_degree, f.max_degree + 1))
        return _weighted(np.stack(_chebyshev(x, degree)[1:], 1), uniform(rng, -1.0, 1.0, degree))
    if kind == 1:  # sums of cos(pi (a x / 2 + b / 128)): a half-periods over [-1, 1]
        total = np.zeros_like(x)
        for _ in range(int(rng.integers(1, f.max_terms + 1))):
            a, b = int(rng.integers(1, f.max_frequency + 1)), int(rng.integers(0, 256))
            k = np.arange(-64, 65)
            total = total + uniform(rng, 0.2, 1.0, 1)[0] * _cos(a * k + b, 128)
        return total
    if kind == 2:  # piecewise linear between random breakpoints at multiples of 1/8 (no needle spikes)
        n_breaks = int(rng.integers(1, f.max_breaks + 1))
        breaks = np.concatenate([[0], np.sort(rng.choice(np.arange(8, 128, 8), n_breaks, replace=False)), [128]])
        heights = uniform(rng, -1.0, 1.0, len(breaks))
        k = np.arange(129)
        seg = np.searchsorted(breaks, k, side="right").clip(1, len(breaks) - 1) - 1
        frac = (k - breaks[seg]) / (breaks[seg + 1] - breaks[seg])
        return heights[seg] + frac * (heights[seg + 1] - heights[seg])
    n_controls = int(rng.integers(4, f.max_controls + 1))  # uniform cubic B-spline
    return _weighted(_bspline_weights(x, n_controls), uniform(rng, -1.0, 1.0, n_controls))


def _draw_2d(rng: np.random.Generator, f: Pretrain2DFamily, kind: int) -> np.ndarray:
    """One 2-D task of `kind`: its knot values `[33 * 33]` (index i1 * 33 + i2), before normalisation."""
    x = tabulated.KNOTS_2D
    x1, x2 = np.repeat(x, len(x)), np.tile(x, len(x))
    if kind == 0:  # products T_i(x1) T_j(x2), 1 <= i + j <= degree, uniform coefficients
        degree = int(rng.integers(f.min_degree, f.max_degree + 1))
        t1, t2 = _chebyshev(x1, degree), _chebyshev(x2, degree)
        terms = [t1[i] * t2[j] for d in range(1, degree + 1) for i in range(d + 1) for j in (d - i,)]
        return _weighted(np.stack(terms, 1), uniform(rng, -1.0, 1.0, len(terms)))
    k1, k2 = np.repeat(np.arange(-16, 17), 33), np.tile(np.arange(-16, 17), 33)
    if kind == 1:  # plane waves cos(pi (a x1 + b x2) / 2 + pi c / 32)
        total = np.zeros_like(x1)
        for _ in range(int(rng.integers(1, f.max_terms + 1))):
            a, b = (int(v) for v in rng.integers(-f.max_frequency, f.max_frequency + 1, 2))
            if a == 0 and b == 0:
                a = 1
            c = int(rng.integers(0, 64))
            total = total + uniform(rng, 0.2, 1.0, 1)[0] * _cos(a * k1 + b * k2 + c, 32)
        return total
    if kind == 2:  # sums of ridges max(0, w . x + c): piecewise linear, like ReLU units
        total = np.zeros_like(x1)
        for _ in range(int(rng.integers(1, f.max_ridges + 1))):
            w = uniform(rng, -1.0, 1.0, 3)
            total = total + np.maximum(w[0] * x1 + w[1] * x2 + 0.7 * w[2], 0.0) * (1.0 - 2.0 * (rng.random() < 0.5))
        return total
    n = int(rng.integers(4, f.max_controls + 1))  # tensor-product cubic B-spline
    controls = uniform(rng, -1.0, 1.0, n * n).reshape(n, n)
    w = _bspline_weights(x, n)  # [33, n]
    rows = np.stack([_weighted(w, controls[:, j]) for j in range(n)], 1)  # [33 (x1), n]
    return np.stack([_weighted(w, rows[i]) for i in range(len(x))]).reshape(-1)


def _pick(rng: np.random.Generator, mix: tuple[int, ...]) -> int:
    """A kind index with probability proportional to its integer weight in `mix`."""
    r = int(rng.integers(0, sum(mix)))
    return int(np.searchsorted(np.cumsum(mix), r, side="right"))


def _normalised_draws(rng: np.random.Generator, family, draw, chunk: int) -> list[tuple[int, np.ndarray]]:
    """`chunk` draws (kind, normalised knot values); a constant draw is dropped."""
    out = []
    for _ in range(chunk):
        kind = _pick(rng, family.mix)
        try:
            out.append((kind, tabulated.normalise(draw(rng, family, kind))))
        except TaskSamplingError:
            continue
    return out


def sample_avoiding(family, rng: np.random.Generator, draw, avoid, dim: int, chunk: int = 256) -> TaskSet:
    """The first `n_tasks + n_unseen` draws at least the avoided radius from every avoided task and
    at least `family.min_distance` (RMS over the knots) from every task accepted before.

    `avoid` is `(coef [C, K], radius [C])` of polynomial tasks, or None. Draws are checked against
    `avoid` in chunks; the result does not depend on the chunk (each draw passes or not on its own)."""
    total, attempts = family.n_tasks + family.n_unseen, 0
    accepted, kinds = np.empty((total, tabulated.WIDTH_1D if dim == 1 else tabulated.WIDTH_2D)), []
    closest = np.inf
    while len(kinds) < total:
        if attempts >= family.max_attempts:
            raise TaskSamplingError(f"only {len(kinds)} of {total} pretraining tasks after {attempts} draws")
        batch = _normalised_draws(rng, family, draw, chunk)
        attempts += chunk
        values = np.stack([v for _, v in batch])
        ok = np.ones(len(batch), dtype=bool)
        if avoid is not None and len(avoid[0]):
            ok = (tabulated.distances_to_polynomials(values, avoid[0], dim) >= avoid[1][None, :]).all(1)
        for (kind, v), good in zip(batch, ok):
            if not good or len(kinds) == total:
                continue
            diff = accepted[: len(kinds)] - v
            near = float(np.sqrt(tabulated.fixed_sum(diff * diff).min() / len(v))) if kinds else np.inf
            if near >= family.min_distance:
                accepted[len(kinds)] = v
                kinds.append(kind)
                closest = min(closest, near)
    return TaskSet(
        coef=accepted,
        family=np.asarray(kinds, dtype=np.int64),
        unseen=np.arange(total) >= family.n_tasks,
        min_distance=closest,
        dim=dim,
        tabulated=True,
    )


@dataclass(frozen=True)
class Pretrain1DFamily:
    """A mixture (weights `mix` over `KINDS`) of 1-D tasks tabulated on 129 knots. Task family id =
    kind index. Polynomials: Chebyshev series of degree `min_degree .. max_degree`, uniform
    coefficients; sinusoids: 1 .. `max_terms` cosines of 1 .. `max_frequency` half-periods over
    [-1, 1]; piecewise-linear: 1 .. `max_breaks` random breakpoints at multiples of 1/8; splines: cubic B-splines of 4 ..
    `max_controls` control points."""

    kind: ClassVar[str] = "pretrain1d"
    dim: ClassVar[int] = 1
    tabulated: ClassVar[bool] = True
    n_tasks: int
    n_unseen: int = 0
    min_distance: float = 0.02
    mix: tuple[int, ...] = (1, 1, 1, 1)
    min_degree: int = 2
    max_degree: int = 6
    max_terms: int = 3
    max_frequency: int = 6
    max_breaks: int = 6
    max_controls: int = 8
    max_attempts: int = 1_000_000

    def sample(self, seed: int, private: tuple[int, ...] = (), avoid=None) -> TaskSet:
        """The tasks of `seed`, none within `avoid`'s radii; pretraining zoos have no private build."""
        if private:
            raise TaskSamplingError("pretraining zoos have no private build")
        return sample_avoiding(self, np.random.default_rng([seed, STREAM_1D]), _draw_1d, avoid, 1)


@dataclass(frozen=True)
class Pretrain2DFamily:
    """A mixture of 2-D tasks tabulated on 33 x 33 knots: Chebyshev products of total degree
    `min_degree .. max_degree`; 1 .. `max_terms` plane waves of up to `max_frequency` half-periods
    per axis; sums of 1 .. `max_ridges` ReLU ridges; tensor cubic B-splines (4 .. `max_controls`)."""

    kind: ClassVar[str] = "pretrain2d"
    dim: ClassVar[int] = 2
    tabulated: ClassVar[bool] = True
    n_tasks: int
    n_unseen: int = 0
    min_distance: float = 0.02
    mix: tuple[int, ...] = (1, 1, 1, 1)
    min_degree: int = 2
    max_degree: int = 5
    max_terms: int = 2
    max_frequency: int = 3
    max_ridges: int = 4
    max_controls: int = 6
    max_attempts: int = 1_000_000

    def sample(self, seed: int, private: tuple[int, ...] = (), avoid=None) -> TaskSet:
        """The tasks of `seed`, none within `avoid`'s radii; pretraining zoos have no private build."""
        if private:
            raise TaskSamplingError("pretraining zoos have no private build")
        return sample_avoiding(self, np.random.default_rng([seed, STREAM_2D]), _draw_2d, avoid, 2)


def pretrain_ranges(f: Pretrain1DFamily | Pretrain2DFamily) -> list[tuple[str, Any, str, bool]]:
    """(field, value, allowed range, within it?) of a pretraining mixture's fields, for `spec`."""
    counts = {k: getattr(f, k) for k in ("max_terms", "max_frequency", "max_breaks", "max_ridges") if hasattr(f, k)}
    return [
        ("[tasks].n_tasks", f.n_tasks, "an integer >= 1", f.n_tasks >= 1),
        ("[tasks].n_unseen", f.n_unseen, "an integer >= 0", f.n_unseen >= 0),
        ("[tasks].min_distance", f.min_distance, "finite, 0 <= min_distance < 1", 0 <= f.min_distance < 1),
        ("[tasks].mix", list(f.mix), "4 weights >= 0, one > 0", len(f.mix) == 4 and min(f.mix) >= 0 and sum(f.mix) > 0),
        ("[tasks].min_degree", f.min_degree, "an integer from 2 to 12", 2 <= f.min_degree <= 12),
        ("[tasks].max_degree", f.max_degree, "an integer from min_degree to 12", f.min_degree <= f.max_degree <= 12),
        ("[tasks].max_controls", f.max_controls, "an integer from 4 to 16", 4 <= f.max_controls <= 16),
    ] + [(f"[tasks].{k}", v, "an integer from 1 to 16", 1 <= v <= 16) for k, v in counts.items()]
