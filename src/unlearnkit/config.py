"""Declared parameter constraints, checked with one message format, and ``key=value`` overrides.

Every configurable class (methods, recipes) declares ``_parameter_constraints`` mapping each
keyword of ``__init__`` to one constraint. ``validate_params`` checks them all and raises
``ConfigError`` with the message format
``The 'lr' parameter of FineTune must be a float in (0, inf). Got -0.1 instead.``
"""

from __future__ import annotations

import abc
import inspect
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from unlearnkit.errors import ConfigError


class Constraint(abc.ABC):
    """Base class: ``accepts(value)``, a human description and a parser for CLI strings."""

    description = "a value"

    @abc.abstractmethod
    def accepts(self, value: Any) -> bool:
        """Whether ``value`` satisfies the constraint."""

    def parse(self, text: str) -> Any:
        return text


@dataclass(frozen=True)
class Interval(Constraint):
    """A number of type ``int`` or ``float`` in an interval; ``None`` bounds are infinite."""

    type: type
    low: float | None = None
    high: float | None = None
    closed: str = "both"  # "both", "left", "right" or "neither"

    @property
    def description(self) -> str:
        left = "[" if self.closed in ("both", "left") and self.low is not None else "("
        right = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        low = "-inf" if self.low is None else _fmt(self.low)
        high = "inf" if self.high is None else _fmt(self.high)
        noun = "an int" if self.type is int else "a float"
        return f"{noun} in {left}{low}, {high}{right}"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if self.type is int and not isinstance(value, int):
            return False
        if self.type is float and not isinstance(value, (int, float)):
            return False
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.low is not None:
            if value < self.low or (value == self.low and self.closed in ("right", "neither")):
                return False
        if self.high is not None:
            if value > self.high or (value == self.high and self.closed in ("left", "neither")):
                return False
        return True

    def parse(self, text: str) -> Any:
        try:
            return int(text) if self.type is int else float(text)
        except ValueError:
            return text


@dataclass(frozen=True)
class Options(Constraint):
    """One of a fixed set of values (strings, or other hashables)."""

    values: tuple

    @property
    def description(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)

    def accepts(self, value: Any) -> bool:
        return any(value == v and type(value) is type(v) for v in self.values)

    def parse(self, text: str) -> Any:
        for v in self.values:
            if str(v) == text:
                return v
        return text


@dataclass(frozen=True)
class Boolean(Constraint):
    description = "a bool"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool)

    def parse(self, text: str) -> Any:
        low = text.lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        return text


@dataclass(frozen=True)
class OptionalOf(Constraint):
    """``None`` or a value accepted by ``inner``."""

    inner: Constraint

    @property
    def description(self) -> str:
        return f"None or {self.inner.description}"

    def accepts(self, value: Any) -> bool:
        return value is None or self.inner.accepts(value)

    def parse(self, text: str) -> Any:
        return None if text.lower() == "none" else self.inner.parse(text)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(x)


def init_params(cls: type) -> list[str]:
    """The keyword-only parameter names of ``cls.__init__`` (the estimator's parameters)."""
    sig = inspect.signature(cls.__init__)
    return [p.name for p in sig.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]


def store_params(obj: Any, values: Mapping[str, Any]) -> None:
    """Store every keyword-only ``__init__`` parameter of ``obj`` from ``values`` (pass ``locals()``).

    Example:
        >>> class Toy:
        ...     def __init__(self, *, lr=0.1, epochs=2):
        ...         store_params(self, locals())
        >>> Toy(epochs=5).epochs
        5
    """
    for name in init_params(type(obj)):
        setattr(obj, name, values[name])


def validate_params(obj: Any) -> None:
    """Check every declared constraint of ``obj``'s current parameters; raise ``ConfigError``."""
    cls = type(obj)
    constraints: Mapping[str, Constraint] = getattr(cls, "_parameter_constraints", {})
    for name in init_params(cls):
        if name not in constraints:
            continue
        value = getattr(obj, name)
        c = constraints[name]
        if not c.accepts(value):
            raise ConfigError(
                f"The {name!r} parameter of {cls.__name__} must be {c.description}. Got {value!r} instead."
            )


def parse_overrides(
    pairs: Iterable[str], cls: type, *, owner: str
) -> dict[str, Any]:
    """Turn ``["lr=0.01", "epochs=3"]`` into typed keyword arguments of ``cls``.

    Keys must name a parameter of ``cls.__init__``; values are parsed to the declared type (the
    range is checked later by ``validate_params``).

    Example:
        >>> from unlearnkit.training.recipe import Recipe
        >>> parse_overrides(["epochs=3", "lr=0.1"], Recipe, owner="recipe")
        {'epochs': 3, 'lr': 0.1}
    """
    valid = init_params(cls)
    constraints: Mapping[str, Constraint] = getattr(cls, "_parameter_constraints", {})
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"Override {pair!r} for {owner} must have the form key=value.")
        key, _, text = pair.partition("=")
        key = key.strip()
        if key not in valid:
            raise ConfigError(
                f"Unknown parameter {key!r} for {owner}. Valid parameters: {', '.join(sorted(valid))}."
            )
        c = constraints.get(key)
        out[key] = c.parse(text.strip()) if c is not None else text.strip()
    return out
