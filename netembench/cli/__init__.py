"""The `netembench` command line, on top of everything: `zoo …`, `eval …`, `leaderboard …`."""

from __future__ import annotations

from netembench.cli.main import main

__all__ = ["main"]
