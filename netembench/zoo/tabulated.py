"""Tabulated tasks: any function, stored by its values on a fixed dyadic knot lattice.

The pretraining families (`pretrain.py`) hold sinusoids, splines and piecewise-linear functions
that have no monomial coefficients. A tabulated task is the piecewise-linear (1-D, knots k/64, 129
values) or bilinear (2-D, knots (k/16, l/16), 33 x 33 values) interpolant of its values; its
"coefficients" are those values. The interpolant is the task: its range is exactly the range of
the knot values and its mean is exactly the trapezoid rule, so normalisation (zero mean, unit
range, as for the polynomial tasks) is exact up to one rounding per operation. The knots are
coarser than the grids fits are measured on (`tasks.GRID`, `tasks2d.GRID2D`) to keep the task
table small (129 / 1,089 values per task rather than 1,025 / 16,641).

Interpolation uses floor, gathers and IEEE `+ - *` of tensors in a fixed order (`netembench.
zoo.rounding` audits them): targets are the same bits on every machine. Distances to polynomial
tasks are RMS on their grids, from the task's moments on that grid (sums in a fixed order).
"""

from __future__ import annotations

import numpy as np
import torch

from netembench.zoo import tasks, tasks2d
from netembench.zoo.sampler import TaskSamplingError, sq_distances

STEPS_1D = 128  # knots k / 64, k = -64 .. 64
STEPS_2D = 32  # knots (k / 16, l / 16) in each axis
KNOTS_1D = np.arange(-64, 65, dtype=np.float64) / 64.0
KNOTS_2D = np.arange(-16, 17, dtype=np.float64) / 16.0
WIDTH_1D = STEPS_1D + 1  # 129 values per 1-D task
WIDTH_2D = (STEPS_2D + 1) ** 2  # 1,089 values per 2-D task, index i1 * 33 + i2


def is_tabulated(coef_width: int, inputs: int) -> bool:
    """Do tasks of `coef_width` numbers on `inputs` inputs hold knot values (not monomials)?"""
    return coef_width == (WIDTH_1D if inputs == 1 else WIDTH_2D)


def _cells(x, steps: int, floor, clamp):
    """Cell index and position in the cell of points `x` in [-1, 1] on `steps` equal cells."""
    t = (x + 1.0) * (steps / 2.0)  # a power of two: exact
    i = clamp(floor(t), steps - 1)
    return i, t - i


def interpolate(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Each model's tabulated task `values [M, W]` at its inputs `x [M, N]` (1-D) or `[M, N, 2]`."""
    floor, clamp = torch.floor, lambda t, hi: t.clamp(min=0.0, max=float(hi))
    if x.dim() == 2:
        i, f = _cells(x, STEPS_1D, floor, clamp)
        idx = i.long()
        lo, hi = values.gather(1, idx), values.gather(1, idx + 1)
        return lo + f * (hi - lo)
    i, f = _cells(x, STEPS_2D, floor, clamp)
    idx = i.long()
    n = STEPS_2D + 1
    base = idx[..., 0] * n + idx[..., 1]
    v00, v01 = values.gather(1, base), values.gather(1, base + 1)
    v10, v11 = values.gather(1, base + n), values.gather(1, base + (n + 1))
    f1, f2 = f[..., 0], f[..., 1]
    a = v00 + f1 * (v10 - v00)
    b = v01 + f1 * (v11 - v01)
    return a + f2 * (b - a)


def values_at(values: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Tasks `values [T, W]` (float64) at `points [P]` (1-D) or `[P, 2]`: `[T, P]`, the same
    operations as `interpolate`."""
    floor, clamp = np.floor, lambda t, hi: np.clip(t, 0.0, float(hi))
    values = np.asarray(values, dtype=np.float64)
    if points.ndim == 1:
        i, f = _cells(points, STEPS_1D, floor, clamp)
        idx = i.astype(np.int64)
        lo, hi = values[:, idx], values[:, idx + 1]
        return lo + f * (hi - lo)
    i, f = _cells(points, STEPS_2D, floor, clamp)
    idx = i.astype(np.int64)
    n = STEPS_2D + 1
    base = idx[:, 0] * n + idx[:, 1]
    v00, v01, v10, v11 = (values[:, base + o] for o in (0, 1, n, n + 1))
    a = v00 + f[:, 0] * (v10 - v00)
    b = v01 + f[:, 0] * (v11 - v01)
    return a + f[:, 1] * (b - a)


def fixed_sum(a: np.ndarray) -> np.ndarray:
    """Sum over the last axis in a fixed order (zero-padded halving), the same bits everywhere."""
    a = np.asarray(a, dtype=np.float64)
    size = 1 << max(0, int(a.shape[-1] - 1).bit_length())
    a = np.concatenate([a, np.zeros(a.shape[:-1] + (size - a.shape[-1],))], -1)
    while a.shape[-1] > 1:
        half = a.shape[-1] // 2
        a = a[..., :half] + a[..., half:]
    return a[..., 0]


def _trapezoid(n: int) -> np.ndarray:
    w = np.ones(n)
    w[0] = w[-1] = 0.5
    return w


def normalise(values: np.ndarray) -> np.ndarray:
    """Shift and scale knot values `[W]` to zero mean and unit range of their interpolant."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == WIDTH_1D:
        mean = fixed_sum(values * _trapezoid(WIDTH_1D)) / STEPS_1D
    else:
        w = _trapezoid(STEPS_2D + 1)
        grid = values.reshape(STEPS_2D + 1, STEPS_2D + 1) * w[:, None] * w[None, :]
        mean = fixed_sum(grid.reshape(-1)) / (STEPS_2D * STEPS_2D)
    span = values.max() - values.min()
    if span <= 1e-9:
        raise TaskSamplingError("cannot normalise a constant task")
    return (values - mean) / span


def _fine_grid(dim: int) -> np.ndarray:
    return tasks.GRID if dim == 1 else tasks2d.GRID2D


def _monomials(dim: int) -> np.ndarray:
    """The polynomial tasks' monomials on their fine grid: `[K, P]`."""
    if dim == 1:
        return tasks.evaluate(np.eye(tasks.N_COEF), tasks.GRID)
    return tasks2d.values(np.eye(tasks2d.N_COEF))


def _moments(values: np.ndarray, dim: int, chunk: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Mean square `[T]` and mean products with each monomial `[T, K]` of tasks on the fine grid."""
    monomials, norms, moments = _monomials(dim), [], []
    for start in range(0, len(values), chunk):
        fine = values_at(values[start : start + chunk], _fine_grid(dim))  # [t, P]
        n = fine.shape[1]
        norms.append(fixed_sum(fine * fine) / n)
        moments.append(np.stack([fixed_sum(fine * m) / n for m in monomials], 1))
    return np.concatenate(norms), np.concatenate(moments)


def distances_to_polynomials(values: np.ndarray, coef: np.ndarray, dim: int) -> np.ndarray:
    """RMS distance `[T, C]` on the fine grid between tabulated tasks `values [T, W]` and polynomial
    tasks `coef [C, K]`: |v|^2 - 2 c.m(v) + c'Gc, with m(v) v's moments against the monomials."""
    norm, moments = _moments(np.asarray(values, dtype=np.float64), dim)
    gram = tasks.GRAM if dim == 1 else tasks2d.GRAM
    coef = np.asarray(coef, dtype=np.float64)
    cross = np.zeros((len(values), len(coef)))
    for k in range(coef.shape[1]):
        cross = cross + moments[:, k, None] * coef[None, :, k]
    own = sq_distances(coef, gram)  # c'Gc
    return np.sqrt(np.maximum(norm[:, None] - 2.0 * cross + own[None, :], 0.0))
