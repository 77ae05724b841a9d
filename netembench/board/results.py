"""Result files: versioned JSON with everything needed to trust and reproduce a score.

`content_hash` covers the identifying fields and every score (not timings, date or environment),
so a hand-edited number is caught; two evaluations of the same submission on the same zoo give
the same hash. `split` says whether the zoo was a public build or a private one (a secret test
split, `netembench.zoo.private`); files written before harness 1.3 lack it and are public.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import torch

from netembench import __version__
from netembench.eval.embedders import NAME_RULE, NAME_RULE_TEXT, SubmissionInfo
from netembench.eval.harness import HARNESS_VERSION
from netembench.eval.metrics import HYPERPARAMETERS
from netembench.zoo.store import Zoo

SCHEMA_VERSION = 1
HASHED = ("schema_version", "harness_version", "zoo", "protocol", "embedder", "metrics")
REQUIRED = (
    *HASHED,
    "benchmark",
    "info",
    "metric_hyperparameters",
    "timings",
    "environment",
    "date",
    "content_hash",
)
OPTIONAL = ("figures", "split")  # figures: plot data for the results site (not hashed: it changes no score)
SPLITS = ("public", "private")
METRIC_FIELDS = ("mean", "std", "per_draw")
GROUPED = (
    "arch_probe_accuracy",
    "budget_curve",
)  # metrics holding one entry per architecture / probe-set size


def flat_metrics(metrics: dict[str, Any]) -> dict[str, dict]:
    """Every metric entry by name, grouped ones as `group/key` (e.g. `budget_curve/16`)."""
    out = {}
    for name, value in metrics.items():
        if name in GROUPED:
            out.update({f"{name}/{key}": v for key, v in value.items()})
        else:
            out[name] = value
    return out


class ResultError(ValueError):
    """A result file that is malformed, tampered with, or cannot be written."""


def content_hash(result: dict[str, Any]) -> str:
    """sha256 of the identifying fields and scores (and `split` where a file has it: files from
    before it keep their hash)."""
    fields = {k: result.get(k) for k in HASHED}
    if "split" in result:
        fields["split"] = result["split"]
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def build_result(zoo: Zoo, evaluation: dict[str, Any], device: str) -> dict[str, Any]:
    """The result file of one evaluation (`harness.evaluate`'s output)."""
    submission: SubmissionInfo = evaluation["submission"]
    result = {
        "schema_version": SCHEMA_VERSION,
        "benchmark": {"name": "netembench", "version": __version__},
        "harness_version": HARNESS_VERSION,
        "split": zoo.split,
        "zoo": {
            "name": zoo.name,
            "version": zoo.version,
            "fingerprint": zoo.fingerprint,
            "canonical": zoo.is_canonical,
            "source": zoo.source,
        },
        "protocol": evaluation["protocol"],
        "embedder": {
            "name": submission.name,
            "submission": submission.ref,
            "reads": sorted(submission.reads),
            "protocols": sorted(submission.protocols),
            "cloze": submission.cloze,
            "supervised": submission.supervised,
            "n_params": submission.n_params,
            "source_hash": submission.source_hash,
            "isolated": evaluation["isolated"],  # ran in a worker process, not in the harness's own
            "sealed": evaluation["sealed"],  # ...and that worker ran in the sandbox (harness 1.3)
        },
        "metrics": evaluation["metrics"],
        "info": evaluation["info"],
        "figures": evaluation["figures"],
        "metric_hyperparameters": HYPERPARAMETERS,
        "timings": evaluation["timings"],
        "environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "platform": platform.platform(),
            "device": device,
        },
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    result["content_hash"] = content_hash(result)
    return result


def default_path(results_dir: str | Path, embedder: str, zoo_ref: str, split: str = "public") -> Path:
    """RESULTS_DIR/<embedder>/<zoo>@<version>.json (a private split: `.private.json`), for a name
    that passed the name rule."""
    if not NAME_RULE.match(embedder):
        raise ResultError(
            f"embedder name {embedder!r} cannot name a result file: it must be {NAME_RULE_TEXT}"
        )
    return Path(results_dir) / embedder / result_name(zoo_ref, split)


def result_name(zoo_ref: str, split: str = "public") -> str:
    """The file name of a result on `zoo_ref`: `<zoo>@<version>.json`, or `.private.json`."""
    return f"{zoo_ref}.private.json" if split == "private" else f"{zoo_ref}.json"


def check_result_path(path: Path, overwrite: bool) -> None:
    """Refuse a result path that exists (unless `overwrite`) or is not a file."""
    if path.exists() and not overwrite:
        raise ResultError(f"result file {path} already exists; pass --overwrite to replace it")
    if path.exists() and not path.is_file():
        raise ResultError(f"result path {path} is not a file")


def write_result(result: dict[str, Any], path: str | Path, overwrite: bool = False) -> Path:
    """Write atomically (temporary file, then rename; mode 0644); refuse an existing file unless
    `overwrite`."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise ResultError(f"result file {path} already exists; pass --overwrite to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; a result file is public
        with os.fdopen(fd, "w") as f:
            json.dump(result, f, indent=1, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_result(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ResultError(f"{path}: malformed JSON ({err})") from None
    except UnicodeDecodeError:
        raise ResultError(f"{path}: not UTF-8 text; a result file is JSON") from None
    except OSError as err:
        raise ResultError(f"{path}: cannot be read ({err.strerror or err})") from None
    if not isinstance(data, dict):
        raise ResultError(f"{path}: expected a JSON object")
    return data


def validate_result(result: dict[str, Any]) -> list[str]:
    """Every problem with a result document's structure and integrity (empty when valid)."""
    if result.get("schema_version") != SCHEMA_VERSION:
        return [f"schema_version {result.get('schema_version')!r} is not {SCHEMA_VERSION}"]
    problems = [f"missing field {k!r}" for k in REQUIRED if k not in result]
    problems += [f"unexpected field {k!r}" for k in sorted(set(result) - set(REQUIRED) - set(OPTIONAL))]
    problems += [
        f"field {k!r} must be an object"
        for k in ("zoo", "embedder", "metrics", "info", "timings", "protocol")
        if k in result and not isinstance(result[k], dict)
    ]
    if problems:
        return problems
    for k, kind in (("name", str), ("version", str), ("fingerprint", str)):
        if not isinstance(result["zoo"].get(k), kind):
            problems.append(f"zoo.{k} must be a string")
    for k, kind in (
        ("name", str),
        ("submission", str),
        ("source_hash", str),
        ("supervised", bool),
        ("reads", list),
    ):
        if not isinstance(result["embedder"].get(k), kind):
            problems.append(f"embedder.{k} must be a {kind.__name__}")
    if result.get("split", "public") not in SPLITS:
        problems.append(f"split must be one of {', '.join(SPLITS)}, got {result['split']!r}")
    if result["harness_version"] == HARNESS_VERSION and not isinstance(result["embedder"].get("sealed"), bool):
        problems.append("embedder.sealed must be a bool")
    if problems:
        return problems
    for name, m in flat_metrics(result["metrics"]).items():
        if not isinstance(m, dict) or any(f not in m for f in METRIC_FIELDS):
            problems.append(f"metric {name!r} lacks {'/'.join(METRIC_FIELDS)}")
    if "main_score" not in result["metrics"]:
        problems.append("metric 'main_score' is missing")
    if result.get("content_hash") != content_hash(result):
        problems.append("content_hash does not match the scores and identifying fields (edited by hand?)")
    return problems


def summary_table(results: list[dict]) -> str:
    """Main scores of several results: one row per embedder, one column per zoo."""
    zoos = list(dict.fromkeys(f"{r['zoo']['name']}@{r['zoo']['version']}" for r in results))
    names = list(dict.fromkeys(r["embedder"]["name"] for r in results))
    cell = {
        (r["embedder"]["name"], f"{r['zoo']['name']}@{r['zoo']['version']}"): r["metrics"]["main_score"]
        for r in results
    }
    lines = [
        "main scores (mean ± std over draws):",
        f"  {'embedder':<20}" + "".join(f"{z:>22}" for z in zoos),
    ]
    for n in names:
        row = [f"{cell[n, z]['mean']:.3f} ± {cell[n, z]['std']:.3f}" if (n, z) in cell else "—" for z in zoos]
        lines.append(f"  {n:<20}" + "".join(f"{c:>22}" for c in row))
    return "\n".join(lines)


def format_scores(result: dict) -> str:
    """A short table of a result's scores."""
    m = result["metrics"]
    zoo = result["zoo"]
    lines = [
        f"{result['embedder']['name']} on {zoo['name']}@{zoo['version']} (zoo {zoo['fingerprint'][:12]}, "
        f"{result['timings']['total_seconds']:.1f} s)"
    ]
    main = m["main_score"]
    lines.append(
        f"  {'main_score (' + result['info']['main_metric'] + ')':<38} {main['mean']:.4f} ± {main['std']:.4f}"
        f"   95% CI [{main['ci95'][0]:.3f}, {main['ci95'][1]:.3f}]"
    )
    for name, value in flat_metrics(m).items():
        if name != "main_score":
            lines.append(f"  {name:<38} {value['mean']:.4f} ± {value['std']:.4f}")
    return "\n".join(lines)
