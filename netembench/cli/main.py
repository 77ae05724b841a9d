"""The `netembench` command line: `zoo build|info|verify|diff|plot|download|push|list|remove`, `eval`, `leaderboard`."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from netembench.board.results import ResultError
from netembench.cli.common import CommandError
from netembench.cli.eval import add_eval_parser
from netembench.cli.leaderboard import add_leaderboard_parser
from netembench.cli.zoo import add_zoo_parser
from netembench.threads import THREADS
from netembench.zoo.spec import SpecError


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP: every command ends on them as on Ctrl-C (cleanup, one line)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))


def _interrupt(signum: int, frame) -> None:
    for sig in STOP_SIGNALS:  # a second signal must not cut the cleanup short
        signal.signal(sig, signal.SIG_IGN)
    raise Interrupted(signum)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="netembench", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command", required=True)
    add_zoo_parser(sub)
    add_eval_parser(sub)
    add_leaderboard_parser(sub)
    return parser


EXPECTED = (CommandError, SpecError, ResultError, OSError, RuntimeError, ValueError, KeyError)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Every failure ends in one line on stderr and exit 1 (`--debug`: a traceback);
    SIGINT, SIGTERM and SIGHUP end it in one line too, with exit code 128 + the signal number."""
    args = build_parser().parse_args(argv)
    trapped = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, _interrupt) for sig in STOP_SIGNALS} if trapped else {}
    try:
        return _run(args)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(args: argparse.Namespace) -> int:
    try:
        THREADS.start()
        _check_device(getattr(args, "device", "cpu"))
        args.handler(args)
    except KeyboardInterrupt as stop:
        signum = getattr(stop, "signum", signal.SIGINT)
        print(
            f"netembench: interrupted by {signal.Signals(signum).name}; nothing half-written was kept",
            file=sys.stderr,
        )
        return 128 + signum
    except Exception as err:  # noqa: BLE001 - the CLI's one error path
        if args.debug:
            raise
        text = " ".join(str(err).split()) or type(err).__name__
        if isinstance(err, EXPECTED):
            print(f"netembench: error: {text}", file=sys.stderr)
        else:
            print(
                f"netembench: internal error: {type(err).__name__}: {text} (run again with --debug for the traceback, "
                "and please report it)",
                file=sys.stderr,
            )
        return 1
    return 0


def _check_device(device: str) -> None:
    import torch

    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise CommandError(
            f"--device {device} was asked for but CUDA is not available here; use --device cpu"
        )
    if not str(device).startswith(("cpu", "cuda")):
        raise CommandError(f"--device {device!r} is not a device netembench runs on; use cpu or cuda")


if __name__ == "__main__":
    sys.exit(main())
