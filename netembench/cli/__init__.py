"""The `netembench` command line, on top of everything: `zoo …` (`zoo.py`), `eval` (`eval.py`),
`leaderboard …` (`leaderboard.py`); `main.py` parses and reports every failure in one line."""

from __future__ import annotations

from netembench.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
