"""One small registry class shared by every extension point (datasets, models, methods, metrics)."""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from unlearnkit.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A mapping of explicit lowercase names to objects, with errors that list the valid names.

    Example:
        >>> COLOURS = Registry("colour")
        >>> @COLOURS.register("red")
        ... def red():
        ...     return "#f00"
        >>> COLOURS.get("red")()
        '#f00'
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        if not name or name != name.lower() or not name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"{self.kind} names must be lowercase alphanumerics with '_' or '-'; got {name!r}")

        def decorator(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise ConfigError(
                f"Unknown {self.kind} {name!r}. Valid {self.kind}s: {', '.join(self.names())}."
            ) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        return sorted(self._items.items())

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)
