"""The weight-space reference baseline: invariance, training and evaluation on the tiny zoos."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from netembench.eval.embedders import Unsupported, load_submission
from netembench.eval.harness import evaluate
from netembench.eval.twins import functional_twin
from netembench.zoo.rng import model_keys

HERE = Path(__file__).resolve().parent.parent / "baselines" / "weight_space"


def _module(name: str):
    sys.path.insert(0, str(HERE))
    spec = importlib.util.spec_from_file_location(f"weight_space_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_encoder_is_invariant_to_hidden_permutations_only(tiny_2d_zoo):
    model = _module("weight_encoder")
    pop = tiny_2d_zoo.population(tiny_2d_zoo.groups("train")[0])
    torch.manual_seed(0)
    enc = model.WeightEncoder(model.Config(depth=2, inputs=2, channels=8))
    perm = [torch.randperm(pop.arch.width) for _ in range(2)]
    w, b = [t.clone() for t in pop.weights], [t.clone() for t in pop.biases]
    for layer, p in enumerate(perm):
        w[layer], b[layer] = w[layer][:, p], b[layer][:, p]
        w[layer + 1] = w[layer + 1][:, :, p]
    permuted = type(pop)(pop.arch, w, b)
    torch.testing.assert_close(enc(permuted), enc(pop), atol=1e-5, rtol=1e-5)
    # canonical scale makes it invariant to positive rescaling as well: a functional twin is the same
    twin = functional_twin(pop, model_keys(1, torch.arange(len(pop))))
    torch.testing.assert_close(enc(twin), enc(pop), atol=1e-5, rtol=1e-5)
    assert (enc(pop)[0] - enc(pop)[1]).abs().max() > 1e-3  # while networks stay apart
    aug = model.augment(pop, torch.Generator().manual_seed(0), noise=0.0)
    x = torch.rand(len(pop), 50, 2) * 2 - 1
    torch.testing.assert_close(aug.forward(x), pop.forward(x), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("supervised", [False, True])
def test_train_checkpoint_eval(tiny_2d_zoo, tiny_zoo, tmp_path, supervised):
    ckpt = tmp_path / f"{tiny_2d_zoo.spec.ref}.safetensors"
    log = tmp_path / "log.json"
    args = ["--zoo", str(tiny_2d_zoo.path), "--steps", "3", "--batch-size", "4", "--channels", "4", "--quiet"]
    _module("train").main(
        [*args, *(["--supervised"] if supervised else []), "--out", str(ckpt), "--log", str(log)]
    )
    record = json.loads(log.read_text())
    assert record["config"]["n_classes"] == (len(tiny_2d_zoo.tasks) if supervised else 0)
    assert ckpt.read_bytes()[:8] != b"PK\x03\x04"  # safetensors, not a zip/pickle
    name = "weight_space_supervised" if supervised else "weight_space"
    sub = load_submission(HERE.parent / name)
    assert sub.name == name and sub.supervised == supervised and sub.reads == {"weights"}
    sub.embedder.checkpoints = tmp_path
    m = evaluate(sub, tiny_2d_zoo, quiet=True)["metrics"]
    assert 0 <= m["main_score"]["mean"] <= 1 and 0 <= m["twin_recall_at_1"]["mean"] <= 1
    # a checkpoint for networks of another input size or depth is refused, not guessed
    ckpt.rename(tmp_path / f"{tiny_zoo.spec.ref}.safetensors")
    with pytest.raises(Unsupported, match="cannot read 1-8-8-1"):
        evaluate(sub, tiny_zoo, quiet=True)
