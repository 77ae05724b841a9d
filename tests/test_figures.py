"""The results site's figures on synthetic data: styles, ticks, legends and keys, and the scaling
curve that a pretraining study will add."""

from __future__ import annotations

import re

from netembench.board import figures


def _texts(svg: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


def test_entry_styles_are_stable_and_distinct():
    names = [f"embedder_{i:02d}" for i in range(30)]
    styles = figures.entry_styles(names)
    assert styles == figures.entry_styles(reversed(names + names[:5]))  # order and repeats do not matter
    assert len({styles[n].color for n in names[: len(figures.PALETTE)]}) == len(figures.PALETTE) >= 20
    many = figures.entry_styles(f"e{i:03d}" for i in range(120))
    assert len({(s.color, s.marker) for s in many.values()}) == 120


def _lab(color: str) -> tuple[float, float, float]:
    """CIELAB (D65) of a #rrggbb colour."""
    rgb = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = [((c + 0.055) / 1.055) ** 2.4 if c > 0.04045 else c / 12.92 for c in rgb]
    xyz = (
        (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047,
        0.2126 * r + 0.7152 * g + 0.0722 * b,
        (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883,
    )
    fx, fy, fz = [v ** (1 / 3) if v > 0.008856 else 7.787 * v + 16 / 116 for v in xyz]
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def test_palette_colours_are_told_apart_on_white():
    labs = [_lab(c) for c in figures.PALETTE]
    assert all(lab[0] <= 75 for lab in labs)  # none too pale for a line on white
    gaps = [sum((p - q) ** 2 for p, q in zip(a, b)) ** 0.5 for i, a in enumerate(labs) for b in labs[:i]]
    assert min(gaps) >= 27  # ΔE76: no two colours near each other


def test_ticks_are_round_and_labels_unclipped():
    assert figures.nice_ticks(0.0, 1.0) == [0.0, 0.25, 0.5, 0.75, 1.0]
    ticks = figures.nice_ticks(0.0031, 0.0102, 4)
    assert ticks[0] <= 0.0031 and ticks[-1] >= 0.0102
    assert [figures.tick_label(v, ticks) for v in ticks] == ["0.0025", "0.0050", "0.0075", "0.0100", "0.0125"]
    assert figures.tick_label(-1e-17, [0.0, 0.5]) == "0"
    assert figures.nice_ticks(1.0, 1.0)[0] < 1.0 < figures.nice_ticks(1.0, 1.0)[-1]  # a flat line gets a span


def test_budget_curves_keep_each_entry_style_and_mark_non_canonical():
    styles = figures.entry_styles(["a", "b", "c"])
    curves = {"a": {8: 0.5, 64: 0.9}, "c": {8: 0.2, 64: 1.0}}
    svg = figures.budget_curves("poly-seed@1.2.0", curves, "probe accuracy", styles, {"c": "non-canonical"})
    assert re.search(r'width="(\d+)"', svg) and int(re.search(r'width="(\d+)"', svg).group(1)) >= 600
    legend = re.findall(r'class="legend-item" data-embedder="([^"]+)" data-color="([^"]+)"', svg)
    assert legend == [("c", styles["c"].color), ("a", styles["a"].color)]  # best first at the largest N
    assert "c (non-canonical)" in _texts(svg)
    assert re.search(r'data-embedder="c"[^>]*stroke-dasharray', svg)
    assert not re.search(r'data-embedder="a"[^>]*stroke-dasharray', svg)
    alone = figures.budget_curves("x", {"c": curves["c"]}, "probe accuracy", styles)
    assert f'data-embedder="c" data-color="{styles["c"].color}"' in alone  # the same colour in another plot
    assert svg == figures.budget_curves(
        "poly-seed@1.2.0", curves, "probe accuracy", styles, {"c": "non-canonical"}
    )


def test_embedding_map_has_a_colour_key():
    few = figures.embedding_map("e", {"pc1": [0.0, 1.0, 2.0], "pc2": [1.0, 0.0, 2.0], "task_id": [3, 1, 3]})
    assert 'class="key" data-tasks="2"' in few and {"colour: task", "1", "3"} <= set(_texts(few))
    n = len(figures.PALETTE) + 1
    many = figures.embedding_map(
        "e", {"pc1": list(range(n)), "pc2": list(range(n)), "task_id": list(range(n))}
    )
    assert "colour: task id" in _texts(many) and f"({n} tasks, {len(figures.PALETTE)} colours:" in _texts(
        many
    )
    assert many.count("<circle") == n


def test_cloze_examples_have_a_legend_and_round_ticks():
    style = figures.Style("#123456", "square")
    ex = {
        "x": [-1.0, 0.0, 1.0],
        "grad": [0.0031, 0.005, 0.0102],
        "pred": [0.0, 0.006, 0.0],
        "mask": [0, 1, 0],
    }
    svg = figures.cloze_examples("e", [{**ex, "model_id": 7, "task_id": 2}], style)
    assert ["truth", "masked points", "prediction", "model 7, task 2"] == _texts(svg)[-4:]
    ticks = re.findall(r'class="tick"[^>]*text-anchor="end"[^>]*>([^<]*)<', svg)
    assert ticks and all(re.fullmatch(r"-?\d+(\.\d+)?", t) for t in ticks) and "0.0050" in ticks
    assert 'class="predicted" data-embedder="e" data-color="#123456"' in svg


def test_scaling_curve_on_synthetic_data():
    data = {
        "track": "poly-seed@1.2.0",
        "metric": "probe accuracy",
        "series": {
            "small": {"100": 0.5, "1000": 0.6, "10000": 0.7},
            "large": {"100": 0.55, "1000": 0.75, "10000": 0.9},
        },
    }
    svg = figures.scaling_curve(data)
    assert svg.startswith('<svg class="scaling-curve"') and svg.count('class="curve"') == 2
    assert re.findall(r'class="legend-item" data-embedder="([^"]+)"', svg) == ["small", "large"]
    assert {"100", "1000", "10000", "pretraining zoo (models)"} <= set(_texts(svg))
    assert figures.scaling_curve({**data, "series": {}}) == ""
    assert svg == figures.scaling_curve(data)
