"""Bad input and adversarial submissions: every case ends in exit 1 with one line that names the
thing and the fix (or, for a cheat, a chance-level score), and nothing half-written is left."""

from __future__ import annotations

import json
import shutil
import textwrap
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netembench.cli import main
from netembench.zoo.spec import SpecError, parse_spec
from tests.conftest import TINY_SPEC


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 1, err
    assert err.count("\n") == 1 and err.startswith("netembench: error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


# ---------------------------------------------------------------- specs: one line naming the field

SPEC_CASES = {
    "n_tasks = 3": ("n_tasks = -4", "[tasks].n_tasks = -4 is out of range: an integer >= 1"),
    "n_unseen = 1": ("n_unseen = -1", "[tasks].n_unseen = -1 is out of range"),
    "min_distance = 0.2": ("min_distance = -0.1", "[tasks].min_distance = -0.1 is out of range"),
    "steps = 60": ("steps = 0", "[training].steps = 0 is out of range: an integer from 1 to 1,000,000"),
    "batch_size = 16": ("batch_size = 0", "[training].batch_size = 0 is out of range"),
}
EXTRA_LINES = {
    "lr too large": (
        "[training]",
        "[training]\nlr = 1e6",
        "[training].lr = 1000000.0 is out of range: finite, 0 < lr <= 1",
    ),
    "lr nan": ("[training]", "[training]\nlr = nan", "[training].lr = nan is out of range"),
    "lr zero": ("[training]", "[training]\nlr = 0.0", "[training].lr = 0.0 is out of range"),
    "lr_final above lr": (
        "[training]",
        "[training]\nlr_final = 0.5",
        "[training].lr_final = 0.5 is out of range: finite, 0 < lr_final <= lr",
    ),
    "no degrees": (
        "[tasks]",
        "[tasks]\ndegrees = []",
        "[tasks].degrees = [] is out of range: a non-empty list of degrees from 1 to 4",
    ),
    "degree 7": ("[tasks]", "[tasks]\ndegrees = [7]", "[tasks].degrees = [7] is out of range"),
    "negative root range": (
        "[tasks]",
        "[tasks]\nroot_range = -1.0",
        "[tasks].root_range = -1.0 is out of range: finite and > 0",
    ),
    "zero attempts": ("[tasks]", "[tasks]\nmax_attempts = 0", "[tasks].max_attempts = 0 is out of range"),
    "fit bar nan": ("fit_bar = 10.0", "fit_bar = nan", "fit_bar = nan is out of range"),
    "shard size": ("shard_size = 4", "shard_size = 0", "shard_size = 0 is out of range"),
    "no seeds": ("n_seeds = 2", "n_seeds = 0", "[[splits]] #1.n_seeds = 0 is out of range"),
    "negative seed": (
        "first_seed = 0\nn_seeds = 2",
        "first_seed = -1\nn_seeds = 2",
        "[[splits]] #1.first_seed = -1 is out of range",
    ),
    "bad version": ('version = "0.1.0"', 'version = "0.1"', "version '0.1' is not semantic"),
    "bad name": ('name = "tiny"', 'name = "Bad Name"', "name 'Bad Name' must be lower-case"),
    "unknown field": (
        "shard_size = 4",
        "shard_size = 4\nshards = 3",
        "unknown field 'shards' in the top level",
    ),
    "mistyped field": ("shard_size = 4", 'shard_size = "four"', "field the top level.shard_size must be int"),
    "bad architecture": ('arch = "1-6-1"', 'arch = "1-6-2"', "architecture '1-6-2' is not of the form"),
    "arch inputs unlike the tasks": (
        'arch = "1-6-1"',
        'arch = "2-6-1"',
        "2-6-1 has 2 inputs but the tasks have 1",
    ),
    "seeds shared": (
        "first_seed = 2\nn_seeds = 1",
        "first_seed = 1\nn_seeds = 1",
        "share seeds [1]; splits must be seed-disjoint",
    ),
    "bad superseded_by": (
        "shard_size = 4",
        'shard_size = 4\nsuperseded_by = "next"',
        "superseded_by 'next' is not a semantic version",
    ),
    "unknown family": ('family = "separated"', 'family = "wiggly"', "[tasks].family must be one of"),
    "not toml": ("[training]", "[training", "not valid TOML"),
    # harness 1.3: sizes and text fields are bounded before anything is built
    "seed 2**128 + 1": ("seed = 7", f"seed = {2**128 + 1}", f"seed = {2**128 + 1} is out of range"),
    "a billion tasks": ("n_tasks = 3", "n_tasks = 1000000000", "[tasks].n_tasks = 1,000,000,000 is too large"),
    "1e20 seeds": (
        "n_seeds = 2",
        "n_seeds = 100000000000000000000",
        "[[splits]] #1.n_seeds = 100,000,000,000,000,000,000 makes",
    ),
    "too much memory": ('arch = "1-6-1"', 'arch = "1-40000-40000-1"', "GiB to train (at most 64 GiB)"),
    "description with a newline": (
        'description = "a tiny zoo for tests"',
        'description = "a tiny\\nzoo"',
        "description holds the control character U+000A",
    ),
}


def _spec_text(old: str, new: str) -> str:
    assert old in TINY_SPEC, old
    return TINY_SPEC.replace(old, new, 1)


@pytest.mark.parametrize(
    "old,new,message",
    [(k, *v) for k, v in SPEC_CASES.items()] + list(EXTRA_LINES.values()),
    ids=list(SPEC_CASES) + list(EXTRA_LINES),
)
def test_bad_specs_fail_in_one_line_and_write_nothing(tmp_path, capsys, old, new, message):
    spec = tmp_path / "bad.toml"
    spec.write_text(_spec_text(old, new))
    code, _, err = run(capsys, "zoo", "build", spec, "--out", tmp_path / "zoo", "--quiet")
    one_line_error(code, err, str(spec), message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    field=st.sampled_from(["lr", "lr_final", "steps", "batch_size"]),
    value=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**9), 10**9)),
)
def test_any_training_value_parses_or_fails_with_a_spec_error(field, value):
    """Property: whatever number a field holds, parsing succeeds with the value in range, or raises
    SpecError naming the field; never another exception."""
    text = TINY_SPEC.replace(
        "[training]", f"[training]\n{field} = {value!r}".replace("inf", "inf").replace("nan", "nan"), 1
    )
    if field in ("steps", "batch_size"):
        text = text.replace(f"{field} = {60 if field == 'steps' else 16}\n", "", 1)
    try:
        spec = parse_spec(text.replace("= inf", "= inf").replace("= -inf", "= -inf"), "p.toml")
    except SpecError as err:
        assert f"[training].{field}" in str(err) or "must be" in str(err) or "not valid TOML" in str(err)
    else:
        assert 0 < spec.training.lr <= 1 and 0 < spec.training.lr_final <= spec.training.lr
        assert 1 <= spec.training.steps and 1 <= spec.training.batch_size


@pytest.mark.parametrize("case", ["missing", "folder", "binary", "unsatisfiable"])
def test_unreadable_or_unsatisfiable_spec_files(tmp_path, capsys, case):
    spec = tmp_path / "spec.toml"
    if case == "folder":
        spec.mkdir()
        expected = "cannot read spec file"
    elif case == "binary":
        spec.write_bytes(b"\xff\xfe\x00bad")
        expected = "is not UTF-8 text"
    elif case == "unsatisfiable":
        spec.write_text(_spec_text("min_distance = 0.2", "min_distance = 0.99\nmax_attempts = 20"))
        expected = "could not sample"
    else:
        expected = "cannot read spec file"
    code, _, err = run(capsys, "zoo", "build", spec, "--out", tmp_path / "zoo", "--quiet")
    one_line_error(code, err, expected)
    assert not (tmp_path / "zoo").exists()


# ---------------------------------------------------------------- builds: outputs and the fit bar


def test_build_output_refusals(tmp_path, capsys):
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY_SPEC)
    (tmp_path / "file").write_text("x")
    one_line_error(
        *run(capsys, "zoo", "build", spec, "--out", tmp_path / "file", "--quiet")[::2],
        "is a file, not a folder",
    )
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.jpg").write_text("x")
    code, _, err = run(capsys, "zoo", "build", spec, "--out", photos, "--overwrite", "--quiet")
    one_line_error(code, err, "is neither a zoo nor empty")
    assert [p.name for p in photos.iterdir()] == ["a.jpg"]
    code, _, err = run(capsys, "zoo", "build", spec, "--out", tmp_path / "z", "--device", "cuda", "--quiet")
    one_line_error(code, err, "CUDA is not available")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "photos", "tiny.toml"]


def test_a_build_that_misses_the_fit_bar_writes_nothing(tmp_path, capsys):
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY_SPEC.replace("fit_bar = 10.0", "fit_bar = 1e-6"))
    code, _, err = run(capsys, "zoo", "build", spec, "--out", tmp_path / "zoo", "--quiet")
    one_line_error(code, err, "models miss the fit bar (relative MSE <= 1e-06", "Nothing was written")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.toml"]


def test_a_killed_build_leaves_nothing_the_next_build_keeps(tmp_path, tiny_spec):
    from netembench.zoo.build import build_zoo

    stale = tmp_path / ".zoo.partial-999999999-abc"  # a build whose process is gone
    stale.mkdir()
    (stale / "half").write_text("x")
    build_zoo(tiny_spec, tmp_path / "zoo", quiet=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zoo"]


# ---------------------------------------------------------------- zoo files


@pytest.fixture()
def zoo_copy(tiny_zoo, tmp_path):
    return shutil.copytree(tiny_zoo.path, tmp_path / "zoo")


ZOO_DAMAGE = {
    "corrupt shard": (lambda z: next((z / "weights").rglob("*.safetensors")).write_bytes(b"junk"), "size"),
    "missing table": (lambda z: (z / "tasks.parquet").unlink(), "tasks.parquet: missing"),
    "extra file": (lambda z: (z / "notes.txt").write_text("x"), "notes.txt: not in the manifest"),
    "manifest not json": (lambda z: (z / "manifest.json").write_text("{"), "is not valid JSON"),
    "future format": (
        lambda z: (z / "manifest.json").write_text(
            json.dumps({"format": "netembench-zoo", "format_version": 99, "files": {}})
        ),
        "zoo format version 99",
    ),
    "edited spec": (
        lambda z: (z / "spec.toml").write_text((z / "spec.toml").read_text() + "\n"),
        "spec.toml: s",
    ),
}


@pytest.mark.parametrize("damage,message", ZOO_DAMAGE.values(), ids=ZOO_DAMAGE)
@pytest.mark.parametrize("command", ["info", "verify"])
def test_damaged_zoos_fail_in_one_line(zoo_copy, capsys, damage, message, command):
    damage(zoo_copy)
    code, out, err = run(capsys, "zoo", command, zoo_copy)
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err, err
    assert message in out + err, (out, err)  # verify lists each problem on stdout, then one error line


@pytest.mark.parametrize(
    "ref,message",
    [
        ("poly-nope", "unknown zoo 'poly-nope'"),
        ("poly-seed@9.9.9", "unknown version '9.9.9'"),
        ("./no/such/folder", "no zoo folder at ./no/such/folder"),
    ],
)
def test_unknown_zoos(capsys, ref, message):
    one_line_error(*run(capsys, "zoo", "info", ref)[::2], message)


# ---------------------------------------------------------------- submissions and cheats (sealed worker)


def submission(tmp_path, body: str, name: str = "probe") -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return str(path)


HEADER = """
import torch
class E:
    name, reads = "sub", frozenset({"grad"})
"""
FAILING = {
    "nan": (
        "    def embed(self, b): return torch.full((len(b), 2), float('nan'))",
        "embed returned NaN or inf",
    ),
    "shape": ("    def embed(self, b): return torch.zeros(len(b))", "embed returned shape"),
    "dtype": (
        "    def embed(self, b): return torch.zeros(len(b), 2, dtype=torch.int64)",
        "expected a float tensor",
    ),
    "numpy": ("    def embed(self, b): return b.grad.numpy()", "returned ndarray"),
    "exit 0": ("    def embed(self, b): raise SystemExit(0)", "raised SystemExit in embed"),
    "ctrl-c": ("    def embed(self, b): raise KeyboardInterrupt", "raised KeyboardInterrupt in embed"),
    "hard exit": (
        "    def embed(self, b):\n        import os; os._exit(0)",
        "its worker exited (code 0) during embed",
    ),
    "undeclared field": ("    def embed(self, b): return b.y[:, :2]", "not declared in `reads` are None"),
    "raises": (
        "    def embed(self, b): raise ValueError('boom')",
        "raised ValueError in embed on split 'train', draw 0, batch 0: boom",
    ),
}


@pytest.mark.parametrize("body,message", FAILING.values(), ids=FAILING)
def test_failing_submissions_exit_non_zero(tmp_path, tiny_zoo, capsys, body, message):
    sub = submission(tmp_path, HEADER + body + "\ndef load_embedder(): return E()\n")
    code, _, err = run(
        capsys, "eval", sub, "--zoo", tiny_zoo.path, "--results-dir", tmp_path / "results", "--quiet"
    )
    one_line_error(code, err, "embedder 'sub'", message)
    assert not (tmp_path / "results").exists()


def test_a_hanging_submission_is_stopped_at_the_timeout(tmp_path, tiny_zoo, capsys):
    sub = submission(
        tmp_path,
        HEADER + "    def embed(self, b):\n        import time; time.sleep(600)\n"
        "def load_embedder(): return E()\n",
    )
    start = time.perf_counter()
    code, _, err = run(
        capsys,
        "eval",
        sub,
        "--zoo",
        tiny_zoo.path,
        "--results-dir",
        tmp_path / "r",
        "--timeout",
        "2",
        "--quiet",
    )
    assert time.perf_counter() - start < 60
    one_line_error(code, err, "did not answer embed on split 'train', draw 0, batch 0 within the 2 s timeout")


LOADING = {
    "missing file": (None, "does not exist"),
    "syntax error": ("def (:\n", "importing"),
    "no factory": ("x = 1\n", "defines no load_embedder()"),
    "factory raises": (
        "def load_embedder(): raise RuntimeError('no')\n",
        "load_embedder() raised RuntimeError: no",
    ),
    "exit on import": ("raise SystemExit(3)\n", "SystemExit"),
    "bad reads": (
        HEADER.replace('{"grad"}', '{"labels"}')
        + "    def embed(self, b): return b.x\ndef load_embedder(): return E()\n",
        "`reads` must be a non-empty subset",
    ),
    "bad name": (
        HEADER.replace('"sub"', '"bang!name"')
        + "    def embed(self, b): return b.x\ndef load_embedder(): return E()\n",
        "the embedder's `name` must be 1-64 letters, digits",
    ),
    "dotdot name": (
        HEADER.replace('"sub"', '".."')
        + "    def embed(self, b): return b.x\ndef load_embedder(): return E()\n",
        "the embedder's `name` must be",
    ),
    "null name": (
        HEADER.replace('"sub"', "None")
        + "    def embed(self, b): return b.x\ndef load_embedder(): return E()\n",
        "got None",
    ),
}


@pytest.mark.parametrize("body,message", LOADING.values(), ids=LOADING)
def test_submissions_that_cannot_load(tmp_path, tiny_zoo, capsys, body, message):
    sub = str(tmp_path / "missing.py") if body is None else submission(tmp_path, body)
    code, _, err = run(
        capsys, "eval", sub, "--zoo", tiny_zoo.path, "--results-dir", tmp_path / "results", "--quiet"
    )
    one_line_error(code, err, message)
    assert not (tmp_path / "results").exists() and not (tmp_path.parent / "zoo.json").exists()


def test_output_paths_are_checked_before_evaluating(tmp_path, tiny_zoo, capsys):
    sub = submission(
        tmp_path, HEADER + "    def embed(self, b): return b.grad\ndef load_embedder(): return E()\n"
    )
    (tmp_path / "results").write_text("a file")
    code, out, err = run(
        capsys, "eval", sub, "--zoo", tiny_zoo.path, "--results-dir", tmp_path / "results", "--quiet"
    )
    one_line_error(code, err, "--results-dir", "is a file, not a folder")
    one_line_error(
        *run(capsys, "eval", sub, "--zoo", tiny_zoo.path, "--timeout", "0")[::2],
        "--timeout must be a positive number",
    )


CHEATS = {
    # the stack holds no harness objects in the worker: nothing leads to the zoo or its labels
    "stack walk": """
        import inspect
        class E:
            name, reads = "sub", frozenset({"grad"})
            def embed(self, b):
                found = [f.frame.f_locals.get("self") for f in inspect.stack()]
                zoo = next((getattr(o, "zoo", None) for o in found if getattr(o, "zoo", None) is not None), None)
                assert zoo is None, "reached the zoo"
                return torch.zeros(len(b), 2)
    """,
    # the metrics run in the harness process: patching them here changes nothing there
    "patched metrics": """
        import numpy as np
        import netembench.eval.metrics as M
        M.probe_fit = lambda *a, **k: (np.ones(len(a[3]), dtype=bool), 1)
        class E:
            name, reads = "sub", frozenset({"grad"})
            def embed(self, b): return torch.zeros(len(b), 2)
    """,
    # the batch is a copy: flipping the mask or scaling the weights reaches no later scoring
    "mutated batch": """
        class E:
            name, reads = "sub", frozenset({"grad", "weights"})
            def embed(self, b):
                for w in b.weights.weights: w.mul_(0.0)
                return torch.zeros(len(b), 2)
            def predict_masked(self, b):
                b.mask.zero_()
                return b.grad
    """,
    # inputs are keyed on the model's weights, not its id: recomputing id-keyed draws finds nothing
    "input matching": """
        from netembench.zoo import rng
        from netembench.eval.probes import STREAM_X
        class E:
            name, reads = "sub", frozenset({"grad"})
            def embed(self, b):
                out = torch.zeros(len(b), 4)
                for draw in range(4):
                    for i in range(len(b)):
                        for mid in range(40):
                            key = rng.model_keys(rng.key_from_text(f"netembench-eval:{self.fp}:{draw}"), torch.tensor([mid]))
                            x = (rng.uniform_grid(key, STREAM_X, (b.x.shape[1],)) * 2 - 1).sort(1).values[0]
                            if torch.equal(x, b.x[i]):
                                out[i, mid % 4] = 1.0
                return out
            def prepare(self, zoo):
                self.fp = zoo.fingerprint
                assert not hasattr(zoo, "path") and not hasattr(zoo, "spec") and not hasattr(zoo, "table")
    """,
}


@pytest.mark.parametrize("body", CHEATS.values(), ids=CHEATS)
def test_cheats_score_at_chance(tmp_path, tiny_zoo, capsys, body):
    sub = submission(
        tmp_path, "import torch\n" + textwrap.dedent(body) + "\ndef load_embedder(): return E()\n"
    )
    code, out, err = run(
        capsys, "eval", sub, "--zoo", tiny_zoo.path, "--results-dir", tmp_path / "r", "--quiet"
    )
    assert code == 0, err
    result = json.loads(next((tmp_path / "r").rglob("*.json")).read_text())
    assert (
        result["metrics"]["probe_accuracy"]["mean"] < 0.75
    )  # 3 tasks, 3 test models on 1-8-8-1: chance is 1/3
    if "cloze_nmse_pooled" in result["metrics"]:  # the harness scored its own mask and its own gradients
        assert result["metrics"]["cloze_nmse_pooled"]["mean"] > 0.05
        from netembench.eval.embedders import load_submission
        from netembench.eval.harness import evaluate

        honest = evaluate(load_submission("baselines/interp"), tiny_zoo, quiet=True)["metrics"]
        assert result["metrics"]["interp_nmse_pooled"] == honest["interp_nmse_pooled"]


# ---------------------------------------------------------------- leaderboard result files


def _board(tmp_path, tiny_zoo, edit) -> tuple:
    from netembench.board.results import build_result, content_hash, write_result
    from netembench.eval.harness import evaluate

    root = tmp_path / "repo" / "leaderboard"
    shutil.copytree("baselines/integ", tmp_path / "repo" / "baselines" / "integ")
    data = build_result(tiny_zoo, evaluate("baselines/integ", tiny_zoo, quiet=True), "cpu")
    data["zoo"].update(name="poly-seed", version="1.1.0")
    data["embedder"]["submission"] = "baselines/integ"
    edit(data)
    data["content_hash"] = content_hash(data)
    path = root / "results" / "integ" / "poly-seed@1.1.0.json"
    write_result(data, path)
    return root, path


RESULT_DAMAGE = {
    "null embedder": (lambda d: d.update(embedder=None), "field 'embedder' must be an object"),
    "mean of draws": (
        lambda d: d["metrics"]["knn_accuracy"].update(mean=0.123),
        "is not the mean of per_draw",
    ),
    "accuracy above one": (
        lambda d: d["metrics"]["knn_accuracy"].update(per_draw=[1.5] * 4, mean=1.5),
        "lie within [0, 1]",
    ),
    "interval reversed": (
        lambda d: d["metrics"]["main_score"].update(ci95=[0.9, 0.1]),
        "ci95 must be [low, high]",
    ),
    "main differs": (
        lambda d: d["metrics"]["main_score"].update(per_draw=[0.5] * 4, mean=0.5),
        "main_score does not equal its metric",
    ),
    "in-process": (lambda d: d["embedder"].update(isolated=False), "evaluated in-process, not sealed"),
    "name rule": (lambda d: d["embedder"].update(name="bang!name"), "breaks the name rule"),
    "unknown harness": (lambda d: d.update(harness_version="0.9.0"), "harness version 0.9.0 is unknown"),
    "nan draws": (
        lambda d: d["metrics"]["knn_accuracy"].update(per_draw=[float("nan")] * 4),
        "per_draw must be a non-empty list of finite numbers",
    ),
}


def test_a_score_one_rounding_error_above_one_is_valid(tmp_path, tiny_zoo, capsys):
    def edit(d):
        d["metrics"]["knn_accuracy"].update(per_draw=[1.0000000000000002] * 4, mean=1.0000000000000002)

    root, _ = _board(tmp_path, tiny_zoo, edit)
    code, out, _ = run(capsys, "leaderboard", "--root", root)
    assert code == 0 and "INVALID" not in out, out


@pytest.mark.parametrize("edit,message", RESULT_DAMAGE.values(), ids=RESULT_DAMAGE)
def test_bad_result_files_are_invalid_in_one_line_each(tmp_path, tiny_zoo, capsys, edit, message):
    root, _ = _board(tmp_path, tiny_zoo, edit)
    code, out, err = run(capsys, "leaderboard", "--root", root, "--check")
    assert code == 1 and "INVALID " in out and message in out, out
    assert err.count("\n") == 1 and "nothing was rendered" in err and "Traceback" not in err
    assert not (root / "README.md").exists()


def test_a_non_utf8_result_file_is_named(tmp_path, tiny_zoo, capsys):
    root, path = _board(tmp_path, tiny_zoo, lambda d: None)
    path.write_bytes(b"\xff\xfe{")
    code, out, _ = run(capsys, "leaderboard", "--root", root, "--check")
    assert code == 1 and "results/integ/poly-seed@1.1.0.json: not UTF-8 text" in out
