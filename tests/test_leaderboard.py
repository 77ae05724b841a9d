from __future__ import annotations

import json
import re
import shutil
import subprocess
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


INJECT_HEAD = """<script>window.__errors = [];
window.addEventListener('error', function (e) { window.__errors.push(String(e.message)); });
var __ce = console.error; console.error = function () { window.__errors.push(Array.prototype.join.call(arguments, ' ')); __ce.apply(console, arguments); };
</script>"""
INJECT_TAIL = """<script>(function () {
  var all = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };
  var size = function (e) { var r = e.getBoundingClientRect(); return [Math.round(r.width), Math.round(r.height)]; };
  var report = {errors: window.__errors, tables: [], viewport: window.innerWidth,
                pageWidth: document.documentElement.scrollWidth};
  all('table.sortable').forEach(function (t) {
    var col = t.getAttribute('data-zoo') === 'suite' ? 0 : 1;  // the embedder column
    var names = function () { return Array.prototype.map.call(t.tBodies[0].rows, function (r) { return r.cells[col].textContent; }); };
    var header = t.tHead.rows[0].cells[col], box = t.parentElement;
    var entry = {zoo: t.getAttribute('data-zoo'), rows: t.tBodies[0].rows.length, initial: names(),
                 width: t.scrollWidth, box: box.clientWidth, boxRight: box.getBoundingClientRect().right,
                 overflow: getComputedStyle(box).overflowX};
    header.click(); entry.first = names();
    header.click(); entry.second = names();
    report.tables.push(entry);
  });
  report.bodyRight = document.body.getBoundingClientRect().right;
  all('details.entry-figures').forEach(function (d) { d.open = true; });
  var names = function (root, sel) { return all(sel, root).map(function (e) { return e.getAttribute('data-embedder'); }); };
  report.budget = all('figure.budget svg.budget-curve').map(function (s) {
    return {size: size(s), curves: names(s, 'polyline.curve'), legend: names(s, '.legend .legend-item'),
            labels: all('.legend .legend-item text', s).map(function (t) { return t.textContent; }),
            dashed: names(s, 'polyline.curve[stroke-dasharray]')};
  });
  report.curves = all('svg.budget-curve polyline.curve').length;
  report.maps = all('details.entry-figures svg.embedding-map').map(function (s) { return {size: size(s), key: all('.key', s).length}; });
  report.points = all('svg.embedding-map circle').length;
  report.cloze = all('svg.cloze-example').map(function (s) {
    return {size: size(s), legend: all('.legend-item text', s).map(function (t) { return t.textContent; })};
  });
  // every text of a figure lies inside its figure (no clipped tick or label)
  report.clipped = [];
  all('svg.budget-curve, svg.embedding-map, svg.cloze-example').forEach(function (s) {
    var box = s.getBoundingClientRect();
    all('text', s).forEach(function (t) {
      var r = t.getBoundingClientRect();
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5)
        report.clipped.push(s.getAttribute('class') + ': ' + t.textContent);
    });
  });
  // the colour each element paints its embedder in, normalised to #rrggbb
  var ctx = document.createElement('canvas').getContext('2d');
  var hex = function (c) { ctx.fillStyle = '#000000'; ctx.fillStyle = c; return ctx.fillStyle; };
  report.colors = {};
  all('span.swatch, polyline.curve, .legend-item[data-embedder], g.predicted').forEach(function (e) {
    var paint = e.tagName === 'SPAN' ? getComputedStyle(e).backgroundColor
      : getComputedStyle(e.tagName === 'polyline' ? e : e.firstElementChild).stroke;
    var n = e.getAttribute('data-embedder'), c = hex(paint);
    report.colors[n] = report.colors[n] || [];
    if (report.colors[n].indexOf(c) < 0) report.colors[n].push(c);
  });
  var pre = document.createElement('pre'); pre.id = 'report'; pre.textContent = JSON.stringify(report);
  document.body.appendChild(pre);
})();</script>"""


def _browser():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def _browser_report(index: Path, tmp_path: Path) -> dict:
    """Load a results page in headless Chromium at 1400 × 3000 px, run the probe script, return its report."""
    browser = _browser()
    if browser is None:
        pytest.skip("no headless browser installed (Debian: apt-get install chromium); .ci/run installs one")
    page = index.read_text().replace("<head>", "<head>" + INJECT_HEAD, 1).replace("</body>", INJECT_TAIL + "</body>")
    probe = tmp_path / "probe.html"
    probe.write_text(page)
    argv = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    argv += ["--window-size=1400,3000", "--dump-dom", probe.as_uri()]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="report">(.*?)</pre>', run.stdout, re.S)
    assert found, run.stderr[-2000:]
    text = found.group(1)
    for escaped, char in (("&quot;", '"'), ("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&")):
        text = text.replace(escaped, char)
    return json.loads(text)


def _assert_readable(report: dict) -> None:
    """The site stays readable at 1400 px, whatever the number of entries: the page does not scroll
    sideways, each table fits its box or its box scrolls, plots are large enough and have legends
    (or keys), no text is clipped, and each embedder has one colour, its own, everywhere."""
    assert report["errors"] == [] and report["viewport"] == 1400
    assert report["pageWidth"] <= report["viewport"]
    for t in report["tables"]:
        assert t["boxRight"] <= report["bodyRight"] + 1, t["zoo"]
        assert t["width"] <= t["box"] or t["overflow"] in ("auto", "scroll"), t["zoo"]
    assert report["budget"], "no budget curve drawn"
    for fig in report["budget"]:
        assert fig["size"][0] >= 600 and fig["size"][1] >= 280
        assert sorted(fig["legend"]) == sorted(fig["curves"])
        assert len(set(fig["curves"])) == len(fig["curves"])
        for name in fig["dashed"]:
            assert f"{name} (non-canonical)" in fig["labels"]
    assert all(m["size"][0] >= 400 and m["size"][1] >= 300 and m["key"] == 1 for m in report["maps"])
    for c in report["cloze"]:
        assert c["size"][0] >= 400 and c["size"][1] >= 220
        assert c["legend"] == ["truth", "masked points", "prediction"]
    assert report["clipped"] == []
    colors = report["colors"]
    assert all(len(c) == 1 for c in colors.values()), {n: c for n, c in colors.items() if len(c) > 1}
    assert len({c[0] for c in colors.values()}) == len(colors)  # no two embedders share a colour


def test_page_in_a_headless_browser(board, capsys, tmp_path, evaluations):
    assert lb(capsys, board)[0] == 0
    report = _browser_report(board / "index.html", tmp_path)
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
    _assert_readable(report)


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
    report = _browser_report(repo / "leaderboard" / "index.html", tmp_path)
    assert sorted(report["colors"]) == sorted(names)
    (fig,) = report["budget"]
    assert sorted(fig["legend"]) == sorted(names) and fig["dashed"] == [names[5]]
    _assert_readable(report)


def test_committed_site_is_readable_in_a_headless_browser(tmp_path):
    """The real results site (every shipped entry, every track) passes the same checks."""
    index = ROOT / "leaderboard" / "index.html"
    if not index.is_file():
        pytest.skip("no committed results site")
    report = _browser_report(index, tmp_path)
    assert len(report["colors"]) >= 10 and report["cloze"] and len(report["budget"]) >= 6
    _assert_readable(report)


def test_template_passes_evaluation_as_it_is(tiny_zoo):
    result = evaluate(load_submission(ROOT / "baselines" / "template"), tiny_zoo, quiet=True)
    assert 0 <= result["metrics"]["main_score"]["mean"] <= 1


def test_committed_leaderboard_is_valid_and_fresh():
    from netembench.board.render import build

    if not (ROOT / "leaderboard" / "results").is_dir():
        pytest.skip("no committed results")
    problems, stale = build(ROOT / "leaderboard", check=True)
    assert problems == [] and stale == []
