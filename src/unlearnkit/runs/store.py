"""``RunStore``: one SQLite row per unlearning run, written in transactions."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any, Iterable

from unlearnkit.errors import StoreError

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
"""

COLUMNS = ("id", "created_at", "finished_at", "status", "dataset", "model", "forget", "split_fingerprint", "seed",
           "method", "params", "config", "config_hash", "metrics", "runtime_s", "unlearned_key", "version", "error")
JSON_COLUMNS = ("params", "config", "metrics")


class RunStore:
    """The SQLite run store.

    A run is inserted as ``running`` before the method starts and turned ``done`` (with its
    metrics) or ``failed`` in one transaction at the end, so a killed process leaves at most a
    ``running`` row behind, never a half-written result.

    Example:
        >>> import tempfile, os
        >>> runs = RunStore(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
        >>> rid = runs.start(dataset="digits", model="mlp", forget="class:3", split_fingerprint="ab", seed=0,
        ...                  method="finetune", params={"lr": 0.01}, config={}, config_hash="h", version="0.1.0")
        >>> runs.finish(rid, metrics={"ua": 1.0}, runtime_s=0.5, unlearned_key=None)
        >>> runs.get(rid)["status"]
        'done'
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, timeout=30)
            try:
                conn.executescript(SCHEMA)
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"Run store {self.path} is not a valid SQLite database ({exc}).") from None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        return _Tx(conn)

    def start(self, *, dataset: str, model: str, forget: str, split_fingerprint: str, seed: int, method: str,
              params: dict, config: dict, config_hash: str, version: str) -> str:
        run_id = uuid.uuid4().hex[:12]
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO runs (id, created_at, status, dataset, model, forget, split_fingerprint, seed, method, "
                "params, config, config_hash, version) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, time.time(), dataset, model, forget, split_fingerprint, seed, method,
                 _dumps(params), _dumps(config), config_hash, version),
            )
        return run_id

    def finish(self, run_id: str, *, metrics: dict, runtime_s: float, unlearned_key: str | None) -> None:
        with self._connect() as conn:
            cur = conn.execute(
                "UPDATE runs SET status='done', finished_at=?, metrics=?, runtime_s=?, unlearned_key=? WHERE id=?",
                (time.time(), _dumps(metrics), runtime_s, unlearned_key, run_id),
            )
            _one_row(cur, run_id, self.path)

    def fail(self, run_id: str, error: str) -> None:
        with self._connect() as conn:
            cur = conn.execute("UPDATE runs SET status='failed', finished_at=?, error=? WHERE id=?",
                               (time.time(), error, run_id))
            _one_row(cur, run_id, self.path)

    def mark_interrupted(self, config_hashes: list[str]) -> int:
        """Turn ``running`` rows of these configs (left by a killed process) into ``failed``."""
        if not config_hashes:
            return 0
        marks = ",".join("?" * len(config_hashes))
        with self._connect() as conn:
            cur = conn.execute(
                f"UPDATE runs SET status='failed', finished_at=?, error='interrupted' "
                f"WHERE status='running' AND config_hash IN ({marks})",
                (time.time(), *config_hashes),
            )
            return cur.rowcount

    def done_hashes(self) -> set[str]:
        """The config hashes of every finished run."""
        with self._connect() as conn:
            return {r[0] for r in conn.execute("SELECT config_hash FROM runs WHERE status='done'").fetchall()}

    def delete(self, run_id: str) -> None:
        with self._connect() as conn:
            conn.execute("DELETE FROM runs WHERE id=?", (run_id,))

    def get(self, run_id: str) -> dict[str, Any]:
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            raise StoreError(f"No run {run_id!r} in the run store {self.path} (list them with 'unlearnkit runs').")
        return _decode(row)

    def list(self, *, status: str | None = None, method: str | None = None, dataset: str | None = None) -> list[dict]:
        where, args = [], []
        for column, value in (("status", status), ("method", method), ("dataset", dataset)):
            if value is not None:
                where.append(f"{column}=?")
                args.append(value)
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY created_at"
        with self._connect() as conn:
            return [_decode(r) for r in conn.execute(sql, args).fetchall()]

    def find_done(self, config_hash: str) -> dict | None:
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM runs WHERE config_hash=? AND status='done' ORDER BY created_at LIMIT 1",
                               (config_hash,)).fetchone()
        return _decode(row) if row else None

    def export_csv(self, rows: Iterable[dict] | None = None) -> str:
        """The runs as CSV text: one column per field, plus one ``metric.<name>`` column per metric."""
        rows = list(self.list() if rows is None else rows)
        metric_names = sorted({k for r in rows for k in (r.get("metrics") or {})})
        out = io.StringIO()
        writer = csv.writer(out)
        base = [c for c in COLUMNS if c not in ("metrics", "config")]
        writer.writerow(base + [f"metric.{m}" for m in metric_names])
        for r in rows:
            values = [json.dumps(r[c], sort_keys=True) if c in JSON_COLUMNS else r[c] for c in base]
            writer.writerow(values + [(r.get("metrics") or {}).get(m, "") for m in metric_names])
        return out.getvalue()


class _Tx:
    """``with`` block = one transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error), then close."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.conn.close()


def _one_row(cur: sqlite3.Cursor, run_id: str, path: Path) -> None:
    if cur.rowcount != 1:
        raise StoreError(f"No run {run_id!r} in the run store {path}; its result was not recorded.")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


def _decode(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    for c in JSON_COLUMNS:
        if out.get(c) is not None:
            out[c] = json.loads(out[c])
    return out
