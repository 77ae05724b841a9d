"""Private splits: a build from a secret salt keeps the seen tasks and the train and validation
models of the public build, bit for bit, and redraws the rest; the salt appears nowhere."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from netembench.board.results import build_result, content_hash, default_path, validate_result
from netembench.cli import main
from netembench.eval.embedders import load_submission
from netembench.eval.harness import evaluate
from netembench.zoo.private import MIN_SALT_BYTES, salt_from_bytes
from netembench.zoo.spec import canonical_specs, resolve_spec
from netembench.zoo.store import Zoo
from netembench.zoo.tasks import FineFamily, SeparatedFamily
from netembench.zoo.tasks2d import Fine2DFamily, Separated2DFamily

ROOT = Path(__file__).resolve().parent.parent
TEST_SALT = bytes(range(7, 7 + MIN_SALT_BYTES))  # a test salt, never a real one
SEED = resolve_spec("poly-seed")  # the current version of poly-seed
REFERENCE = SEED.reference_fingerprint or "a" * 64  # its reference build (a stand-in until one is recorded)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def private_zoo(tiny_spec, tmp_path_factory):
    folder = tmp_path_factory.mktemp("private")
    (folder / "salt").write_bytes(TEST_SALT)
    (folder / "tiny.toml").write_text(tiny_spec.to_toml())
    salt, out = str(folder / "salt"), str(folder / "zoo")
    assert (
        main(["zoo", "build", str(folder / "tiny.toml"), "--private-salt", salt, "--out", out, "--quiet"])
        == 0
    )
    return Zoo(folder / "zoo")


def _weights(zoo: Zoo, split: str) -> dict[str, np.ndarray]:
    return {
        f"{path.name}/{k}": v
        for path in sorted((zoo.path / "weights").rglob(f"{split}-*.safetensors"))
        for k, v in load_file(path).items()
    }


def test_private_build_differs_from_public_only_in_test_and_unseen(tiny_zoo, private_zoo):
    assert private_zoo.split == "private" and tiny_zoo.split == "public"
    assert private_zoo.fingerprint != tiny_zoo.fingerprint
    seen = ~tiny_zoo.tasks.unseen
    assert np.array_equal(private_zoo.tasks.unseen, tiny_zoo.tasks.unseen)
    assert np.array_equal(private_zoo.tasks.coef[seen], tiny_zoo.tasks.coef[seen])  # the seen splits' tasks
    assert not np.isclose(private_zoo.tasks.coef[~seen], tiny_zoo.tasks.coef[~seen]).all(axis=1).any()
    for split in ("train", "validation"):
        public, private = _weights(tiny_zoo, split), _weights(private_zoo, split)
        assert public.keys() == private.keys() and all(np.array_equal(public[k], private[k]) for k in public)
        table = tiny_zoo.table(split)
        assert all(np.array_equal(table[k], private_zoo.table(split)[k]) for k in table)
    for split in ("test", "unseen"):
        public, private = _weights(tiny_zoo, split), _weights(private_zoo, split)
        assert public.keys() == private.keys() and not any(
            np.array_equal(public[k], private[k]) for k in public
        )
        assert np.array_equal(tiny_zoo.table(split)["model_id"], private_zoo.table(split)["model_id"])
    assert (private_zoo.path / "spec.toml").read_text() == (tiny_zoo.path / "spec.toml").read_text()


def test_the_salt_is_written_nowhere(private_zoo):
    words = salt_from_bytes(TEST_SALT).words
    secrets = {TEST_SALT.hex(), hashlib.sha256(TEST_SALT).hexdigest()}
    secrets |= {f"{w:08x}" for w in words} | {str(w) for w in words}
    for path in private_zoo.path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert TEST_SALT not in data and not any(s.encode() in data for s in secrets), path
    manifest = json.loads((private_zoo.path / "manifest.json").read_text())
    assert manifest["split"] == "private"
    assert "A private build" in (private_zoo.path / "README.md").read_text()
    salt = salt_from_bytes(TEST_SALT)
    assert str(salt.words[0]) not in repr(salt)  # never printed by accident


def test_salts_too_short_and_private_builds_in_the_cache_are_refused(tmp_path, capsys):
    (tmp_path / "salt").write_bytes(TEST_SALT[: MIN_SALT_BYTES - 1])
    salt, out = str(tmp_path / "salt"), str(tmp_path / "z")
    code, _, err = run(capsys, "zoo", "build", "poly-seed", "--private-salt", salt, "--out", out)
    assert code == 1 and err.count("\n") == 1
    assert f"holds {MIN_SALT_BYTES - 1} bytes; it needs at least {MIN_SALT_BYTES} random bytes" in err
    assert not (tmp_path / "z").exists()
    (tmp_path / "salt").write_bytes(TEST_SALT)
    code, _, err = run(capsys, "zoo", "build", "poly-seed", "--private-salt", salt)
    assert code == 1 and "--private-salt needs --out" in err and err.count("\n") == 1


def test_private_words_redraw_only_unseen_tasks_in_every_family():
    words = salt_from_bytes(TEST_SALT).words
    for family in (
        SeparatedFamily(n_tasks=4, n_unseen=2, min_distance=0.1),
        FineFamily(n_families=2, n_variants=2, n_unseen_variants=1, n_unseen_families=1),
        Separated2DFamily(n_tasks=4, n_unseen=2, min_distance=0.1),
        Fine2DFamily(n_families=2, n_variants=2, n_unseen_variants=1, n_unseen_families=1),
    ):
        public, private = family.sample(3), family.sample(3, words)
        assert np.array_equal(public.unseen, private.unseen) and np.array_equal(public.family, private.family)
        seen = ~public.unseen
        assert np.array_equal(public.coef[seen], private.coef[seen]), family
        assert not np.isclose(public.coef[~seen], private.coef[~seen]).all(axis=1).any(), family
        assert private.min_distance > 0


def test_results_on_a_private_build_say_so(private_zoo, capsys):
    integ = load_submission(ROOT / "baselines" / "integ")
    result = build_result(private_zoo, evaluate(integ, private_zoo, quiet=True), "cpu")
    assert result["split"] == "private" and validate_result(result) == []
    assert default_path("r", "integ", "tiny@0.1.0", result["split"]).name == "tiny@0.1.0.private.json"
    relabelled = {**result, "split": "public"}
    assert content_hash(relabelled) != result["content_hash"]  # the split is hashed
    code, out, err = run(capsys, "zoo", "info", str(private_zoo.path))
    assert code == 0 and "is a private build" in err and "is not the reference" not in err


def _board(tmp_path: Path) -> Path:
    """A leaderboard with integ's shipped poly-seed result, relabelled as the current version (public),
    and a private-split copy of it on a private build with fingerprint f...f."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "baselines" / "integ", repo / "baselines" / "integ")
    public = json.loads((ROOT / "leaderboard/results/integ/poly-seed@1.2.0.json").read_text())
    public["zoo"].update(version=SEED.version, fingerprint=REFERENCE)
    public["content_hash"] = content_hash(public)
    (repo / "leaderboard/results/integ").mkdir(parents=True)
    (repo / f"leaderboard/results/integ/{SEED.ref}.json").write_text(json.dumps(public))
    private = json.loads(json.dumps(public))
    private["split"], private["zoo"]["fingerprint"] = "private", "f" * 64
    for name in ("main_score", "probe_accuracy"):
        private["metrics"][name].update(
            mean=0.75, per_draw=[0.75] * len(private["metrics"][name]["per_draw"])
        )
    private["content_hash"] = content_hash(private)
    (repo / f"leaderboard/results/integ/{SEED.ref}.private.json").write_text(json.dumps(private))
    return repo / "leaderboard"


def test_the_private_score_is_the_headline(tmp_path, capsys, monkeypatch):
    board = _board(tmp_path)
    specs = canonical_specs()
    specs[SEED.ref] = SEED.replace(reference_fingerprint=REFERENCE)
    monkeypatch.setattr("netembench.board.leaderboard.canonical_specs", lambda: specs)
    assert run(capsys, "leaderboard", "--root", str(board))[0] == 0
    md = (board / "README.md").read_text()
    assert "### non-canonical zoo" in md and "(private)" not in md  # no private build recorded in the spec
    specs[SEED.ref] = SEED.replace(reference_fingerprint=REFERENCE, private_fingerprint="f" * 64)
    assert run(capsys, "leaderboard", "--root", str(board))[0] == 0
    md = (board / "README.md").read_text()
    assert "| integ | gradients | — | 0.750 (private) | — |" in md
    assert (
        md.index("| private | gradients | 0.750")
        < md.index("### public split of entries headed")
        < md.index("| public | gradients | 1.000")
    )
    assert md.split("### budget curve")[1].count("| integ |") == 1  # one curve: the headline's
