"""`netembench eval`: every (submission, zoo) pair evaluated and written to its result file.

Every result path is checked before any zoo is loaded, downloaded or built, so that an existing
result file stops the command at once, not after an hour of building. (The zoo of a hub repository
is named only once downloaded; its paths are checked then, still before any evaluation.) Each
submission runs sealed in its own sandboxed worker, loaded once for all zoos; the workers start
first (a result path needs the embedder's name), and every zoo's tables, labels and weights are
read and checked (`snapshot`) before any probe set is sent. A failure or an interrupt ends every
worker's process tree at once.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path
from typing import Any

from netembench.board.results import (
    build_result,
    check_result_path,
    default_path,
    format_scores,
    write_result,
)
from netembench.cli.common import CommandError, add_zoo_options
from netembench.eval.embedders import Unsupported, locate_submission
from netembench.eval.harness import evaluate
from netembench.eval.snapshot import take
from netembench.eval.worker import WorkerRunner
from netembench.zoo.source import load_zoo, zoo_name
from netembench.zoo.spec import CANONICAL_TRACKS

ALL = "all"


def eval_zoos(requested: list[str]) -> list[str]:
    """The zoos `--zoo` names: `all` is every canonical track."""
    return list(CANONICAL_TRACKS) if requested == [ALL] else requested


def run_eval(
    submissions: list[str],
    zoos: list[str],
    results_dir: Path,
    out: Path | None = None,
    device: str = "cpu",
    batch_size: int = 512,
    timeout: float = 600.0,
    overwrite: bool = False,
    cache_dir: str | None = None,
    quiet: bool = False,
) -> list[dict]:
    """Evaluate each submission on each zoo (zoos missing from the cache are downloaded or built),
    write the result files (`out`, or RESULTS_DIR/<embedder>/<zoo>@<version>.json, `.private.json`
    on a private build) and print the scores; returns the results. A zoo a submission does not
    support is skipped, saying why."""
    for ref in submissions:
        locate_submission(ref)  # a missing submission fails before any worker or zoo
    runners: list[WorkerRunner] = []
    try:
        for ref in submissions:  # the workers start up while the zoos are checked and loaded
            runners.append(WorkerRunner(ref, device, timeout))
        paths = partial(_result_paths, runners, results_dir, out)
        loaded = _load_zoos(zoos, paths, overwrite, cache_dir, device, quiet)
        snapshots = {zoo.spec.ref: take(zoo, device) for zoo in loaded}
        jobs = [(r, zoo, p) for zoo in loaded for r, p in zip(runners, paths(zoo.spec.ref, zoo.split))]
        for _, _, path in jobs:
            check_result_path(path, overwrite)
        for zoo in loaded:
            note = zoo.canonical_note()
            if note:
                print(note, file=sys.stderr)
        results = []
        for runner, zoo, path in jobs:
            result = _evaluate_one(runner, zoo, snapshots[zoo.spec.ref], device, batch_size, quiet)
            if result is not None:
                results.append(result)
                write_result(result, path, overwrite=overwrite)
                print(format_scores(result))
                print(f"wrote {path}")
    except BaseException:  # a failure or an interrupt: every worker's tree ends now
        for runner in runners:
            runner.close(kill=True)
        raise
    for runner in runners:
        runner.close()
    return results


def _result_paths(
    runners: list[WorkerRunner], results_dir: Path, out: Path | None, zoo_ref: str, split: str = "public"
) -> list[Path]:
    """Each runner's result file for a zoo."""
    return [out or default_path(results_dir, r.info.name, zoo_ref, split) for r in runners]


def _load_zoos(zoos: list[str], paths, overwrite: bool, cache_dir, device: str, quiet: bool) -> list:
    """The zoos, loaded (downloaded or built if missing) only after every result path that can be
    named without them was checked."""
    for ref in zoos:
        named = zoo_name(ref)
        for path in paths(named) if named else []:
            check_result_path(path, overwrite)
    return [load_zoo(ref, cache=cache_dir, build_if_missing=True, device=device, quiet=quiet) for ref in zoos]


def _evaluate_one(runner: WorkerRunner, zoo, snapshot, device: str, batch_size: int, quiet: bool) -> dict | None:
    """One result, or None (saying why) when the submission does not support the zoo."""
    try:
        evaluation = evaluate(
            None, zoo, device=device, batch_size=batch_size, quiet=quiet, runner=runner, snapshot=snapshot
        )
    except Unsupported as why:
        print(f"skipped {zoo.spec.ref}: {why}")
        return None
    return build_result(zoo, evaluation, device)


def eval_command(args: argparse.Namespace) -> None:
    """`netembench eval`: check the arguments, run `run_eval`, print a summary of several results."""
    from netembench.board.results import summary_table

    zoos = eval_zoos(args.zoo)
    if args.out and len(zoos) * len(args.submission) > 1:
        raise CommandError("--out names one result file; with several zoos or submissions use --results-dir")
    results_dir = Path(args.results_dir)
    if results_dir.exists() and not results_dir.is_dir():
        raise CommandError(f"--results-dir {results_dir} is a file, not a folder")
    if args.timeout <= 0:
        raise CommandError(f"--timeout must be a positive number of seconds, got {args.timeout:g}")
    results = run_eval(
        args.submission,
        zoos,
        results_dir,
        Path(args.out) if args.out else None,
        device=args.device,
        batch_size=args.batch_size,
        timeout=args.timeout,
        overwrite=args.overwrite,
        cache_dir=args.cache_dir,
        quiet=args.quiet,
    )
    if len(results) > 1:
        print(summary_table(results))


def add_eval_parser(sub: Any) -> None:
    """Add `netembench eval` to `sub` (the subcommands of `netembench`)."""
    p = sub.add_parser(
        "eval",
        help="evaluate a submission on zoos and write result files",
        description="evaluate a submission (a .py file, a folder with embedder.py, or module:callable)",
    )
    p.add_argument("submission", nargs="+", help="one or more submissions")
    p.add_argument(
        "--zoo",
        nargs="+",
        required=True,
        help=f"zoo names, folders, hub repositories, or 'all': the {len(CANONICAL_TRACKS)} canonical tracks "
        f"({', '.join(CANONICAL_TRACKS)}). Zoos missing from the cache are downloaded or built first",
    )
    p.add_argument(
        "--out", help="result file (one zoo only; default: RESULTS_DIR/<embedder>/<zoo>@<version>.json)"
    )
    p.add_argument(
        "--results-dir",
        default="leaderboard/results",
        help="folder for result files, written as RESULTS_DIR/<embedder>/<zoo>@<version>.json "
        "(default leaderboard/results)",
    )
    p.add_argument(
        "--device",
        default="cpu",
        help="cpu or cuda (default cpu): where the submission runs and the harness probes the models; "
        "a missing zoo is built there too",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=512,
        help="models per call into the submission (default 512); scores do not depend on it",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="seconds each call into the submission, and the scoring of each draw of its embeddings, "
        "may take before the evaluation is stopped (default 600)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing result files")
    add_zoo_options(p, "no progress output (scores and written files are still printed)")
    p.set_defaults(handler=eval_command)
