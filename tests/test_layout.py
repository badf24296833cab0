"""The package's layout: no import cycle, and imports that point one way (DESIGN.md).

Two checks, because each misses what the other sees. Importing every module alone, in
a fresh interpreter, finds the cycles that break at run time (a partially initialised
module). Walking the import statements finds every cycle, even one that happens to
import fine today: imports under ``if TYPE_CHECKING:`` and inside functions count.
"""

from __future__ import annotations

import ast
import itertools
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import reqsignals

PACKAGE = Path(reqsignals.__file__).parent

# From the bottom up: a module may import from its own layer (without a cycle) and from
# the layers below it, never from a layer above. A module is in the layer of the longest
# prefix listed. The root package (its curated re-exports) sits with the middlewares.
LAYERS: list[tuple[str, ...]] = [
    ("reqsignals.types", "reqsignals._keys", "reqsignals._deprecation", "reqsignals.scrub"),
    ("reqsignals.dispatch", "reqsignals._sender"),
    ("reqsignals.signals",),
    ("reqsignals", "reqsignals._wrap", "reqsignals.wsgi", "reqsignals.asgi", "reqsignals.testing"),
    ("reqsignals.auth", "reqsignals.contrib"),
    (
        "reqsignals.log",
        "reqsignals.cli",
        "reqsignals._cli_sessions",
        "reqsignals.demo",
        "reqsignals.__main__",
    ),
]


def module_files() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = module_files()


def imported_modules(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """The reqsignals modules *name* imports, with the line: every import statement,
    wherever it is (``TYPE_CHECKING`` blocks and function bodies too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = alias.name
                while target and target not in MODULES:
                    target = target.rpartition(".")[0]
                if target:
                    yield target, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            if source not in MODULES:
                continue
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                yield (submodule if submodule in MODULES else source), node.lineno


def import_graph() -> dict[str, dict[str, int]]:
    """module -> {imported module: first line importing it}, self-imports left out."""
    graph: dict[str, dict[str, int]] = {}
    for name, path in MODULES.items():
        edges = graph.setdefault(name, {})
        for target, line in imported_modules(name, path):
            if target != name:
                edges.setdefault(target, line)
    return graph


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None."""
    state: dict[str, str] = {}  # "open" while on the current path, then "done"
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph.get(node, {})):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def layer(name: str) -> int:
    best, rank = "", -1
    for n, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > len(best):
                best, rank = prefix, n
    assert rank >= 0, f"{name} is in no layer of tests/test_layout.py: add it to LAYERS"
    return rank


# -- the checks themselves -------------------------------------------------------------


def test_the_walk_sees_every_kind_of_import() -> None:
    # The walker must count what a cycle can hide behind; a module of this package
    # imports each kind somewhere, so check each is found where it is.
    edges = import_graph()
    assert "reqsignals.demo" in edges["reqsignals.cli"]  # inside a function
    assert "reqsignals.auth.stores.redis" in edges["reqsignals.auth.stores"]  # TYPE_CHECKING
    assert "reqsignals.scrub" in edges["reqsignals.auth.flow"]  # from ..scrub import
    assert "reqsignals.auth.stores" in edges["reqsignals.auth"]  # from . import stores


def test_find_cycle_finds_one() -> None:
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": 1}, "b": {}}) is None


def test_no_import_cycle() -> None:
    graph = import_graph()
    cycle = find_cycle(graph)
    if cycle is not None:
        steps = [f"{a} (line {graph[a][b]}) -> {b}" for a, b in itertools.pairwise(cycle)]
        pytest.fail("import cycle:\n  " + "\n  ".join(steps))


def test_imports_point_down_the_layers() -> None:
    upward = [
        f"{name} imports {target} (line {line})"
        for name, edges in import_graph().items()
        for target, line in edges.items()
        if layer(target) > layer(name)
    ]
    assert upward == []


def test_every_module_is_in_a_layer() -> None:
    for name in MODULES:
        layer(name)


def import_alone(name: str) -> tuple[str, int, str]:
    done = subprocess.run(
        [sys.executable, "-c", f"import {name}"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PACKAGE.parent,
    )
    return name, done.returncode, done.stderr


def test_each_module_imports_alone_in_a_fresh_interpreter() -> None:
    # __main__ runs the command line when imported; its imports are walked above.
    names = sorted(name for name in MODULES if not name.endswith(".__main__"))
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(import_alone, names))
    failed = {name: err.strip().splitlines()[-1] for name, code, err in results if code}
    assert failed == {}
