"""Studies beside the leaderboard: `leaderboard/studies/*.json`, one scaling study each (a score
against pretraining-zoo size, one series per model size), written by the study's own script (e.g.
studies/foundation_scaling.py) and drawn on the results site by `figures.scaling_curve`.
They are measurements of one submission, not result files: they carry no hashes and are not verified,
so they are checked for shape only and rendered as what their `source` says they are."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

FIELDS = {"title": str, "track": str, "metric": str, "series": dict, "source": str}


def load_studies(root: str | Path) -> tuple[list[dict[str, Any]], list[str]]:
    """(valid studies sorted by file name, problems) from `root/studies/*.json`."""
    studies, problems = [], []
    for path in sorted((Path(root) / "studies").glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            problems.append(f"{path}: not readable JSON ({err})")
            continue
        found = study_problems(data)
        problems += [f"{path}: {p}" for p in found]
        if not found:
            studies.append(data)
    return studies, problems


def study_problems(data: Any) -> list[str]:
    """What is wrong with a study's JSON (empty when it can be drawn)."""
    if not isinstance(data, dict):
        return ["a study is a JSON object"]
    problems = [f"field {k!r} must be a {t.__name__}" for k, t in FIELDS.items() if not isinstance(data.get(k), t)]
    if problems:
        return problems
    for name, points in data["series"].items():
        if not isinstance(points, dict) or not points:
            problems.append(f"series {name!r} must map zoo sizes to scores")
            continue
        for size, score in points.items():
            if not _positive(size) or not isinstance(score, (int, float)) or not math.isfinite(score):
                problems.append(f"series {name!r}: {size!r}: {score!r} is not a positive zoo size and a finite score")
    return problems


def _positive(size: str) -> bool:
    try:
        return float(size) > 0
    except ValueError:
        return False
