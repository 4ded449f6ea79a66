"""Expanding a grid's method tables into parameter sets, and counting runs without expanding.

A grid is refused at once when it would plan more than ``MAX_RUNS`` runs: the count is a product
of list lengths, so a grid of a million seeds (or a parameter list of a billion values) costs
nothing to refuse. Expansion drops repeated parameter sets in linear time.
"""

from __future__ import annotations

import itertools
from typing import Any

#: The most runs one grid may plan; a larger grid is refused before anything is expanded.
MAX_RUNS = 100_000


def expand_tables(grids: dict[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One ``[methods.x]`` table, or the ``[[methods.x]]`` tables of a method, expanded in order
    (duplicates kept once; linear in the number of parameter sets).

    Example:
        >>> expand_tables([{"lr": [0.1, 0.2]}, {"lr": 0.1}])
        [{'lr': 0.1}, {'lr': 0.2}]
    """
    out: list[dict[str, Any]] = []
    seen: set = set()
    for grid in grids if isinstance(grids, list) else [grids]:
        for p in expand_params(grid):
            key = _frozen(p)
            if key not in seen:
                seen.add(key)
                out.append(p)
    return out


def _frozen(value: Any) -> Any:
    """A hashable stand-in for a parameter value that is equal exactly when the values are (``==``)."""
    if isinstance(value, dict):
        return ("dict", frozenset((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("list", tuple(_frozen(v) for v in value))
    return value


def table_variants(grids: Any) -> int:
    """How many parameter sets a method's table(s) expand to (before de-duplication), without expanding.

    Example:
        >>> table_variants([{"lr": [0.1, 0.2], "epochs": [1, 2, 3]}, {"lr": 0.5}])
        7
    """
    total = 0
    for grid in grids if isinstance(grids, list) else [grids]:
        n = 1
        for v in (grid.values() if isinstance(grid, dict) else ()):
            n *= len(v) if isinstance(v, list) else 1
        total += n
    return total


def grid_size(datasets: int, models: int, forget: int, fractions: int, seeds: int, methods: dict[str, Any]) -> int:
    """The number of runs of a grid with these many values per axis, counted without expanding it."""
    return datasets * models * forget * fractions * seeds * sum(table_variants(t) for t in methods.values())


def too_big(source: str, n: int) -> str:
    return (f"Grid {source} plans {n:,} runs; at most {MAX_RUNS:,} are allowed in one grid. Split it into smaller "
            "grids (fewer seeds or parameter values).")


def expand_params(grid: dict[str, Any]) -> list[dict[str, Any]]:
    """``{"lr": [0.1, 0.01], "epochs": 3}`` -> two parameter dicts (lists are grids, scalars fixed)."""
    keys = sorted(grid)
    values = [grid[k] if isinstance(grid[k], list) else [grid[k]] for k in keys]
    return [dict(zip(keys, combo)) for combo in itertools.product(*values)]
