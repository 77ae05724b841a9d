"""Progress of long commands (zoo builds, evaluations), on stderr.

On a terminal, a tqdm bar. Elsewhere (a log file, a pipe, CI) tqdm would print nothing, and a
31-minute build looked dead; there a line is printed every `INTERVAL` seconds instead, from a
background thread, so that a step or draw that takes minutes still shows the command is alive.
Nothing under `quiet`.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO, TypeVar

from tqdm.auto import tqdm

INTERVAL = 10.0  # seconds between progress lines when stderr is not a terminal

T = TypeVar("T")


class Progress:
    """Counts `total` units of work; a tqdm-like `update`, `set_postfix` and `close`."""

    def __init__(
        self,
        total: int,
        desc: str,
        unit: str,
        quiet: bool = False,
        interval: float | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self.total, self.desc, self.unit, self.n, self.postfix = total, desc, unit, 0, ""
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        terminal = not quiet and self.stream.isatty()
        self.bar = tqdm(total=total, desc=desc, unit=unit, file=self.stream) if terminal else None
        self._stop = threading.Event()
        self._lines: threading.Thread | None = None
        if not quiet and not terminal:
            every = INTERVAL if interval is None else interval
            self._lines = threading.Thread(target=self._every, args=(every,), daemon=True)
            self._lines.start()

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.bar is not None:
            self.bar.update(n)

    def set_postfix(self, **fields: Any) -> None:
        self.postfix = ", ".join(f"{k} {v}" for k, v in fields.items())
        if self.bar is not None:
            self.bar.set_postfix(fields)

    def line(self) -> str:
        """`train poly-seed@1.1.0: 1200/4000 steps (30%), 95 s, about 222 s left (arch 1-32-32-1)`."""
        elapsed = time.monotonic() - self.start
        text = f"{self.desc}: {self.n}/{self.total} {self.unit}s"
        if self.total:
            text += f" ({100 * self.n / self.total:.0f}%)"
        text += f", {elapsed:.0f} s"
        if 0 < self.n < self.total:
            text += f", about {elapsed * (self.total - self.n) / self.n:.0f} s left"
        return text + (f" ({self.postfix})" if self.postfix else "")

    def _every(self, interval: float) -> None:
        while not self._stop.wait(interval):
            print(self.line(), file=self.stream, flush=True)

    def close(self) -> None:
        """Stop; in line mode, one last line with the final count."""
        if self.bar is not None:
            self.bar.close()
        if self._lines is not None and not self._stop.is_set():
            self._stop.set()
            self._lines.join()
            print(self.line(), file=self.stream, flush=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def track(items: Iterable[T], total: int, desc: str, unit: str, quiet: bool = False) -> Iterator[T]:
    """Iterate over `items`, counting each as one unit of a `Progress`."""
    with Progress(total, desc, unit, quiet) as progress:
        for item in items:
            yield item
            progress.update()
