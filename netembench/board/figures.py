"""Figures of the results site as inline SVG, drawn from result files alone (no plotting library, no
network): budget curves per track, and per entry its embedding map and cloze examples; a scaling
curve for a pretraining study. Plain string building, so the page stays one self-contained file with
the same bytes for the same results. Every embedder keeps one colour and marker on the whole page
(`entry_styles`); every plot has a legend or a colour key.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from dataclasses import dataclass

# 24 colours for lines on white: Tableau's 10, then 14 picked one by one from common palettes
# (Kelly, ColorBrewer, Tableau 20) as the farthest from those already taken; every pair is at least
# 27 apart in CIELAB (ΔE76) and none is paler than L* = 75. Past 24 entries a colour repeats, but
# never a (colour, marker) pair below 120 entries.
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#000075", "#f032e6", "#a6761d", "#222222", "#f0027f", "#637939",
    "#ff9896", "#1b9e77", "#c2b280", "#c5b0d5", "#393b79", "#b3446c", "#800000", "#e6ab02",
)  # fmt: skip
MARKERS = ("circle", "square", "triangle", "diamond", "cross")
TRUTH, MASKED = "#555555", "#999999"
VALUE_WIDTH = 44  # pixels for a legend row's value ("0.998") before its label
esc = html.escape


@dataclass(frozen=True)
class Style:
    """How an embedder is drawn in every figure."""

    color: str
    marker: str


def entry_styles(names: Iterable[str]) -> dict[str, Style]:
    """One style per embedder name, by its place among the sorted names: stable for a set of
    names, and no colour repeats below `len(PALETTE)` names."""
    ordered = sorted(set(names))
    return {n: Style(PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)]) for i, n in enumerate(ordered)}


@dataclass(frozen=True)
class Axes:
    """A plot area in pixels (its box inside the SVG) and the data ranges it shows."""

    left: float
    top: float
    width: float
    height: float
    x: tuple[float, float]
    y: tuple[float, float]

    def sx(self, v: float) -> float:
        """The pixel column of data value `v`."""
        return self.left + (v - self.x[0]) / (self.x[1] - self.x[0] or 1) * self.width

    def sy(self, v: float) -> float:
        """The pixel row of data value `v` (up is larger)."""
        return self.top + self.height - (v - self.y[0]) / (self.y[1] - self.y[0] or 1) * self.height


@dataclass(frozen=True)
class Series:
    """One line of a line chart: its points (x, y), style, legend text and value (shown before the
    text when given); dashed when marked."""

    key: str
    points: tuple[tuple[float, float], ...]
    style: Style
    label: str
    dashed: bool = False
    value: str = ""


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi], about `count` of them (steps of 1, 2, 2.5 or 5 × 10^k)."""
    if hi <= lo:
        lo, hi = lo - 0.05, hi + 0.05
    raw = (hi - lo) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw - 1e-12)
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    return [round(k * step, 12) for k in range(first, last + 1)]


def tick_label(value: float, ticks: list[float]) -> str:
    """A tick's text with as many decimals as the step between ticks needs (never '-0')."""
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    decimals = next(d for d in range(7) if d == 6 or abs(round(step, d) - step) <= 1e-9 * max(step, 1e-12))
    text = f"{value:.{decimals}f}"
    return "0" if float(text) == 0 else text


def _svg(kind: str, title: str, body: list[str], width: float, height: float) -> str:
    """An SVG element of class `kind`, its size in pixels and its accessible title."""
    return (
        f'<svg class="{kind}" role="img" aria-label="{esc(title)}" width="{width:g}" height="{height:g}" '
        f'viewBox="0 0 {width:g} {height:g}"><title>{esc(title)}</title>' + "".join(body) + "</svg>"
    )


def _frame(
    ax: Axes, xlabel: str, ylabel: str, xticks: list[tuple[float, str]], yticks: list[float]
) -> list[str]:
    """Axes, light grid lines at the y ticks, tick labels and axis labels."""
    bottom, right = ax.top + ax.height, ax.left + ax.width
    parts = [
        f'<line x1="{ax.left:.1f}" y1="{y:.1f}" x2="{right:.1f}" y2="{y:.1f}" stroke="#e4e4e4"/>'
        for y in (ax.sy(v) for v in yticks)
    ]
    parts += [
        f'<line x1="{ax.left:.1f}" y1="{bottom:.1f}" x2="{right:.1f}" y2="{bottom:.1f}" stroke="#888"/>',
        f'<line x1="{ax.left:.1f}" y1="{ax.top:.1f}" x2="{ax.left:.1f}" y2="{bottom:.1f}" stroke="#888"/>',
        f'<text x="{ax.left + ax.width / 2:.1f}" y="{bottom + 32:.1f}" text-anchor="middle" font-size="12">{esc(xlabel)}</text>',
        f'<text x="14" y="{ax.top + ax.height / 2:.1f}" text-anchor="middle" font-size="12" '
        f'transform="rotate(-90 14 {ax.top + ax.height / 2:.1f})">{esc(ylabel)}</text>',
    ]
    parts += [
        f'<text class="tick" x="{ax.sx(v):.1f}" y="{bottom + 15:.1f}" text-anchor="middle" font-size="11">{esc(t)}</text>'
        for v, t in xticks
    ]
    parts += [
        f'<text class="tick" x="{ax.left - 5:.1f}" y="{ax.sy(v) + 4:.1f}" text-anchor="end" font-size="11">{tick_label(v, yticks)}</text>'
        for v in yticks
    ]
    return parts


def marker(shape: str, x: float, y: float, color: str, size: float = 4.0, fill: str | None = None) -> str:
    """A point symbol centred at (x, y): circle, square, triangle, diamond or cross."""
    fill = color if fill is None else fill
    paint = f'fill="{fill}" stroke="{color}" stroke-width="1.2"'
    s = size
    if shape == "square":
        return f'<rect x="{x - s * 0.85:.1f}" y="{y - s * 0.85:.1f}" width="{s * 1.7:.1f}" height="{s * 1.7:.1f}" {paint}/>'
    if shape in ("triangle", "diamond"):
        pts = (
            [(x, y - s * 1.1), (x + s, y + s * 0.8), (x - s, y + s * 0.8)]
            if shape == "triangle"
            else [(x, y - s * 1.2), (x + s, y), (x, y + s * 1.2), (x - s, y)]
        )
        return f'<polygon points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in pts)}" {paint}/>'
    if shape == "cross":
        return (
            f'<path d="M{x - s:.1f},{y - s:.1f}L{x + s:.1f},{y + s:.1f}M{x - s:.1f},{y + s:.1f}L{x + s:.1f},{y - s:.1f}" '
            f'stroke="{color}" stroke-width="2" fill="none"/>'
        )
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{s:.1f}" {paint}/>'


def _legend_item(x: float, y: float, s: Series) -> str:
    """A legend row: a line sample with the series' marker, its value if any, then its label."""
    dash = ' stroke-dasharray="6 3"' if s.dashed else ""
    c, shift = s.style.color, VALUE_WIDTH if s.value else 0
    value = f'<text class="value" x="{x + 32:.1f}" y="{y + 4:.1f}" font-size="12">{esc(s.value)}</text>'
    return (
        f'<g class="legend-item" data-embedder="{esc(s.key)}" data-color="{c}">'
        f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x + 26:.1f}" y2="{y:.1f}" stroke="{c}" stroke-width="2"{dash}/>'
        + marker(s.style.marker, x + 13, y, c, 3.5)
        + (value if s.value else "")
        + f'<text x="{x + 32 + shift:.1f}" y="{y + 4:.1f}" font-size="12">{esc(s.label)}</text></g>'
    )


def _line_chart(
    kind: str,
    title: str,
    series: list[Series],
    labels: tuple[str, str],
    xticks: list[tuple[float, str]],
    legend_title: str = "",
) -> str:
    """Lines with markers on a 600 × 300 px plot, y zoomed to the data's range, and a legend right
    of the plot listing every series in the given order (under `legend_title`)."""
    ys = [y for s in series for _, y in s.points]
    xs = [x for s in series for x, _ in s.points] + [v for v, _ in xticks]
    yticks = nice_ticks(min(ys), max(ys))
    ax = Axes(64, 16, 600, 300, (min(xs), max(xs)), (yticks[0], yticks[-1]))
    if ax.x[1] == ax.x[0]:
        ax = Axes(64, 16, 600, 300, (ax.x[0] - 1, ax.x[0] + 1), ax.y)
    parts = _frame(ax, labels[0], labels[1], xticks, yticks)
    for s in series:
        c, dash = s.style.color, ' stroke-dasharray="6 3"' if s.dashed else ""
        pts = [(ax.sx(x), ax.sy(y)) for x, y in sorted(s.points)]
        parts.append(
            f'<g class="series" data-embedder="{esc(s.key)}" data-color="{c}">'
            f'<polyline class="curve" data-embedder="{esc(s.key)}" fill="none" stroke="{c}" stroke-width="2"{dash} '
            f'points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in pts)}"/>'
            + "".join(marker(s.style.marker, x, y, c, 3.5) for x, y in pts)
            + "</g>"
        )
    lx = ax.left + ax.width + 24
    head = (
        f'<text x="{lx:.1f}" y="12" font-size="11" fill="#555">{esc(legend_title)}</text>'
        if legend_title
        else ""
    )
    parts.append(
        '<g class="legend">'
        + head
        + "".join(_legend_item(lx, 28 + 20 * i, s) for i, s in enumerate(series))
        + "</g>"
    )
    shift = VALUE_WIDTH if any(s.value for s in series) else 0
    width = lx + 32 + shift + 7 * max(len(s.label) for s in series) + 8
    height = max(ax.top + ax.height + 44, 36 + 20 * len(series))
    return _svg(kind, title, parts, width, height)


def budget_curves(
    track: str,
    curves: dict[str, dict[int, float]],
    ylabel: str,
    styles: dict[str, Style],
    marked: dict[str, str] | None = None,
) -> str:
    """Main score against probe-set size N (log scale), one line per embedder in its page style;
    the legend lists them best first, with their score, at the largest N. Embedders in `marked` (name -> note, such as
    'non-canonical') are dashed and their note follows their name in the legend."""
    sizes = sorted({n for c in curves.values() for n in c})
    if not sizes:
        return ""
    marked = marked or {}
    last = lambda c: c[max(c)] if c else 0.0  # noqa: E731
    order = sorted(curves, key=lambda n: (-last(curves[n]), n))
    series = [
        Series(
            n,
            tuple((math.log2(k), v) for k, v in sorted(curves[n].items())),
            styles[n],
            f"{n} ({marked[n]})" if n in marked else n,
            n in marked,
            f"{last(curves[n]):.3f}",
        )
        for n in order
        if curves[n]
    ]
    xticks = [(math.log2(n), str(n)) for n in sizes]
    title = f"{track}: {ylabel} against probe points"
    head = f"{ylabel} at N={sizes[-1]}"
    return _line_chart("budget-curve", title, series, ("probe points N", ylabel), xticks, head)


def scaling_curve(data: dict) -> str:
    """A pretraining study's main score against pretraining-zoo size (log scale), one line per model
    size. `data` is JSON-able: `{"track": str, "metric": str, "series": {model size: {zoo size: score}}}`
    (zoo sizes may be strings, as JSON keys are); series keep their order, one colour each."""
    sizes = sorted({float(k) for pts in data["series"].values() for k in pts})
    if not sizes:
        return ""
    series = [
        Series(
            name,
            tuple(sorted((math.log10(float(k)), float(v)) for k, v in pts.items())),
            Style(PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)]),
            name,
        )
        for i, (name, pts) in enumerate(data["series"].items())
        if pts
    ]
    xticks = [(math.log10(z), f"{z:g}") for z in sizes]
    title = f"{data['track']}: {data['metric']} against pretraining-zoo size, by model size"
    return _line_chart("scaling-curve", title, series, ("pretraining zoo (models)", data["metric"]), xticks)


def _span(values: list[float]) -> tuple[float, float]:
    """The range of `values`, with a margin so that no point sits on the frame."""
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.04 if hi > lo else 1.0
    return lo - pad, hi + pad


def _task_key(tasks: list, colour: dict, x: float, y: float) -> str:
    """The embedding map's key: task -> colour (two columns of 12 at most), or, with more tasks
    than colours, a note on what colour encodes."""
    if len(tasks) > len(PALETTE):
        lines = [
            "colour: task id",
            f"({len(tasks)} tasks, {len(PALETTE)} colours:",
            "a colour is shared",
            "by several tasks)",
        ]
        rows = "".join(
            f'<text x="{x:.1f}" y="{y + 16 * i:.1f}" font-size="12">{esc(t)}</text>'
            for i, t in enumerate(lines)
        )
        return f'<g class="key" data-tasks="{len(tasks)}">{rows}</g>'
    rows = [f'<text x="{x:.1f}" y="{y:.1f}" font-size="12">colour: task</text>']
    for i, t in enumerate(tasks):
        cx, cy = x + 64 * (i // 12), y + 18 + 18 * (i % 12)
        rows.append(
            f'<rect x="{cx:.1f}" y="{cy - 9:.1f}" width="10" height="10" fill="{colour[t]}"/>'
            f'<text x="{cx + 14:.1f}" y="{cy:.1f}" font-size="11">{esc(str(t))}</text>'
        )
    return f'<g class="key" data-tasks="{len(tasks)}">' + "".join(rows) + "</g>"


def embedding_map(name: str, data: dict) -> str:
    """Test embeddings on their first two principal components, coloured by task, with a key."""
    xs, ys, labels = data["pc1"], data["pc2"], data["task_id"]
    if not xs:
        return ""
    tasks = sorted(set(labels))
    colour = {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(tasks)}
    ax = Axes(32, 16, 340, 300, _span(xs), _span(ys))
    parts = _frame(ax, "PC 1", "PC 2", [], [])
    parts += [
        f'<circle cx="{ax.sx(x):.1f}" cy="{ax.sy(y):.1f}" r="2.5" fill="{colour[t]}" fill-opacity="0.75"/>'
        for x, y, t in zip(xs, ys, labels)
    ]
    parts.append(_task_key(tasks, colour, ax.left + ax.width + 20, 28))
    key_width = 180 if len(tasks) > len(PALETTE) else 140 if len(tasks) > 12 else 76
    return _svg(
        "embedding-map",
        f"{name}: test embeddings by task (PCA)",
        parts,
        ax.left + ax.width + 20 + key_width,
        360,
    )


def _cloze_legend(style: Style, caption: str) -> str:
    """Truth (line), masked points (hollow, on the truth) and predictions (the entry's colour)."""
    c = style.color
    return (
        '<g class="legend">'
        f'<g class="legend-item"><line x1="64" y1="14" x2="90" y2="14" stroke="{TRUTH}" stroke-width="1.5"/>'
        '<text x="95" y="18" font-size="12">truth</text></g>'
        f'<g class="legend-item">{marker("circle", 142, 14, MASKED, 3.5, fill="none")}'
        '<text x="150" y="18" font-size="12">masked points</text></g>'
        f'<g class="legend-item">{marker(style.marker, 248, 14, c, 3.5)}'
        '<text x="256" y="18" font-size="12">prediction</text></g>'
        f'<text x="452" y="18" font-size="11" text-anchor="end" fill="#555">{esc(caption)}</text></g>'
    )


def cloze_examples(name: str, examples: list[dict], style: Style) -> str:
    """Per test model: its true gradients (line), the masked points on it (hollow) and the predicted
    masked gradients (the entry's colour and marker), with a legend and round y ticks."""
    plots = []
    for ex in examples:
        masked = [(x, g, p) for x, g, p, m in zip(ex["x"], ex["grad"], ex["pred"], ex["mask"]) if m]
        yticks = nice_ticks(
            min(ex["grad"] + [p for *_, p in masked]), max(ex["grad"] + [p for *_, p in masked]), 4
        )
        ax = Axes(64, 32, 340, 176, (-1.0, 1.0), (yticks[0], yticks[-1]))
        parts = _frame(
            ax, "x", "dy/dx", [(-1.0, "-1"), (-0.5, "-0.5"), (0.0, "0"), (0.5, "0.5"), (1.0, "1")], yticks
        )
        parts.append(
            f'<polyline fill="none" stroke="{TRUTH}" stroke-width="1.5" points="'
            + " ".join(f"{ax.sx(x):.1f},{ax.sy(g):.1f}" for x, g in zip(ex["x"], ex["grad"]))
            + '"/>'
        )
        parts += [marker("circle", ax.sx(x), ax.sy(g), MASKED, 3.5, fill="none") for x, g, _ in masked]
        parts.append(
            f'<g class="predicted" data-embedder="{esc(name)}" data-color="{style.color}">'
            + "".join(marker(style.marker, ax.sx(x), ax.sy(p), style.color, 3) for x, _, p in masked)
            + "</g>"
        )
        parts.append(_cloze_legend(style, f"model {ex['model_id']}, task {ex['task_id']}"))
        which = f"model {ex['model_id']} (task {ex['task_id']})"
        title = f"{name}: {which}, true gradients and predicted masked gradients"
        plots.append(_svg("cloze-example", title, parts, 460, 256))
    return "".join(plots)
