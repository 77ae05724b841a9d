"""`leaderboard/verified.json`: signed records of maintainers' reruns that reproduced a result file.

Each record is keyed by the result file it names (`results/<name>/<zoo>@<version>.json`) and
holds that file's `content_hash`, the rerun's scores, the zoo fingerprint and split, the harness
version that reran it, and the signing key's id, signed over its canonical JSON (`signing`). A
record makes its entry **verified** (✓) only if its signature verifies under a key in
`maintainers.pub` and it still matches the file it names: same content hash (the file was not
edited since), same zoo and split, a reference build, and every score within its rerun tolerance.
Any other record (forged, unsigned, stale, for another file) is a problem that fails
`netembench leaderboard --check`, in one line naming the file.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from netembench.board.results import ResultError, flat_metrics
from netembench.board.signing import KEYS_FILE, key_id, read_public_keys, sign, signature_problem

VERIFIED = "verified.json"
# Scores may move by this much on another machine (float summation order, BLAS) and still count
# as reproduced; cloze errors are compared relatively.
TOLERANCE = 0.01
RELATIVE_TOLERANCE = 0.05


def tolerance(metric: str, old: float) -> float:
    return RELATIVE_TOLERANCE * abs(old) if "nmse" in metric else TOLERANCE


def scores(metrics: dict[str, Any]) -> dict[str, float]:
    """Every metric's mean by flat name (`budget_curve/16`)."""
    return {name: value["mean"] for name, value in flat_metrics(metrics).items()}


def moved_scores(old: dict[str, float], new: dict[str, float]) -> list[str]:
    """A line per score of `old` that `new` lacks or moved beyond its tolerance."""
    lines = []
    for metric, value in old.items():
        fresh, tol = new.get(metric), tolerance(metric, value)
        if not isinstance(fresh, (int, float)) or not abs(fresh - value) <= tol:
            shown = f"{fresh:.4f}" if isinstance(fresh, (int, float)) else "missing"
            lines.append(f"{metric}: {value:.4f} -> {shown} (tolerance {tol:.4f})")
    return lines


def read_records(root: str | Path) -> dict[str, Any]:
    """The records of `root/verified.json` by result path (empty when there is no file)."""
    path = Path(root) / VERIFIED
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ResultError(f"{path}: malformed JSON ({err}); restore it from git") from None
    if not isinstance(data, dict):
        raise ResultError(f"{path}: expected a JSON object of records; restore it from git")
    return data


def make_record(
    rel: str, result: dict[str, Any], rerun: dict[str, float], signer: Ed25519PrivateKey, harness: str
) -> dict[str, Any]:
    """The signed record of a rerun that reproduced result file `rel` (relative to the leaderboard)."""
    record = {
        "result": rel,
        "content_hash": result["content_hash"],
        "zoo": f"{result['zoo']['name']}@{result['zoo']['version']}",
        "zoo_fingerprint": result["zoo"]["fingerprint"],
        "split": result.get("split", "public"),
        "harness_version": harness,
        "scores": rerun,
        "date": datetime.now(timezone.utc).date().isoformat(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "key_id": key_id(signer.public_key()),
    }
    return {"record": record, "signature": sign(signer, record)}


def write_records(root: str | Path, records: dict[str, Any]) -> Path:
    """Write `root/verified.json` atomically, records in path order."""
    path = Path(root) / VERIFIED
    fd, tmp = tempfile.mkstemp(prefix=f".{VERIFIED}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(dict(sorted(records.items())), indent=1, sort_keys=True) + "\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def check_records(root: str | Path, results: dict[str, dict[str, Any]]) -> tuple[set[str], list[str]]:
    """(result paths verified, problems) for every record of `root/verified.json`; `results` maps
    each valid result file (its path relative to `root`) to its data and whether it is on the
    reference build of its zoo (`"reference"`)."""
    keys = read_public_keys(Path(root) / KEYS_FILE)
    verified, problems = set(), []
    for rel, signed in read_records(root).items():
        why = record_problem(rel, signed, results, keys)
        if why:
            problems.append(f"{VERIFIED}: the record of {rel}: {why}")
        else:
            verified.add(rel)
    return verified, problems


def record_problem(rel: str, signed: Any, results: dict[str, dict[str, Any]], keys: dict) -> str | None:
    """Why the record keyed `rel` does not verify its file; None when it does."""
    if (
        not isinstance(signed, dict)
        or not isinstance(signed.get("record"), dict)
        or "signature" not in signed
    ):
        return "unsigned (written before records were signed, or by hand): remove it or re-sign it with 'netembench leaderboard rerun'"
    record = signed["record"]
    why = signature_problem(record, signed["signature"], keys)
    if why:
        return why
    if record.get("result") != rel:
        return f"it is a record of another file ({record.get('result')!r})"
    if rel not in results:
        return "no valid result file by that name: remove the record"
    data, reference = results[rel]["data"], results[rel]["reference"]
    if record.get("content_hash") != data["content_hash"]:
        return "stale: the result file changed after the rerun was signed; rerun and re-sign it, or remove the record"
    if record.get("zoo_fingerprint") != data["zoo"]["fingerprint"] or record.get("split") != data.get(
        "split", "public"
    ):
        return "it names another zoo build or split than the result file"
    if not reference:
        return "the result is not on the reference build of its zoo; only reruns there are verified"
    if data["embedder"].get("sealed") is False:  # harness 1.3's sandbox flag; earlier files lack it
        return "the result was not evaluated in the sandbox (sealed: false); such results are never verified"
    if not isinstance(record.get("scores"), dict):
        return "it holds no scores of the rerun"
    moved = moved_scores(scores(data["metrics"]), record["scores"])
    if moved:
        return f"the signed rerun's scores differ from the file's ({moved[0]})"
    return None
