"""Imports point one way: base -> data -> inputs -> model -> attribution engine -> evaluation ->
pipeline -> book, plots, widgets, pages, cli (issue #12, item 6), and without cycles: neither between
modules nor between the top-level packages and modules of icegrad (``icegrad.data`` importing
``icegrad.roi``, which imports ``icegrad.data``, is a cycle even if no single module closes it).

The walk reads the source with :mod:`ast` (nothing is imported), so it sees imports inside functions
and ``TYPE_CHECKING`` blocks too: a lazy import is still a dependency. ``LAYERS`` describes the target
layout; a module belongs to the layer of its longest matching prefix.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = "icegrad"
"""The package itself (its ``__init__``) is base; as the only entry it matches exactly, not as a prefix."""

LAYERS: dict[str, tuple[str, ...]] = {
    "base": (ROOT, "icegrad.config", "icegrad.errors", "icegrad.paths", "icegrad.variables",
             "icegrad.grid", "icegrad.files", "icegrad.writable", "icegrad.cache", "icegrad.diagnostics",
             "icegrad.memory", "icegrad.progress", "icegrad.cores"),
    "data": ("icegrad.data",),
    "inputs": ("icegrad.inputs", "icegrad.roi"),
    "model": ("icegrad.model",),
    "engine": ("icegrad.attribution",),  # methods, targets, references, results, aggregate, execution, api
    "evaluation": ("icegrad.evaluation",),  # permutation, fidelity, additive, robustness, sanity, cost
    "pipeline": ("icegrad.run_checks", "icegrad.pipeline", "icegrad.sweep"),
    "presentation": ("icegrad.build_report", "icegrad.lanes", "icegrad.book", "icegrad.plots",
                     "icegrad.widgets", "icegrad.pages", "icegrad.cli"),
}
RANK = {layer: rank for rank, layer in enumerate(LAYERS)}

def find_modules(root: Path) -> dict[str, Path]:
    """Dotted name -> file of every module of the package ``root/icegrad`` (a package's ``__init__``
    is the package); other files under ``root``, such as the doctests' conftest, are not icegrad."""
    found = {}
    for path in sorted((root / "icegrad").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of ``known`` that ``name`` imports: ``from a import b`` is ``a.b`` when that is a
    module, else ``a``; relative imports are resolved against the package."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[:len(package) - node.level + 1], *([base] if base else [])])
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names}
    return {module for module in found if module in known and module != name}


def layer_of(name: str) -> str:
    """The layer of the longest prefix in ``LAYERS`` that ``name`` is, or lies inside."""
    matches = [(len(prefix), layer) for layer, prefixes in LAYERS.items() for prefix in prefixes
               if name == prefix or (prefix != ROOT and name.startswith(prefix + "."))]
    if not matches:
        raise AssertionError(f"module {name} is in no layer; add its prefix to LAYERS in {__name__}")
    return max(matches)[1]


def import_graph(root: Path) -> dict[str, set[str]]:
    known = find_modules(root)
    return {name: imported(name, path, known) for name, path in known.items()}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return [f"{a} ({layer_of(a)}) -> {b} ({layer_of(b)})" for a in sorted(graph) for b in sorted(graph[a])
            if RANK[layer_of(b)] > RANK[layer_of(a)]]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph between icegrad's top-level units: ``icegrad.data.nsidc`` counts as ``icegrad.data``."""
    def unit(name: str) -> str:
        return ".".join(name.split(".")[:2])

    units: dict[str, set[str]] = {unit(name): set() for name in graph}
    for name, targets in graph.items():
        units[unit(name)] |= {unit(t) for t in targets} - {unit(name)}
    return units


def report(graph: dict[str, set[str]]) -> str:
    up = upward_imports(graph)
    lines = ["upward imports:" + ("" if up else " none"), *(f"  {line}" for line in up)]
    for label, loops in (("module", cycles(graph)), ("package", cycles(package_graph(graph)))):
        lines += [f"{label} cycles:" + ("" if loops else " none"), *(f"  {' <-> '.join(c)}" for c in loops)]
    return "\n".join(lines)


def test_every_module_is_in_a_layer() -> None:
    for name in import_graph(SRC):
        layer_of(name)


def test_imports_point_down_and_form_no_cycles() -> None:
    graph = import_graph(SRC)
    assert not upward_imports(graph), report(graph)
    assert not cycles(graph) and not cycles(package_graph(graph)), report(graph)


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_walk_finds_planted_upward_imports_and_cycles(tmp_path: Path) -> None:
    _write(tmp_path, {
        "conftest.py": "import icegrad.pipeline\n",  # outside the package: not walked
        "icegrad/__init__.py": "",
        "icegrad/data/__init__.py": "def f():\n    from ..pipeline import run  # lazy, still counted\n",
        "icegrad/model/__init__.py": "from icegrad import data\nimport icegrad.model.icenet\n",
        "icegrad/model/icenet.py": "from . import train\n",
        "icegrad/model/train.py": "from icegrad.model.icenet import build\nimport numpy\n",
        "icegrad/pipeline.py": "from icegrad.model import icenet\n",
    })
    graph = import_graph(tmp_path)
    assert graph["icegrad.model"] == {"icegrad.data", "icegrad.model.icenet"}
    assert upward_imports(graph) == ["icegrad.data (data) -> icegrad.pipeline (pipeline)"]
    assert cycles(graph) == [["icegrad.model.icenet", "icegrad.model.train"]]
    assert cycles(package_graph(graph)) == [["icegrad.data", "icegrad.model", "icegrad.pipeline"]]
    with pytest.raises(AssertionError, match=r"icegrad\.newthing is in no layer"):
        layer_of("icegrad.newthing")
