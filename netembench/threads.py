"""How many threads torch computes with in `netembench` commands (builds, evaluations, reruns).

The exact trainer runs many short parallel regions, and each waits for its slowest thread: with
2 threads on 2 cores that other CPU-bound processes share, the thread the scheduler leaves out
holds up every region, and throughput collapses (8x measured, `benchmarks/results/threads.json`).
So a command uses as many threads as the load average leaves cores idle: chosen when it starts,
and re-chosen every `RECHECK` seconds while a zoo trains, so that a job started beside a build
costs it half its speed, not seven eighths. `NETEMBENCH_THREADS` (or `OMP_NUM_THREADS`) fixes the
count instead. The count never changes a zoo's bytes or a score (exact arithmetic).
"""

from __future__ import annotations

import os
import time

import torch

THREADS_ENV = "NETEMBENCH_THREADS"
TORCH_DEFAULT = torch.get_num_threads()  # torch's own choice (physical cores, or OMP_NUM_THREADS)
RECHECK = 30.0  # seconds between re-choices during training


def fixed_threads() -> int | None:
    """The count the environment fixes ($NETEMBENCH_THREADS, else OMP_NUM_THREADS's), or None."""
    value = os.environ.get(THREADS_ENV)
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"{THREADS_ENV}={value!r} is not a thread count; set a whole number >= 1")
        return int(value)
    if os.environ.get("OMP_NUM_THREADS") or not hasattr(os, "getloadavg"):
        return TORCH_DEFAULT
    return None


def idle_cores(own_threads: int = 0) -> int:
    """Cores the 1-minute load average leaves idle, counting `own_threads` busy threads of this
    process as idle (they are in the average), rounded: at least 1, at most torch's default."""
    others = max(0.0, os.getloadavg()[0] - own_threads)
    return max(1, min(TORCH_DEFAULT, round((os.cpu_count() or 1) - others)))


class LoadAwareThreads:
    """torch's thread count for one command process: `start` chooses it, `check` (called often
    from the computing thread: OpenMP counts are per thread) re-chooses it every `interval`
    seconds unless the environment fixes it."""

    def __init__(self, interval: float = RECHECK) -> None:
        self.interval, self.adaptive, self.next = interval, False, 0.0

    def start(self) -> int:
        fixed = fixed_threads()
        threads = fixed if fixed is not None else idle_cores()
        torch.set_num_threads(threads)
        self.adaptive, self.next = fixed is None, time.monotonic() + self.interval
        return threads

    def check(self) -> None:
        if self.adaptive and time.monotonic() >= self.next:
            self.next = time.monotonic() + self.interval
            torch.set_num_threads(idle_cores(own_threads=torch.get_num_threads()))


THREADS = LoadAwareThreads()  # what the CLI and the evaluation worker start; builds check it
