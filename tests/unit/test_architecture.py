"""The package's shape, read from its own source with ``ast``: no import circles, imports point down
the layers of DESIGN.md, no source file over 400 lines and no function over 80 lines.

Every ``import`` counts: at module level, inside a function, and under ``if TYPE_CHECKING:`` (a
type-only circle is still two files that cannot be read apart). A name imported from a package
counts as its submodule when one exists (``from unlearnkit.data import records`` imports
``unlearnkit.data.records``), else as the package's ``__init__``.

Layers, top to bottom (a module may import its own layer and any layer below, never one above)::

    cli > compare > the package root (the public front door) > deletion > report, tables > bench
        > audit > runs > methods > metrics > training > models, data > theory
        > shared pieces (registry, errors, config, seeding, fileio, progress, version)

``docs/architecture.md`` says what lives where.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PKG = SRC / "unlearnkit"

#: Top-level module or package -> layer rank (higher may import lower or equal, never higher).
LAYERS: dict[str, int] = {
    "cli": 14, "__main__": 14,
    "compare": 13,
    # 12: the package root, unlearnkit/__init__.py (ROOT_LAYER)
    "deletion": 11,
    "report": 10, "tables": 10,
    "bench": 9,
    "audit": 8,
    "runs": 7,
    "methods": 6,
    "metrics": 5,
    "training": 4,
    "models": 3, "data": 3,
    "theory": 2,
    "registry": 1, "errors": 1, "config": 1, "seeding": 1, "fileio": 1, "progress": 1, "version": 1,
}
#: The package root re-exports the public API from deletion and below; only cli and compare may import it.
ROOT = "unlearnkit"
ROOT_LAYER = 12

MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 80

#: Files still being split by their owners this round; the integrator empties this list.
#: Each entry: path under src/unlearnkit -> the issue that splits it.
SIZE_ALLOWED: dict[str, str] = {
}


#: Imports still being removed by their owners this round (importer, imported) -> the issue.
IMPORTS_ALLOWED: dict[tuple[str, str], str] = {
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


@lru_cache(maxsize=None)
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _imports(tree: ast.AST) -> list[tuple[str, list[str], int, int]]:
    """``(module, names, level, line)`` of every import statement, anywhere in the file."""
    out: list[tuple[str, list[str], int, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((alias.name, [], 0, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            out.append((node.module or "", [a.name for a in node.names], node.level, node.lineno))
    return sorted(out, key=lambda item: item[3])


def _resolve(importer: str, is_package: bool, module: str, level: int) -> str:
    if not level:
        return module
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


@lru_cache(maxsize=None)
def _edges(allowed: bool = False) -> dict[str, dict[str, int]]:
    """importer -> {imported unlearnkit module: first line}; the imports of ``IMPORTS_ALLOWED`` only
    when ``allowed``."""
    mods = _modules()
    graph: dict[str, dict[str, int]] = {}
    for name, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets: dict[str, int] = {}
        for module, names, level, line in _imports(tree):
            full = _resolve(name, path.name == "__init__.py", module, level)
            if not full.startswith("unlearnkit"):
                continue
            hits = [f"{full}.{n}" for n in names if f"{full}.{n}" in mods]
            if len(hits) < len(names) or not names:
                hits.append(full)
            for target in hits:
                while target not in mods and "." in target:  # `import unlearnkit.x.y` of a missing y
                    target = target.rsplit(".", 1)[0]
                if target != name and (allowed or (name, target) not in IMPORTS_ALLOWED):
                    targets.setdefault(target, line)
        graph[name] = targets
    return graph


def _layer(module: str) -> tuple[str, int]:
    parts = module.split(".")
    if len(parts) < 2:
        return "the package root", ROOT_LAYER
    top = parts[1]
    if top not in LAYERS:
        raise AssertionError(f"{module}: top-level '{top}' has no layer in tests/unit/test_architecture.py LAYERS; "
                             "place it (and in docs/architecture.md)")
    return top, LAYERS[top]


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        work = [(v, iter(graph.get(v, {})))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        while work:
            node, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(graph.get(w, {}))))
                    advanced = True
                    break
                if w in on_stack:
                    low[node] = min(low[node], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def _find_cycle(graph: dict[str, dict[str, int]], comp: list[str]) -> list[str]:
    """One concrete circle inside a strongly connected component, for the message."""
    inside = set(comp)
    start = comp[0]
    path, seen = [start], {start: 0}
    node = start
    while True:
        node = next(w for w in sorted(graph[node]) if w in inside)
        if node in seen:
            return path[seen[node]:] + [node]
        seen[node] = len(path)
        path.append(node)


def test_every_top_level_module_has_a_layer():
    tops = {name.split(".")[1] for name in _modules() if name.count(".") >= 1}
    missing = sorted(tops - set(LAYERS))
    assert not missing, f"top-level modules without a layer: {missing}"


def test_no_import_circles():
    graph = _edges()
    circles = [" -> ".join(_find_cycle(graph, comp)) for comp in _cycles(graph)]
    assert not circles, "import circles:\n  " + "\n  ".join(circles)


def test_imports_point_down_the_layers():
    climbs = []
    for importer, targets in _edges().items():
        mine = _layer(importer)
        for target, line in targets.items():
            theirs = _layer(target)
            if theirs[1] > mine[1]:
                climbs.append(f"{importer}:{line} ({mine[0]}, layer {mine[1]}) imports {target} "
                              f"({theirs[0]}, layer {theirs[1]})")
    assert not climbs, "imports that climb a layer:\n  " + "\n  ".join(sorted(climbs))


def _rel(path: Path) -> str:
    return path.relative_to(PKG).as_posix()


def _allowed(rel: str) -> bool:
    return rel in SIZE_ALLOWED


def test_no_source_file_over_400_lines():
    long = []
    for path in _modules().values():
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > MAX_FILE_LINES and not _allowed(_rel(path)):
            long.append(f"{_rel(path)}: {n} lines")
    assert not long, f"files over {MAX_FILE_LINES} lines (split them along their concerns):\n  " + "\n  ".join(long)


def test_no_function_over_80_lines():
    long = []
    for path in _modules().values():
        if _allowed(_rel(path)):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{_rel(path)}:{node.lineno} {node.name}(): {n} lines")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines:\n  " + "\n  ".join(long)


def test_the_allow_list_only_names_files_that_still_need_it():
    stale = []
    for rel in SIZE_ALLOWED:
        path = PKG / rel
        if not path.exists():
            stale.append(f"{rel}: gone")
            continue
        text = path.read_text(encoding="utf-8")
        funcs = [n for n in ast.walk(ast.parse(text)) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        if len(text.splitlines()) <= MAX_FILE_LINES and all(
                f.end_lineno - f.lineno + 1 <= MAX_FUNCTION_LINES for f in funcs):
            stale.append(f"{rel}: within the limits now")
    assert not stale, "remove from SIZE_ALLOWED:\n  " + "\n  ".join(stale)


def test_the_import_allow_list_only_names_imports_that_still_exist():
    every = _edges(allowed=True)
    stale = [f"{a} -> {b}" for a, b in IMPORTS_ALLOWED if b not in every.get(a, {})]
    assert not stale, "remove from IMPORTS_ALLOWED:\n  " + "\n  ".join(stale)


# ------------------------------------------------------------------- the checker checks itself
@pytest.mark.parametrize("source, expected", [
    ("import unlearnkit.data.records\n", ["unlearnkit.data.records"]),
    ("def f():\n    from unlearnkit.data import records\n", ["unlearnkit.data.records"]),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import unlearnkit.data.records\n", ["unlearnkit.data.records"]),
])
def test_imports_are_found_in_functions_and_under_type_checking(source, expected):
    found = [_resolve("unlearnkit.x", False, m, lvl) + ("." + n[0] if n else "")
             for m, n, lvl, _ in _imports(ast.parse(source)) if (m or "").startswith("unlearnkit")]
    assert found == expected


def test_cycle_finder_finds_a_circle_and_only_circles():
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _find_cycle(graph, ["a", "b", "c"]) == ["a", "b", "c", "a"]
    assert _cycles({"a": {"b": 1}, "b": {}}) == []
