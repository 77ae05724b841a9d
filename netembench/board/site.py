"""The leaderboard as one self-contained results site (`leaderboard/index.html`): sortable tables,
budget curves, embedding maps and cloze examples as inline SVG (`figures`); no external scripts,
styles or fonts."""

from __future__ import annotations

import html

from netembench.board import figures
from netembench.board.leaderboard import Entry
from netembench.board.tables import (
    METRICS,
    TRACK_TEXT,
    budget_rows,
    columns,
    header_name,
    main_cell,
    plotted,
    reads,
    sections,
    suite_rows,
    tracks,
    value,
)
from netembench.eval.harness import HARNESS_VERSION
from netembench.eval.probes import PROTOCOL_V1
from netembench.eval.tracks import TRACKS
from netembench.zoo.spec import CANONICAL_TRACKS

esc = html.escape

STYLE = """body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1320px;padding:0 1rem;color:#222}
.scroll{overflow-x:auto;max-width:100%;margin:.5rem 0 1.5rem}table{border-collapse:collapse;font-size:.85rem}
.swatch{display:inline-block;width:.7em;height:.7em;margin-right:.35em;border-radius:2px;vertical-align:baseline}
figure{margin:1rem 0;max-width:100%;overflow-x:auto}figcaption{font-size:.9rem;color:#444}
.entry-figures>div{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:flex-start}
th,td{border-bottom:1px solid #ddd;padding:.3rem .45rem;text-align:right}td{white-space:nowrap}
th{cursor:pointer;background:#f4f4f4;user-select:none}th:after{content:' \\2195';color:#aaa}td.name,th.name{text-align:left;position:sticky;left:0;z-index:1;background:#fff}th.name{background:#f4f4f4}.sd{font-size:.8em;color:#777}
th.asc:after{content:' \\2191';color:#222}th.desc:after{content:' \\2193';color:#222}dt{font-weight:600;font-family:monospace}dd{margin:0 0 .5rem 1rem}"""

SCRIPT = """document.querySelectorAll('table.sortable').forEach(function(table){
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


def render_html(entries: list[Entry], studies: list[dict] = ()) -> str:
    """The whole page. Each embedder keeps one colour and marker on it (`figures.entry_styles`);
    `studies` (`board.studies`) are drawn after the tracks."""
    styles = figures.entry_styles(e.name for e in entries)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>netembench leaderboard</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>netembench leaderboard</h1>",
        f"<p>Harness {HARNESS_VERSION}, probe protocol v1 (1-D tracks) and v2 (2-D and host tracks). Scores are mean ± std over "
        f"{PROTOCOL_V1.n_draws} evaluation draws; click a column to sort.</p>",
    ]
    parts += _suite_table(entries, styles)
    for zoo, group in tracks(entries):
        parts.append(
            f'<h2 id="{esc(zoo)}">{esc(zoo)}</h2><p>{esc(TRACK_TEXT.get(zoo.split("@")[0], ""))}</p>'
        )
        cols = columns(zoo.split("@")[0], group)
        for title, section in sections(group):
            parts += _section_table(zoo, title, section, cols, styles)
        parts += track_figures(zoo, group, styles)
    parts += study_figures(studies)
    parts.append(
        "<h2>Metrics</h2><dl>"
        + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in METRICS.items())
        + "</dl>"
    )
    parts.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(parts) + "\n"


def _suite_table(entries: list[Entry], styles: dict[str, figures.Style]) -> list[str]:
    parts = [
        '<h2 id="suite">Suite score</h2><p>Mean of the main scores on the four canonical tracks.</p>',
        '<div class="scroll"><table class="sortable" data-zoo="suite"><thead><tr>'
        + _head(("embedder", "reads", "suite", *CANONICAL_TRACKS))
        + "</tr></thead><tbody>",
    ]
    for n, suite, mine in suite_rows(entries):
        first = next(iter(mine.values()))
        cells = [
            _link(n, first, styles[n]),
            _cell(reads(first), reads(first)),
            _cell("—" if suite is None else f"{suite:.3f}", "" if suite is None else suite),
        ]
        cells += [
            _cell(main_cell(mine[t]) if t in mine else "—", mine[t].metric("main_score") if t in mine else "")
            for t in CANONICAL_TRACKS
        ]
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table></div>")
    return parts


def _section_table(
    zoo: str, title: str, section: list[Entry], cols: list[str], styles: dict[str, figures.Style]
) -> list[str]:
    head = [
        "#",
        "embedder",
        "verified",
        "split",
        "reads",
        "main score",
        *map(header_name, cols),
        "params",
        "eval s",
    ]
    parts = [
        f"<h3>{esc(title)}</h3>",
        f'<div class="scroll"><table class="sortable" data-zoo="{esc(zoo)}"><thead><tr>'
        + _head(head)
        + "</tr></thead><tbody>",
    ]
    for rank, e in enumerate(section, 1):
        cells = [
            _cell(str(rank), rank),
            _link(e.name, e, styles[e.name]),
            _cell("✓" if e.verified else "", int(e.verified)),
            _cell(e.split, e.split),
            _cell(reads(e), reads(e)),
            _score_cell(e.data["metrics"]["main_score"]),
        ]
        for c in cols:
            v = value(e, c)
            cells.append(_score_cell(v))
        cells += [
            _cell(f"{e.data['embedder']['n_params']:,}", e.data["embedder"]["n_params"]),
            _cell(f"{e.data['timings']['total_seconds']:.0f}", round(e.data["timings"]["total_seconds"], 1)),
        ]
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table></div>")
    return parts


def _link(name: str, entry: Entry, style: figures.Style) -> str:
    """The embedder cell: its colour swatch (as in the figures) and a link to its submission."""
    return (
        f'<td class="name" data-value="{esc(name)}">{_swatch(name, style)}'
        f'<a href="../{esc(entry.data["embedder"]["submission"])}">{esc(name)}</a></td>'
    )


def _swatch(name: str, style: figures.Style) -> str:
    """A small square in the embedder's colour, as its lines and points are drawn in the figures."""
    return (
        f'<span class="swatch" data-embedder="{esc(name)}" data-color="{style.color}" '
        f'style="background:{style.color}" aria-hidden="true"></span>'
    )


def _head(names: tuple[str, ...] | list[str]) -> str:
    """A table's header cells; the embedder column is marked (left-aligned, kept in view)."""
    return "".join(
        f'<th class="name">{esc(h)}</th>' if h == "embedder" else f"<th>{esc(h)}</th>" for h in names
    )


def _score_cell(v: dict | None) -> str:
    """mean ± std, the std smaller and grey so that wide tables stay narrow; a dash when missing."""
    if v is None:
        return _cell("—", "")
    return f'<td data-value="{v["mean"]}">{v["mean"]:.3f}<span class="sd"> ± {v["std"]:.3f}</span></td>'


def _cell(text: str, value: object) -> str:
    return f'<td data-value="{html.escape(str(value))}">{html.escape(text)}</td>'


def track_figures(zoo: str, group: list[Entry], styles: dict[str, figures.Style]) -> list[str]:
    """A track's budget curves, then each plotted entry's embedding map and cloze examples."""
    track = zoo.split("@")[0]
    main = TRACKS[track].main.replace("_", " ") if track in TRACKS else "main score"
    budget = budget_rows(group)
    parts = []
    if budget:
        marked = {e.name: "non-canonical" for e, _ in budget if not e.canonical}
        parts.append(
            f'<figure class="budget" data-zoo="{esc(zoo)}">'
            + figures.budget_curves(zoo, {e.name: c for e, c in budget}, main, styles, marked)
            + f"<figcaption>Main score ({esc(main)}) against probe points N; the legend lists embedders "
            + "best first at the largest N"
            + ("; dashed lines are scores on a non-canonical zoo build" if marked else "")
            + ".</figcaption></figure>"
        )
    for e in sorted((e for e in plotted(group) if e.data.get("figures")), key=lambda e: e.name):
        figs = e.data["figures"]
        body = figures.embedding_map(e.name, figs.get("embedding_map", {"pc1": [], "pc2": [], "task_id": []}))
        body += figures.cloze_examples(e.name, figs.get("cloze_examples", []), styles[e.name])
        note = "" if e.canonical else " (non-canonical zoo)"
        parts.append(
            f'<details class="entry-figures" data-embedder="{esc(e.name)}" data-zoo="{esc(zoo)}">'
            f"<summary>{_swatch(e.name, styles[e.name])}{esc(e.name)}{note}: embedding map"
            + (" and cloze examples" if figs.get("cloze_examples") else "")
            + f"</summary><div>{body}</div></details>"
        )
    return parts


def study_figures(studies: list[dict]) -> list[str]:
    """One section per study: its scaling curve and where it comes from."""
    if not studies:
        return []
    parts = ['<h2 id="studies">Studies</h2>']
    for study in studies:
        parts.append(
            f"<figure>{figures.scaling_curve(study)}<figcaption>{esc(study['title'])} "
            f"(from <code>{esc(study['source'])}</code>; a measurement of one submission, not a verified result)"
            "</figcaption></figure>"
        )
    return parts
