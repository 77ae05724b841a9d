"""What the commands share: the one-line error, the zoo options, status notes."""

from __future__ import annotations

import argparse
import sys


class CommandError(RuntimeError):
    """A failure to report as one line, without a traceback."""


def add_zoo_options(p: argparse.ArgumentParser, quiet_help: str = "no progress output") -> None:
    """`--cache-dir` and `--quiet`, as every command that loads zoos takes them."""
    p.add_argument("--cache-dir", help="zoo cache folder (default: $NETEMBENCH_CACHE or ~/.cache/netembench)")
    p.add_argument("--quiet", action="store_true", help=quiet_help)


def note(line: str | None) -> None:
    """A zoo's one-line status note (not canonical, superseded), on stderr: it is not progress."""
    if line:
        print(line, file=sys.stderr)
