"""Scaling studies beside the leaderboard: checked for shape, drawn on the site, tabled in Markdown."""

from __future__ import annotations

import json

from netembench.board.markdown import render_markdown
from netembench.board.site import render_html
from netembench.board.studies import load_studies, study_problems

STUDY = {
    "title": "does more data help?",
    "track": "poly-fine@1.2.0",
    "metric": "main score",
    "series": {"small": {"1200": 0.5, "12000": 0.6}, "base": {"1200": 0.55, "3792": 0.6, "12000": 0.7}},
    "source": "baselines/x/scaling.py",
}


def test_a_study_is_drawn_and_tabled(tmp_path):
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "a.json").write_text(json.dumps(STUDY))
    studies, problems = load_studies(tmp_path)
    assert problems == [] and studies == [STUDY]
    page = render_html([], studies)
    assert page.count('<svg class="scaling-curve"') == 1 and page.count('class="curve"') == 2
    assert "poly-fine@1.2.0: main score against pretraining-zoo size" in page
    table = render_markdown([], studies)
    assert "| pretraining models | small | base |" in table
    assert "| 3792 | — | 0.600 |" in table and "| 12000 | 0.600 | 0.700 |" in table


def test_broken_studies_are_named(tmp_path):
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "bad.json").write_text("{")
    (tmp_path / "studies" / "nan.json").write_text(json.dumps({**STUDY, "series": {"s": {"-3": float("nan")}}}))
    studies, problems = load_studies(tmp_path)
    assert studies == [] and len(problems) == 2
    assert "bad.json: not readable JSON" in problems[0]
    assert "nan.json: series 's': '-3': nan is not a positive zoo size and a finite score" in problems[1]
    assert study_problems({**STUDY, "title": 3}) == ["field 'title' must be a str"]
