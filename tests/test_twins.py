from __future__ import annotations

import numpy as np
import pytest
import torch

from netembench.eval.embedders import load_submission
from netembench.eval.harness import evaluate
from netembench.eval.metrics import twin_scores
from netembench.eval.twins import MAX_SCALE, functional_twin, twin_transforms
from netembench.zoo.rng import model_keys


@pytest.mark.parametrize("zoo", ["tiny_zoo", "tiny_2d_zoo"])
def test_twins_compute_the_same_function_with_other_weights(zoo, request):
    zoo = request.getfixturevalue(zoo)
    for split in zoo.splits:
        for group in zoo.groups(split):
            pop = zoo.population(group)
            keys = model_keys(9, torch.as_tensor(group.table["model_id"]))
            twin = functional_twin(pop, keys)
            x = torch.rand(len(pop), 100, pop.arch.inputs) * 2 - 1
            x = x[..., 0] if pop.arch.inputs == 1 else x
            torch.testing.assert_close(twin.forward(x), pop.forward(x), atol=2e-5, rtol=1e-5)
            assert not torch.allclose(twin.weights[0], pop.weights[0])
            assert torch.equal(functional_twin(pop, keys).weights[0], twin.weights[0])  # reproducible


def test_twin_transforms_are_permutations_with_bounded_positive_factors():
    order, factor = twin_transforms(model_keys(1, torch.arange(50)), 16, 0)
    assert torch.equal(order.sort(1).values, torch.arange(16).expand(50, -1))
    assert factor.min() >= 1 / MAX_SCALE and factor.max() <= MAX_SCALE
    assert (factor < 1).float().mean().item() == pytest.approx(0.5, abs=0.1)


def test_twin_scores_on_known_embeddings():
    rng = np.random.default_rng(0)
    test = rng.normal(size=(20, 8))
    labels = np.repeat(np.arange(10), 2)
    recall, ratio = twin_scores(test, test + 1e-6, labels, test, labels)
    assert recall.all() and ratio < 1e-4
    recall, ratio = twin_scores(test, rng.normal(size=(20, 8)), labels, test, labels)
    assert recall.mean() < 0.3 and 0.5 < ratio < 2.0
    recall, _ = twin_scores(np.ones((4, 3)), np.ones((4, 3)), np.arange(4), np.ones((4, 3)), np.arange(4))
    assert not recall.any()  # ties are not a match: a constant embedder scores 0


def test_functional_embedders_respect_twins_and_raw_weights_do_not(tiny_zoo, tiny_2d_zoo):
    bins = evaluate(load_submission("baselines/grad_bins"), tiny_zoo, quiet=True)["metrics"]
    assert bins["twin_recall_at_1"]["mean"] == 1.0 and bins["twin_distance_ratio"]["mean"] < 1e-3
    raw = evaluate(load_submission("baselines/raw_weights"), tiny_2d_zoo, quiet=True)["metrics"]
    assert raw["twin_recall_at_1"]["mean"] <= 0.5 and raw["twin_distance_ratio"]["mean"] > 0.5
