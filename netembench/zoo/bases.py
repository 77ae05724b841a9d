"""The monomial bases that tasks are stored in, and their Chebyshev forms (for metrics' targets).

1-D tasks are `[T, 5]` coefficients of 1, x, …, x^4; 2-D tasks are `[T, 10]` coefficients of
x1^a x2^b in `EXPONENTS_2D` order (total degree <= 3). The task families and `TaskSet` share this.
"""

from __future__ import annotations

import numpy as np
from numpy.polynomial import chebyshev as C

MAX_DEGREE_2D = 3
EXPONENTS_2D = tuple((d - j, j) for d in range(MAX_DEGREE_2D + 1) for j in range(d + 1))  # (x1, x2) powers


def total_degrees(coef: np.ndarray, dim: int) -> np.ndarray:
    """Total degree of each task `[T, K]` in the basis of input dimension `dim`."""
    nonzero = np.abs(coef) > 1e-12
    last = coef.shape[1] - 1 - np.argmax(nonzero[:, ::-1], axis=1)
    if dim == 1:
        return last.astype(np.int64)
    return np.array([sum(EXPONENTS_2D[k]) for k in last], dtype=np.int64)


def chebyshev_1d(coef: np.ndarray) -> np.ndarray:
    """Coefficients `[T, K]` of 1-D tasks in the Chebyshev basis T_0 … T_{K-1}."""
    width = coef.shape[1]
    return np.stack([np.pad(C.poly2cheb(c), (0, width - len(C.poly2cheb(c)))) for c in coef])


def chebyshev_2d(coef: np.ndarray) -> np.ndarray:
    """Coefficients `[T, 10]` in the product Chebyshev basis T_i(x1) T_j(x2), slot (i, j) at
    `EXPONENTS_2D.index((i, j))`: x1^a x2^b expands into T_i T_j with i <= a, j <= b."""
    out = np.zeros_like(np.asarray(coef, dtype=np.float64))
    for k, (a, b) in enumerate(EXPONENTS_2D):
        ca, cb = C.poly2cheb(np.eye(a + 1)[a]), C.poly2cheb(np.eye(b + 1)[b])
        for i in range(a + 1):
            for j in range(b + 1):
                out[:, EXPONENTS_2D.index((i, j))] += coef[:, k] * (ca[i] * cb[j])
    return out
