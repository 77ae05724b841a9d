from __future__ import annotations

import pytest
import torch

from netembench.zoo import rng
from netembench.zoo.population import (
    Arch,
    Population,
    TrainConfig,
    fit_rel_mse,
    train_one_reference,
    train_population,
)
from netembench.zoo.tasks import SeparatedFamily


def test_arch_parse_and_shapes():
    arch = Arch.parse("1-32-32-1")
    assert (arch.width, arch.depth, arch.name) == (32, 2, "1-32-32-1")
    assert arch.shapes()["layers.1.weight"] == (32, 32)
    assert arch.n_params == 32 + 32 + 32 * 32 + 32 + 32 + 1
    wide = Arch.parse("2-64-64-1")
    assert (wide.inputs, wide.name, wide.shapes()["layers.0.weight"]) == (2, "2-64-64-1", (64, 2))
    for bad in ("1-32-16-1", "1-32-2", "65-32-1", "0-32-1", "1-1", "one-32-1"):
        with pytest.raises(ValueError, match="is not of the form"):
            Arch.parse(bad)


def test_uniform_streams_are_deterministic_and_composition_free():
    keys = rng.model_keys(11, torch.arange(50))
    assert len(set(keys.tolist())) == 50
    full = rng.uniform_grid(keys, 3, (100,))
    assert ((full >= 0) & (full < 1)).all()
    assert abs(full.mean().item() - 0.5) < 0.01
    torch.testing.assert_close(rng.uniform_grid(keys[[7, 3]], 3, (100,)), full[[7, 3]], rtol=0, atol=0)
    assert not torch.equal(rng.uniform_grid(keys, 4, (100,)), full)


def test_vectorised_training_equals_per_model_reference():
    """At float32 precision the hand-written batched trainer is plain torch training; at the
    default bfloat16-like matmul precision it stays within 3e-3 of it over 25 steps at lr 1e-2."""
    arch, cfg = Arch.parse("1-8-8-1"), TrainConfig(steps=25, batch_size=16)
    keys = rng.model_keys(5, torch.arange(3))
    coef = torch.as_tensor(SeparatedFamily(n_tasks=3).sample(0).coef)
    full = train_population(arch, coef, keys, cfg, matmul_bits=24)
    default = train_population(arch, coef, keys, cfg)
    for m in range(3):
        ref = train_one_reference(arch, coef[m], keys[m], cfg)
        for a, b, c in zip(
            full.weights + full.biases, default.weights + default.biases, ref.weights + ref.biases
        ):
            torch.testing.assert_close(a[m], c[0], rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(b[m], c[0], rtol=0, atol=3e-3)
            assert not torch.equal(b[m], c[0])  # the precision really is lower


def test_a_model_does_not_depend_on_its_population():
    arch, cfg = Arch.parse("1-8-1"), TrainConfig(steps=20, batch_size=8)
    keys = rng.model_keys(1, torch.arange(6))
    coef = torch.as_tensor(SeparatedFamily(n_tasks=6).sample(0).coef)
    full = train_population(arch, coef, keys, cfg)
    part = train_population(arch, coef[[4, 1]], keys[[4, 1]], cfg)
    for a, b in zip(full.weights + full.biases, part.weights + part.biases):
        assert torch.equal(a[[4, 1]], b)  # bit for bit: exact arithmetic has no batch effects


def test_training_fits_the_tasks():
    tasks = SeparatedFamily(n_tasks=4).sample(0)
    coef = torch.as_tensor(tasks.coef)
    pop = train_population(
        Arch.parse("1-16-16-1"), coef, rng.model_keys(2, torch.arange(4)), TrainConfig(steps=600)
    )
    assert fit_rel_mse(pop, coef).max() < 2e-2


def test_state_dict_round_trip_and_shape_errors():
    pop = train_population(
        Arch.parse("1-4-1"), torch.zeros(2, 5), rng.model_keys(0, torch.arange(2)), TrainConfig(steps=1)
    )
    again = Population.from_state_dict(pop.arch, pop.state_dict())
    x = torch.rand(2, 9)
    torch.testing.assert_close(again.forward(x), pop.forward(x))
    bad = pop.state_dict()
    bad["layers.0.weight"] = torch.zeros(2, 5, 1)
    with pytest.raises(ValueError, match=r"layers.0.weight has shape \(2, 5, 1\); expected \[M, 4, 1\]"):
        Population.from_state_dict(pop.arch, bad)
