"""Render the leaderboard as Markdown (`leaderboard/README.md`, `markdown.py`) and as one
self-contained results site (`leaderboard/index.html`, `site.py`: sortable tables, budget curves,
embedding maps, cloze examples and the scaling studies of `leaderboard/studies/` as inline SVG; no external scripts, styles or fonts).
Deterministic: the same result files give the same bytes, so `netembench leaderboard --check` can
spot stale pages."""

from __future__ import annotations

from pathlib import Path

from netembench.board.leaderboard import collect
from netembench.board.markdown import render_markdown
from netembench.board.site import render_html
from netembench.board.studies import load_studies


def build(root: str | Path, check: bool = False) -> tuple[list[str], list[str]]:
    """Validate and render. Returns (problems, stale files). Writes only when valid and not `check`."""
    root = Path(root)
    entries, problems = collect(root)
    studies, study_problems = load_studies(root)
    if problems or study_problems:
        return problems + study_problems, []
    outputs = {root / "README.md": render_markdown(entries, studies), root / "index.html": render_html(entries, studies)}
    stale = [str(p) for p, text in outputs.items() if not p.is_file() or p.read_text() != text]
    if not check:
        for path, text in outputs.items():
            path.write_text(text)
    return [], stale
