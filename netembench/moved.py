"""The flat layout's module paths, kept importable: `netembench.features`, `netembench.registry`,
`netembench.training`, … are the modules that now live in `zoo/`, `eval/`, `board/` and `plots/`.

Submissions and scripts written against the flat layout (every baseline among them: their source
hashes, and so their results and signatures, depend on their bytes) import the same module objects
as the new paths, private names and monkeypatching included. New code imports the new paths.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

FLAT_LAYOUT = {
    "netembench.exact": "netembench.zoo.exact",
    "netembench.rng": "netembench.zoo.rng",
    "netembench.rounding": "netembench.zoo.rounding",
    "netembench.tasks": "netembench.zoo.tasks",
    "netembench.tasks2d": "netembench.zoo.tasks2d",
    "netembench.population": "netembench.zoo.population",
    "netembench.budget": "netembench.zoo.budget",
    "netembench.spec": "netembench.zoo.spec",
    "netembench.build": "netembench.zoo.build",
    "netembench.store": "netembench.zoo.store",
    "netembench.identity": "netembench.zoo.identity",
    "netembench.card": "netembench.zoo.card",
    "netembench.shards": "netembench.zoo.shards",
    "netembench.private": "netembench.zoo.private",
    "netembench.hub": "netembench.zoo.hub",
    "netembench.registry": "netembench.zoo.source",
    "netembench.zoodiff": "netembench.zoo.diff",
    "netembench.probes": "netembench.eval.probes",
    "netembench.tracks": "netembench.eval.tracks",
    "netembench.twins": "netembench.eval.twins",
    "netembench.features": "netembench.eval.features",
    "netembench.metrics": "netembench.eval.metrics",
    "netembench.embedders": "netembench.eval.embedders",
    "netembench.worker": "netembench.eval.worker",
    "netembench.wire": "netembench.eval.wire",
    "netembench.sandbox": "netembench.eval.sandbox",
    "netembench.snapshot": "netembench.eval.snapshot",
    "netembench.consistency": "netembench.eval.consistency",
    "netembench.deadline": "netembench.eval.deadline",
    "netembench.harness": "netembench.eval.harness",
    "netembench.summary": "netembench.eval.summary",
    "netembench.training": "netembench.eval.training",
    "netembench.results": "netembench.board.results",
    "netembench.leaderboard": "netembench.board.leaderboard",
    "netembench.render": "netembench.board.render",
    "netembench.figures": "netembench.board.figures",
    "netembench.signing": "netembench.board.signing",
    "netembench.verified": "netembench.board.verified",
    "netembench.rerun": "netembench.board.rerun",
    "netembench.plots2d": "netembench.plots.zoo2d",
    "netembench.evalrun": "netembench.cli.eval",
    "netembench.leaderboard_cli": "netembench.cli.leaderboard",
}


class FlatLayoutFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports a flat-layout path as the module at its new path: a placeholder module that puts
    the real one in its place in `sys.modules`, so the real module keeps its own name and spec."""

    def find_spec(self, fullname: str, path=None, target=None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in FLAT_LAYOUT:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, loader_state=FLAT_LAYOUT[fullname])

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None  # the default placeholder

    def exec_module(self, module: ModuleType) -> None:
        sys.modules[module.__name__] = importlib.import_module(module.__spec__.loader_state)


def install() -> None:
    """Put the finder first on `sys.meta_path`, once (importing `netembench` does): it answers
    only the flat layout's names, before a stale copy of a flat module could."""
    if not any(isinstance(f, FlatLayoutFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, FlatLayoutFinder())
