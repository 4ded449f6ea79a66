"""The structural checks of a grid's TOML table, one part at a time.

Each check reads one part of the raw table (``datasets``, ``seeds``, ``[recipe]``,
``[methods.<name>]``, ``retain_fraction``, ...), appends what is wrong with it to a shared
``problems`` list, and returns the part's value (or an empty stand-in), so that ``grid_from_dict``
(``bench/grid.py``) reports every problem of a grid at once.

Example:
    >>> problems = []
    >>> table({"model_args": 3}, "model_args", problems), problems
    ({}, ['[model_args] must be a table'])
"""

from __future__ import annotations

from typing import Any

from unlearnkit.bench.expand import MAX_RUNS, grid_size, too_big
from unlearnkit.config import init_params
from unlearnkit.errors import ConfigError
from unlearnkit.training.recipe import Recipe


def names(raw: dict[str, Any], key: str, registry, problems: list[str], required: bool = True) -> list[str]:
    """``raw[key]`` as a non-empty list of strings, each in ``registry`` (``None``: any string).

    Example:
        >>> problems = []
        >>> names({}, "datasets", None, problems), problems
        ([], ["missing 'datasets': a list of names"])
    """
    value = raw.get(key)
    if value is None:
        if required:
            problems.append(f"missing {key!r}: a list of names")
        return []
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        problems.append(f"{key!r} must be a non-empty list of strings")
        return []
    if registry is not None:
        for v in value:
            if v not in registry:
                problems.append(f"unknown {registry.kind} {v!r} (valid: {', '.join(registry.names())})")
    return value


def seeds(raw: dict[str, Any], problems: list[str]) -> list[int]:
    """``raw["seeds"]`` (default ``[0]``): a non-empty list of integers; ``[0]`` when it is not."""
    value = raw.get("seeds", [0])
    if not isinstance(value, list) or not value or not all(isinstance(s, int) and not isinstance(s, bool)
                                                           for s in value):
        problems.append("'seeds' must be a non-empty list of integers")
        value = [0]
    return value


def recipe(raw: dict[str, Any], problems: list[str]) -> tuple[Any, dict[str, Any]]:
    """The ``[recipe]`` table as ``(name, field overrides)``; each override must be a ``Recipe`` field."""
    recipe_table = raw.get("recipe", {})
    recipe_name, overrides = None, {}
    if not isinstance(recipe_table, dict):
        problems.append("[recipe] must be a table")
    else:
        recipe_name = recipe_table.get("name")
        overrides = {k: v for k, v in recipe_table.items() if k != "name"}
        for k in overrides:
            if k not in init_params(Recipe):
                problems.append(f"unknown recipe field {k!r} (valid: {', '.join(init_params(Recipe))})")
    return recipe_name, overrides


def table(raw: dict[str, Any], key: str, problems: list[str]) -> dict[str, Any]:
    """The table ``[key]`` (default empty); ``{}`` when it is not a table."""
    value = raw.get(key, {})
    if not isinstance(value, dict):
        problems.append(f"[{key}] must be a table")
        value = {}
    return value


def methods(raw: dict[str, Any], registry, problems: list[str]) -> dict[str, dict[str, Any] | list[dict[str, Any]]]:
    """The ``[methods.<name>]`` tables of known methods (a table, or a list of ``[[methods.<name>]]``
    tables), each parameter one of the method's."""
    methods_table = raw.get("methods")
    out: dict[str, dict[str, Any] | list[dict[str, Any]]] = {}
    if not isinstance(methods_table, dict) or not methods_table:
        problems.append("missing [methods.<name>] tables: at least one method")
        return out
    for name, params in methods_table.items():
        if name not in registry:
            problems.append(f"unknown method {name!r} (valid: {', '.join(registry.names())})")
            continue
        tables = params if isinstance(params, list) and params else [params]
        if not all(isinstance(t, dict) for t in tables):
            problems.append(f"[methods.{name}] must be a table of parameters (or [[methods.{name}]] tables)")
            continue
        valid = init_params(registry.get(name))
        for key in sorted({k for t in tables for k in t}):
            if key not in valid:
                problems.append(f"unknown parameter {key!r} for method {name!r} (valid: {', '.join(valid)})")
        out[name] = params
    return out


def is_fraction(value: Any) -> bool:
    """Whether ``value`` is a number in (0, 1].

    Example:
        >>> is_fraction(0.5), is_fraction(0), is_fraction(True)
        (True, False, False)
    """
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 1


def check_retain_fraction(value: Any) -> list[str]:
    """The problems of a grid's ``retain_fraction``: a number in (0, 1] or a non-empty list of distinct ones.

    Example:
        >>> check_retain_fraction([0.1, 0.1])
        ["'retain_fraction' lists 0.1 more than once"]
    """
    rule = "'retain_fraction' must be a number in (0, 1] or a non-empty list of such numbers"
    if isinstance(value, list):
        if not value:
            return [f"{rule}; got an empty list"]
        problems = [f"{rule}; got {v!r} in the list" for v in value if not is_fraction(v)]
        fractions = [float(v) for v in value if is_fraction(v)]
        problems += [f"'retain_fraction' lists {v:g} more than once"
                     for v in dict.fromkeys(v for v in fractions if fractions.count(v) > 1)]
        return problems
    return [] if is_fraction(value) else [f"{rule}; got {value!r}"]


def check_size(source: str, datasets: list, models: list, forget: list, fractions: int, seeds: list,
               methods: dict[str, Any]) -> None:
    """Refuse a grid of more than ``MAX_RUNS`` runs, counted before anything is expanded."""
    n_runs = grid_size(len(datasets), len(models), len(forget), fractions, len(seeds), methods)
    if n_runs > MAX_RUNS:
        raise ConfigError(too_big(source, n_runs))


def known_params(tables: dict[str, Any] | list[dict[str, Any]], valid: list[str]) -> list[dict[str, Any]]:
    """The parameter tables of a method without the parameters it does not have.

    Example:
        >>> known_params({"lr": 0.1, "typo": 1}, ["lr", "epochs"])
        [{'lr': 0.1}]
    """
    return [{k: v for k, v in t.items() if k in valid} for t in (tables if isinstance(tables, list) else [tables])]


def problems_message(source: str, problems: list[str]) -> str:
    """One line naming every problem of the grid ``source``."""
    return f"Grid {source} has {len(problems)} problem(s): " + " | ".join(problems)
