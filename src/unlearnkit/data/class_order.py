"""The model's class order for loaders whose classes are names (image folders, CSV and Parquet labels).

A model's logit ``k`` means one class; a folder of images or a table of names does not say which.
Without a ``classes`` option, loaders sort the names (alphabetically, or numerically for integer
labels), which is right only when the model was trained with that order. ``classes`` gives the
model's order: a list of names, a comma-separated string, or a text file with one name per line
(``--classes FILE`` / ``--data-option classes=FILE``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

from unlearnkit.errors import ConfigError, DataError


def shown(items: Iterable[Any], limit: int = 5) -> str:
    """The first ``limit`` items, comma-separated, and how many more there are: a message stays one short line.

    Example:
        >>> shown(["a", "b", "c"], 2)
        'a, b (and 1 more)'
    """
    items = [str(i) for i in items]
    head = ", ".join(items[:limit])
    return head + (f" (and {len(items) - limit} more)" if len(items) > limit else "")


def parse_classes(value: Any) -> list[str]:
    """Class names in the model's logit order, from a list, a comma-separated string or a file.

    A string naming an existing file is read as one class name per line (blank lines ignored);
    any other string is split at commas.

    Raises:
        ConfigError: no names, a blank or repeated name, or a file that is not UTF-8 text.

    Example:
        >>> parse_classes("dog, cat,bird")
        ['dog', 'cat', 'bird']
    """
    if isinstance(value, (list, tuple)):
        names = [str(v).strip() for v in value]
        source = "The 'classes' option"
    else:
        text = str(value)
        path = Path(text)
        if text.strip() and "\n" not in text and path.is_file():
            try:
                body = path.read_text(encoding="utf-8-sig")
            except (UnicodeDecodeError, OSError) as exc:
                raise ConfigError(f"Classes file {text!r} cannot be read as UTF-8 text ({type(exc).__name__}); "
                                  "give one class name per line, in the model's logit order.") from None
            names = [line.strip() for line in body.splitlines() if line.strip()]
            source = f"Classes file {text!r}"
        else:
            names = [part.strip() for part in text.split(",")]
            source = "The 'classes' option"
    if not names or not any(names):
        raise ConfigError(f"{source} names no class; give the class names in the model's logit order "
                          "(a file with one name per line, or name1,name2,...).")
    if any(not n for n in names):
        raise ConfigError(f"{source} has a blank class name (entry {names.index('') + 1}).")
    seen: dict[str, int] = {}
    for k, n in enumerate(names):
        if n in seen:
            raise ConfigError(f"{source} names class {n!r} twice (entries {seen[n] + 1} and {k + 1}).")
        seen[n] = k
    return names


def class_index(found: Sequence[str], classes: Sequence[str] | None, where: str) -> dict[str, int]:
    """Name -> logit index for the class names ``found`` in the data.

    Without ``classes`` the found names keep their order (the loader's sorted order). With
    ``classes`` every found name must be one of them; the model may know classes the data lacks.

    Raises:
        DataError: a found name that ``classes`` does not list (the first few named).

    Example:
        >>> class_index(["cat", "dog"], ["dog", "cat", "bird"], "pets/")
        {'cat': 1, 'dog': 0}
    """
    if classes is None:
        return {name: k for k, name in enumerate(found)}
    order = {name: k for k, name in enumerate(classes)}
    unknown = [name for name in found if name not in order]
    if unknown:
        raise DataError(f"{where} has class(es) the 'classes' option does not list: {shown(map(repr, unknown))}; "
                        f"the model's classes are {shown(map(repr, classes))}.")
    return {name: order[name] for name in found}
