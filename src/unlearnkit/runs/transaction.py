"""One transaction on the run store, and the one-line ``StoreError`` an SQLite error becomes.

``Tx`` wraps a connection: its ``with`` block is one transaction (``BEGIN IMMEDIATE`` for a
writer, ``BEGIN`` for a reader), committed at the end, rolled back on an error, then closed. An
SQLite error that means "cannot write here" or "not a database" becomes a ``StoreError`` that says
so (``store_error``), never a traceback.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from unlearnkit.errors import StoreError


class Tx:
    """``with`` block = one transaction (``begin`` ... COMMIT, ROLLBACK on error), then close.

    SQLite errors that mean "cannot write here" or "not a database" become ``StoreError``.

    Example:
        >>> with Tx(sqlite3.connect(":memory:", isolation_level=None)) as conn:
        ...     conn.execute("SELECT 1").fetchone()
        (1,)
    """

    def __init__(self, conn: sqlite3.Connection, path: Path | None = None, begin: str = "BEGIN IMMEDIATE"):
        self.conn = conn
        self.path = path
        self.begin = begin

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.conn.execute(self.begin)
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise store_error(self.path, exc) from None
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.conn.close()
        if exc_type is not None and issubclass(exc_type, sqlite3.OperationalError):  # one line, not a traceback
            raise store_error(self.path, exc) from None


def error_kind(exc: sqlite3.Error) -> str:
    """``readonly``, ``notadb`` or ``other``, from the SQLite error code (or its message).

    Example:
        >>> error_kind(sqlite3.DatabaseError("file is not a database"))
        'notadb'
    """
    name = str(getattr(exc, "sqlite_errorname", "") or "")
    text = str(exc).lower()
    if name.startswith(("SQLITE_READONLY", "SQLITE_PERM", "SQLITE_CANTOPEN", "SQLITE_AUTH")) or "readonly" in text \
            or "read-only" in text or "unable to open" in text:
        return "readonly"
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")) or "not a database" in text or "malformed" in text:
        return "notadb"
    return "other"


def store_error(path: Path | None, exc: sqlite3.Error) -> StoreError:
    """The one-line ``StoreError`` for an SQLite error on the run store at ``path``.

    Example:
        >>> str(store_error(Path("runs.sqlite"), sqlite3.DatabaseError("file is not a database")))
        'Run store runs.sqlite is not a valid SQLite database (file is not a database).'
    """
    kind = error_kind(exc)
    if kind == "readonly":
        return StoreError(f"Run store {path} cannot be written: it or its folder is read-only ({exc}); "
                          f"make it writable or choose another --home.")
    if kind == "notadb":
        return StoreError(f"Run store {path} is not a valid SQLite database ({exc}).")
    return StoreError(f"Run store {path} cannot be used ({exc}).")
