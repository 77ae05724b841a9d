"""The leaderboard: scores → result file → leaderboard.

In: a harness run. Out: versioned result files (`results.py`), the validated entries
(`leaderboard.py`), maintainers' signed reruns (`rerun.py`, `verified.py`) and the rendered pages
(`render.py`, `figures.py`).
"""
