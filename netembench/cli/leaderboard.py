"""The `netembench leaderboard` command: validate and render (`--check`), `rerun` submissions and
sign records of what reproduced, `keygen` a maintainer key."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from netembench.cli.common import CommandError


def _leaderboard(args: argparse.Namespace) -> None:
    from netembench.board.render import build

    if args.lb_command == "rerun":
        return _rerun(args)
    if args.lb_command == "keygen":
        return _keygen(args)
    problems, stale = build(args.root, check=args.check)
    for p in problems:
        print(f"INVALID {p}")
    if problems:
        raise CommandError(
            f"{len(problems)} invalid result file(s) or record(s) under {args.root}; nothing was rendered"
        )
    if args.check:
        for path in stale:
            print(f"STALE {path}")
        if stale:
            raise CommandError("the rendered leaderboard is stale: run 'netembench leaderboard'")
        print(
            f"OK: every result file and record is valid and {args.root}/README.md and index.html are up to date"
        )
    else:
        print(f"wrote {args.root}/README.md and {args.root}/index.html")


def _rerun(args: argparse.Namespace) -> None:
    from netembench.board.rerun import rerun
    from netembench.board.signing import KEY_ENV, load_private_key

    if bool(args.name) == args.all:
        raise CommandError("name one embedder to rerun, or give --all for every entry (not both)")
    key = args.sign_key or os.environ.get(KEY_ENV)
    report = rerun(
        args.root,
        None if args.all else [args.name],
        args.zoo,
        device=args.device,
        quiet=args.quiet,
        signer=load_private_key(key) if key else None,
        private_zoos=args.private_zoo,
        tell=_tell,
    )
    if report.written:
        print(report.written)
    moved = sum(len(o.moved) for o in report.outcomes)
    if moved:
        raise CommandError(
            f"{moved} score(s) or input(s) moved beyond tolerance (the MOVED lines); no record was written for them"
        )


def _tell(o: Any) -> None:
    """One rerun outcome (`rerun.Outcome`): a line per moved score, else one line."""
    where = f"{o.entry.name} {o.entry.zoo}" + (" (private split)" if o.entry.split == "private" else "")
    for line in o.moved:
        print(f"MOVED {where} {line}", flush=True)
    if o.skipped:
        print(f"SKIPPED {where}: {o.unsigned}", flush=True)
    elif o.record is not None:
        key = o.record["record"]["key_id"]
        print(f"VERIFIED {where}: reproduced within tolerance; signed by key {key}", flush=True)
    elif not o.moved:
        print(f"OK {where}: reproduced within tolerance; not signed: {o.unsigned}", flush=True)


def _keygen(args: argparse.Namespace) -> None:
    from netembench.board.signing import generate_key, public_line

    private = generate_key(args.path)
    print(
        f"wrote a new private key to {args.path} (mode 0600): keep it on the maintainers' machine, never in "
        "the repository or CI. Add this line to leaderboard/maintainers.pub:",
        file=sys.stderr,
    )
    print(public_line(private.public_key(), args.comment))


def add_leaderboard_parser(sub: Any) -> None:
    """Add `netembench leaderboard [--check] | rerun | keygen` to `sub` (the subcommands of `netembench`)."""
    p = sub.add_parser(
        "leaderboard",
        help="validate result files and render the leaderboard",
        description="validate leaderboard/results/ and render leaderboard/README.md and index.html",
    )
    p.add_argument("--root", default="leaderboard", help="the leaderboard folder (default: leaderboard)")
    p.add_argument(
        "--check",
        action="store_true",
        help="validate and fail if the rendered files are stale; write nothing",
    )
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(handler=_leaderboard, lb_command=None)
    lb = p.add_subparsers(dest="lb_command")
    r = lb.add_parser(
        "rerun",
        help="re-evaluate listed submissions, report scores that moved, sign records of what reproduced",
    )
    r.add_argument("name", nargs="?", help="embedder name")
    r.add_argument("--all", action="store_true", help="every embedder with a current entry")
    r.add_argument("--zoo", nargs="+", help="only these zoos")
    r.add_argument(
        "--sign-key",
        metavar="PATH",
        help="maintainer's private key: sign a record of each entry reproduced on its reference build "
        "(default: $NETEMBENCH_SIGNING_KEY; none: report only)",
    )
    r.add_argument(
        "--private-zoo",
        action="append",
        metavar="DIR",
        help="the private build for private-split entries (repeatable)",
    )
    r.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    r.add_argument("--quiet", action="store_true", help="no progress output")
    k = lb.add_parser("keygen", help="make a maintainer signing key; print its public key line")
    k.add_argument("path", help="where to write the private key (outside the repository; mode 0600)")
    k.add_argument("--comment", default="", help="a note on the public key line (who, since when)")
