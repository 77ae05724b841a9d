from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from netembench.board.results import build_result, validate_result
from netembench.cli import main
from netembench.eval.embedders import SubmissionError, load_submission
from netembench.eval.harness import evaluate


class Oracle:
    """One-hot task ids, looked up by each model's weights in the zoo: a perfect embedding (the
    "determined cheater with the zoo on disk" that only a rerun and a code read expose)."""

    name, reads = "oracle", frozenset({"weights"})

    def __init__(self, zoo):
        self.task = {}
        for split in zoo.splits:
            for group in zoo.groups(split):
                keys = self.kinks(zoo.population(group))
                self.task.update({k: int(t) for k, t in zip(keys, group.table["task_id"])})
        self.n = len(zoo.tasks)

    @staticmethod
    def kinks(pop):
        """First-layer kink positions, sorted and rounded: the same for a model's functional twin."""
        kinks = (-pop.biases[0] / pop.weights[0][..., 0]).double().sort(1).values
        return [k.numpy().round(4).tobytes() for k in kinks]

    def embed(self, batch):
        ids = torch.tensor([self.task[k] for k in self.kinks(batch.weights)])
        return torch.nn.functional.one_hot(ids, self.n).float()


class Constant:
    name, reads = "constant", frozenset({"grad"})

    def embed(self, batch):
        return torch.ones(len(batch), 3)


def sub(embedder, ref="test"):
    from netembench.eval.embedders import Submission

    return Submission(embedder, ref, [])


def test_oracle_scores_one_and_constant_scores_chance(tiny_zoo):
    m = evaluate(sub(Oracle(tiny_zoo)), tiny_zoo, quiet=True)["metrics"]
    for k in ("main_score", "probe_accuracy", "knn_accuracy", "cluster_ami", "cluster_v_measure"):
        assert m[k]["mean"] == pytest.approx(1.0), k
    assert m["main_score"]["ci95"] == [1.0, 1.0]
    c = evaluate(sub(Constant()), tiny_zoo, quiet=True)["metrics"]
    assert c["probe_accuracy"]["mean"] == pytest.approx(1 / 3)  # 3 tasks, balanced test split
    assert c["cluster_ami"]["mean"] == pytest.approx(0.0, abs=1e-9)
    assert len(c["probe_accuracy"]["per_draw"]) == 4


def test_scores_do_not_depend_on_batching(tiny_zoo):
    s = load_submission("baselines/integ")
    a = evaluate(s, tiny_zoo, batch_size=512, quiet=True)["metrics"]
    b = evaluate(s, tiny_zoo, batch_size=2, quiet=True)["metrics"]
    assert a == b


def test_cloze_scores_and_references(tiny_zoo):
    result = evaluate(load_submission("baselines/interp"), tiny_zoo, quiet=True)
    m = result["metrics"]
    # interp *is* the reference (float32 in the embedder, float64 in the harness)
    assert m["cloze_nmse_pooled"]["per_draw"] == pytest.approx(m["interp_nmse_pooled"]["per_draw"], rel=1e-6)
    assert m["cloze_nmse_median"]["mean"] > 0
    assert 0.5 < m["meanfill_nmse_pooled"]["mean"] < 2.0  # about 1 by construction
    assert result["info"]["cloze_models_left_out_one_region"] == 0


def test_result_is_reproducible_and_tamper_evident(tiny_zoo):
    s = load_submission("baselines/grad_bins")
    a = build_result(tiny_zoo, evaluate(s, tiny_zoo, quiet=True), "cpu")
    b = build_result(tiny_zoo, evaluate(s, tiny_zoo, quiet=True), "cpu")
    assert a["content_hash"] == b["content_hash"] and validate_result(a) == []
    a["metrics"]["main_score"]["mean"] = 0.99
    assert any("content_hash does not match" in p for p in validate_result(a))


@pytest.mark.parametrize(
    ("embed", "message"),
    [
        (
            lambda b: torch.zeros(len(b)),
            r"embed returned shape \(\d+,\) on split 'train', draw 0, batch 0; expected \[\d+, D\]",
        ),
        (lambda b: torch.full((len(b), 2), float("nan")), "embed returned NaN or inf on split 'train'"),
        (lambda b: torch.zeros(len(b), 2, dtype=torch.int64), "embed returned dtype torch.int64"),
        (
            lambda b, calls=[]: calls.append(1) or torch.zeros(len(b), len(calls) % 2 + 1),
            "embedding width changed from",
        ),
        (
            lambda b: b.weights.weights[0],
            r"raised AttributeError in embed on split 'train'.*not declared in `reads` are None",
        ),
        (lambda b: np.zeros((len(b), 2)), "embed returned ndarray"),
    ],
)
def test_protocol_violations_name_the_embedder_and_batch(tiny_zoo, embed, message):
    class Bad:
        name, reads = "bad", frozenset({"grad"})

    Bad.embed = staticmethod(embed)
    with pytest.raises(SubmissionError, match=message) as err:
        evaluate(sub(Bad()), tiny_zoo, batch_size=1, quiet=True)
    assert "embedder 'bad'" in str(err.value)


def test_predict_masked_is_checked(tiny_zoo):
    class BadCloze:
        name, reads = "badcloze", frozenset({"grad"})

        def embed(self, b):
            return torch.zeros(len(b), 2)

        def predict_masked(self, b):
            return torch.zeros(len(b), 3)

    with pytest.raises(SubmissionError, match=r"predict_masked returned shape \(\d+, 3\).*split 'test'"):
        evaluate(sub(BadCloze()), tiny_zoo, quiet=True)


def test_submission_loading_errors(tmp_path):
    with pytest.raises(SubmissionError, match="does not exist"):
        load_submission(tmp_path / "nope.py")
    (tmp_path / "empty.py").write_text("x = 1\n")
    with pytest.raises(SubmissionError, match="defines no load_embedder"):
        load_submission(tmp_path / "empty.py")
    (tmp_path / "broken.py").write_text("import not_a_module_anywhere\n")
    with pytest.raises(SubmissionError, match="importing .*broken.py raised ModuleNotFoundError"):
        load_submission(tmp_path / "broken.py")
    (tmp_path / "badreads.py").write_text(
        "class E:\n    name='e'\n    reads={'logits'}\n    def embed(self, b): pass\ndef load_embedder(): return E()\n"
    )
    with pytest.raises(SubmissionError, match="`reads` must be a non-empty subset"):
        load_submission(tmp_path / "badreads.py")
    (tmp_path / "folder").mkdir()
    with pytest.raises(SubmissionError, match="has no embedder.py"):
        load_submission(tmp_path / "folder")
    assert load_submission("baselines.grad_bins.embedder:load_embedder").name == "grad_bins"


def test_every_baseline_loads_and_embeds(tiny_zoo):
    for name in ("grad_bins", "integ", "interp", "out_probe", "weight_stats", "random_init"):
        result = evaluate(load_submission(f"baselines/{name}"), tiny_zoo, quiet=True)
        assert 0 <= result["metrics"]["main_score"]["mean"] <= 1, name


def test_eval_command_writes_refuses_and_skips(tiny_zoo, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert (
        main(["eval", "baselines/grad_bins", "--zoo", str(tiny_zoo.path), "--out", str(out), "--quiet"]) == 0
    )
    printed = capsys.readouterr().out
    assert "main_score (probe_accuracy)" in printed and f"wrote {out}" in printed
    data = json.loads(out.read_text())
    assert (
        data["schema_version"] == 1
        and data["embedder"]["reads"] == ["grad"]
        and data["zoo"]["fingerprint"] == tiny_zoo.fingerprint
    )
    assert (
        main(["eval", "baselines/grad_bins", "--zoo", str(tiny_zoo.path), "--out", str(out), "--quiet"]) == 1
    )
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    # raw_weights cannot embed a zoo with mixed architectures: skipped, no file written
    assert (
        main(
            [
                "eval",
                "baselines/raw_weights",
                "--zoo",
                str(tiny_zoo.path),
                "--results-dir",
                str(tmp_path / "res"),
                "--quiet",
            ]
        )
        == 0
    )
    assert "skipped tiny@0.1.0: raw_weights needs one architecture" in capsys.readouterr().out
    assert not (tmp_path / "res").exists()


def test_failed_eval_writes_nothing(tiny_zoo, tmp_path, capsys):
    (tmp_path / "nan.py").write_text(
        "import torch\nclass E:\n    name='nan'\n    reads=frozenset({'grad'})\n"
        "    def embed(self, b): return torch.full((len(b), 2), float('nan'))\ndef load_embedder(): return E()\n"
    )
    code = main(
        [
            "eval",
            str(tmp_path / "nan.py"),
            "--zoo",
            str(tiny_zoo.path),
            "--results-dir",
            str(tmp_path / "res"),
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "embedder 'nan': embed returned NaN or inf" in err
    assert not (tmp_path / "res").exists()


def test_clustering_is_omitted_with_one_test_model_per_task(tiny_spec, tmp_path):
    from netembench.zoo.build import build_zoo

    spec = tiny_spec.replace(
        splits=tuple(s for s in tiny_spec.splits if not (s.name == "test" and s.arch == "1-6-1"))
    )
    zoo = build_zoo(spec, tmp_path / "one", quiet=True)  # test: one seed of each task on one architecture
    result = evaluate(load_submission("baselines/integ"), zoo, quiet=True)
    assert "cluster_ami" not in result["metrics"] and "cluster_v_measure" not in result["metrics"]
    assert result["info"]["clustering"] == "omitted: the test split has one model per task"
    assert "unseen_cluster_ami" not in result["metrics"]  # the tiny zoo has one unseen task with one model


def test_2d_tracks_run_v2_baselines_and_skip_v1_only_embedders(tiny_2d_zoo):
    from netembench.eval.embedders import Unsupported

    out = evaluate(load_submission("baselines/potential"), tiny_2d_zoo, quiet=True)
    assert out["protocol"]["version"] == 2 and out["protocol"]["dim"] == 2
    assert out["metrics"]["main_score"]["mean"] > 0.5
    assert out["metrics"]["twin_recall_at_1"]["mean"] == 1.0
    assert set(out["metrics"]["budget_curve"]) == {str(n) for n in out["protocol"]["budgets"]}
    with pytest.raises(Unsupported, match="protocol v1 only; tiny2d@0.1.0 has 2-D inputs"):
        evaluate(load_submission("baselines/integ"), tiny_2d_zoo, quiet=True)


class NearestCloze:
    """A v2 cloze embedder that predicts exactly the nearest-visible reference."""

    name, reads, protocols = "nearest_cloze", frozenset({"grad"}), frozenset({2})

    def embed(self, batch):
        from netembench.eval.features import cell_means

        return cell_means(batch.x, batch.grad)

    def predict_masked(self, batch):
        from netembench.eval.features import nearest_fill

        return nearest_fill(batch.x, batch.grad, batch.mask)


def test_v2_cloze_scoring_matches_its_reference(tiny_2d_zoo):
    m = evaluate(sub(NearestCloze()), tiny_2d_zoo, quiet=True)["metrics"]
    assert m["cloze_nmse_pooled"]["mean"] == pytest.approx(m["interp_nmse_pooled"]["mean"], rel=1e-9)
