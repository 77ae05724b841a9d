"""The foundation baseline: pretraining on a task subset, fine-tuning from a checkpoint, one set of
weights on every track, and the routing of 1-D, 2-D and host batches (tiny zoos, seconds)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from netembench import Unsupported
from netembench.eval.embedders import load_submission
from netembench.eval.harness import evaluate
from netembench.eval.probes import ProbeBatch
from netembench.eval.training import training_batches

BASELINES = Path(__file__).resolve().parent.parent / "baselines"
FOUNDATION, FINE_TUNED = BASELINES / "cloze_foundation", BASELINES / "cloze_foundation_ft"
TINY = ["--steps", "4", "--batch-size", "8", "--d-model", "16", "--layers", "1", "--quiet"]


def _train(args: list[str]) -> dict:
    spec = importlib.util.spec_from_file_location("foundation_train", FOUNDATION / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(args)
    return json.loads(Path(args[args.index("--log") + 1]).read_text())


def test_task_subset_keeps_only_the_first_tasks(tiny_zoo):
    seen = {int(t) for _, (view,) in zip(range(20), training_batches(tiny_zoo, batch_size=8, max_tasks=2)) for t in view.task_id}
    assert seen == {0, 1}
    with pytest.raises(ValueError, match="max_tasks=0 keeps no model"):
        next(training_batches(tiny_zoo, max_tasks=0))


@pytest.fixture(scope="module")
def checkpoints(tiny_zoo, tiny_2d_zoo, tmp_path_factory):
    """A tiny foundation pair (1-D on two tasks only, 2-D) and a 1-D checkpoint fine-tuned from it."""
    folder = tmp_path_factory.mktemp("foundation")
    logs = {}
    for d, zoo, extra in ((1, tiny_zoo, ["--tasks", "2"]), (2, tiny_2d_zoo, [])):
        out = folder / f"foundation-{d}d.safetensors"
        logs[d] = _train(["--zoo", str(zoo.path), *TINY, *extra, "--out", str(out), "--log", str(folder / f"{d}.json")])
    tuned = folder / "tuned" / f"{tiny_zoo.spec.ref}.safetensors"
    logs["ft"] = _train(["--zoo", str(tiny_zoo.path), "--init", str(folder / "foundation-1d.safetensors"),
                         *TINY, "--out", str(tuned), "--log", str(folder / "ft.json")])
    return folder, tuned, logs


def test_training_logs_and_safetensors(checkpoints, tiny_zoo):
    folder, tuned, logs = checkpoints
    assert logs[1]["args"]["tasks"] == 2 and logs[1]["steps"] == 4 and logs[1]["validation"]
    assert logs[2]["config"]["inputs"] == 2 and logs["ft"]["args"]["init"].endswith("foundation-1d.safetensors")
    start, tuned_weights = load_file(str(folder / "foundation-1d.safetensors")), load_file(str(tuned))
    assert start.keys() == tuned_weights.keys() and any(not torch.equal(start[k], tuned_weights[k]) for k in start)


def test_one_set_of_weights_scores_both_dimensions(checkpoints, tiny_zoo, tiny_2d_zoo):
    folder, _, _ = checkpoints
    sub = load_submission(FOUNDATION)
    sub.embedder.checkpoints = lambda ref: {d: folder / f"foundation-{d}d.safetensors" for d in (1, 2)}
    scores = {}
    for zoo in (tiny_zoo, tiny_2d_zoo):
        metrics = evaluate(sub, zoo, quiet=True)["metrics"]
        assert 0 <= metrics["main_score"]["mean"] <= 1 and metrics["cloze_nmse_pooled"]["mean"] > 0
        scores[zoo.name] = metrics["main_score"]["mean"]
    assert sub.info().distributions == frozenset({"uniform", "host"})


def test_fine_tuned_variant_reads_its_track_checkpoint(checkpoints, tiny_zoo, tmp_path):
    _, tuned, _ = checkpoints
    module = load_submission(FINE_TUNED)
    assert module.name == "cloze_foundation_ft"
    module.embedder.checkpoints = lambda ref: {1: tuned.parent / f"{ref}.safetensors"}
    assert 0 <= evaluate(module, tiny_zoo, quiet=True)["metrics"]["main_score"]["mean"] <= 1
    module.embedder.checkpoints = lambda ref: {1: tmp_path / "missing.safetensors"}
    with pytest.raises(Unsupported, match="no cloze_foundation_ft checkpoint for tiny@0.1.0; fine-tune one with"):
        evaluate(module, tiny_zoo, quiet=True)


def test_track_checkpoints_route_by_track():
    spec = importlib.util.spec_from_file_location("ft_embedder", FINE_TUNED / "embedder.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    here = FINE_TUNED / "checkpoints"
    assert module.track_checkpoints("poly-xarch@1.2.0") == {1: here / "poly-fine@1.2.0.safetensors"}
    assert module.track_checkpoints("poly2d-fine@1.2.0") == {2: here / "poly2d-fine@1.2.0.safetensors"}
    assert module.track_checkpoints("host-fine@1.0.0") == {1: here / "host-fine@1.0.0.safetensors"}


def test_host_batches_go_through_the_one_dimensional_view(checkpoints):
    """A component of a host reads one projection of its 8-D input: the 1-D model embeds its view,
    and the cloze predictions come back as gradient vectors along that projection."""
    folder, _, _ = checkpoints
    sub = load_submission(FOUNDATION)
    sub.embedder.checkpoints = lambda ref: {1: folder / "foundation-1d.safetensors"}
    sub.embedder.prepare(type("Zoo", (), {"ref": "host-fine@1.0.0"})())
    gen = torch.Generator().manual_seed(0)
    direction = torch.nn.functional.normalize(torch.randn(3, 8, generator=gen), dim=1)
    x = torch.randn(3, 64, 8, generator=gen) * 0.4
    t = (x * direction[:, None, :]).sum(-1)
    slope = torch.where(t > 0, 1.0, -0.5)
    grad = slope[..., None] * direction[:, None, :]
    region = (t > 0).long()
    mask = region == 1
    batch = ProbeBatch(x=x, mask=mask, region=region, model_id=torch.arange(3), grad=grad.masked_fill(mask[..., None], 0.0))
    with torch.no_grad():
        assert sub.embedder.embed(batch).shape == (3, 16)
        pred = sub.embedder.predict_masked(batch)
    along = (pred * direction[:, None, :]).sum(-1)
    assert torch.allclose(pred, along[..., None] * direction[:, None, :], atol=1e-5)  # parallel to the projection
    assert torch.allclose(pred[~mask], grad[~mask], atol=1e-5)  # visible gradients pass through


def test_scaling_study_scores_a_run_and_draws_it(checkpoints, tiny_zoo):
    """A run's test probe accuracy comes from the track's test split; the study JSON is drawable."""
    spec = importlib.util.spec_from_file_location("foundation_scaling", BASELINES.parent / "studies" / "foundation_scaling.py")
    scaling = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scaling)
    folder, _, _ = checkpoints
    row = scaling.score(folder / "foundation-1d.safetensors", tiny_zoo)
    assert 0 <= row["test_probe_accuracy"] <= 1 and row["n_test"] == len(tiny_zoo.table("test")["model_id"])
    rows = [{**row, "size": "small", "models": 8}, {**row, "size": "small", "models": 80, "test_probe_accuracy": 0.5}]
    data = scaling.study("tiny@0.1.0", rows)
    assert list(data["series"].values()) == [{"8": round(row["test_probe_accuracy"], 4), "80": 0.5}]
    from netembench.board.studies import study_problems

    assert study_problems(data) == []
