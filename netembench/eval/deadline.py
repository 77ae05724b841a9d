"""A time limit on work done in this process: the harness's scoring of a submission's embeddings.

Scoring time grows with what a submission returns (a 500,000-wide embedding once took 400 s of
scoring that no limit covered), so it counts against `--timeout` like a call into the submission.
In the main thread a timer interrupts the work (SIGALRM, between Python steps); elsewhere the limit
is checked when the work ends.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Overrun(TimeoutError):
    """The work ran past its time limit."""


def _alarm(signum: int, frame) -> None:
    raise Overrun


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Raise `Overrun` if the block runs longer than `seconds` (None: no limit)."""
    if seconds is None:
        yield
        return
    if threading.current_thread() is not threading.main_thread():
        start = time.perf_counter()
        yield
        if time.perf_counter() - start > seconds:
            raise Overrun
        return
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-3))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
