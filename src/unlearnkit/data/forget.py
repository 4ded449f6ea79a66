"""Forget specs: which training samples to forget, parsed from a short string.

Grammar (``ForgetSpec.parse``):

- ``random:0.1`` a fraction in (0, 1) of the training set, or ``random:500`` a count;
  append ``:stratified`` to draw the same fraction from every class.
- ``class:3`` or ``class:3,7`` or ``class:Coat`` — every training sample of these classes
  (index or class name).
- ``subclass:Shirt`` — labels become the coarse (super-class) labels and every sample of this
  fine class is forgotten (the dataset must have coarse labels).
- ``indices:PATH`` — train indices, one integer per line (text) or a 1-D integer ``.npy`` array.
- ``ids:PATH`` — record IDs (the dataset's ``train_ids``), one per line; or inline as a JSON list,
  ``ids:["u17", "u42"]`` (``ForgetSpec.of_ids``). Every ID must exist, none may repeat.

Parsing is pure (no dataset, no file access) and round-trips: ``str(ForgetSpec.parse(s))`` is
the canonical form and parses to the same spec.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable

from unlearnkit.errors import ConfigError

VALID_FORMS = ("random:<fraction in (0,1)>[:stratified], random:<count>[:stratified], class:<c>[,<c>...], "
               "subclass:<fine class>, indices:<path>, ids:<path> or ids:[\"<id>\", ...]")


def _bad(text: str, why: str) -> ConfigError:
    return ConfigError(f"Invalid forget spec {text!r}: {why}. Valid forms: {VALID_FORMS}.")


@dataclass(frozen=True)
class ForgetSpec:
    """A parsed forget spec.

    Attributes:
        kind: ``"random"``, ``"class"``, ``"subclass"``, ``"indices"`` or ``"ids"``.
        fraction: for ``random`` with a fraction, else None.
        count: for ``random`` with a count, else None.
        stratified: for ``random``: draw per class.
        classes: class tokens (indices as ``int``, names as ``str``) for ``class``/``subclass``.
        path: for ``indices``, and ``ids`` read from a file.
        ids: for ``ids`` given inline: the record IDs, in the order given.

    Example:
        >>> spec = ForgetSpec.parse("random:0.1:stratified")
        >>> spec.kind, spec.fraction, spec.stratified
        ('random', 0.1, True)
        >>> str(ForgetSpec.parse("class:3,7"))
        'class:3,7'
    """

    kind: str
    fraction: float | None = None
    count: int | None = None
    stratified: bool = False
    classes: tuple[int | str, ...] = ()
    path: str | None = None
    ids: tuple[str, ...] | None = None

    @classmethod
    def of_ids(cls, ids: Iterable[str]) -> "ForgetSpec":
        """An ``ids`` spec naming these record IDs (strings; integers are turned into strings).

        Example:
            >>> str(ForgetSpec.of_ids(["u17", "u42"]))
            'ids:["u17", "u42"]'
        """
        if isinstance(ids, (str, bytes)):
            raise _bad(str(ids), "ForgetSpec.of_ids takes a list of IDs, not one string")
        out = tuple(str(i) for i in ids)
        return cls(kind="ids", ids=out)

    @classmethod
    def parse(cls, text: str) -> "ForgetSpec":
        if not isinstance(text, str):
            raise _bad(str(text), "a forget spec is a string")
        kind, sep, rest = text.strip().partition(":")
        if not sep or not rest:
            raise _bad(text, "expected '<kind>:<argument>'")
        if kind == "random":
            return cls._parse_random(text, rest)
        if kind in ("class", "subclass"):
            tokens = [t.strip() for t in rest.split(",")]
            if any(not t for t in tokens):
                raise _bad(text, "empty class name")
            classes = tuple(_class_token(text, t) for t in tokens)
            if len(set(classes)) != len(classes):
                raise _bad(text, "a class is listed twice")
            if any(isinstance(c, int) and c < 0 for c in classes):
                raise _bad(text, "class indices must be >= 0")
            return cls(kind=kind, classes=classes)
        if kind == "indices":
            return cls(kind="indices", path=rest)
        if kind == "ids":
            if rest.lstrip().startswith("["):
                try:
                    values = json.loads(rest)
                except json.JSONDecodeError as exc:
                    raise _bad(text, f"the inline ID list is not valid JSON ({exc.msg})") from None
                if not isinstance(values, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool)
                                                           for v in values):
                    raise _bad(text, "the inline ID list must be a JSON list of strings")
                return cls.of_ids(values)
            return cls(kind="ids", path=rest)
        raise _bad(text, f"unknown kind {kind!r}")

    @classmethod
    def _parse_random(cls, text: str, rest: str) -> "ForgetSpec":
        amount, sep, option = rest.partition(":")
        if sep and option != "stratified":
            raise _bad(text, f"unknown option {option!r} (the only option is 'stratified')")
        stratified = option == "stratified"
        if _is_int(amount):
            count = _int(text, amount, "the count")
            if count < 1:
                raise _bad(text, "the count must be at least 1")
            return cls(kind="random", count=count, stratified=stratified)
        try:
            fraction = float(amount)
        except ValueError:
            raise _bad(text, f"{amount!r} is neither a fraction nor a count") from None
        if not 0.0 < fraction < 1.0:
            raise _bad(text, f"the fraction must lie strictly between 0 and 1, got {fraction}")
        return cls(kind="random", fraction=fraction, stratified=stratified)

    def __str__(self) -> str:
        if self.kind == "random":
            amount = str(self.count) if self.count is not None else repr(self.fraction)
            return f"random:{amount}" + (":stratified" if self.stratified else "")
        if self.kind in ("class", "subclass"):
            return f"{self.kind}:" + ",".join(str(c) for c in self.classes)
        if self.kind == "ids":
            return f"ids:{self.path}" if self.ids is None else "ids:" + json.dumps(list(self.ids), ensure_ascii=False)
        return f"indices:{self.path}"


def _int(spec: str, token: str, what: str) -> int:
    """``int(token)``; a number too long for Python to convert is a ``ConfigError`` naming the spec."""
    try:
        return int(token)
    except ValueError:  # more digits than sys.get_int_max_str_digits()
        short = spec if len(spec) <= 60 else f"{spec[:40]}...({len(spec)} characters)"
        raise _bad(short, f"{what} has {len(token.lstrip('-'))} digits, far too many") from None


def _class_token(spec: str, token: str) -> int | str:
    return _int(spec, token, "the class index") if _is_int(token) else token


def _is_int(text: str) -> bool:
    digits = text[1:] if text.startswith("-") else text
    return digits.isascii() and digits.isdigit()
