from __future__ import annotations

import numpy as np
import pytest

from netembench.zoo import tasks2d as T
from netembench.zoo.spec import parse_spec, resolve_spec


def test_tasks_are_normalised_and_deterministic():
    a = T.Separated2DFamily(n_tasks=6, n_unseen=2, min_distance=0.15).sample(4)
    b = T.Separated2DFamily(n_tasks=6, n_unseen=2, min_distance=0.15).sample(4)
    np.testing.assert_array_equal(a.coef, b.coef)
    v = T.values(a.coef)
    np.testing.assert_allclose(v.max(1) - v.min(1), 1.0, atol=1e-12)
    # zero mean over the square: the exact moments, checked on a fine midpoint rule
    mid = (np.arange(400) + 0.5) / 200 - 1
    pts = np.stack(np.meshgrid(mid, mid, indexing="ij"), -1).reshape(-1, 2)
    assert np.abs(T.values(a.coef, pts).mean(1)).max() < 1e-4
    assert a.dim == 2 and a.unseen.sum() == 2 and (a.degree <= 3).all()


def test_distances_are_the_grid_rms_and_meet_the_guarantee():
    tasks = T.Separated2DFamily(n_tasks=8, min_distance=0.2).sample(0)
    v = T.values(tasks.coef)
    brute = np.sqrt(((v[:, None] - v[None]) ** 2).mean(-1))
    np.testing.assert_allclose(T.rms_distances(tasks.coef, tasks.coef), brute, atol=1e-9)
    off = brute[~np.eye(len(brute), dtype=bool)]
    assert off.min() >= 0.2 and tasks.min_distance == pytest.approx(off.min(), abs=1e-9)
    fine = T.Fine2DFamily(n_families=3, n_variants=4, eps=0.1, floor=0.01).sample(0)
    assert fine.min_distance >= 0.01 and list(np.bincount(fine.family)) == [4, 4, 4]


def test_naive_sampling_makes_tasks_look_alike():
    """Independent monomial coefficients: a tilted plane dominates most tasks (the reason for the
    orthonormal sampler, docs/tasks2d.png)."""
    rng = np.random.default_rng(0)
    naive = np.stack([T.naive_polynomial(rng) for _ in range(200)])
    ortho = np.stack([T.orthonormal_polynomial(rng) for _ in range(200)])
    assert np.median(T.plane_share(naive)) > 0.6
    assert np.median(T.plane_share(ortho)) < 0.3


def test_chebyshev_coefficients_describe_the_same_polynomial():
    from numpy.polynomial import chebyshev as C

    tasks = T.Separated2DFamily(n_tasks=3).sample(1)
    cheb = tasks.chebyshev
    pts = T.GRID2D[::613]
    basis = np.stack(
        [C.chebval(pts[:, 0], np.eye(4)[i]) * C.chebval(pts[:, 1], np.eye(4)[j]) for i, j in T.EXPONENTS], 1
    )
    np.testing.assert_allclose(cheb @ basis.T, T.values(tasks.coef, pts), atol=1e-12)


def test_2d_specs_check_architecture_inputs():
    spec = resolve_spec("poly2d-seed")
    assert spec.tasks.dim == 2 and spec.archs == ["2-64-64-1"]
    bad = spec.to_toml().replace('arch = "2-64-64-1"', 'arch = "1-64-64-1"', 1)
    with pytest.raises(ValueError, match="has 1 inputs but the tasks have 2"):
        parse_spec(bad, "bad.toml")
