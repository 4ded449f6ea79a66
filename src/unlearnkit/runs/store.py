"""``RunStore``: one SQLite row per unlearning run, written in transactions, and the claims that
say which live process owns a running run.

The concerns live in their own modules, re-exported here: the file format (``runs/schema.py``:
tables, rows, opening a file), one transaction and its errors (``runs/transaction.py``), the
claims and their heartbeat (``runs/claims.py``), and the queries and CSV export
(``runs/queries.py``).

Claims: every ``running`` row has a claim naming its owner (host, pid, a per-process token) and a
heartbeat that a daemon thread of the owner refreshes every ``HEARTBEAT_S`` seconds. An owner is
*gone* when its heartbeat is older than ``STALE_S`` seconds, or when it ran on this host and its
process no longer exists. ``claim_run`` takes a run for a benchmark atomically (one ``BEGIN
IMMEDIATE`` transaction): it refuses a config that is done or held by a live owner, and reaps the
claims of gone owners first; so several ``unlearnkit bench`` processes sharing one home do each
run exactly once. ``reap`` marks the runs of gone owners ``failed`` (error ``interrupted``) and
returns them, so their leftovers can be removed. ``claim_model`` does the same for training one
original or golden model. ``finish`` and ``fail`` release the claim in the same transaction that
records the result, and refuse a run whose claim was reaped meanwhile.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable

from unlearnkit.errors import StoreError
from unlearnkit.runs import claims as _claims
from unlearnkit.runs import queries as _queries
from unlearnkit.runs.claims import HEARTBEAT_S, STALE_S, Claim, owner, owner_gone
from unlearnkit.runs.queries import metric_values, runs_csv
from unlearnkit.runs.schema import CLAIM_COLUMNS, COLUMNS, JSON_COLUMNS, SCHEMA, check_existing, create_tables, dumps
from unlearnkit.runs.transaction import Tx, store_error

__all__ = ["RunStore", "Claim", "runs_csv", "metric_values", "owner", "owner_gone", "HEARTBEAT_S", "STALE_S",
           "SCHEMA", "COLUMNS", "JSON_COLUMNS", "CLAIM_COLUMNS"]


class RunStore:
    """The SQLite run store.

    A run is inserted as ``running`` (with a claim naming its owner process) before the method
    starts and turned ``done`` (with its metrics) or ``failed`` in one transaction at the end, so a
    killed process leaves at most a ``running`` row behind, never a half-written result; ``reap``
    marks such a row ``failed`` (``interrupted``) once its owner is gone.

    Args:
        path: the SQLite file.
        create: create the file and its tables when missing (the default). ``False`` opens an
            existing store for reading and raises ``StoreError`` when there is none, writing nothing.

    Raises:
        StoreError: the file is not an SQLite database, cannot be written (read-only file or
            directory), or (``create=False``) does not exist.

    Example:
        >>> import tempfile, os
        >>> runs = RunStore(os.path.join(tempfile.mkdtemp(), "runs.sqlite"))
        >>> rid = runs.start(dataset="digits", model="mlp", forget="class:3", split_fingerprint="ab", seed=0,
        ...                  method="finetune", params={"lr": 0.01}, config={}, config_hash="h", version="0.1.0")
        >>> runs.finish(rid, metrics={"ua": 1.0}, runtime_s=0.5, unlearned_key=None)
        >>> runs.get(rid)["status"]
        'done'
    """

    def __init__(self, path: str | os.PathLike, *, create: bool = True):
        self.path = Path(path)
        #: seconds after which a claim's heartbeat is stale (its owner gone); see ``STALE_S``.
        self.stale_s = STALE_S
        self.read_only = not create
        if create:
            create_tables(self.path)
        else:
            check_existing(self.path, self._read_only_uri())

    def _read_only_uri(self) -> str:
        return self.path.resolve().as_uri() + "?mode=ro"

    def _connect(self) -> Tx:
        """One transaction: ``BEGIN IMMEDIATE`` (a writer's), or a plain ``BEGIN`` on a store opened
        with ``create=False``, which never writes (so a read-only file can be read)."""
        try:
            if self.read_only:
                conn = sqlite3.connect(self._read_only_uri(), uri=True, timeout=30, isolation_level=None)
            else:
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.DatabaseError as exc:
            raise store_error(self.path, exc) from None
        conn.row_factory = sqlite3.Row
        return Tx(conn, self.path, begin="BEGIN" if self.read_only else "BEGIN IMMEDIATE")

    # ------------------------------------------------------------------------------ runs
    def start(self, *, dataset: str, model: str, forget: str, split_fingerprint: str, seed: int, method: str,
              params: dict, config: dict, config_hash: str, version: str) -> str:
        """Insert a ``running`` run owned by this process; returns its id. See ``claim_run`` for a
        run that must not be done twice."""
        with self._connect() as conn:
            run_id = _claims.insert_run(conn, dataset=dataset, model=model, forget=forget,
                                        split_fingerprint=split_fingerprint, seed=seed, method=method, params=params,
                                        config=config, config_hash=config_hash, version=version)
        _claims.heartbeat_for(self.path)  # after the commit: see claims._beat_loop
        return run_id

    def claim_run(self, *, config_hash: str, **row: Any) -> Claim:
        """Take the run of ``config_hash`` for this process, atomically, unless it is done or held.

        In one transaction: the claims of gone owners of this config are reaped; then, when a run of
        the config is ``done`` the result is ``Claim("done")``; when a live owner holds one it is
        ``Claim("busy", owner=...)``; else a ``running`` row is inserted with this process's claim
        and the result is ``Claim("claimed", run_id=...)``.

        Args:
            config_hash: the run's config hash.
            **row: the other arguments of ``start``.
        """
        with self._connect() as conn:
            claim = _claims.take_run(conn, self.stale_s, config_hash, row)
        if claim.status == "claimed":
            _claims.heartbeat_for(self.path)
        return claim

    def finish(self, run_id: str, *, metrics: dict, runtime_s: float, unlearned_key: str | None) -> None:
        """Record a run's result and release its claim, in one transaction."""
        with self._connect() as conn:
            _claims.check_held(conn, run_id, self.path)
            cur = conn.execute(
                "UPDATE runs SET status='done', finished_at=?, metrics=?, runtime_s=?, unlearned_key=? WHERE id=?",
                (time.time(), dumps(metrics), runtime_s, unlearned_key, run_id),
            )
            _one_row(cur, run_id, self.path)
            conn.execute("DELETE FROM claims WHERE key=?", (f"run:{run_id}",))

    def fail(self, run_id: str, error: str) -> None:
        """Record a run's failure and release its claim, in one transaction."""
        with self._connect() as conn:
            _claims.check_held(conn, run_id, self.path)
            cur = conn.execute("UPDATE runs SET status='failed', finished_at=?, error=? WHERE id=?",
                               (time.time(), error, run_id))
            _one_row(cur, run_id, self.path)
            conn.execute("DELETE FROM claims WHERE key=?", (f"run:{run_id}",))

    def delete(self, run_id: str) -> None:
        """Remove a run and its claim."""
        with self._connect() as conn:
            conn.execute("DELETE FROM runs WHERE id=?", (run_id,))
            conn.execute("DELETE FROM claims WHERE key=?", (f"run:{run_id}",))

    # ---------------------------------------------------------------------------- claims
    def claim_model(self, key: str) -> Claim:
        """Take the training of the model-store entry ``key`` for this process (see ``claim_run``);
        ``Claim("busy", owner=...)`` when a live owner trains it. Release it with ``release_model``."""
        with self._connect() as conn:
            claim, written = _claims.take_model(conn, self.stale_s, key)
        if written:
            _claims.heartbeat_for(self.path)
        return claim

    def release_model(self, key: str) -> None:
        """Drop this process's claim on training the model ``key`` (nothing if it holds none)."""
        with self._connect() as conn:
            conn.execute("DELETE FROM claims WHERE key=? AND token=?", (f"model:{key}", owner()[2]))

    def claims(self) -> list[dict[str, Any]]:
        """Every claim held: key, kind, config_hash, run_id, host, pid, token, claimed_at, heartbeat."""
        with self._connect() as conn:
            return [dict(r) for r in conn.execute("SELECT * FROM claims ORDER BY claimed_at").fetchall()]

    def beat(self) -> int:
        """Refresh the heartbeat of every claim of this process; returns how many it holds."""
        with self._connect() as conn:
            return conn.execute("UPDATE claims SET heartbeat=? WHERE token=?", (time.time(), owner()[2])).rowcount

    def reap(self) -> list[str]:
        """Mark the ``running`` runs of gone owners ``failed`` (error ``interrupted``), drop every claim of
        a gone owner, and return the ids of the runs marked. A ``running`` row without any claim (left
        by a version of unlearnkit without claims) counts as interrupted too."""
        with self._connect() as conn:
            return _claims.reap(conn, self.stale_s)

    # ---------------------------------------------------------------------------- reading
    def done_hashes(self) -> set[str]:
        """The config hashes of every finished run."""
        with self._connect() as conn:
            return _queries.done_hashes(conn)

    def get(self, run_id: str) -> dict[str, Any]:
        """The run ``run_id`` (its JSON columns parsed); ``StoreError`` when there is none."""
        with self._connect() as conn:
            return _queries.get_run(conn, run_id, self.path)

    def list(self, *, status: str | None = None, method: str | None = None, dataset: str | None = None) -> list[dict]:
        """The runs, oldest first, of the given status, method and dataset (``None``: any)."""
        with self._connect() as conn:
            return _queries.list_runs(conn, status=status, method=method, dataset=dataset)

    def find_done(self, config_hash: str) -> dict | None:
        """The first finished run of ``config_hash``, or ``None``."""
        with self._connect() as conn:
            return _queries.find_done(conn, config_hash)

    def export_csv(self, rows: Iterable[dict] | None = None) -> str:
        """The runs (default: all) as CSV text; see ``runs_csv``."""
        return runs_csv(self.list() if rows is None else rows)


def _one_row(cur: sqlite3.Cursor, run_id: str, path: Path) -> None:
    if cur.rowcount != 1:
        raise StoreError(f"No run {run_id!r} in the run store {path}; its result was not recorded.")
