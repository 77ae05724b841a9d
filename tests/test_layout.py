"""The package's shape (issue #20): subpackages along the data flow, no import circles, no private
names across modules, modules and functions that fit on a screen, and the flat layout's paths kept."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from netembench.moved import FLAT_LAYOUT

PACKAGE = Path(__file__).resolve().parent.parent / "netembench"
ORDER = ("progress", "threads", "moved", "zoo", "eval", "board", "plots", "cli")  # lower layers first


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports(name: str, path: Path) -> list[tuple[str, str]]:
    """(module imported, name imported from it) of every netembench import in a module, lazy ones too."""
    known, found = modules(), []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("netembench"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.append((sub, "") if sub in known else (node.module, alias.name))
        elif isinstance(node, ast.Import):
            found += [(a.name, "") for a in node.names if a.name.startswith("netembench")]
    return [(m, n) for m, n in found if m != name]


def layer(module: str) -> int:
    """A module's place in `ORDER`; the package's `__init__` and `__main__` sit on top."""
    parts = module.split(".")
    if module in ("netembench", "netembench.__main__"):
        return len(ORDER)
    return ORDER.index(parts[1])


def test_no_import_circles():
    graph = {name: {m for m, _ in imports(name, path) if m != "netembench"} for name, path in modules().items()}
    done: set[str] = set()

    def visit(node: str, stack: list[str]) -> None:
        if node in stack:
            pytest.fail("import circle: " + " -> ".join(stack[stack.index(node) :] + [node]))
        if node in done:
            return
        for nxt in graph.get(node, ()):
            visit(nxt, stack + [node])
        done.add(node)

    for name in graph:
        visit(name, [])


def test_data_flows_one_way_and_no_private_names_cross_modules():
    for name, path in modules().items():
        for module, imported in imports(name, path):
            assert not (imported.startswith("_") and not imported.startswith("__")), f"{name} imports {module}.{imported}"
            if module != "netembench":
                assert layer(module) <= layer(name), f"{name} (layer {layer(name)}) imports {module} from above"


def test_the_hub_module_only_talks_to_the_hub():
    hub = modules()["netembench.zoo.hub"]
    assert {m for m, _ in imports("netembench.zoo.hub", hub)} <= {"netembench.zoo.store", "netembench.zoo.spec"}


def test_modules_and_functions_fit_on_a_screen():
    for name, path in modules().items():
        text = path.read_text()
        assert len(text.splitlines()) <= 400, f"{name} has {len(text.splitlines())} lines"
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                assert length <= 60, f"{name}.{node.name} has {length} lines"


def test_importing_the_package_loads_nothing_else():
    code = "import sys, netembench; print(sorted(m for m in sys.modules if m.startswith('netembench')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['netembench', 'netembench.moved']"


@pytest.mark.parametrize("old", sorted(FLAT_LAYOUT))
def test_flat_layout_paths_are_the_same_modules(old):
    module = importlib.import_module(old)
    assert module is importlib.import_module(FLAT_LAYOUT[old])
    assert module.__name__ == FLAT_LAYOUT[old]  # the real module keeps its own name


def test_documented_names_stay_where_users_import_them():
    from netembench.features import integrated_profile
    from netembench.registry import load_zoo
    from netembench.training import training_batches

    import netembench

    assert netembench.load_zoo is load_zoo
    assert integrated_profile.__module__ == "netembench.eval.features"
    assert training_batches.__module__ == "netembench.eval.training"
    assert netembench.Embedder.__module__ == "netembench.eval.embedders"
