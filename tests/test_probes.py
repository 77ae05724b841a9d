from __future__ import annotations

import pytest
import torch

from netembench.eval.features import (
    bin_means,
    fill_hidden,
    integrate,
    integrated_profile,
    mean_fill,
    region_mean,
)
from netembench.eval.probes import (
    PROTOCOL_V1,
    cloze_mask,
    draw_probes,
    evaluation_keys,
    forward_with_gradients,
)
from netembench.zoo.rng import model_keys


def _autograd(pop, x):
    """Outputs and input-gradients by autograd, for `x [M, N]` or `[M, N, d]`."""
    x = x.clone().requires_grad_()
    h = x[..., None] if x.dim() == 2 else x
    for i, (w, b) in enumerate(zip(pop.weights, pop.biases)):
        h = torch.baddbmm(b[:, None, :], h, w.transpose(1, 2))
        if i < len(pop.weights) - 1:
            h = torch.relu(h)
    (grad,) = torch.autograd.grad(h[..., 0].sum(), x)
    return h[..., 0].detach(), grad


def _patterns(pop, x):
    h, masks = (x[..., None] if x.dim() == 2 else x), []
    for w, b in zip(pop.weights[:-1], pop.biases[:-1]):
        h = torch.baddbmm(b[:, None, :], h, w.transpose(1, 2))
        masks.append(h > 0)
        h = torch.relu(h)
    return torch.cat(masks, -1)


def _groups(zoo):
    return [g for s in zoo.splits for g in zoo.groups(s)]


def test_closed_form_gradients_equal_autograd(tiny_zoo):
    for group in _groups(tiny_zoo):
        pop = tiny_zoo.population(group)
        x = torch.sort(torch.rand(len(pop), 200) * 2 - 1, 1).values
        y, grad, _ = forward_with_gradients(pop, x)
        y_ref, grad_ref = _autograd(pop, x)
        torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(grad, grad_ref, rtol=1e-5, atol=1e-6)


def test_regions_are_the_unique_activation_patterns(tiny_zoo):
    for group in _groups(tiny_zoo):
        pop = tiny_zoo.population(group)
        x = torch.sort(torch.rand(len(pop), 500) * 2 - 1, 1).values
        _, grad, region = forward_with_gradients(pop, x)
        patterns = _patterns(pop, x)
        for m in range(len(pop)):
            unique = torch.unique(patterns[m], dim=0)
            assert region[m].max().item() + 1 == len(unique)
            changes = (patterns[m, 1:] != patterns[m, :-1]).any(-1)
            assert torch.equal(region[m, 1:] != region[m, :-1], changes)
            for r in range(int(region[m].max()) + 1):  # one gradient per region
                g = grad[m][region[m] == r]
                assert (g - g[0]).abs().max() <= 1e-5 * max(1.0, g[0].abs().item())


def test_draws_are_deterministic_and_distinct(tiny_zoo):
    group = tiny_zoo.groups("test")[0]
    pop, ids = tiny_zoo.population(group), torch.as_tensor(group.table["model_id"])
    a = draw_probes(pop, ids, evaluation_keys(tiny_zoo.fingerprint, 0, pop))
    b = draw_probes(pop, ids, evaluation_keys(tiny_zoo.fingerprint, 0, pop))
    c = draw_probes(pop, ids, evaluation_keys(tiny_zoo.fingerprint, 1, pop))
    for f in ("x", "y", "grad", "region", "mask"):
        assert torch.equal(getattr(a, f), getattr(b, f)), f
    assert not torch.equal(a.x, c.x)
    assert a.x.shape == (len(pop), PROTOCOL_V1.n_points)
    assert (a.x[:, 1:] >= a.x[:, :-1]).all() and (a.x.abs() <= 1).all()
    # inputs are drawn per model, keyed on its weights, not its id: another id, the same inputs
    assert not torch.equal(a.x[0], a.x[1])
    assert torch.equal(draw_probes(pop, ids + 1000, evaluation_keys(tiny_zoo.fingerprint, 0, pop)).x, a.x)
    # a model's draw does not depend on the other models in its batch
    one = draw_probes(
        pop.select(slice(1, 2)), ids[1:2], evaluation_keys(tiny_zoo.fingerprint, 0, pop.select(slice(1, 2)))
    )
    assert (
        torch.equal(one.x[0], a.x[1])
        and torch.equal(one.mask[0], a.mask[1])
        and torch.equal(one.grad[0], a.grad[1])
    )


def test_cloze_masks_hide_whole_regions():
    region = torch.tensor(
        [[0] * 4 + [1] * 4 + [2] * 4 + [3] * 4, [0] * 16, [0] * 8 + [1] * 8, list(range(16))]
    )
    mask = cloze_mask(region, model_keys(0, torch.arange(4)), 0.25)
    hidden_regions = [set(region[i][mask[i]].tolist()) for i in range(4)]
    assert [len(h) for h in hidden_regions] == [1, 0, 1, 4]  # round(1)=1; R=1 -> none; clamp to 1; round(4)=4
    for i in range(4):
        for r in hidden_regions[i]:
            assert mask[i][region[i] == r].all()


def test_batches_hide_what_is_not_declared(tiny_zoo):
    group = tiny_zoo.groups("test")[0]
    ids = torch.as_tensor(group.table["model_id"])
    pop = tiny_zoo.population(group)
    probes = draw_probes(pop, ids, evaluation_keys("f", 0, pop))
    batch = probes.batch(frozenset({"grad"}), masked=True)
    assert batch.y is None and batch.weights is None
    assert (batch.grad[batch.mask] == 0).all() and batch.mask.any()
    assert torch.equal(batch.grad[~batch.mask], probes.grad[~batch.mask])
    full = probes.batch(frozenset({"grad", "y", "weights"}), masked=False)
    assert not full.mask.any() and torch.equal(full.grad, probes.grad) and full.weights is not None


def test_feature_golden_values():
    x = torch.linspace(-1, 1, 9)[None]
    v = 2 * x
    hidden = torch.tensor([[0, 1, 1, 0, 0, 0, 1, 1, 1]], dtype=torch.bool)
    torch.testing.assert_close(
        fill_hidden(x, v, hidden), torch.tensor([[-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 0.5, 0.5, 0.5]])
    )
    torch.testing.assert_close(mean_fill(v, hidden)[0, 1], torch.tensor(-0.5))
    torch.testing.assert_close(integrate(x, torch.ones_like(x)), x + 1)
    xs = torch.linspace(-1, 1, 64)[None]
    profile = integrated_profile(xs, 3 * xs**2)
    torch.testing.assert_close(profile, xs**3 - (xs**3).mean(), atol=2e-3, rtol=0)
    bins = bin_means(torch.tensor([[-0.9, -0.8, 0.9]]), torch.tensor([[1.0, 3.0, 5.0]]), n_bins=4)
    torch.testing.assert_close(bins, torch.tensor([[2.0, 3.0, 4.0, 5.0]]))  # empty middle bins interpolated
    region = torch.tensor([[0, 0, 1, 2, 2, 2], [0, 1, 1, 1, 1, 1]])
    values = torch.tensor([[1.0, 3.0, 5.0, 0.0, 3.0, 6.0], [7.0, 1.0, 2.0, 3.0, 4.0, 5.0]])
    torch.testing.assert_close(
        region_mean(values, region),
        torch.tensor([[2.0, 2.0, 5.0, 3.0, 3.0, 3.0], [7.0, 3.0, 3.0, 3.0, 3.0, 3.0]]),
    )


def test_training_stream_is_fresh_masked_and_deterministic(tiny_zoo):
    from netembench.eval.training import training_batches

    a = next(training_batches(tiny_zoo, batch_size=5, views=2, seed=3))
    b = next(training_batches(tiny_zoo, batch_size=5, views=2, seed=3))
    assert torch.equal(a[0].batch.x, b[0].batch.x) and torch.equal(a[1].batch.mask, b[1].batch.mask)
    assert torch.equal(a[0].batch.model_id, a[1].batch.model_id) and not torch.equal(
        a[0].batch.x, a[1].batch.x
    )
    first = a[0]
    assert (first.batch.grad[first.batch.mask] == 0).all()
    assert torch.equal(first.batch.grad[~first.batch.mask], first.target[~first.batch.mask])
    train_ids = set(tiny_zoo.table("train")["model_id"].tolist())
    assert set(first.batch.model_id.tolist()) <= train_ids
    with pytest.raises(ValueError, match="not 'test'"):
        next(training_batches(tiny_zoo, split="test"))


def test_2d_gradients_equal_autograd_and_regions_are_activation_patterns(tiny_2d_zoo):
    for group in _groups(tiny_2d_zoo):
        pop = tiny_2d_zoo.population(group)
        x = torch.rand(len(pop), 300, 2) * 2 - 1
        y, grad, region = forward_with_gradients(pop, x)
        y_ref, grad_ref = _autograd(pop, x)
        assert grad.shape == x.shape
        torch.testing.assert_close(y, y_ref, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(grad, grad_ref, atol=1e-5, rtol=1e-5)
        patterns = _patterns(pop, x)
        same_pattern = (patterns[:, :, None] == patterns[:, None, :]).all(-1)
        assert torch.equal(region[:, :, None] == region[:, None, :], same_pattern)
        # numbered by first appearance: each new id is one more than the largest so far
        running = torch.cummax(region, 1).values
        assert torch.all(region[:, 0] == 0) and torch.all(
            region <= torch.cat([running[:, :1], running[:, :-1] + 1], 1)
        )


def test_first_appearance_ids_equal_v1_runs_in_1d(tiny_zoo):
    from netembench.eval.probes import first_appearance_ids

    pop = tiny_zoo.population(tiny_zoo.groups("train")[0])
    x = torch.sort(torch.rand(len(pop), 200) * 2 - 1, 1).values
    _, _, runs = forward_with_gradients(pop, x)
    assert torch.equal(first_appearance_ids(_patterns(pop, x)), runs)


def test_v2_probe_sets_mask_whole_regions_on_every_component(tiny_2d_zoo):
    from netembench.eval.tracks import track_for

    pop = tiny_2d_zoo.population(tiny_2d_zoo.groups("train")[0])
    protocol = track_for("tiny2d", 2).protocol
    keys = model_keys(3, torch.arange(len(pop)))
    probes = draw_probes(pop, torch.arange(len(pop)), keys, protocol)
    assert probes.x.shape == (len(pop), protocol.n_points, 2) and probes.grad.shape == probes.x.shape
    assert probes.x.min() >= -1 and probes.x.max() <= 1
    batch = probes.batch(frozenset({"grad"}), masked=True)
    assert torch.all(batch.grad[batch.mask] == 0) and torch.equal(
        batch.grad[~batch.mask], probes.grad[~probes.mask]
    )
    for m in range(len(pop)):  # a region is hidden whole or not at all
        for r in probes.region[m].unique():
            assert probes.mask[m][probes.region[m] == r].unique().numel() == 1
    again = draw_probes(pop, torch.arange(len(pop)), keys, protocol)
    assert torch.equal(again.x, probes.x) and torch.equal(again.mask, probes.mask)
