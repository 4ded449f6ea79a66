"""The run store's file format: its two tables, how a row is written and read back, and opening a
file as a run store (creating the tables, or checking an existing file without writing to it).

``runs`` holds one row per unlearning run (``params``, ``config`` and ``metrics`` as JSON objects);
``claims`` names the live process that owns each ``running`` run or model training (see
``runs/claims.py``). ``check_schema`` (``runs/schema_check.py``) refuses a file edited into
something unlearnkit cannot trust.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from unlearnkit.errors import StoreError
from unlearnkit.runs.schema_check import check_schema
from unlearnkit.runs.transaction import store_error

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    finished_at REAL,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    dataset TEXT NOT NULL,
    model TEXT NOT NULL,
    forget TEXT NOT NULL,
    split_fingerprint TEXT NOT NULL,
    seed INTEGER NOT NULL,
    method TEXT NOT NULL,
    params TEXT NOT NULL,
    config TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    metrics TEXT,
    runtime_s REAL,
    unlearned_key TEXT,
    version TEXT NOT NULL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS runs_config_hash ON runs (config_hash, status);
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('run', 'model')),
    config_hash TEXT,
    run_id TEXT,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    token TEXT NOT NULL,
    claimed_at REAL NOT NULL,
    heartbeat REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS claims_config_hash ON claims (config_hash);
"""

COLUMNS = ("id", "created_at", "finished_at", "status", "dataset", "model", "forget", "split_fingerprint", "seed",
           "method", "params", "config", "config_hash", "metrics", "runtime_s", "unlearned_key", "version", "error")
JSON_COLUMNS = ("params", "config", "metrics")
CLAIM_COLUMNS = ("key", "kind", "config_hash", "run_id", "host", "pid", "token", "claimed_at", "heartbeat")
TABLES = (("runs", COLUMNS), ("claims", CLAIM_COLUMNS))


def create_tables(path: Path) -> None:
    """Create the run store at ``path`` (its folder, the file, its tables) where missing, and check
    the tables of an existing one.

    Raises:
        StoreError: ``path`` is a directory, its folder cannot be made, or the file is not a
            writable run store.

    Example:
        >>> import tempfile
        >>> create_tables(Path(tempfile.mkdtemp()) / "runs.sqlite")
    """
    if path.exists() and not path.is_file():
        raise StoreError(f"Run store {path} is not a file (it is a directory); move it away or choose "
                         f"another --home.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"Cannot create the folder of the run store {path}: {exc.strerror or exc}.") from None
    try:
        conn = sqlite3.connect(path, timeout=30)
        try:
            conn.executescript(SCHEMA)
            check_schema(conn, path, TABLES)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise store_error(path, exc) from None


def check_existing(path: Path, uri: str) -> None:
    """Check, writing nothing, that ``path`` (opened read-only through ``uri``) is a run store.

    Raises:
        StoreError: there is no file, it is not an SQLite database, it has no ``runs`` table, or
            ``check_schema`` refuses it.

    Example:
        >>> check_existing(Path("/nonexistent/runs.sqlite"), "")
        Traceback (most recent call last):
        unlearnkit.errors.StoreError: There is no run store at /nonexistent/runs.sqlite (nothing has been recorded there yet; 'unlearnkit unlearn' and 'unlearnkit bench' record runs).
    """
    if not path.is_file():
        raise StoreError(f"There is no run store at {path} (nothing has been recorded there yet; "
                         f"'unlearnkit unlearn' and 'unlearnkit bench' record runs).")
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=30)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "runs" in tables:
                check_schema(conn, path, TABLES)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise store_error(path, exc) from None
    if "runs" not in tables:
        raise StoreError(f"Run store {path} has no 'runs' table; it is not an unlearnkit run store.")


def dumps(obj: Any) -> str:
    """A JSON column's text: keys sorted, anything not JSON as its ``str``.

    Example:
        >>> dumps({"b": 1, "a": Path("x")})
        '{"a": "x", "b": 1}'
    """
    return json.dumps(obj, sort_keys=True, default=str)


def decode(row: sqlite3.Row) -> dict[str, Any]:
    """A ``runs`` row as a dict, its JSON columns parsed.

    Raises:
        StoreError: a JSON column holds no JSON object (``metrics`` may be empty).
    """
    out = dict(row)
    for c in JSON_COLUMNS:
        if out.get(c) is not None:
            try:
                out[c] = json.loads(out[c])
            except (TypeError, ValueError):
                out[c] = ()  # not JSON: refused below
            if not isinstance(out[c], dict) and not (c == "metrics" and out[c] is None):
                raise StoreError(f"Run {out.get('id')!r} of the run store holds no JSON object in its {c!r} column "
                                 "(the store was edited by hand); delete that run or choose another --home.")
    return out
