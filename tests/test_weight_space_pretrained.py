"""weight_space_pretrained: its pretraining script and embedder on the tiny zoos, and the tracks it skips."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from netembench.eval.embedders import (
    InProcessRunner,
    Unsupported,
    ZooIdentity,
    load_submission,
)
from netembench.eval.harness import Evaluator, evaluate
from netembench.zoo.build import build_zoo
from netembench.zoo.spec import parse_spec
from tests.test_host import TINY_HOST_SPEC

HERE = Path(__file__).resolve().parent.parent / "baselines" / "weight_space_pretrained"


def _train():
    spec = importlib.util.spec_from_file_location("weight_space_pretrained_train", HERE / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pretrain_then_evaluate(tiny_2d_zoo, tiny_zoo, tmp_path):
    ckpt, log = tmp_path / "pretrain-2d.safetensors", tmp_path / "log.json"
    _train().main(["--zoo", str(tiny_2d_zoo.path), "--monitor", str(tiny_2d_zoo.path), "--steps", "3",
                   "--batch-size", "4", "--channels", "4", "--probe-every", "2", "--quiet",
                   "--out", str(ckpt), "--log", str(log)])
    record = json.loads(log.read_text())
    assert record["steps"] == 3 and record["groups"] == {"2-8-8-1": len(tiny_2d_zoo.population(tiny_2d_zoo.groups("train")[0]))}
    assert [v["step"] for v in record["validation"]] == [0, 2] and record["config"]["inputs"] == 2
    assert {e["group"] for e in record["train"]} == {"2-8-8-1"}
    with pytest.raises(SystemExit, match="no depth-3 networks"):
        _train().main(["--zoo", str(tiny_zoo.path), "--depth", "3", "--steps", "1", "--quiet"])

    sub = load_submission(HERE)
    assert sub.name == "weight_space_pretrained" and not sub.supervised and sub.reads == {"weights"}
    sub.embedder.checkpoints = tmp_path
    sub.embedder.checkpoint_name = lambda name: "pretrain-2d"  # the tiny zoo is no poly2d track
    m = evaluate(sub, tiny_2d_zoo, quiet=True)["metrics"]
    assert 0 <= m["main_score"]["mean"] <= 1 and 0 <= m["twin_recall_at_1"]["mean"] <= 1


def test_checkpoint_per_input_dimension_and_skipped_tracks(tmp_path):
    embedder = load_submission(HERE).embedder
    names = {t: embedder.checkpoint_name(t) for t in ("poly-seed", "poly-many", "poly2d-fine", "host-seed")}
    assert names == {"poly-seed": "pretrain-1d", "poly-many": "pretrain-1d", "poly2d-fine": "pretrain-2d", "host-seed": None}
    for name, reason in [("poly-xarch", "depths 1 and 3"), ("host-seed", "not a poly track")]:
        with pytest.raises(Unsupported, match=reason):
            embedder.prepare(ZooIdentity(name, "1.2.0", "0" * 12))
    # the harness skips host tracks before any call: a weight reader that declares whole networks only
    sub = load_submission(HERE)
    assert sub.info().distributions == {"uniform"}
    zoo = build_zoo(parse_spec(TINY_HOST_SPEC), tmp_path / "zoo", quiet=True)
    with pytest.raises(Unsupported, match=r"weight_space_pretrained reads inputs drawn from uniform only"):
        Evaluator(InProcessRunner(sub), zoo)
