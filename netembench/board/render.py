"""Render the leaderboard as Markdown (`leaderboard/README.md`) and as one self-contained results
site (`leaderboard/index.html`: sortable tables, budget curves, embedding maps and cloze examples as
inline SVG; no external scripts, styles or fonts). Deterministic: the same result files give the
same bytes, so `netembench leaderboard --check` can spot stale pages."""

from __future__ import annotations

import html
import re
from pathlib import Path

from netembench.board import figures
from netembench.eval.harness import HARNESS_VERSION
from netembench.eval.tracks import TRACKS
from netembench.board.leaderboard import Entry, collect, headline, suite_scores
from netembench.eval.probes import PROTOCOL_V1
from netembench.zoo.spec import CANONICAL_TRACKS

METRICS = {
    "main_score": "The track's main score (below), with its 95% bootstrap interval over test models.",
    "probe_accuracy": "Task accuracy of a logistic-regression probe on standardised embeddings, fitted on train models, scored on test models (other seeds).",
    "knn_accuracy": "Task accuracy of 5-nearest-neighbour (cosine, distance-weighted) classification of test models among train models.",
    "cluster_ami": "Adjusted mutual information between k-means clusters of test embeddings (k = number of tasks) and tasks.",
    "cluster_v_measure": "V-measure of the same clustering.",
    "unseen_cluster_ami": "Zero-shot: AMI of k-means clusters of models of tasks never seen in train.",
    "coarse_probe_accuracy": "poly-fine: probe accuracy for the family (coarse label); a sanity check.",
    "budget_curve": "The main score with probe sets of N = 8, 16, 32, 64 and 128 points (64 is the main score; 2-D tracks: 16 to 256, 128 is the main score): how few queries an embedder needs.",
    "twin_recall_at_1": "Functional twins: is a test model's nearest neighbour (cosine), among test models and their twins (hidden units permuted and rescaled: the same function), its own twin?",
    "twin_distance_ratio": "Median cosine distance to the twin over the median distance to another model of the same task (0: the symmetry is respected exactly).",
    "retrieval_recall_at_1": "poly-many: is a test model's nearest train model (cosine) of the same task?",
    "unseen_coef_r2": "poly-many: R² of a ridge regression from embedding to Chebyshev coefficients, fitted on train tasks, scored on unseen tasks.",
    "arch_probe_accuracy": "poly-xarch: probe accuracy on each test architecture (the probe is fitted on 1-32-32-1 models).",
    "cloze_nmse_pooled": "Cloze embedders: error on masked gradients, pooled over test models, normalised by each model's gradient variance.",
    "interp_nmse_pooled": "The same error for neighbour interpolation of the masked gradients (reference).",
}
TRACK_TEXT = {
    "poly-seed": "10 separated tasks × 50 seeds: the research note's setting. Main score: probe accuracy.",
    "poly-fine": "5 families × 10 close variants: fine-grained identification. Main score: probe accuracy (fine).",
    "poly-many": "1000 tasks, 4 seeds each. Main score: retrieval recall@1 across seeds (no linear probe: 2 train models per task).",
    "poly-xarch": "poly-fine tasks; probe trained on 1-32-32-1, tested on other architectures. Main score: mean accuracy over test architectures.",
    "poly2d-seed": "2-D inputs (protocol v2, 128 points): 10 separated polynomials in (x1, x2) × 50 seeds. Main score: probe accuracy.",
    "poly2d-fine": "2-D inputs (protocol v2, 128 points): 5 families × 10 close variants × 24 seeds. Main score: probe accuracy (fine).",
}
READS = (("grad", "gradients"), ("y", "outputs"), ("weights", "weights"))


def _columns(track: str, entries: list[Entry]) -> list[str]:
    t = TRACKS.get(track)
    cols = ["probe_accuracy", "knn_accuracy", "cluster_ami", "cluster_v_measure", "unseen_cluster_ami"]
    cols += ["twin_recall_at_1", "twin_distance_ratio"]
    if t and t.coarse:
        cols += ["coarse_probe_accuracy"]
    if t and t.retrieval:
        cols = ["retrieval_recall_at_1", "unseen_coef_r2", *cols]
    if t and t.per_arch:
        archs = sorted({a for e in entries for a in e.data["metrics"].get("arch_probe_accuracy", {})})
        cols = [f"arch_probe_accuracy/{a}" for a in archs] + cols
    if any(e.data["embedder"]["cloze"] for e in entries):
        cols += ["cloze_nmse_pooled", "interp_nmse_pooled"]
    return [c for c in cols if any(_value(e, c) is not None for e in entries)]


def _value(entry: Entry, column: str) -> dict | None:
    metrics = entry.data["metrics"]
    if column.startswith("arch_probe_accuracy/"):
        return metrics.get("arch_probe_accuracy", {}).get(column.split("/", 1)[1])
    return metrics.get(column)


def _reads(entry: Entry) -> str:
    reads = entry.data["embedder"]["reads"]
    return ", ".join(label for key, label in READS if key in reads)


def _groups(entries: list[Entry]) -> list[tuple[str, list[Entry]]]:
    """Sections of a track: the headline entries (a private-split score where there is one)
    self-supervised, then supervised; public-split scores of entries headed by a private one;
    non-canonical zoo; unsealed; superseded."""
    key = lambda e: (-e.metric("main_score"), e.name)  # noqa: E731
    top = headline(entries)
    sections = [
        ("self-supervised and non-learned", [e for e in top if not e.data["embedder"]["supervised"]]),
        ("supervised (trained with task labels)", [e for e in top if e.data["embedder"]["supervised"]]),
        (
            "public split of entries headed by their private-split score above",
            [e for e in entries if e.canonical and e not in top],
        ),
        (
            "non-canonical zoo (another build of this zoo version)",
            [e for e in entries if not e.canonical and not e.superseded and not e.unsealed],
        ),
        (
            "unsealed (evaluated without the sandbox; never verified)",
            [e for e in entries if e.unsealed and not e.superseded],
        ),
        (
            "superseded zoo version (kept for reference; not comparable with current versions)",
            [e for e in entries if e.superseded],
        ),
    ]
    return [(title, sorted(group, key=key)) for title, group in sections if group]


def _tracks(entries: list[Entry]) -> list[tuple[str, list[Entry]]]:
    superseded = {e.zoo for e in entries if e.superseded}
    zoos = sorted(
        {e.zoo for e in entries},
        key=lambda z: (
            z in superseded,
            CANONICAL_TRACKS.index(z.split("@")[0]) if z.split("@")[0] in CANONICAL_TRACKS else 99,
            z,
        ),
    )
    return [(z, [e for e in entries if e.zoo == z]) for z in zoos]


def _suite_rows(entries: list[Entry]) -> list[tuple[str, float | None, dict[str, Entry]]]:
    """(embedder, suite score or None, its headline entries by track), best suite score first."""
    suite = suite_scores(entries)
    top = headline(entries)
    names = sorted({e.name for e in top}, key=lambda n: (-suite.get(n, -1), n))
    return [(n, suite.get(n), {e.track: e for e in top if e.name == n}) for n in names]


def _main_cell(entry: Entry) -> str:
    """A suite table cell: the main score, marked when it comes from the private split."""
    return f"{entry.metric('main_score'):.3f}" + (" (private)" if entry.split == "private" else "")


def _fmt(value: dict | None) -> str:
    return "—" if value is None else f"{value['mean']:.3f} ± {value['std']:.3f}"


def _header_name(column: str) -> str:
    return column.replace("arch_probe_accuracy/", "acc ").replace("_", " ")


def render_markdown(entries: list[Entry]) -> str:
    p = PROTOCOL_V1
    lines = [
        "# netembench leaderboard",
        "",
        "Generated by `netembench leaderboard` from the result files in `results/`; do not edit by hand.",
        f"Harness {HARNESS_VERSION}, probe protocol v{p.version} on 1-D tracks ({p.n_points} points per probe set; "
        "v2 with 128 points on 2-D tracks, docs/protocol.md), "
        f"{int(p.mask_ratio * 100)}% of linear regions masked, {p.n_draws} evaluation draws. Scores are mean ± std over draws; "
        "the main score's 95% bootstrap interval over test models shows what is noise.",
        "",
        "## Suite score",
        "",
        "Mean of the main scores on the four 1-D tracks; the 2-D tracks (protocol v2) are listed beside it.",
        "",
        "| embedder | reads | suite | " + " | ".join(CANONICAL_TRACKS) + " |",
        "|---|---|---|" + "---|" * len(CANONICAL_TRACKS),
    ]
    for n, suite, mine in _suite_rows(entries):
        reads = _reads(next(iter(mine.values())))
        cells = [_main_cell(mine[t]) if t in mine else "—" for t in CANONICAL_TRACKS]
        lines.append(
            f"| {_md(n)} | {reads} | {'—' if suite is None else f'{suite:.3f}'} | " + " | ".join(cells) + " |"
        )
    for zoo, group in _tracks(entries):
        cols = _columns(zoo.split("@")[0], group)
        lines += ["", f"## {zoo}", "", TRACK_TEXT.get(zoo.split("@")[0], "")]
        for title, section in _groups(group):
            lines += [
                "",
                f"### {title}",
                "",
                "| # | embedder | verified | split | reads | main score | 95% CI | "
                + " | ".join(_header_name(c) for c in cols)
                + " | params | eval s |",
                "|---|---|---|---|---|---|---|" + "---|" * len(cols) + "---|---|",
            ]
            for rank, e in enumerate(section, 1):
                main = e.data["metrics"]["main_score"]
                ci = main.get("ci95", [main["mean"], main["mean"]])
                cells = [_fmt(_value(e, c)) for c in cols]
                lines.append(
                    f"| {rank} | [{_md(e.name)}](../{e.data['embedder']['submission']}) | {'✓' if e.verified else ''} | "
                    f"{e.split} | {_reads(e)} | {_fmt(main)} | "
                    f"[{ci[0]:.3f}, {ci[1]:.3f}] | "
                    + " | ".join(cells)
                    + f" | {e.data['embedder']['n_params']:,} | "
                    f"{e.data['timings']['total_seconds']:.0f} |"
                )
        budget = _budget_rows(group)
        if budget:
            sizes = sorted({n for _, c in budget for n in c})
            lines += [
                "",
                "### budget curve (main score by probe points N)",
                "",
                "| embedder | " + " | ".join(f"N={n}" for n in sizes) + " |",
                "|---|" + "---|" * len(sizes),
            ]
            for e, curve in sorted(budget, key=lambda b: (-b[0].metric("main_score"), b[0].name)):
                lines.append(
                    f"| {_md(e.name)} | "
                    + " | ".join(f"{curve[n]:.3f}" if n in curve else "—" for n in sizes)
                    + " |"
                )
    lines += [
        "",
        "Verified (✓): a maintainer's `netembench leaderboard rerun` on the reference build reproduced the "
        "result and signed a record of it (`verified.json`, Ed25519, public key in `maintainers.pub`), which "
        "`netembench leaderboard --check` verifies. Split *private*: a maintainers' run on a private build, whose "
        "test models no one else can rebuild; it is the headline score where there is one. See SUBMITTING.md "
        "for what each proves.",
        "",
        "## Metrics",
        "",
    ]
    lines += [f"- `{k}`: {v}" for k, v in METRICS.items()]
    return "\n".join(lines) + "\n"


_STYLE = """body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.9rem}th,td{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:right}td{white-space:nowrap}
th{cursor:pointer;background:#f4f4f4;user-select:none}th:after{content:' \\2195';color:#aaa}td:nth-child(2),th:nth-child(2),td:nth-child(3){text-align:left}
th.asc:after{content:' \\2191';color:#222}th.desc:after{content:' \\2193';color:#222}dt{font-weight:600;font-family:monospace}dd{margin:0 0 .5rem 1rem}"""

_SCRIPT = """document.querySelectorAll('table.sortable').forEach(function(table){
  table.querySelectorAll('th').forEach(function(th, col){
    th.addEventListener('click', function(){
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var desc = !th.classList.contains('desc');
      table.querySelectorAll('th').forEach(function(h){ h.classList.remove('asc', 'desc'); });
      th.classList.add(desc ? 'desc' : 'asc');
      rows.sort(function(a, b){
        var x = a.cells[col].getAttribute('data-value'), y = b.cells[col].getAttribute('data-value');
        var nx = parseFloat(x), ny = parseFloat(y);
        var cmp = (isNaN(nx) || isNaN(ny)) ? String(x).localeCompare(String(y)) : nx - ny;
        return desc ? -cmp : cmp;
      });
      rows.forEach(function(r){ body.appendChild(r); });
    });
  });
});"""


def _md(text: str) -> str:
    """Text for a Markdown table cell: Markdown's special characters escaped."""
    return re.sub(r"([\\`*_{}\[\]()<>#+!|])", r"\\\1", text)


def _plotted(group: list[Entry]) -> list[Entry]:
    """A track's current entries for its figures and budget table, one per embedder: its headline
    entry (a private-split score hides the public one), else its non-canonical one."""
    top = headline(group)
    chosen: dict[str, Entry] = {}
    for e in group:
        if e in top or (not e.superseded and not e.canonical and all(t.name != e.name for t in top)):
            chosen.setdefault(e.name, e)
    return [e for e in group if chosen.get(e.name) is e]


def _budget_rows(group: list[Entry]) -> list[tuple[Entry, dict[int, float]]]:
    return [
        (e, {int(n): v["mean"] for n, v in e.data["metrics"].get("budget_curve", {}).items()})
        for e in _plotted(group)
        if e.data["metrics"].get("budget_curve")
    ]


def build(root: str | Path, check: bool = False) -> tuple[list[str], list[str]]:
    """Validate and render. Returns (problems, stale files). Writes only when valid and not `check`."""
    root = Path(root)
    entries, problems = collect(root)
    if problems:
        return problems, []
    outputs = {root / "README.md": render_markdown(entries), root / "index.html": render_html(entries)}
    stale = [str(p) for p, text in outputs.items() if not p.is_file() or p.read_text() != text]
    if not check:
        for path, text in outputs.items():
            path.write_text(text)
    return [], stale


def _cell(text: str, value: object) -> str:
    return f'<td data-value="{html.escape(str(value))}">{html.escape(text)}</td>'


def _figures(zoo: str, group: list[Entry]) -> list[str]:
    """A track's budget curves, then each plotted entry's embedding map and cloze examples."""
    track = zoo.split("@")[0]
    main = TRACKS[track].main.replace("_", " ") if track in TRACKS else "main score"
    budget = _budget_rows(group)
    parts = []
    if budget:
        parts.append(
            f'<figure class="budget" data-zoo="{html.escape(zoo)}">'
            + figures.budget_curves(zoo, {e.name: c for e, c in budget}, main)
            + f"<figcaption>Main score ({html.escape(main)}) against probe points N.</figcaption></figure>"
        )
    for e in sorted((e for e in _plotted(group) if e.data.get("figures")), key=lambda e: e.name):
        figs = e.data["figures"]
        body = figures.embedding_map(e.name, figs.get("embedding_map", {"pc1": [], "pc2": [], "task_id": []}))
        body += figures.cloze_examples(e.name, figs.get("cloze_examples", []))
        parts.append(
            f'<details class="entry-figures" data-embedder="{html.escape(e.name)}" data-zoo="{html.escape(zoo)}">'
            f"<summary>{html.escape(e.name)}: embedding map"
            + (" and cloze examples" if figs.get("cloze_examples") else "")
            + f"</summary>{body}</details>"
        )
    return parts


def render_html(entries: list[Entry]) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>netembench leaderboard</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>netembench leaderboard</h1>",
        f"<p>Harness {HARNESS_VERSION}, probe protocol v1 (1-D tracks) and v2 (2-D tracks). Scores are mean ± std over "
        f"{PROTOCOL_V1.n_draws} evaluation draws; click a column to sort.</p>",
    ]
    parts.append(
        '<h2 id="suite">Suite score</h2><p>Mean of the main scores on the four canonical tracks.</p>'
    )
    parts.append(
        '<table class="sortable" data-zoo="suite"><thead><tr>'
        + "".join(f"<th>{esc(h)}</th>" for h in ("embedder", "reads", "suite", *CANONICAL_TRACKS))
        + "</tr></thead><tbody>"
    )
    for n, suite, mine in _suite_rows(entries):
        first = next(iter(mine.values()))
        link = f'<td data-value="{esc(n)}"><a href="../{esc(first.data["embedder"]["submission"])}">{esc(n)}</a></td>'
        cells = [
            link,
            _cell(_reads(first), _reads(first)),
            _cell("—" if suite is None else f"{suite:.3f}", "" if suite is None else suite),
        ]
        cells += [
            _cell(
                _main_cell(mine[t]) if t in mine else "—", mine[t].metric("main_score") if t in mine else ""
            )
            for t in CANONICAL_TRACKS
        ]
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table>")
    for zoo, group in _tracks(entries):
        cols = _columns(zoo.split("@")[0], group)
        parts.append(
            f'<h2 id="{esc(zoo)}">{esc(zoo)}</h2><p>{esc(TRACK_TEXT.get(zoo.split("@")[0], ""))}</p>'
        )
        for title, section in _groups(group):
            parts.append(f"<h3>{esc(title)}</h3>")
            head = [
                "#",
                "embedder",
                "verified",
                "split",
                "reads",
                "main score",
                *map(_header_name, cols),
                "params",
                "eval s",
            ]
            parts.append(
                f'<table class="sortable" data-zoo="{esc(zoo)}"><thead><tr>'
                + "".join(f"<th>{esc(h)}</th>" for h in head)
                + "</tr></thead><tbody>"
            )
            for rank, e in enumerate(section, 1):
                link = f'<td data-value="{esc(e.name)}"><a href="../{esc(e.data["embedder"]["submission"])}">{esc(e.name)}</a></td>'
                cells = [
                    _cell(str(rank), rank),
                    link,
                    _cell("✓" if e.verified else "", int(e.verified)),
                    _cell(e.split, e.split),
                    _cell(_reads(e), _reads(e)),
                    _cell(_fmt(e.data["metrics"]["main_score"]), e.metric("main_score")),
                ]
                for c in cols:
                    v = _value(e, c)
                    cells.append(_cell(_fmt(v), "" if v is None else v["mean"]))
                cells += [
                    _cell(f"{e.data['embedder']['n_params']:,}", e.data["embedder"]["n_params"]),
                    _cell(
                        f"{e.data['timings']['total_seconds']:.0f}",
                        round(e.data["timings"]["total_seconds"], 1),
                    ),
                ]
                parts.append("<tr>" + "".join(cells) + "</tr>")
            parts.append("</tbody></table>")
        parts += _figures(zoo, group)
    parts.append(
        "<h2>Metrics</h2><dl>"
        + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in METRICS.items())
        + "</dl>"
    )
    parts.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(parts) + "\n"
