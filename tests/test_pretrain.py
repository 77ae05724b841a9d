"""Pretraining zoos: tabulated tasks, the pretraining families, and their disjointness from every
canonical track's tasks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from netembench.zoo import rng, rounding, tabulated, tasks, tasks2d
from netembench.zoo.build import build_zoo, spec_salt
from netembench.zoo.population import Arch, TrainConfig, fit_rel_mse, polyval, train_population
from netembench.zoo.pretrain import KINDS, STREAM_1D, STREAM_2D, Pretrain1DFamily, Pretrain2DFamily
from netembench.zoo.spec import AVOIDED_SPECS, CANONICAL_TRACKS, PRETRAINING_ZOOS, canonical_specs, parse_spec, resolve_spec
from netembench.zoo.store import Zoo

FINE = {1: tasks.GRID, 2: tasks2d.GRID2D}


def _random_values(dim: int, n: int, seed: int = 0) -> np.ndarray:
    width = tabulated.WIDTH_1D if dim == 1 else tabulated.WIDTH_2D
    return np.random.default_rng(seed).uniform(-1, 1, (n, width))


@pytest.mark.parametrize("dim", [1, 2])
def test_interpolation_is_the_same_in_torch_and_numpy_and_passes_through_the_knots(dim):
    values = _random_values(dim, 3)
    points = FINE[dim]
    x = torch.as_tensor(points).expand(3, *points.shape)
    got = tabulated.interpolate(torch.as_tensor(values), x).numpy()
    np.testing.assert_array_equal(got, tabulated.values_at(values, points))
    knots = tabulated.KNOTS_1D if dim == 1 else np.stack(np.meshgrid(tabulated.KNOTS_2D, tabulated.KNOTS_2D, indexing="ij"), -1).reshape(-1, 2)
    np.testing.assert_array_equal(tabulated.values_at(values, knots), values)
    assert tabulated.is_tabulated(values.shape[1], dim) and not tabulated.is_tabulated(tasks.N_COEF, 1)


@pytest.mark.parametrize("dim", [1, 2])
def test_normalise_gives_the_interpolant_zero_mean_and_unit_range(dim):
    v = tabulated.normalise(_random_values(dim, 1)[0] * 3.0 + 1.0)
    dense = np.linspace(-1, 1, 4097) if dim == 1 else np.stack(np.meshgrid(*[np.linspace(-1, 1, 513)] * 2, indexing="ij"), -1).reshape(-1, 2)
    on_dense = tabulated.values_at(v[None], dense)[0]
    assert abs(on_dense.mean()) < 1e-3 and on_dense.max() - on_dense.min() == pytest.approx(1.0, abs=1e-12)
    assert tabulated.fixed_sum(np.arange(1000.0)) == sum(range(1000))


@pytest.mark.parametrize("dim", [1, 2])
def test_distances_to_polynomials_agree_with_values_on_the_grid(dim):
    values = np.stack([tabulated.normalise(v) for v in _random_values(dim, 20)])
    coef = (tasks.SeparatedFamily(n_tasks=7) if dim == 1 else tasks2d.Separated2DFamily(n_tasks=7)).sample(1).coef
    poly = tasks.evaluate(coef, FINE[dim]) if dim == 1 else tasks2d.values(coef)
    fine = tabulated.values_at(values, FINE[dim])
    want = np.sqrt(((fine[:, None, :] - poly[None]) ** 2).mean(-1))
    np.testing.assert_allclose(tabulated.distances_to_polynomials(values, coef, dim), want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("family", [Pretrain1DFamily(n_tasks=120, n_unseen=8), Pretrain2DFamily(n_tasks=60)])
def test_families_are_deterministic_separated_mixed_and_avoid_what_they_are_told(family):
    a, b = family.sample(5), family.sample(5)
    np.testing.assert_array_equal(a.coef, b.coef)
    assert a.tabulated and (a.degree == -1).all() and a.chebyshev.shape == (len(a), 0)
    assert set(a.family) == set(range(len(KINDS))) and int(a.unseen.sum()) == family.n_unseen
    diff = a.coef[:, None, :] - a.coef[None]
    dist = np.sqrt((diff**2).mean(-1)) + np.diag(np.full(len(a), np.inf))
    assert dist.min() >= family.min_distance and dist.min() == pytest.approx(a.min_distance)
    fine = tabulated.values_at(a.coef, FINE[family.dim])
    assert np.allclose(fine.max(1) - fine.min(1), 1.0)
    # avoiding the first tasks of the stream with a large radius removes them and their neighbours
    avoid_coef = (tasks.SeparatedFamily(n_tasks=5) if family.dim == 1 else tasks2d.Separated2DFamily(n_tasks=5)).sample(2).coef
    radius = np.full(len(avoid_coef), 0.3)
    c = family.sample(5, avoid=(avoid_coef, radius))
    assert (tabulated.distances_to_polynomials(c.coef, avoid_coef, family.dim) >= 0.3).all()
    assert not np.array_equal(c.coef, a.coef)


def test_tabulated_targets_train_with_audited_operations_only():
    for arch, width in (("1-8-8-1", tabulated.WIDTH_1D), ("2-8-8-1", tabulated.WIDTH_2D)):
        keys = torch.arange(3, dtype=torch.int64) * 7919
        coef = torch.as_tensor(_random_values(Arch.parse(arch).inputs, 3))
        assert coef.shape[1] == width
        with rounding.OpAudit() as audit:
            pop = train_population(Arch.parse(arch), coef, keys, TrainConfig(steps=3, batch_size=8))
            fit_rel_mse(pop, coef)
        assert audit.problems == set()


def test_polyval_dispatches_on_the_task_width():
    coef = torch.as_tensor(_random_values(1, 2), dtype=torch.float32)
    x = torch.as_tensor(tabulated.KNOTS_1D, dtype=torch.float32).expand(2, -1)
    torch.testing.assert_close(polyval(coef, x), coef)


@pytest.fixture(scope="module")
def pretraining_tasks():
    return {name: resolve_spec(name).sample_tasks() for name in PRETRAINING_ZOOS}


def test_no_canonical_task_is_within_its_tracks_min_distance_of_a_pretraining_task(pretraining_tasks):
    """Every canonical spec (every version), seen and unseen tasks of the public build, against
    every pretraining task: RMS on the fine grid, computed here directly from values on the grid."""
    checked = 0
    assert set(AVOIDED_SPECS) == {r for r, s in canonical_specs().items() if s.name not in PRETRAINING_ZOOS}
    for ref, spec in canonical_specs().items():
        if spec.name in PRETRAINING_ZOOS:
            continue
        family = spec.tasks
        radius = getattr(family, "min_distance", None)
        radius = family.floor if radius is None else radius
        dim = getattr(family, "dim", 1)
        canon = spec.sample_tasks().coef
        poly = tasks.evaluate(canon, FINE[1]) if dim == 1 else tasks2d.values(canon)
        for name in PRETRAINING_ZOOS:
            pre = pretraining_tasks[name]
            if pre.dim != dim:
                continue
            fine = tabulated.values_at(pre.coef, FINE[dim])
            sq = (fine**2).mean(1)[:, None] + (poly**2).mean(1)[None, :] - 2.0 * (fine @ poly.T) / fine.shape[1]
            closest = float(np.sqrt(np.maximum(sq, 0.0)).min())
            assert closest >= radius - 1e-9, f"{name} has a task {closest:.4g} from a task of {ref} (radius {radius})"
            checked += 1
    assert checked == len([s for s in canonical_specs().values() if s.name not in PRETRAINING_ZOOS])


def test_pretraining_zoos_are_shipped_but_are_not_tracks_and_use_their_own_seeds(pretraining_tasks):
    specs = canonical_specs()
    pretraining = [s for s in specs.values() if s.name in PRETRAINING_ZOOS]
    assert {s.name for s in pretraining} == set(PRETRAINING_ZOOS) and not set(PRETRAINING_ZOOS) & set(CANONICAL_TRACKS)
    canonical = [s for s in specs.values() if s.name not in PRETRAINING_ZOOS]
    for spec in pretraining:
        assert spec.tasks.tabulated and spec.reference_fingerprint
        # model keys are salted by the spec seed and task streams by their own tags
        assert spec.seed not in {c.seed for c in canonical}
        assert spec_salt(spec) not in {spec_salt(c) for c in canonical}
        assert parse_spec(spec.to_toml()) == spec
    assert {STREAM_1D, STREAM_2D}.isdisjoint({0x7A5C, 0xF1E, 0x2D5E, 0xF2D})
    for name, tasks_ in pretraining_tasks.items():
        assert len(tasks_) == resolve_spec(name).tasks.n_tasks


def test_a_small_pretraining_zoo_builds_and_loads(tmp_path):
    text = """name = "pretrain-tiny"
version = "0.0.1"
seed = 77
fit_bar = 100.0

[tasks]
family = "pretrain1d"
n_tasks = 6

[training]
steps = 20
batch_size = 16

[[splits]]
name = "train"
arch = "1-8-8-1"
first_seed = 0
n_seeds = 2

[[splits]]
name = "validation"
arch = "1-8-8-1"
first_seed = 2
n_seeds = 1

[[splits]]
name = "test"
arch = "1-8-1"
first_seed = 3
n_seeds = 1
"""
    spec = parse_spec(text)
    zoo = build_zoo(spec, tmp_path / "zoo", quiet=True)
    loaded = Zoo(tmp_path / "zoo")
    assert loaded.tasks.tabulated and loaded.tasks.coef.shape == (6, tabulated.WIDTH_1D)
    np.testing.assert_array_equal(loaded.tasks.coef, spec.sample_tasks().coef)
    assert zoo.fingerprint == loaded.fingerprint
    assert rng.key_from_text("netembench-zoo-seed:77") == spec_salt(spec)
