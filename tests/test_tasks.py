from __future__ import annotations

import numpy as np
import pytest
from numpy.polynomial import chebyshev as C

from netembench.zoo.tasks import (
    GRID,
    FineFamily,
    SeparatedFamily,
    TaskSamplingError,
    evaluate,
    normalise,
    rms_distances,
)


def test_normalise_gives_zero_mean_and_unit_range():
    coef = normalise(np.array([0.3, -2.0, 0.5, 4.0, -1.0]))
    values = evaluate(coef[None], np.linspace(-1, 1, 200_001))[0]
    assert abs(values.mean()) < 1e-5
    assert values.max() - values.min() == pytest.approx(1.0, abs=1e-8)


def test_separated_guarantees_and_records_min_distance():
    tasks = SeparatedFamily(n_tasks=12, n_unseen=4, min_distance=0.15).sample(3)
    dist = rms_distances(tasks.coef, tasks.coef)
    np.fill_diagonal(dist, np.inf)
    assert dist.min() >= 0.15 - 1e-9
    assert tasks.min_distance == pytest.approx(dist.min())
    assert tasks.unseen.sum() == 4 and not tasks.unseen[:12].any()
    assert list(tasks.family) == list(range(16))
    assert set(tasks.degree) <= {3, 4}


def test_fine_families_variants_floor_and_labels():
    fam = FineFamily(
        n_families=3, n_variants=5, eps=0.05, floor=0.005, n_unseen_variants=1, n_unseen_families=1
    )
    tasks = fam.sample(0)
    assert len(tasks) == 3 * 5 + 3 * 1 + 1 * 5
    assert tasks.min_distance >= 0.005 - 1e-9
    assert np.bincount(tasks.family[~tasks.unseen]).tolist() == [5, 5, 5]
    assert tasks.family[tasks.unseen].tolist() == [0, 1, 2, 3, 3, 3, 3, 3]
    # variants stay close to their own family: nearest seen task of each seen task is in its family
    seen = tasks.seen_ids()
    dist = rms_distances(tasks.coef[seen], tasks.coef[seen])
    np.fill_diagonal(dist, np.inf)
    assert (tasks.family[seen][dist.argmin(1)] == tasks.family[seen]).all()


def test_sampling_is_deterministic_and_seed_dependent():
    a, b = SeparatedFamily(n_tasks=5).sample(1), SeparatedFamily(n_tasks=5).sample(1)
    np.testing.assert_array_equal(a.coef, b.coef)
    assert not np.allclose(a.coef, SeparatedFamily(n_tasks=5).sample(2).coef)


def test_chebyshev_coefficients_describe_the_same_polynomial():
    tasks = SeparatedFamily(n_tasks=4).sample(0)
    for mono, cheb in zip(tasks.coef, tasks.chebyshev):
        np.testing.assert_allclose(C.chebval(GRID, cheb), evaluate(mono[None], GRID)[0], atol=1e-12)


def test_impossible_constraints_fail_with_a_clear_error():
    with pytest.raises(TaskSamplingError, match="RMS distance >= 5.0.*lower the distance"):
        SeparatedFamily(n_tasks=3, min_distance=5.0, max_attempts=50).sample(0)
