"""The leaderboard's entries: every result file under `leaderboard/results/`, validated (schema,
content hash, internal consistency, cross-metric sanity, zoo, harness version, name, submission
code), and the signed records of maintainers' reruns that verify them (`verified`). `render` turns
entries into pages; `rerun` re-evaluates entries and signs records.

A result is listed when its schema, content hash, zoo, harness version and submission code check
out; one whose zoo fingerprint is not the reference build of that zoo version (for a private-split
result: the private build its spec records) is listed apart as "non-canonical zoo", and one on a
superseded zoo version (its spec says `superseded_by`) or from a superseded harness version is
listed apart as superseded; one evaluated without the sandbox (`sealed: false`) is listed apart as
unsealed and never verified. Nothing is written when any file or record is invalid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netembench.board.results import ResultError, flat_metrics, read_result, result_name, validate_result
from netembench.board.verified import check_records
from netembench.eval.embedders import NAME_RULE, NAME_RULE_TEXT, SubmissionError, locate_submission
from netembench.eval.harness import HARNESS_VERSION
from netembench.zoo.spec import ZooSpec, canonical_specs

# Earlier harness versions whose result files stay valid, listed apart as superseded.
SUPERSEDED_HARNESSES = ("1.0.0", "1.1.0", "1.2.0")
# Accuracies, V-measures and their intervals lie in [0, 1]; a sum of floats may overshoot by ulps.
BOUND_TOLERANCE = 1e-9
# The cross-metric rule's margin (`cross_metric_problems`).
PROBE_MARGIN = 0.2


@dataclass(frozen=True)
class Entry:
    """A valid result file."""

    path: Path
    data: dict[str, Any]
    canonical: bool  # on the reference build of a current zoo version
    superseded: bool = False  # on a zoo version or harness version that a newer one replaces
    verified: bool = False  # a valid signed record of a rerun matches it (verified.json)
    reference: str = ""  # fingerprint of the official build of its zoo and split ("": none recorded)
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

    @property
    def split(self) -> str:
        """The split evaluated: "private" (a maintainers' private build, a secret test split) or "public"."""
        return self.data.get("split", "public")

    def metric(self, name: str) -> float | None:
        value = self.data["metrics"].get(name)
        return None if value is None or "mean" not in value else float(value["mean"])


def collect(root: str | Path) -> tuple[list[Entry], list[str]]:
    """(valid entries, problems): every `*.json` under `root/results` and every record of
    `root/verified.json`, checked; `root` is the leaderboard folder, whose parent is the repository
    root the submissions are relative to."""
    root = Path(root)
    specs = canonical_specs()
    found: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    seen: dict[tuple[str, str, str], Path] = {}
    for path in sorted((root / "results").rglob("*.json")):
        rel = path.relative_to(root)
        try:
            data = read_result(path)
        except ResultError as err:
            problems.append(f"{rel}: {str(err).split(': ', 1)[1]}")
            continue
        reasons = file_problems(root, path, data, specs, seen)
        problems += [f"{rel}: {reason}" for reason in reasons]
        if not reasons:
            spec = specs[f"{data['zoo']['name']}@{data['zoo']['version']}"]
            # the official build: the reference build, or the private build for a private-split result
            reference = (
                spec.private_fingerprint if data.get("split") == "private" else spec.reference_fingerprint
            )
            found[rel.as_posix()] = {
                "data": data,
                "fingerprint": reference,
                "reference": bool(reference) and data["zoo"]["fingerprint"] == reference,
            }
    verified, record_problems = check_records(root, found)
    entries = []
    for rel, item in found.items():
        data = item["data"]
        ref = f"{data['zoo']['name']}@{data['zoo']['version']}"
        superseded = bool(specs[ref].superseded_by) or data["harness_version"] in SUPERSEDED_HARNESSES
        if not superseded:  # a current entry must name the committed code that produced it
            moved = code_problem(root, data)
            if moved:
                problems.append(f"{rel}: {moved}")
                continue
        unsealed = data["harness_version"] == HARNESS_VERSION and data["embedder"].get("sealed") is not True
        canonical = not superseded and not unsealed and item["reference"]
        verified_here = rel in verified and not unsealed
        entries.append(Entry(root / rel, data, canonical, superseded, verified_here, item["fingerprint"], unsealed))
    return entries, problems + record_problems


def file_problems(
    root: Path,
    path: Path,
    data: dict[str, Any],
    specs: dict[str, ZooSpec],
    seen: dict[tuple[str, str, str], Path],
) -> list[str]:
    """Why one result file cannot be listed (empty when it can); `seen` collects listed entries,
    to refuse duplicates."""
    found = validate_result(data) or consistency_problems(data) or cross_metric_problems(data)
    if found:
        return found
    zoo, emb = data["zoo"], data["embedder"]
    ref, split = f"{zoo['name']}@{zoo['version']}", data.get("split", "public")
    if not isinstance(emb.get("name"), str) or not NAME_RULE.match(emb["name"]):
        return [f"embedder name {emb.get('name')!r} breaks the name rule: {NAME_RULE_TEXT}"]
    if ref not in specs:
        return [f"unknown zoo {ref}; known: {', '.join(sorted(specs))}"]
    if data["harness_version"] not in (HARNESS_VERSION, *SUPERSEDED_HARNESSES):
        return [
            f"harness version {data['harness_version']} is unknown (current: {HARNESS_VERSION}); re-evaluate the submission"
        ]
    if emb.get("isolated") is not True and data["harness_version"] == HARNESS_VERSION:
        return ["evaluated in-process, not sealed in a worker: evaluate it with 'netembench eval'"]
    key = (emb["name"], ref, split)
    if key in seen:
        return [f"duplicate entry for {emb['name']} on {ref} ({split} split; also {seen[key]})"]
    seen[key] = path.relative_to(root)
    expected = f"{emb['name']}/{result_name(ref, split)}"
    if path.relative_to(root / "results").as_posix() != expected:
        return [f"a result of {emb['name']} on {ref} ({split} split) must live at results/{expected}"]
    if not (root.resolve().parent / emb["submission"]).exists():
        return [f"the submission code {emb['submission']} is missing (commit it beside the result)"]
    return []


def code_problem(root: Path, data: dict[str, Any]) -> str:
    """Why a result does not match the committed submission it names ("" when it does): the
    leaderboard links that code, so its source hash must be the one the result recorded."""
    try:
        located = locate_submission(root.resolve().parent / data["embedder"]["submission"])
    except SubmissionError as err:
        return str(err)
    if located.source_hash != data["embedder"]["source_hash"]:
        return (
            f"the committed code of {data['embedder']['submission']} is not the code this result was "
            "evaluated with (source hash differs): re-evaluate it"
        )
    return ""


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
        if bounded and not all(_within_bounds(v) for v in (*draws, *m.get("ci95", []))):
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


def _within_bounds(value: float) -> bool:
    """In [0, 1], up to the rounding of a sum of floats (a V-measure of 1.0000000000000002)."""
    return -BOUND_TOLERANCE <= value <= 1.0 + BOUND_TOLERANCE


def cross_metric_problems(data: dict[str, Any]) -> list[str]:
    """A probe accuracy far above what the same embedding shows by its neighbours and clusters.

    Rule: `probe_accuracy <= max(knn_accuracy, cluster_v_measure) + PROBE_MARGIN` (0.2; means over
    draws, checked where all three are present). A linear probe may beat k-NN by a lot (random
    features are linearly separable, not clustered), but then the clusters show some of it.
    Every genuine shipped result passes with room: the largest excess is 0.124 (out_probe on
    poly2d-fine@1.0.0: probe 0.934, k-NN 0.665, V-measure 0.811), the next 0.110. The hand edit of
    issue 19 (integ on poly-fine@1.1.0: probe 0.574 -> 0.950, k-NN left at 0.567, V-measure 0.688)
    is 0.262 over, so it fails.
    """
    m = data["metrics"]
    if not all(k in m for k in ("probe_accuracy", "knn_accuracy", "cluster_v_measure")):
        return []
    probe, knn, v = (float(m[k]["mean"]) for k in ("probe_accuracy", "knn_accuracy", "cluster_v_measure"))
    if probe <= max(knn, v) + PROBE_MARGIN:
        return []
    return [
        f"probe_accuracy {probe:.3f} is more than {PROBE_MARGIN} above both knn_accuracy {knn:.3f} and "
        f"cluster_v_measure {v:.3f} on the same embedding (edited by hand?)"
    ]


def headline(entries: list[Entry]) -> list[Entry]:
    """The canonical entries that head the tables: per embedder and track the private-split
    result where there is one, else the public one."""
    private = {(e.name, e.track) for e in entries if e.canonical and e.split == "private"}
    return [e for e in entries if e.canonical and (e.split == "private" or (e.name, e.track) not in private)]


def suite_scores(entries: list[Entry]) -> dict[str, float]:
    """Mean of the headline main scores over the four 1-D tracks (`SUITE_TRACKS`), for embedders
    with all four."""
    from netembench.eval.tracks import SUITE_TRACKS

    by_name: dict[str, dict[str, float]] = {}
    for e in headline(entries):
        if e.track in SUITE_TRACKS:
            by_name.setdefault(e.name, {})[e.track] = e.metric("main_score")
    return {n: sum(s.values()) / len(s) for n, s in by_name.items() if set(SUITE_TRACKS) <= set(s)}
