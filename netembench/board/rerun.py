"""`netembench leaderboard rerun`: a maintainer re-evaluates listed entries and signs what reproduced.

Each chosen entry is evaluated again, sealed, on its zoo, and every score that moved beyond its
tolerance is reported. With a signing key, an entry that reproduced gets a signed record in
`verified.json` (`verified`) and the leaderboard pages are rendered again, but only when:

- the rerun ran on the reference build of the entry's zoo (the spec's `reference_fingerprint`; for
  a private-split entry the spec's `private_fingerprint`, the folder given with `--private-zoo`);
- the entry was evaluated on that same build, with the same submission code;
- both the entry and the rerun ran sealed.

Otherwise the rerun says why in one line and writes no record. Without a key (CI) it only reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from netembench.board.leaderboard import Entry, collect
from netembench.board.results import ResultError
from netembench.board.signing import KEYS_FILE, SigningError, key_id, read_public_keys
from netembench.board.verified import VERIFIED, make_record, moved_scores, read_records, scores, write_records
from netembench.eval.harness import HARNESS_VERSION
from netembench.zoo.store import Zoo


@dataclass
class Outcome:
    """What a rerun of one entry found: scores that moved, and its signed record or why none."""

    entry: Entry
    moved: list[str] = field(default_factory=list)
    unsigned: str = ""  # why no record was written
    record: dict | None = None  # the signed record, when one was written
    skipped: bool = False  # not rerun at all (`unsigned` says why)


@dataclass
class Report:
    """Every entry's outcome, and one line saying what was written (empty: nothing)."""

    outcomes: list[Outcome]
    written: str = ""


def choose(entries: list[Entry], names: list[str] | None, zoos: list[str] | None) -> list[Entry]:
    """The entries of `names` (None: every embedder) on `zoos` (names or name@version; None: all).
    A superseded version is rerun only when named exactly: its reference build predates 1.1.0's
    machine-independent arithmetic, so it rebuilds only where it was made."""
    chosen = [
        e
        for e in entries
        if (names is None or e.name in names)
        and (e.zoo in (zoos or []) or (not e.superseded and (not zoos or e.track in zoos)))
    ]
    if not chosen:
        who = "any embedder" if names is None else ", ".join(map(repr, names))
        raise ResultError(
            f"no valid leaderboard entry for {who}" + (f" on {', '.join(zoos)}" if zoos else "")
        )
    return chosen


def rerun(
    root: str | Path,
    names: list[str] | None,
    zoos: list[str] | None = None,
    device: str = "cpu",
    quiet: bool = False,
    signer: Ed25519PrivateKey | None = None,
    private_zoos: list[str] | None = None,
    tell: Callable[[Outcome], None] | None = None,
) -> Report:
    """Re-evaluate the chosen entries (`choose`); sign a record of each that reproduced where
    allowed (module docstring), written as soon as it is made, then render the leaderboard again
    if any record was written. `tell` hears of each outcome as it comes."""
    from netembench.zoo.source import load_zoo

    root = Path(root)
    if signer is not None and key_id(signer.public_key()) not in read_public_keys(root / KEYS_FILE):
        raise SigningError(
            f"signing key {key_id(signer.public_key())} is not in {root / KEYS_FILE}; sign with a "
            "maintainers' key, or add this one's public key line there ('netembench leaderboard keygen' prints it)"
        )
    private = {}
    for folder in private_zoos or []:
        zoo = load_zoo(folder)
        if zoo.split != "private":
            raise ResultError(
                f"--private-zoo {folder} is a public build; give a folder built with --private-salt"
            )
        private[zoo.spec.ref] = zoo
    public: dict[str, Zoo] = {}
    records, outcomes = read_records(root), []
    for entry in choose(collect(root)[0], names, zoos):
        if entry.split == "private":
            if entry.zoo not in private:
                why = "a private-split result: give its private build with --private-zoo"
                outcomes.append(Outcome(entry, unsigned=why, skipped=True))
                if tell:
                    tell(outcomes[-1])
                continue
            zoo = private[entry.zoo]
        else:
            if entry.zoo not in public:
                public[entry.zoo] = load_zoo(entry.zoo, build_if_missing=True, device=device, quiet=quiet)
            zoo = public[entry.zoo]
        outcome = rerun_entry(root, entry, zoo, device, quiet, signer)
        if outcome.record is not None:
            records[entry.path.relative_to(root).as_posix()] = outcome.record
            write_records(root, records)
        outcomes.append(outcome)
        if tell:
            tell(outcome)
    if not any(o.record is not None for o in outcomes):
        return Report(outcomes)
    return Report(outcomes, render_after(root))


def rerun_entry(
    root: Path, entry: Entry, zoo: Zoo, device: str, quiet: bool, signer: Ed25519PrivateKey | None
) -> Outcome:
    """Evaluate `entry`'s submission on `zoo` again; its moved scores, and its signed record or why not."""
    from netembench.eval.harness import evaluate

    out = Outcome(entry)
    if zoo.fingerprint != entry.data["zoo"]["fingerprint"]:
        out.moved.append(
            f"this zoo build ({zoo.fingerprint[:12]}) is not the one evaluated ({entry.data['zoo']['fingerprint'][:12]})"
        )
    submission = root.resolve().parent / entry.data["embedder"]["submission"]
    evaluation = evaluate(str(submission), zoo, device=device, quiet=quiet)
    if evaluation["submission"].source_hash != entry.data["embedder"]["source_hash"]:
        out.moved.append("the submission code changed since it was evaluated (source hash differs)")
    fresh = scores(evaluation["metrics"])
    out.moved += moved_scores(scores(entry.data["metrics"]), fresh)
    # harness 1.3 marks runs outside its sandbox sealed: false (results of earlier harnesses lack it)
    sealed = (
        evaluation["isolated"]
        and evaluation.get("sealed") is not False
        and entry.data["embedder"].get("sealed") is not False
    )
    if out.moved:
        out.unsigned = "scores moved"
    elif signer is None:
        out.unsigned = "no signing key (--sign-key or $NETEMBENCH_SIGNING_KEY), so no record was written"
    elif zoo.fingerprint != entry.reference:
        out.unsigned = (
            f"this build ({zoo.fingerprint[:12]}) is not the {entry.split} reference build of {entry.zoo} "
            f"({entry.reference[:12] or 'none recorded'}); only reruns there are verified"
        )
    elif not sealed:
        out.unsigned = "the result or the rerun did not run sealed; unsealed runs are never verified"
    else:
        rel = entry.path.relative_to(root).as_posix()
        out.record = make_record(rel, entry.data, fresh, signer, HARNESS_VERSION)
    return out


def render_after(root: Path) -> str:
    """Render the leaderboard after records were written; one line saying what happened."""
    from netembench.board.render import build

    problems, _ = build(root)
    if problems:
        return (
            f"wrote {root / VERIFIED}; the pages were not rendered: {len(problems)} problem(s), first: "
            f"{problems[0]} (see 'netembench leaderboard --check')"
        )
    return f"wrote {root / VERIFIED}, {root / 'README.md'} and {root / 'index.html'}"
