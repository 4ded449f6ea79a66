"""Refusing a run store that was edited into something unlearnkit cannot trust.

A run store is an SQLite file anyone can edit. A table without a column unlearnkit reads, or a
trigger (``RAISE(ABORT)`` on insert, a call of ``load_extension``) or a view that unlearnkit never
makes, would surface as a traceback in the middle of a command; ``check_schema`` refuses such a
store in one line when it is opened.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Sequence

from unlearnkit.errors import StoreError


def check_schema(conn: sqlite3.Connection, path: Path, tables: Sequence[tuple[str, Sequence[str]]]) -> None:
    """Refuse a store whose ``tables`` lack a needed column, or that holds a trigger or a view.

    Args:
        conn: an open connection to the store.
        path: the store file, for the message.
        tables: ``(table, needed columns)`` pairs; a table that does not exist is not checked.

    Raises:
        StoreError: one line naming the table and the missing columns, or the trigger or view.

    Example:
        >>> conn = sqlite3.connect(":memory:")
        >>> _ = conn.execute("CREATE TABLE runs (id TEXT)")
        >>> check_schema(conn, Path("runs.sqlite"), [("runs", ["id", "status"])])
        Traceback (most recent call last):
        unlearnkit.errors.StoreError: Run store runs.sqlite: the 'runs' table lacks column(s) status; it is not a run store of this unlearnkit (choose another --home).
    """
    for table, needed in tables:
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        missing = [c for c in needed if have and c not in have]
        if missing:
            raise StoreError(f"Run store {path}: the {table!r} table lacks column(s) {', '.join(missing[:5])}; it is "
                             "not a run store of this unlearnkit (choose another --home).")
    extra = conn.execute("SELECT type, name FROM sqlite_master WHERE type IN ('trigger', 'view') LIMIT 1").fetchone()
    if extra:
        raise StoreError(f"Run store {path} holds a {extra[0]} {extra[1]!r}, which unlearnkit never makes; it was "
                         "edited, and is not used (remove it with sqlite3, or choose another --home).")
