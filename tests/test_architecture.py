"""The structure the README's Architecture section draws: the stages are layers and imports only
point down them (a stage never imports one above it, not even for annotations), with no cycle among
modules (counting imports inside functions: a lazy import that dodges a cycle is still one;
type-only imports under `if TYPE_CHECKING:` never run and are not counted there), and listing a
grid or building a report never imports TensorFlow."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
# Bottom to top: a module may import its own layer and those below, never one above. train/ knows
# nothing of grids (it trains one described run); grid/ checks names against train/'s registries.
LAYERS = [
    ("foundation", ("regbench", "regbench.errors", "regbench.registry", "regbench.names", "regbench.records")),
    ("train", ("regbench.train",)),
    ("grid", ("regbench.grid",)),
    ("run", ("regbench.run",)),
    ("analysis", ("regbench.analysis",)),
    ("report", ("regbench.report",)),
    ("cli", ("regbench.cli",)),
]  # fmt: skip


def modules() -> dict[str, Path]:
    """{'regbench.techniques.dropout': path, 'regbench.techniques': .../__init__.py, ...}"""
    out = {}
    for path in sorted((SRC / "regbench").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def type_only(tree: ast.AST) -> set[ast.AST]:
    """The nodes inside `if TYPE_CHECKING:` blocks (imports for annotations only)."""
    blocks = [n for n in ast.walk(tree) if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING"]
    return {inner for block in blocks for stmt in block.body for inner in ast.walk(stmt)}


def imports(path: Path, known: dict[str, Path], annotations: bool = False) -> set[str]:
    """The regbench modules `path` imports anywhere in it (top level or inside functions), but for
    type-only imports (with `annotations`, those too)."""
    found = set()
    tree = ast.parse(path.read_text())
    skipped = set() if annotations else type_only(tree)
    for node in ast.walk(tree):
        if node in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("regbench"):
            submodules = {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in known}
            found |= submodules or {node.module}  # `from pkg import module`: the module, not the package
    return found & known.keys()


def graph(annotations: bool = False) -> dict[str, set[str]]:
    """Edges between regbench modules (with `annotations`, type-only imports too); a submodule
    needs its package anyway, so that edge is left out."""
    known = modules()
    return {
        name: {m for m in imports(path, known, annotations) if not (name == m or name.startswith(m + "."))}
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


def layer(module: str) -> int:
    """The index in LAYERS of the layer a module belongs to (its longest matching prefix)."""
    best, found = -1, None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), index
    assert found is not None, f"{module} is in no layer of LAYERS"
    return found


def test_every_module_has_a_layer():
    for name in modules():
        layer(name)


def upward(edges: dict[str, set[str]]) -> list[str]:
    """Every import that points to a higher layer, as 'module (layer) imports module (layer)'."""
    return sorted(
        f"{name} ({LAYERS[layer(name)][0]}) imports {target} ({LAYERS[layer(target)][0]})"
        for name, targets in edges.items()
        for target in targets
        if layer(target) > layer(name)
    )


def test_the_layer_check_finds_an_upward_import():
    edges = {
        "regbench.train.runner": {"regbench.grid.cell", "regbench.records.result"},
        "regbench.report.page": {"regbench.grid"},
    }
    assert upward(edges) == ["regbench.train.runner (train) imports regbench.grid.cell (grid)"]


def test_imports_only_point_down_the_layers():
    assert upward(graph()) == []


def test_even_annotations_point_down_the_layers():
    """A type-only import never runs, but a reader follows it like any other: train/ names what it
    reads of a cell in its own Protocol (train/described_run.py) instead of importing grid/."""
    assert upward(graph(annotations=True)) == []


def test_listing_and_reporting_never_import_tensorflow():
    code = (
        "import sys; import regbench.cli, regbench.report.write, regbench.analysis.collect, regbench.grid.spec, "
        "regbench.grid.expand, regbench.train.techniques, regbench.train.datasets, regbench.train.options; "
        "print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"


def test_a_resumed_run_with_nothing_new_imports_no_report_machinery(write_grid, tmp_path):
    """Every cell stored and the report up to date: `regbench run` checks and returns without
    matplotlib or scipy (about 1.5 s of imports, most of a resume)."""
    from regbench.grid.expand import expand
    from regbench.grid.parse import load_spec
    from regbench.records.store import Store
    from tests.synthetic import write_synthetic

    grid = write_grid()
    write_synthetic(list(expand(load_spec(str(grid))).cells), Store(tmp_path / "results", "tiny"))
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "tiny.md").write_text("# written after every cell was stored\n")
    argv = ["run", str(grid), "--results", str(tmp_path / "results"), "--out", str(tmp_path / "reports")]
    code = (
        f"import sys; from regbench.cli import main; code = main({argv!r}); "
        "print(code, 'matplotlib' in sys.modules, 'scipy' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "(up to date)" in proc.stdout and proc.stdout.strip().splitlines()[-1] == "0 False False", proc.stdout
