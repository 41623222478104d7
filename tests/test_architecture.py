"""The structure DESIGN.md asks for: imports point one way (no cycle, counting imports inside
functions too: a lazy import that dodges a cycle is still one), modules stay small, and listing
a grid or building a report never imports TensorFlow."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
MAX_LINES = 400


def modules() -> dict[str, Path]:
    """{'regbench.techniques.dropout': path, 'regbench.techniques': .../__init__.py, ...}"""
    out = {}
    for path in sorted((SRC / "regbench").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The regbench modules `path` imports anywhere in it (top level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("regbench"):
            submodules = {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in known}
            found |= submodules or {node.module}  # `from pkg import module`: the module, not the package
    return found & known.keys()


def graph() -> dict[str, set[str]]:
    """Edges between regbench modules; a submodule needs its package anyway, so that edge is left out."""
    known = modules()
    return {
        name: {m for m in imports(path, known) if not (name == m or name.startswith(m + "."))}
        for name, path in known.items()
    }


def cycle(edges: dict[str, set[str]]) -> list[str]:
    """One import cycle as a list of modules, or [] (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        stack.pop()
        return []

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_the_cycle_finder_finds_a_cycle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) == []


def test_imports_point_one_way():
    found = cycle(graph())
    assert not found, "import cycle: " + " -> ".join(found)


def test_modules_stay_small():
    sizes = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_listing_and_reporting_never_import_tensorflow():
    code = (
        "import sys; import regbench.cli, regbench.report.write, regbench.analysis.collect, regbench.grid.spec, "
        "regbench.grid.expand, regbench.train.techniques, regbench.train.datasets, regbench.train.options; "
        "print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"
