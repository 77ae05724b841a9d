"""The leaderboard's entries: every result file under `leaderboard/results/`, validated (schema,
content hash, internal consistency, zoo, harness version, name, submission code), and reruns that
reproduce them on a maintainer's machine (`verified.json`). `render` turns entries into pages.

A result is listed when its schema, content hash, zoo, harness version and submission code check
out; one whose zoo fingerprint is not the reference build of that zoo version is listed apart as
"non-canonical zoo", one on a superseded zoo version (its spec says `superseded_by`) or from a
superseded harness version is listed apart as superseded, and one evaluated without the sandbox
(`sealed: false`) is listed apart as unsealed and never verified. Nothing is written when any file
is invalid.
"""

from __future__ import annotations

import json
import math
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from netembench.embedders import NAME_RULE, NAME_RULE_TEXT

from netembench.harness import HARNESS_VERSION

# Earlier harness versions whose result files stay valid, listed apart as superseded.
SUPERSEDED_HARNESSES = ("1.0.0", "1.1.0", "1.2.0")
VERIFIED = "verified.json"
from netembench.results import ResultError, flat_metrics, read_result, validate_result
from netembench.spec import canonical_specs


@dataclass(frozen=True)
class Entry:
    """A valid result file."""

    path: Path
    data: dict[str, Any]
    canonical: bool  # on the reference build of a current zoo version
    superseded: bool = False  # on a zoo version or harness version that a newer one replaces
    verified: bool = False  # `leaderboard rerun` reproduced exactly this result file (verified.json)
    unsealed: bool = False  # evaluated by the current harness without its sandbox: never verified

    @property
    def name(self) -> str:
        return self.data["embedder"]["name"]

    @property
    def zoo(self) -> str:
        return f"{self.data['zoo']['name']}@{self.data['zoo']['version']}"

    @property
    def track(self) -> str:
        return self.data["zoo"]["name"]

    def metric(self, name: str) -> float | None:
        value = self.data["metrics"].get(name)
        return None if value is None or "mean" not in value else float(value["mean"])


def collect(root: str | Path) -> tuple[list[Entry], list[str]]:
    """(valid entries, problems): every `*.json` under `root/results`, checked; `root` is the
    leaderboard folder, whose parent is the repository root the submissions are relative to."""
    root = Path(root)
    repo = root.resolve().parent
    specs = canonical_specs()
    verified = read_verified(root)
    entries: list[Entry] = []
    problems: list[str] = []
    seen: dict[tuple[str, str], Path] = {}
    for path in sorted((root / "results").rglob("*.json")):
        rel = path.relative_to(root)

        def bad(reason: str) -> None:
            problems.append(f"{rel}: {reason}")

        try:
            data = read_result(path)
        except ResultError as err:
            bad(str(err).split(": ", 1)[1])
            continue
        found = validate_result(data)
        if found:
            for reason in found:
                bad(reason)
            continue
        found = consistency_problems(data)
        if found:
            for reason in found:
                bad(reason)
            continue
        zoo, emb = data["zoo"], data["embedder"]
        ref = f"{zoo['name']}@{zoo['version']}"
        if not isinstance(emb.get("name"), str) or not NAME_RULE.match(emb["name"]):
            bad(f"embedder name {emb.get('name')!r} breaks the name rule: {NAME_RULE_TEXT}")
            continue
        if ref not in specs:
            bad(f"unknown zoo {ref}; known: {', '.join(sorted(specs))}")
            continue
        if data["harness_version"] not in (HARNESS_VERSION, *SUPERSEDED_HARNESSES):
            bad(
                f"harness version {data['harness_version']} is unknown (current: {HARNESS_VERSION}); re-evaluate the submission"
            )
            continue
        if emb.get("isolated") is not True and data["harness_version"] == HARNESS_VERSION:
            bad("evaluated in-process, not sealed in a worker: evaluate it with 'netembench eval'")
            continue
        key = (emb["name"], ref)
        if key in seen:
            bad(f"duplicate entry for {emb['name']} on {ref} (also {seen[key]})")
            continue
        seen[key] = rel
        if path.relative_to(root / "results").as_posix() != f"{emb['name']}/{ref}.json":
            bad(f"a result of {emb['name']} on {ref} must live at results/{emb['name']}/{ref}.json")
            continue
        if not (repo / emb["submission"]).exists():
            bad(f"the submission code {emb['submission']} is missing (commit it beside the result)")
            continue
        superseded = bool(specs[ref].superseded_by) or data["harness_version"] in SUPERSEDED_HARNESSES
        unsealed = data["harness_version"] == HARNESS_VERSION and emb.get("sealed") is not True
        canonical = not superseded and not unsealed and zoo["fingerprint"] == specs[ref].reference_fingerprint
        record = verified.get(f"{emb['name']}/{ref}", {})
        entries.append(
            Entry(
                path,
                data,
                canonical=canonical,
                superseded=superseded,
                verified=record.get("content_hash") == data["content_hash"] and not unsealed,
                unsealed=unsealed,
            )
        )
    return entries, problems


BOUND_SLACK = 1e-9  # float rounding: sklearn's v-measure can be 1.0000000000000002


def consistency_problems(data: dict[str, Any]) -> list[str]:
    """Scores that contradict each other: a mean that is not the mean of its draws, a score or
    interval outside [0, 1] where it must lie inside, a main score that differs from its metric."""
    problems = []
    for name, m in flat_metrics(data["metrics"]).items():
        draws = m.get("per_draw")
        if (
            not isinstance(draws, list)
            or not draws
            or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in draws)
        ):
            problems.append(f"metric {name!r}: per_draw must be a non-empty list of finite numbers")
            continue
        if not math.isclose(m["mean"], sum(draws) / len(draws), rel_tol=1e-9, abs_tol=1e-12):
            problems.append(
                f"metric {name!r}: mean {m['mean']} is not the mean of per_draw ({sum(draws) / len(draws)})"
            )
        bounded = not any(k in name for k in ("nmse", "r2", "ami", "left_out", "ratio"))
        if bounded and not all(-BOUND_SLACK <= v <= 1.0 + BOUND_SLACK for v in (*draws, *m.get("ci95", []))):
            problems.append(f"metric {name!r}: accuracies and their intervals lie within [0, 1]")
        if "ci95" in m and not (len(m["ci95"]) == 2 and m["ci95"][0] <= m["ci95"][1]):
            problems.append(f"metric {name!r}: ci95 must be [low, high]")
    main, metric = data["metrics"].get("main_score"), data.get("info", {}).get("main_metric")
    twin = data["metrics"].get(metric)
    if (
        main
        and metric != "arch_probe_accuracy"
        and (twin is None or twin.get("per_draw") != main.get("per_draw"))
    ):
        problems.append(f"main_score does not equal its metric {metric!r}")
    return problems


def read_verified(root: Path) -> dict[str, dict]:
    """`verified.json`: the result files (by content hash) that `leaderboard rerun` reproduced."""
    path = Path(root) / VERIFIED
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ResultError(f"{path}: malformed JSON ({err}); restore it from git") from None
    return data if isinstance(data, dict) else {}


def suite_scores(entries: list[Entry]) -> dict[str, float]:
    """Mean of the main scores over the four 1-D tracks (`SUITE_TRACKS`), for embedders with all four."""
    from netembench.tracks import SUITE_TRACKS

    by_name: dict[str, dict[str, float]] = {}
    for e in entries:
        if e.canonical and e.track in SUITE_TRACKS:
            by_name.setdefault(e.name, {})[e.track] = e.metric("main_score")
    return {n: sum(s.values()) / len(s) for n, s in by_name.items() if set(SUITE_TRACKS) <= set(s)}


# Scores may move by this much on another machine (float summation order, BLAS) before a rerun
# reports them; cloze errors are compared relatively.
TOLERANCE = 0.01
RELATIVE_TOLERANCE = 0.05


def rerun(
    root: str | Path, name: str, zoos: list[str] | None = None, device: str = "cpu", quiet: bool = False
) -> list[str]:
    """Re-evaluate a listed submission; return a line per score that moved beyond its tolerance."""
    from netembench.harness import evaluate
    from netembench.registry import load_zoo

    root = Path(root)
    entries, problems = collect(root)
    # A superseded version is rerun only when named exactly (its reference build predates 1.1.0's
    # machine-independent arithmetic, so it rebuilds only where it was made).
    chosen = [
        e
        for e in entries
        if e.name == name and (e.zoo in (zoos or []) or (not e.superseded and (not zoos or e.track in zoos)))
    ]
    if not chosen:
        raise ResultError(
            f"no valid leaderboard entry for {name!r}" + (f" on {', '.join(zoos)}" if zoos else "")
        )
    moved = []
    for entry in chosen:
        already = len(moved)
        zoo = load_zoo(entry.zoo, build_if_missing=True, device=device, quiet=quiet)
        if zoo.fingerprint != entry.data["zoo"]["fingerprint"]:
            moved.append(
                f"{entry.zoo}: this zoo build ({zoo.fingerprint[:12]}) is not the one evaluated ({entry.data['zoo']['fingerprint'][:12]})"
            )
        evaluation = evaluate(
            str(root.resolve().parent / entry.data["embedder"]["submission"]), zoo, device=device, quiet=quiet
        )
        if evaluation["submission"].source_hash != entry.data["embedder"]["source_hash"]:
            moved.append(
                f"{entry.zoo}: the submission code changed since it was evaluated (source hash differs)"
            )
        fresh = evaluation["metrics"]
        for metric, old in _flatten(entry.data["metrics"]).items():
            new = _flatten(fresh).get(metric)
            tol = RELATIVE_TOLERANCE * abs(old) if "nmse" in metric else TOLERANCE
            if new is None or abs(new - old) > tol:
                moved.append(
                    f"{entry.zoo} {metric}: {old:.4f} -> {'missing' if new is None else f'{new:.4f}'} (tolerance {tol:.4f})"
                )
        if len(moved) == already and evaluation["sealed"]:  # an unsandboxed rerun verifies nothing
            _record_verified(root, entry)
    return moved


def _record_verified(root: Path, entry: Entry) -> None:
    """Note that this machine reproduced `entry` (by content hash): it is now listed as verified."""
    records = read_verified(root)
    records[f"{entry.name}/{entry.zoo}"] = {
        "content_hash": entry.data["content_hash"],
        "date": datetime.now(timezone.utc).date().isoformat(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
    }
    (root / VERIFIED).write_text(json.dumps(dict(sorted(records.items())), indent=1) + "\n")


def _flatten(metrics: dict[str, Any]) -> dict[str, float]:
    return {name: value["mean"] for name, value in flat_metrics(metrics).items()}
