"""The reference baseline's path from training to evaluation, on the tiny zoo (seconds)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from netembench.eval.embedders import load_submission
from netembench.eval.harness import evaluate

HERE = Path(__file__).resolve().parent.parent / "baselines" / "cloze_transformer"


def _train_module():
    spec = importlib.util.spec_from_file_location("cloze_train", HERE / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_checkpoint_eval(tiny_zoo, tmp_path):
    ckpt = tmp_path / "checkpoints" / f"{tiny_zoo.spec.ref}.safetensors"
    log = tmp_path / "log.json"
    args = [
        "--zoo",
        str(tiny_zoo.path),
        "--steps",
        "6",
        "--batch-size",
        "8",
        "--d-model",
        "16",
        "--layers",
        "1",
        "--out",
        str(ckpt),
        "--log",
        str(log),
        "--quiet",
    ]
    _train_module().main(args)
    assert ckpt.read_bytes()[:8] != b"PK\x03\x04"  # safetensors, not a zip/pickle
    record = json.loads(log.read_text())
    assert record["steps"] == 6 and record["zoo"] == tiny_zoo.spec.ref and record["validation"]
    assert 0 <= record["validation"][-1]["probe_accuracy"] <= 1  # the model-selection score, at the end

    sub = load_submission(HERE)
    sub.embedder.checkpoints = ckpt.parent
    result = evaluate(sub, tiny_zoo, quiet=True)
    m = result["metrics"]
    assert 0 <= m["main_score"]["mean"] <= 1
    assert m["cloze_nmse_pooled"]["mean"] > 0 and "interp_nmse_pooled" in m
    assert sub.n_params > 1000

    # training is deterministic for a seed: the same checkpoint again
    again = tmp_path / "again.safetensors"
    _train_module().main([*args[:-5], "--out", str(again), "--log", str(tmp_path / "l2.json"), "--quiet"])
    from safetensors.torch import load_file

    a, b = load_file(str(ckpt)), load_file(str(again))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_zoo_without_checkpoint_is_skipped(tiny_zoo, tmp_path):
    from netembench import Unsupported

    sub = load_submission(HERE)
    sub.embedder.checkpoints = tmp_path
    with pytest.raises(Unsupported, match="no cloze_transformer checkpoint for tiny@0.1.0; train one with"):
        evaluate(sub, tiny_zoo, quiet=True)


def test_cloze_predictions_are_constant_on_a_region_and_exact_where_visible(tiny_zoo):
    """A ReLU network's gradient is constant on a linear region: so are the predictions; visible
    gradients are passed through."""
    from netembench.eval.training import training_batches

    sub = load_submission(HERE)
    torch.manual_seed(0)
    model = importlib.import_module("model")  # the baseline's model.py, on the path since load_submission
    sub.embedder.model = model.ClozeTransformer(model.Config(d_model=16, n_layers=1, d_ff=32))
    (view,) = next(training_batches(tiny_zoo, "train", 8))
    pred = sub.embedder.predict_masked(view.batch)
    same_region = view.batch.region[:, 1:] == view.batch.region[:, :-1]
    assert torch.equal(pred[:, 1:][same_region], pred[:, :-1][same_region])
    visible = ~view.batch.mask
    assert torch.equal(pred[visible], view.batch.grad[visible]) and view.batch.mask.any()


def test_cloze_floors_use_the_harness_draws_and_masks(tiny_zoo):
    spec = importlib.util.spec_from_file_location("cloze_floor", HERE / "cloze_floor.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.floors(str(tiny_zoo.path))
    assert result["zoo"] == tiny_zoo.spec.ref and result["ratio_to_interp"]["interp"] == 1.0
    assert all(v > 0 for v in result["pooled_nmse"].values())
    harness = evaluate(load_submission(HERE.parent / "interp"), tiny_zoo, quiet=True)["metrics"]
    assert result["pooled_nmse"]["interp"] == pytest.approx(harness["interp_nmse_pooled"]["mean"], rel=1e-9)


def test_v3_trains_and_evaluates_on_2d_inputs(tiny_2d_zoo, tmp_path):
    """Cloze transformer v3 on protocol v2: [B, N, 2] inputs and gradients, d-vector predictions
    constant on a region and exact where visible."""
    ckpt = tmp_path / f"{tiny_2d_zoo.spec.ref}.safetensors"
    args = [
        "--zoo",
        str(tiny_2d_zoo.path),
        "--steps",
        "4",
        "--batch-size",
        "8",
        "--d-model",
        "16",
        "--layers",
        "1",
    ]
    _train_module().main([*args, "--out", str(ckpt), "--log", str(tmp_path / "log.json"), "--quiet"])
    sub = load_submission(HERE)
    sub.embedder.checkpoints = ckpt.parent
    m = evaluate(sub, tiny_2d_zoo, quiet=True)["metrics"]
    assert 0 <= m["main_score"]["mean"] <= 1 and m["cloze_nmse_pooled"]["mean"] > 0

    from netembench.eval.tracks import track_for
    from netembench.eval.training import training_batches

    (view,) = next(training_batches(tiny_2d_zoo, "train", 8, protocol=track_for("tiny2d", 2).protocol))
    pred = sub.embedder.predict_masked(view.batch)
    assert pred.shape == view.batch.grad.shape == (8, 128, 2)
    for m_, r in zip(*torch.nonzero(view.batch.mask, as_tuple=True)):
        same = view.batch.region[m_] == view.batch.region[m_, r]
        assert torch.allclose(pred[m_][same], pred[m_, r].expand(int(same.sum()), 2))
    visible = ~view.batch.mask
    assert torch.equal(pred[visible], view.batch.grad[visible])
