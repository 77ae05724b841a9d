"""Figures of the results site as inline SVG, drawn from result files alone (no plotting library, no
network): budget curves per track, and per entry its embedding map and cloze examples. Plain
string building, so the page stays one self-contained file with the same bytes for the same results.
"""

from __future__ import annotations

import html
import math

PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
W, H, PAD = 360, 220, 36


def _svg(kind: str, title: str, body: list[str], width: int = W, height: int = H) -> str:
    return (
        f'<svg class="{kind}" role="img" aria-label="{html.escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{html.escape(title)}</title>' + "".join(body) + "</svg>"
    )


def _axes(
    x0: float,
    x1: float,
    y0: float,
    y1: float,
    xlabel: str,
    ylabel: str,
    xticks: list[tuple[float, str]],
    yticks: list[tuple[float, str]],
):
    """A scale function (data -> pixels) and the SVG of the axes."""

    def sx(x: float) -> float:
        return PAD + (x - x0) / (x1 - x0 or 1) * (W - 2 * PAD)

    def sy(y: float) -> float:
        return H - PAD - (y - y0) / (y1 - y0 or 1) * (H - 2 * PAD)

    parts = [
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" stroke="#888"/>',
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{H - PAD}" stroke="#888"/>',
        f'<text x="{W / 2}" y="{H - 6}" text-anchor="middle" font-size="11">{html.escape(xlabel)}</text>',
        f'<text x="10" y="{H / 2}" text-anchor="middle" font-size="11" transform="rotate(-90 10 {H / 2})">{html.escape(ylabel)}</text>',
    ]
    parts += [
        f'<text x="{sx(v):.1f}" y="{H - PAD + 14}" text-anchor="middle" font-size="10">{t}</text>'
        for v, t in xticks
    ]
    parts += [
        f'<text x="{PAD - 4}" y="{sy(v) + 3:.1f}" text-anchor="end" font-size="10">{t}</text>'
        for v, t in yticks
    ]
    return sx, sy, parts


def budget_curves(track: str, curves: dict[str, dict[int, float]], ylabel: str) -> str:
    """Main score against probe-set size (log scale), one line per embedder."""
    sizes = sorted({n for c in curves.values() for n in c})
    if not sizes:
        return ""
    lx = [math.log2(n) for n in sizes]
    sx, sy, parts = _axes(
        lx[0],
        lx[-1],
        0.0,
        1.0,
        "probe points N",
        ylabel,
        [(math.log2(n), str(n)) for n in sizes],
        [(v, f"{v:.1f}") for v in (0.0, 0.5, 1.0)],
    )
    for i, (name, curve) in enumerate(sorted(curves.items())):
        color = PALETTE[i % len(PALETTE)]
        points = " ".join(f"{sx(math.log2(n)):.1f},{sy(v):.1f}" for n, v in sorted(curve.items()))
        parts.append(
            f'<polyline class="curve" data-embedder="{html.escape(name)}" fill="none" stroke="{color}" stroke-width="1.6" points="{points}"/>'
        )
        parts.append(
            f'<text x="{W - PAD + 2}" y="{PAD + 12 * i}" font-size="10" fill="{color}">{html.escape(name)}</text>'
        )
    return _svg("budget-curve", f"{track}: {ylabel} against probe points", parts, width=W + 110)


def embedding_map(name: str, data: dict) -> str:
    """Test embeddings on their first two principal components, coloured by task."""
    xs, ys, labels = data["pc1"], data["pc2"], data["task_id"]
    if not xs:
        return ""
    span = lambda v: (min(v), max(v)) if max(v) > min(v) else (min(v) - 1, max(v) + 1)  # noqa: E731
    (x0, x1), (y0, y1) = span(xs), span(ys)
    sx, sy, parts = _axes(x0, x1, y0, y1, "PC 1", "PC 2", [], [])
    tasks = sorted(set(labels))
    for x, y, t in zip(xs, ys, labels):
        parts.append(
            f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2" fill="{PALETTE[tasks.index(t) % len(PALETTE)]}" fill-opacity="0.7"/>'
        )
    return _svg("embedding-map", f"{name}: test embeddings by task (PCA)", parts)


def cloze_examples(name: str, examples: list[dict]) -> str:
    """True gradients (line) and predicted masked gradients (dots) of a few test models."""
    plots = []
    for ex in examples:
        values = ex["grad"] + [p for p, m in zip(ex["pred"], ex["mask"]) if m]
        lo, hi = min(values), max(values)
        sx, sy, parts = _axes(
            -1.0,
            1.0,
            lo,
            hi if hi > lo else lo + 1,
            "x",
            "dy/dx",
            [(-1.0, "-1"), (0.0, "0"), (1.0, "1")],
            [(lo, f"{lo:.2g}"), (hi, f"{hi:.2g}")],
        )
        parts.append(
            '<polyline fill="none" stroke="#555" stroke-width="1.2" points="'
            + " ".join(f"{sx(x):.1f},{sy(g):.1f}" for x, g in zip(ex["x"], ex["grad"]))
            + '"/>'
        )
        parts += [
            f'<circle class="predicted" cx="{sx(x):.1f}" cy="{sy(p):.1f}" r="2.5" fill="#d62728"/>'
            for x, p, m in zip(ex["x"], ex["pred"], ex["mask"])
            if m
        ]
        plots.append(
            _svg(
                "cloze-example",
                f"{name}: model {ex['model_id']} (task {ex['task_id']}), true gradients "
                "and predicted masked gradients",
                parts,
            )
        )
    return "".join(plots)
