"""Search spaces for tuning, one string per parameter, checked against the method's declared ranges::

    lr=float:1e-4:1e-1:log     a float in [1e-4, 1e-1], sampled on a log scale
    beta=float:0.01:0.5        a float in [0.01, 0.5]
    epochs=int:1:5             an int in 1..5 (``int:1:64:log`` samples on a log scale)
    optimizer=choice:sgd,adam  one of the listed values

All problems of a space are reported at once. ``default_space`` tunes ``lr`` (log scale, [1e-4,
1e-1]) and ``epochs`` (1..5), each widened to contain the method's own default and intersected
with its declared range, of those the method has; so the method's defaults are always a point of
the default space (``tune`` runs them as the first trial of a new study).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from unlearnkit.config import Boolean, Constraint, Interval, OptionalOf, Options, init_params
from unlearnkit.errors import ConfigError
from unlearnkit.methods.registry import METHODS

KINDS = ("float", "int", "choice")
#: What ``default_space`` tunes when the method has the parameter: kind, low, high, log scale.
DEFAULT_RANGES: dict[str, tuple[str, float, float, bool]] = {
    "lr": ("float", 1e-4, 1e-1, True),
    "epochs": ("int", 1, 5, False),
}
_FORMS = "name=float:LOW:HIGH[:log], name=int:LOW:HIGH[:log] or name=choice:A,B,..."


# ============================================================================ search space
@dataclass(frozen=True)
class ParamSpace:
    """The search range of one parameter.

    Attributes:
        name: the method's parameter. kind: ``"float"``, ``"int"`` or ``"choice"``.
        low, high: inclusive bounds (float and int). log: sample on a log scale.
        choices: the values of a ``choice`` parameter, already parsed to the parameter's type.

    Example:
        >>> p = ParamSpace.parse("lr=float:1e-4:1e-1:log")
        >>> p.kind, p.low, p.high, p.log, str(p)
        ('float', 0.0001, 0.1, True, 'lr=float:0.0001:0.1:log')
    """

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple = ()

    @classmethod
    def parse(cls, text: str, constraint: Constraint | None = None) -> "ParamSpace":
        """Parse one ``name=kind:...`` string (grammar only; ``parse_space`` checks the method)."""
        problems: list[str] = []
        out = _parse_one(text, constraint, problems)
        if problems:
            raise ConfigError("; ".join(problems))
        assert out is not None
        return out

    def __str__(self) -> str:
        if self.kind == "choice":
            return f"{self.name}=choice:" + ",".join(_choice_text(v) for v in self.choices)
        text = f"{self.name}={self.kind}:{_num_text(self.low)}:{_num_text(self.high)}"
        return text + (":log" if self.log else "")

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a point of this range (a number in [low, high], an int for ``int``; one
        of the choices).

        Example:
            >>> p = ParamSpace.parse("epochs=int:1:10")
            >>> p.contains(10), p.contains(11), p.contains(2.5), p.contains(None)
            (True, False, False, False)
        """
        if self.kind == "choice":
            return any(type(value) is type(c) and value == c for c in self.choices)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind == "int" and not isinstance(value, int):
            return False
        return float(self.low) <= value <= float(self.high)

    def suggest(self, trial) -> Any:
        """Draw this parameter's value for an Optuna trial."""
        if self.kind == "float":
            return trial.suggest_float(self.name, float(self.low), float(self.high), log=self.log)
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_categorical(self.name, list(self.choices))


def _num_text(x: float | None) -> str:
    return repr(x) if isinstance(x, float) else str(x)


def _choice_text(v: Any) -> str:
    if v is None:
        return "none"
    if isinstance(v, bool):
        return str(v).lower()
    return str(v)


def _loose(text: str) -> Any:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _parse_one(text: str, constraint: Constraint | None, problems: list[str]) -> ParamSpace | None:
    """Grammar of one entry; appends to ``problems`` and returns None when malformed."""
    name, sep, rest = str(text).partition("=")
    name = name.strip()
    kind, _, args = rest.partition(":")
    kind = kind.strip().lower()
    if not sep or not name or kind not in KINDS:
        problems.append(f"{text!r} must have the form {_FORMS}")
        return None
    if kind == "choice":
        values = [v.strip() for v in args.split(",")]
        if not args.strip() or any(v == "" for v in values):
            problems.append(f"{text!r}: choice needs a comma-separated list of values, e.g. {name}=choice:a,b")
            return None
        parsed = tuple(constraint.parse(v) if constraint is not None else _loose(v) for v in values)
        if len(set(map(repr, parsed))) != len(parsed):
            problems.append(f"{text!r}: the choices repeat a value")
            return None
        return ParamSpace(name, "choice", choices=parsed)
    parts = [p.strip() for p in args.split(":")]
    log = False
    if len(parts) == 3 and parts[2].lower() == "log":
        log = True
        parts = parts[:2]
    if len(parts) != 2:
        problems.append(f"{text!r}: {kind} needs LOW:HIGH or LOW:HIGH:log")
        return None
    bounds: list[float] = []
    for part in parts:
        try:
            value = int(part) if kind == "int" else float(part)
        except ValueError:
            problems.append(f"{text!r}: bound {part!r} is not {'an int' if kind == 'int' else 'a number'}")
            return None
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"{text!r}: bound {part!r} is not finite")
            return None
        bounds.append(value)
    low, high = bounds
    if low >= high:
        problems.append(f"{text!r}: low {_num_text(low)} must be below high {_num_text(high)}")
    if log and low <= 0:
        problems.append(f"{text!r}: a log scale needs low > 0, got {_num_text(low)}")
    return ParamSpace(name, kind, low, high, log)  # also when not ok: its range is still checked


def _interval_of(c: Constraint | None) -> Interval | None:
    if isinstance(c, OptionalOf):
        c = c.inner
    return c if isinstance(c, Interval) else None


def _check_against(p: ParamSpace, c: Constraint | None, owner: str, text: str, problems: list[str]) -> None:
    """Check a well-formed entry against the parameter's declared constraint."""
    if c is None:
        return
    if p.kind == "choice":
        for v in p.choices:
            if not c.accepts(v):
                problems.append(f"{text!r}: choice {_choice_text(v)!r} is not valid; {p.name!r} of {owner} "
                                f"must be {c.description}")
        return
    interval = _interval_of(c)
    if interval is None:
        kind = "a bool" if isinstance(c, Boolean) else ("one of a set" if isinstance(c, (Options, OptionalOf)) else "not a number")
        problems.append(f"{text!r}: {p.name!r} of {owner} is {kind} ({c.description}); use {p.name}=choice:...")
        return
    declared = "int" if interval.type is int else "float"
    if declared != p.kind:
        problems.append(f"{text!r}: {p.name!r} of {owner} is {'an' if declared == 'int' else 'a'} {declared} parameter; "
                        f"use {p.name}={declared}:LOW:HIGH")
        return
    outside = [b for b in (p.low, p.high) if not interval.accepts(b)]
    if outside:
        problems.append(f"{text!r}: range [{_num_text(p.low)}, {_num_text(p.high)}] is outside the declared range of "
                        f"{p.name!r} of {owner}: {interval.description}")


def parse_space(texts: Sequence[str], method: str) -> tuple[ParamSpace, ...]:
    """Parse and check a search space for ``method``; every problem is reported in one ``ConfigError``.

    Example:
        >>> [str(p) for p in parse_space(["epochs=int:1:3", "optimizer=choice:sgd,adam"], "finetune")]
        ['epochs=int:1:3', 'optimizer=choice:sgd,adam']
    """
    cls = METHODS.get(method)
    valid = init_params(cls)
    constraints: Mapping[str, Constraint] = getattr(cls, "_parameter_constraints", {})
    problems: list[str] = []
    out: list[ParamSpace] = []
    seen: set[str] = set()
    if isinstance(texts, str):
        texts = [texts]
    for text in texts:
        name = str(text).partition("=")[0].strip()
        known = name in valid
        if name and not known:
            problems.append(f"{name!r} is not a parameter of {method} (valid: {', '.join(sorted(valid))})")
        p = _parse_one(text, constraints.get(name) if known else None, problems)
        if p is None or not known:
            continue
        if name in seen:
            problems.append(f"{name!r} is given twice")
            continue
        seen.add(name)
        _check_against(p, constraints.get(name), method, text, problems)
        out.append(p)
    if not texts:
        problems.append("the search space is empty")
    if problems:
        raise ConfigError(f"Bad search space for method {method!r}: " + "; ".join(problems) + ".")
    return tuple(out)


def method_defaults(method: str) -> dict[str, Any]:
    """The default value of every parameter of ``method`` (its keyword-only ``__init__`` arguments).

    Example:
        >>> method_defaults("random_labels")["epochs"]
        10
    """
    cls = METHODS.get(method)
    sig = inspect.signature(cls.__init__)
    return {name: sig.parameters[name].default for name in init_params(cls)
            if sig.parameters[name].default is not inspect.Parameter.empty}


def default_space(method: str) -> tuple[ParamSpace, ...]:
    """``lr`` (float, log, [1e-4, 1e-1]) and ``epochs`` (int, 1..5), each widened to contain the
    method's default value and intersected with the declared range, for those of the two the
    method has; ``ConfigError`` when it has neither.

    Example:
        >>> [str(p) for p in default_space("finetune")]
        ['lr=float:0.0001:0.1:log', 'epochs=int:1:5']
        >>> [str(p) for p in default_space("random_labels")]  # its default is 10 epochs
        ['lr=float:0.0001:0.1:log', 'epochs=int:1:10']
    """
    cls = METHODS.get(method)
    valid = init_params(cls)
    defaults = method_defaults(method)
    constraints: Mapping[str, Constraint] = getattr(cls, "_parameter_constraints", {})
    out: list[ParamSpace] = []
    for name, (kind, low, high, log) in DEFAULT_RANGES.items():
        if name not in valid:
            continue
        default = defaults.get(name)
        if isinstance(default, (int, float)) and not isinstance(default, bool) and math.isfinite(default) \
                and (kind == "float" or isinstance(default, int)) and (not log or default > 0):
            low, high = min(low, default), max(high, default)
        interval = _interval_of(constraints.get(name))
        if interval is not None:
            if ("int" if interval.type is int else "float") != kind:
                continue
            if interval.low is not None:
                low = max(low, interval.low)
            if interval.high is not None:
                high = min(high, interval.high)
            if kind == "int":
                low += 0 if interval.accepts(low) else 1
                high -= 0 if interval.accepts(high) else 1
            if low >= high or not (interval.accepts(low) and interval.accepts(high)):
                continue
        out.append(ParamSpace(name, kind, low, high, log))
    if not out:
        raise ConfigError(f"Method {method!r} has no lr or epochs to tune by default; give a search space "
                          f"(--space), e.g. name=float:LOW:HIGH. Its parameters: {', '.join(sorted(valid)) or 'none'}.")
    return tuple(out)


def resolve_space(space: Sequence[str | ParamSpace] | None, method: str) -> tuple[ParamSpace, ...]:
    """Strings are parsed and checked, ``ParamSpace`` objects re-checked, ``None`` gives the default."""
    if space is None or (not isinstance(space, str) and len(space) == 0):
        return default_space(method)
    if isinstance(space, str):
        space = [space]
    return parse_space([str(p) for p in space], method)


# ============================================================================ tuning
