from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from netembench.board.results import build_result, content_hash, write_result
from netembench.board.signing import generate_key, public_line
from netembench.board.verified import make_record, scores
from netembench.cli import main
from netembench.eval.embedders import load_submission
from netembench.eval.harness import HARNESS_VERSION, evaluate
from netembench.zoo.spec import canonical_specs, resolve_spec
from tests.site_probe import assert_readable, browser_report

ROOT = Path(__file__).resolve().parent.parent
SEED = resolve_spec("poly-seed")  # the current version of poly-seed
REFERENCE = SEED.reference_fingerprint or "a" * 64  # its reference build (a stand-in until one is recorded)


@pytest.fixture(autouse=True)
def reference_recorded(monkeypatch):
    """The leaderboard sees REFERENCE as the current poly-seed's reference build."""
    specs = canonical_specs()
    specs[SEED.ref] = specs[SEED.ref].replace(reference_fingerprint=REFERENCE)
    monkeypatch.setattr("netembench.board.leaderboard.canonical_specs", lambda: specs)
    return specs


NAMES = ("grad_bins", "integ", "weight_stats")


@pytest.fixture(scope="module")
def evaluations(tiny_zoo):
    out = {}
    for name in NAMES:  # sealed, as `netembench eval` runs them
        out[name] = build_result(
            tiny_zoo, evaluate(str(ROOT / "baselines" / name), tiny_zoo, quiet=True), "cpu"
        )
    return out


def _as_track(result: dict, canonical: bool = True) -> dict:
    """A tiny-zoo result relabelled as the current poly-seed (canonical fingerprint, or not)."""
    r = json.loads(json.dumps(result))
    r["zoo"].update(name="poly-seed", version=SEED.version)
    if canonical:
        r["zoo"]["fingerprint"] = REFERENCE
    r["embedder"]["submission"] = f"baselines/{r['embedder']['name']}"
    r["content_hash"] = content_hash(r)
    return r


@pytest.fixture()
def board(tmp_path, evaluations):
    """A repository with three submissions and their results on the current poly-seed."""
    repo = tmp_path / "repo"
    for name in NAMES:
        shutil.copytree(ROOT / "baselines" / name, repo / "baselines" / name)
        write_result(
            _as_track(evaluations[name]), repo / "leaderboard" / "results" / name / f"{SEED.ref}.json"
        )
    return repo / "leaderboard"


def lb(capsys, board, *args):
    code = main(["leaderboard", "--root", str(board), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_render_then_check(board, capsys):
    assert lb(capsys, board, "--check")[0] == 1  # nothing rendered yet: stale
    code, out, _ = lb(capsys, board)
    assert code == 0
    md = (board / "README.md").read_text()
    assert f"## {SEED.ref}" in md and md.count("](../baselines/") == 3
    assert "| grad\\_bins | gradients |" in md and "weights" in md  # Markdown-escaped name
    assert (
        "<script src" not in (board / "index.html").read_text()
        and "http" not in (board / "index.html").read_text()
    )
    code, out, _ = lb(capsys, board, "--check")
    assert code == 0 and out.startswith("OK")
    result = board / f"results/integ/{SEED.ref}.json"
    data = json.loads(result.read_text())
    data["timings"]["total_seconds"] += 100  # not hashed, but shown
    result.write_text(json.dumps(data))
    code, out, err = lb(capsys, board, "--check")
    assert code == 1 and "STALE" in out and "stale" in err


def test_non_canonical_builds_are_listed_apart(board, evaluations, capsys):
    write_result(
        _as_track(evaluations["grad_bins"], canonical=False),
        board / f"results/grad_bins/{SEED.ref}.json",
        overwrite=True,
    )
    assert lb(capsys, board)[0] == 0
    md = (board / "README.md").read_text()
    assert "### non-canonical zoo" in md
    assert md.index("### non-canonical zoo") < md.index("[grad\\_bins]")


def _rewrite(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda p: p.write_text("{not json"), "malformed JSON"),
        (lambda p: _rewrite(p, lambda d: d.pop("timings")), "missing field 'timings'"),
        (lambda p: _rewrite(p, lambda d: d.update(extra=1)), "unexpected field 'extra'"),
        (lambda p: _rewrite(p, lambda d: d.update(schema_version=2)), "schema_version 2 is not 1"),
        (
            lambda p: _rewrite(p, lambda d: d["metrics"]["main_score"].update(mean=0.999)),
            "content_hash does not match",
        ),
        (
            lambda p: _rewrite(
                p, lambda d: (d["zoo"].update(name="poly-nope"), d.update(content_hash=content_hash(d)))
            ),
            f"unknown zoo poly-nope@{SEED.version}",
        ),
        (
            lambda p: _rewrite(
                p, lambda d: (d.update(harness_version="0.9.0"), d.update(content_hash=content_hash(d)))
            ),
            "harness version 0.9.0",
        ),
        (
            lambda p: shutil.rmtree(p.parents[3] / "baselines/integ"),
            "submission code baselines/integ is missing",
        ),
        (
            lambda p: shutil.copy(p, p.parent.parent / "grad_bins" / "copy.json"),
            f"duplicate entry for integ on {SEED.ref}",
        ),
        (
            lambda p: (p.parents[3] / "baselines/integ/embedder.py").open("a").write("# edited\n"),
            "the committed code of baselines/integ is not the code this result was evaluated with",
        ),
    ],
)
def test_check_names_every_bad_file_and_writes_nothing(board, capsys, damage, reason):
    assert lb(capsys, board)[0] == 0
    before = (board / "README.md").read_text()
    damage(board / f"results/integ/{SEED.ref}.json")
    for args in ((), ("--check",)):
        code, out, err = lb(capsys, board, *args)
        assert code == 1
        assert reason in out and "INVALID " in out
        assert err.count("\n") == 1 and "nothing was rendered" in err
    assert (board / "README.md").read_text() == before


def _sign(board: Path, key, rel: str, data: dict | None = None, under: str | None = None) -> None:
    """Add a record of result file `rel` (or of `data`) signed by `key`, under `under` (default `rel`)."""
    data = data or json.loads((board / rel).read_text())
    path = board / "verified.json"
    records = json.loads(path.read_text()) if path.is_file() else {}
    records[under or rel] = make_record(rel, data, scores(data["metrics"]), key, HARNESS_VERSION)
    path.write_text(json.dumps(records))


@pytest.fixture()
def signer(board, tmp_path):
    """A throwaway signing key made for the test (never the maintainers'), listed in maintainers.pub."""
    key = generate_key(tmp_path / "test.key")
    (board / "maintainers.pub").write_text("# test key\n" + public_line(key.public_key(), "test") + "\n")
    return key


INTEG = f"results/integ/{SEED.ref}.json"
GRAD_BINS = f"results/grad_bins/{SEED.ref}.json"


def test_a_signed_record_marks_its_entry_verified(board, signer, capsys):
    _sign(board, signer, INTEG)
    assert lb(capsys, board)[0] == 0
    assert "| [integ](../baselines/integ) | ✓ | public |" in (board / "README.md").read_text()
    code, out, _ = lb(capsys, board, "--check")
    assert code == 0 and out.startswith("OK")


def _edit_result(board: Path) -> None:
    """A consistent edit (draws, mean, content hash): only a signature or a rerun catches it."""

    def shift(d):
        knn = d["metrics"]["knn_accuracy"]
        knn.update(per_draw=[v - 0.2 for v in knn["per_draw"]], mean=knn["mean"] - 0.2)
        d.update(content_hash=content_hash(d))

    _rewrite(board / INTEG, shift)


def _unseal(d: dict) -> None:  # harness 1.3 marks a run outside its sandbox so
    d["embedder"]["sealed"] = False
    d.update(content_hash=content_hash(d))


def _tamper_record(board: Path) -> None:
    records = json.loads((board / "verified.json").read_text())
    records[INTEG]["record"]["scores"]["knn_accuracy"] -= 0.2
    (board / "verified.json").write_text(json.dumps(records))


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        (lambda b, k: _sign(b, Ed25519PrivateKey.generate(), INTEG), "which is not in maintainers.pub"),
        (lambda b, k: (_sign(b, k, INTEG), _tamper_record(b)), "signature does not verify"),
        (
            lambda b, k: _sign(b, k, GRAD_BINS, under=INTEG),
            f"a record of another file ('{GRAD_BINS}')",
        ),
        (lambda b, k: (_sign(b, k, INTEG), _edit_result(b)), "stale: the result file changed"),
        (
            lambda b, k: (b / "verified.json").write_text(
                json.dumps({INTEG: {"content_hash": json.loads((b / INTEG).read_text())["content_hash"]}})
            ),
            "unsigned",
        ),
        (lambda b, k: (_rewrite(b / INTEG, _unseal), _sign(b, k, INTEG)), "not evaluated in the sandbox"),
    ],
    ids=["forged-key", "edited-record", "another-file", "edited-result", "unsigned", "unsealed"],
)
def test_check_fails_on_a_record_that_does_not_verify_its_file(board, signer, capsys, forge, reason):
    assert lb(capsys, board)[0] == 0
    forge(board, signer)
    for args in ((), ("--check",)):
        code, out, err = lb(capsys, board, *args)
        assert code == 1 and err.count("\n") == 1 and "Traceback" not in out + err
        assert out.count("INVALID") == 1 and f"INVALID verified.json: the record of {INTEG}: " in out
        assert reason in out


def test_rerun_signs_only_on_the_reference_build(
    board, signer, tiny_zoo, tmp_path, capsys, monkeypatch, reference_recorded
):
    cache = tmp_path / "cache"
    monkeypatch.setenv("NETEMBENCH_CACHE", str(cache))
    shutil.copytree(tiny_zoo.path, cache / "zoos" / SEED.ref)  # evaluated on this build
    data = json.loads((board / INTEG).read_text())
    data["zoo"]["fingerprint"] = tiny_zoo.fingerprint
    write_result({**data, "content_hash": content_hash(data)}, board / INTEG, overwrite=True)
    key = str(tmp_path / "test.key")
    code, out, _ = lb(capsys, board, "rerun", "integ", "--sign-key", key, "--quiet")
    assert code == 0 and f"OK integ {SEED.ref}: reproduced within tolerance; not signed:" in out
    assert f"is not the public reference build of {SEED.ref}" in out
    assert not (board / "verified.json").exists()

    # from here on, the tiny build stands in for the reference build
    reference_recorded[SEED.ref] = SEED.replace(reference_fingerprint=tiny_zoo.fingerprint)
    monkeypatch.setenv("NETEMBENCH_SIGNING_KEY", key)
    code, out, _ = lb(capsys, board, "rerun", "integ", "--quiet")
    assert code == 0 and f"VERIFIED integ {SEED.ref}: reproduced within tolerance" in out
    assert "README.md" in out  # the rerun rendered the pages it changed
    assert "| [integ](../baselines/integ) | ✓ |" in (board / "README.md").read_text()
    assert lb(capsys, board, "--check")[0] == 0

    _edit_result(board)
    code, out, _ = lb(capsys, board, "--check")
    assert code == 1 and f"the record of {INTEG}: stale" in out
    code, out, err = lb(capsys, board, "rerun", "integ", "--quiet")
    assert code == 1 and f"MOVED integ {SEED.ref} knn_accuracy" in out and "moved beyond tolerance" in err


def test_shipped_results_pass_the_cross_metric_rule_and_a_hand_edit_fails(board, capsys):
    fine = board / "results/integ/poly-fine@1.1.0.json"
    shutil.copy(ROOT / "leaderboard/results/integ/poly-fine@1.1.0.json", fine)
    assert lb(capsys, board)[0] == 0

    def cheat(d):  # issue 19's hand edit: probe accuracy 0.574 -> 0.950, k-NN left at 0.567
        for name in ("probe_accuracy", "main_score"):
            d["metrics"][name].update(mean=0.95, per_draw=[0.95] * len(d["metrics"][name]["per_draw"]))
        d.update(content_hash=content_hash(d))

    _rewrite(fine, cheat)
    code, out, _ = lb(capsys, board, "--check")
    assert code == 1 and "probe_accuracy 0.950 is more than 0.2 above both knn_accuracy 0.567" in out


def _v_measure(value: float):
    def edit(d):
        v = d["metrics"]["cluster_v_measure"]
        v.update(mean=value, per_draw=[value] * len(v["per_draw"]))
        d.update(content_hash=content_hash(d))

    return edit


def test_bounds_allow_rounding(board, capsys):
    _rewrite(board / INTEG, _v_measure(1.0000000000000002))  # a genuine V-measure can be this
    assert lb(capsys, board)[0] == 0
    _rewrite(board / INTEG, _v_measure(1.01))
    code, out, _ = lb(capsys, board, "--check")
    assert code == 1 and "metric 'cluster_v_measure': accuracies and their intervals lie within [0, 1]" in out


def test_page_in_a_headless_browser(board, capsys, tmp_path, evaluations):
    assert lb(capsys, board)[0] == 0
    report = browser_report(board / "index.html", tmp_path)
    assert [t["zoo"] for t in report["tables"]] == ["suite", SEED.ref]
    for table in report["tables"]:
        assert table["rows"] == len(NAMES)  # a row per entry
        assert table["first"] == sorted(NAMES, reverse=True)  # first click: descending
        assert table["second"] == sorted(NAMES)  # second click: ascending
        assert table["first"] != table["initial"] or table["second"] != table["initial"]
    # the results site's plots are drawn: a budget curve per entry, an embedding map per entry
    assert len(report["budget"]) == 1 and report["curves"] == len(NAMES)
    assert sorted(report["budget"][0]["legend"]) == sorted(NAMES)
    assert len(report["maps"]) == len(NAMES)
    assert report["points"] == len(NAMES) * len(evaluations["integ"]["figures"]["embedding_map"]["pc1"])
    assert sorted(report["colors"]) == sorted(NAMES)
    assert_readable(report)


def test_sixteen_entries_stay_readable_in_a_headless_browser(tmp_path, evaluations, capsys):
    """16 embedders on one track (the three baselines' results under other names), one of them only
    on a non-canonical build: 16 colours, a legend row each, that one dashed and labelled."""
    repo = tmp_path / "repo"
    names = [f"{NAMES[i % 3]}_{i:02d}" for i in range(16)]
    for i, name in enumerate(names):
        shutil.copytree(ROOT / "baselines" / NAMES[i % 3], repo / "baselines" / name)
        r = _as_track(evaluations[NAMES[i % 3]], canonical=i != 5)
        r["embedder"].update(name=name, submission=f"baselines/{name}")
        write_result({**r, "content_hash": content_hash(r)}, repo / f"leaderboard/results/{name}/{SEED.ref}.json")
    assert lb(capsys, repo / "leaderboard")[0] == 0
    report = browser_report(repo / "leaderboard" / "index.html", tmp_path)
    assert sorted(report["colors"]) == sorted(names)
    (fig,) = report["budget"]
    assert sorted(fig["legend"]) == sorted(names) and fig["dashed"] == [names[5]]
    assert_readable(report)


def test_committed_site_is_readable_in_a_headless_browser(tmp_path):
    """The real results site (every shipped entry, every track) passes the same checks."""
    index = ROOT / "leaderboard" / "index.html"
    if not index.is_file():
        pytest.skip("no committed results site")
    report = browser_report(index, tmp_path)
    assert len(report["colors"]) >= 10 and report["cloze"] and len(report["budget"]) >= 6
    assert len(report["scaling"]) == len(list((ROOT / "leaderboard" / "studies").glob("*.json")))
    assert_readable(report)


def test_template_passes_evaluation_as_it_is(tiny_zoo):
    result = evaluate(load_submission(ROOT / "baselines" / "template"), tiny_zoo, quiet=True)
    assert 0 <= result["metrics"]["main_score"]["mean"] <= 1


def test_committed_leaderboard_is_valid_and_fresh():
    from netembench.board.render import build

    if not (ROOT / "leaderboard" / "results").is_dir():
        pytest.skip("no committed results")
    problems, stale = build(ROOT / "leaderboard", check=True)
    assert problems == [] and stale == []
