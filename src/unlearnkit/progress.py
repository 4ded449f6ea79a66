"""Progress bars (rich) for anything that takes more than a few seconds; off unless switched on."""

from __future__ import annotations

import contextlib
import sys
from typing import Callable, Iterator

_ENABLED = False
_LABELS: list[str] = []


def set_progress(enabled: bool) -> None:
    """Show progress bars on stderr (the CLI switches them on when stderr is a terminal)."""
    global _ENABLED
    _ENABLED = enabled


@contextlib.contextmanager
def progress_label(label: str) -> Iterator[None]:
    """Prefix every bar drawn inside the block with ``label`` (e.g. which of N models is training).

    Example:
        >>> with progress_label("golden bank, model 2 of 16"):
        ...     describe("golden model")
        'golden bank, model 2 of 16: golden model'
    """
    _LABELS.append(label)
    try:
        yield
    finally:
        _LABELS.pop()


def describe(description: str) -> str:
    """``description`` with the labels of the enclosing ``progress_label`` blocks in front."""
    return ": ".join([*_LABELS, description])


@contextlib.contextmanager
def progress_bar(description: str, total: int) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``; draws a bar only when enabled and stderr is a terminal. The bar's text is
    ``describe(description)``."""
    description = describe(description)
    if not (_ENABLED and sys.stderr.isatty()):
        yield lambda n=1: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)
