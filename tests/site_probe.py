"""The results site in headless Chromium: a probe script injected into the page reports what a
reader sees at 1400 px (table boxes, figure sizes, legends, keys, clipped text, each embedder's
colours), and `assert_readable` checks it. Used by tests/test_leaderboard.py."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

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
  report.scaling = all('svg.scaling-curve').map(function (s) {
    return {size: size(s), curves: names(s, 'polyline.curve'), legend: names(s, '.legend .legend-item')};
  });
  report.maps = all('details.entry-figures svg.embedding-map').map(function (s) { return {size: size(s), key: all('.key', s).length}; });
  report.points = all('svg.embedding-map circle').length;
  report.cloze = all('svg.cloze-example').map(function (s) {
    return {size: size(s), legend: all('.legend-item text', s).map(function (t) { return t.textContent; })};
  });
  // every text of a figure lies inside its figure (no clipped tick or label)
  report.clipped = [];
  all('svg.budget-curve, svg.embedding-map, svg.cloze-example, svg.scaling-curve').forEach(function (s) {
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
    if (e.closest('svg.scaling-curve')) return;  // its lines are model sizes, not embedders
    var paint = e.tagName === 'SPAN' ? getComputedStyle(e).backgroundColor
      : getComputedStyle(e.tagName === 'polyline' ? e : e.firstElementChild).stroke;
    var n = e.getAttribute('data-embedder'), c = hex(paint);
    report.colors[n] = report.colors[n] || [];
    if (report.colors[n].indexOf(c) < 0) report.colors[n].push(c);
  });
  var pre = document.createElement('pre'); pre.id = 'report'; pre.textContent = JSON.stringify(report);
  document.body.appendChild(pre);
})();</script>"""


def browser() -> str | None:
    """A headless-capable Chromium on PATH, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def browser_report(index: Path, tmp_path: Path) -> dict:
    """Load a results page in headless Chromium at 1400 × 3000 px, run the probe script, return its report."""
    found_browser = browser()
    if found_browser is None:
        pytest.skip("no headless browser installed (Debian: apt-get install chromium); .ci/run installs one")
    page = (
        index.read_text()
        .replace("<head>", "<head>" + INJECT_HEAD, 1)
        .replace("</body>", INJECT_TAIL + "</body>")
    )
    probe = tmp_path / "probe.html"
    probe.write_text(page)
    argv = [found_browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    argv += ["--window-size=1400,3000", "--dump-dom", probe.as_uri()]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="report">(.*?)</pre>', run.stdout, re.S)
    assert found, run.stderr[-2000:]
    text = found.group(1)
    for escaped, char in (("&quot;", '"'), ("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&")):
        text = text.replace(escaped, char)
    return json.loads(text)


def assert_readable(report: dict) -> None:
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
    for fig in report["scaling"]:
        assert fig["size"][0] >= 600 and fig["size"][1] >= 280 and fig["curves"]
        assert fig["legend"] == fig["curves"]
    assert report["clipped"] == []
    colors = report["colors"]
    assert all(len(c) == 1 for c in colors.values()), {n: c for n, c in colors.items() if len(c) > 1}
    assert len({c[0] for c in colors.values()}) == len(colors)  # no two embedders share a colour
