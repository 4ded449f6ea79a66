"""``RunStore``: one SQLite row per unlearning run, written in transactions, and the claims that
say which live process owns a running run.

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

import csv
import io
import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from unlearnkit.errors import StoreError
from unlearnkit.fileio import pid_alive
from unlearnkit.runs.schema_check import check_schema

#: Seconds between two heartbeats of a process that holds claims.
HEARTBEAT_S = 15.0
#: A claim whose heartbeat is older than this many seconds is stale: its owner is taken to be gone.
STALE_S = 300.0

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
_TABLES = (("runs", COLUMNS), ("claims", CLAIM_COLUMNS))


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
        if not create:
            if not self.path.is_file():
                raise StoreError(f"There is no run store at {self.path} (nothing has been recorded there yet; "
                                 f"'unlearnkit unlearn' and 'unlearnkit bench' record runs).")
            try:
                conn = sqlite3.connect(self._read_only_uri(), uri=True, timeout=30)
                try:
                    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                    if "runs" in tables:
                        check_schema(conn, self.path, _TABLES)
                finally:
                    conn.close()
            except sqlite3.DatabaseError as exc:
                raise _store_error(self.path, exc) from None
            if "runs" not in tables:
                raise StoreError(f"Run store {self.path} has no 'runs' table; it is not an unlearnkit run store.")
            return
        if self.path.exists() and not self.path.is_file():
            raise StoreError(f"Run store {self.path} is not a file (it is a directory); move it away or choose "
                             f"another --home.")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"Cannot create the folder of the run store {self.path}: {exc.strerror or exc}.") from None
        try:
            conn = sqlite3.connect(self.path, timeout=30)
            try:
                conn.executescript(SCHEMA)
                check_schema(conn, self.path, _TABLES)
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            raise _store_error(self.path, exc) from None

    def _read_only_uri(self) -> str:
        return self.path.resolve().as_uri() + "?mode=ro"

    def _connect(self) -> sqlite3.Connection:
        """One transaction: ``BEGIN IMMEDIATE`` (a writer's), or a plain ``BEGIN`` on a store opened
        with ``create=False``, which never writes (so a read-only file can be read)."""
        try:
            if self.read_only:
                conn = sqlite3.connect(self._read_only_uri(), uri=True, timeout=30, isolation_level=None)
            else:
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.DatabaseError as exc:
            raise _store_error(self.path, exc) from None
        conn.row_factory = sqlite3.Row
        return _Tx(conn, self.path, begin="BEGIN" if self.read_only else "BEGIN IMMEDIATE")

    # ------------------------------------------------------------------------------ runs
    def start(self, *, dataset: str, model: str, forget: str, split_fingerprint: str, seed: int, method: str,
              params: dict, config: dict, config_hash: str, version: str) -> str:
        """Insert a ``running`` run owned by this process; returns its id. See ``claim_run`` for a
        run that must not be done twice."""
        with self._connect() as conn:
            run_id = self._insert(conn, dataset=dataset, model=model, forget=forget,
                                  split_fingerprint=split_fingerprint, seed=seed, method=method, params=params,
                                  config=config, config_hash=config_hash, version=version)
        _heartbeat_for(self.path)  # after the commit: see _beat_loop
        return run_id

    def claim_run(self, *, config_hash: str, **row: Any) -> "Claim":
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
            reaped = self._reap(conn, config_hash=config_hash)
            if conn.execute("SELECT 1 FROM runs WHERE config_hash=? AND status='done' LIMIT 1",
                            (config_hash,)).fetchone():
                return Claim("done", reaped=reaped)
            holder = conn.execute("SELECT host, pid FROM claims WHERE kind='run' AND config_hash=? LIMIT 1",
                                  (config_hash,)).fetchone()
            if holder is not None:
                return Claim("busy", owner=f"{holder['host']}:{holder['pid']}", reaped=reaped)
            run_id = self._insert(conn, config_hash=config_hash, **row)
        _heartbeat_for(self.path)
        return Claim("claimed", run_id=run_id, reaped=reaped)

    def _insert(self, conn: sqlite3.Connection, *, dataset: str, model: str, forget: str, split_fingerprint: str,
                seed: int, method: str, params: dict, config: dict, config_hash: str, version: str) -> str:
        run_id = uuid.uuid4().hex[:12]
        now = time.time()
        conn.execute(
            "INSERT INTO runs (id, created_at, status, dataset, model, forget, split_fingerprint, seed, method, "
            "params, config, config_hash, version) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, now, dataset, model, forget, split_fingerprint, seed, method,
             _dumps(params), _dumps(config), config_hash, version),
        )
        host, pid, token = owner()
        conn.execute("INSERT INTO claims (key, kind, config_hash, run_id, host, pid, token, claimed_at, heartbeat) "
                     "VALUES (?, 'run', ?, ?, ?, ?, ?, ?, ?)", (f"run:{run_id}", config_hash, run_id, host, pid,
                                                               token, now, now))
        return run_id

    def finish(self, run_id: str, *, metrics: dict, runtime_s: float, unlearned_key: str | None) -> None:
        """Record a run's result and release its claim, in one transaction."""
        with self._connect() as conn:
            self._check_held(conn, run_id)
            cur = conn.execute(
                "UPDATE runs SET status='done', finished_at=?, metrics=?, runtime_s=?, unlearned_key=? WHERE id=?",
                (time.time(), _dumps(metrics), runtime_s, unlearned_key, run_id),
            )
            _one_row(cur, run_id, self.path)
            conn.execute("DELETE FROM claims WHERE key=?", (f"run:{run_id}",))

    def fail(self, run_id: str, error: str) -> None:
        """Record a run's failure and release its claim, in one transaction."""
        with self._connect() as conn:
            self._check_held(conn, run_id)
            cur = conn.execute("UPDATE runs SET status='failed', finished_at=?, error=? WHERE id=?",
                               (time.time(), error, run_id))
            _one_row(cur, run_id, self.path)
            conn.execute("DELETE FROM claims WHERE key=?", (f"run:{run_id}",))

    def _check_held(self, conn: sqlite3.Connection, run_id: str) -> None:
        """A ``running`` run whose claim was reaped (its owner was taken for gone) is not ours any more."""
        row = conn.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None or row["status"] != "failed":
            return
        claim = conn.execute("SELECT token FROM claims WHERE key=?", (f"run:{run_id}",)).fetchone()
        if claim is None:
            raise StoreError(f"Run {run_id} in {self.path} was taken for interrupted (its heartbeat went stale) and "
                             f"is redone elsewhere; its result was not recorded.")

    # ---------------------------------------------------------------------------- claims
    def claim_model(self, key: str) -> "Claim":
        """Take the training of the model-store entry ``key`` for this process (see ``claim_run``);
        ``Claim("busy", owner=...)`` when a live owner trains it. Release it with ``release_model``."""
        ckey = f"model:{key}"
        with self._connect() as conn:
            reaped = self._reap(conn, key=ckey)
            holder = conn.execute("SELECT host, pid, token FROM claims WHERE key=?", (ckey,)).fetchone()
            if holder is not None:
                if holder["token"] == owner()[2]:
                    return Claim("claimed", reaped=reaped)
                return Claim("busy", owner=f"{holder['host']}:{holder['pid']}", reaped=reaped)
            host, pid, token = owner()
            now = time.time()
            conn.execute("INSERT INTO claims (key, kind, host, pid, token, claimed_at, heartbeat) "
                         "VALUES (?, 'model', ?, ?, ?, ?, ?)", (ckey, host, pid, token, now, now))
        _heartbeat_for(self.path)
        return Claim("claimed", reaped=reaped)

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
            return self._reap(conn)

    def _reap(self, conn: sqlite3.Connection, *, config_hash: str | None = None, key: str | None = None) -> list[str]:
        """Reap gone owners: every claim, or those of one run config, or the one claim ``key``."""
        now = time.time()
        where, args = "", ()
        if config_hash is not None:
            where, args = " WHERE kind='run' AND config_hash=?", (config_hash,)
        elif key is not None:
            where, args = " WHERE key=?", (key,)
        gone = [r for r in conn.execute(f"SELECT key, run_id, host, pid, heartbeat FROM claims{where}", args).fetchall()
                if owner_gone(r["host"], r["pid"], r["heartbeat"], now, self.stale_s)]
        reaped: list[str] = []
        for r in gone:
            conn.execute("DELETE FROM claims WHERE key=?", (r["key"],))
            if r["run_id"] is not None:
                cur = conn.execute("UPDATE runs SET status='failed', finished_at=?, error=? "
                                   "WHERE id=? AND status='running'",
                                   (now, f"interrupted (owner {r['host']}:{r['pid']} gone)", r["run_id"]))
                if cur.rowcount:
                    reaped.append(r["run_id"])
        if key is not None:
            return reaped
        orphan_sql = ("SELECT id FROM runs WHERE status='running' "
                      "AND id NOT IN (SELECT run_id FROM claims WHERE run_id IS NOT NULL)")
        if config_hash is not None:
            orphan_sql += " AND config_hash=?"
        for (run_id,) in conn.execute(orphan_sql, args).fetchall():
            conn.execute("UPDATE runs SET status='failed', finished_at=?, error='interrupted' WHERE id=?", (now, run_id))
            reaped.append(run_id)
        return reaped

    # ---------------------------------------------------------------------------- reading
    def done_hashes(self) -> set[str]:
        """The config hashes of every finished run."""
        with self._connect() as conn:
            return {r[0] for r in conn.execute("SELECT config_hash FROM runs WHERE status='done'").fetchall()}

    def delete(self, run_id: str) -> None:
        with self._connect() as conn:
            conn.execute("DELETE FROM runs WHERE id=?", (run_id,))
            conn.execute("DELETE FROM claims WHERE key=?", (f"run:{run_id}",))

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
        """The runs (default: all) as CSV text; see ``runs_csv``."""
        return runs_csv(self.list() if rows is None else rows)


def runs_csv(rows: Iterable[dict]) -> str:
    """Run rows (``RunStore.list()``) as CSV text that ``pandas.read_csv`` reads as is.

    One column per scalar field of a run; ``params`` and ``config`` as JSON objects; then one
    column per metric recorded by any of the runs (its name, e.g. ``ua``; ``metric.<name>`` if a
    field has that name), holding the unlearned model's value, empty where a run has none.
    """
    rows = list(rows)
    per_row = [metric_values(r.get("metrics")) for r in rows]
    names: list[str] = []
    for values in per_row:
        names += [m for m in values if m not in names]
    base = [c for c in COLUMNS if c != "metrics"]
    headers = [f"metric.{m}" if m in base else m for m in names]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(base + headers)
    for r, values in zip(rows, per_row):
        cells = [json.dumps(r[c], sort_keys=True) if c in JSON_COLUMNS else r[c] for c in base]
        writer.writerow(cells + [_csv_number(values.get(m)) for m in names])
    return out.getvalue()


def metric_values(metrics: Any) -> dict[str, float]:
    """The unlearned model's metric values of a recorded run: ``metrics["rows"]["unlearned"]`` of a
    ``Report.to_dict()``, or the scalar entries of a flat ``{name: value}`` dict; ``{}`` for none.

    Example:
        >>> metric_values({"metrics": ["ua"], "rows": {"unlearned": {"ua": 1.5}, "golden": {"ua": 2.0}}})
        {'ua': 1.5}
        >>> metric_values({"ua": 1.0, "note": "x"}), metric_values(None)
        ({'ua': 1.0}, {})
    """
    if not isinstance(metrics, dict):
        return {}
    rows, order = metrics.get("rows"), metrics.get("metrics")
    if isinstance(rows, dict) and isinstance(rows.get("unlearned"), dict):
        values = rows["unlearned"]
        # the report's metric order (the store keeps JSON keys sorted)
        names = [m for m in (order if isinstance(order, list) else []) if m in values]
        metrics = {m: values[m] for m in names + [m for m in values if m not in names]}
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _csv_number(value: Any) -> Any:
    return "" if value is None else value


@dataclass(frozen=True)
class Claim:
    """What ``RunStore.claim_run`` / ``claim_model`` got.

    Attributes:
        status: ``claimed`` (this process owns it now), ``done`` (a finished run of the config
            exists) or ``busy`` (a live owner holds it).
        run_id: the new run's id when a run was claimed.
        owner: ``host:pid`` of the live owner when busy.
        reaped: ids of runs of gone owners marked interrupted on the way.
    """

    status: str
    run_id: str | None = None
    owner: str | None = None
    reaped: list[str] | tuple[str, ...] = ()


# ------------------------------------------------------------------------------ owners
_OWNER: tuple[int, tuple[str, int, str]] | None = None


def owner() -> tuple[str, int, str]:
    """(host, pid, token) of this process; the token is new in every process (also after a fork)."""
    global _OWNER
    pid = os.getpid()
    if _OWNER is None or _OWNER[0] != pid:
        _OWNER = (pid, (socket.gethostname(), pid, f"{pid}-{uuid.uuid4().hex}"))
    return _OWNER[1]


def owner_gone(host: str, pid: int, heartbeat: float, now: float | None = None, stale_s: float = STALE_S) -> bool:
    """Whether the owner of a claim is gone: its heartbeat is older than ``stale_s`` seconds, or it ran on
    this host and its process no longer exists."""
    now = time.time() if now is None else now
    if now - float(heartbeat) > stale_s:
        return True
    return host == socket.gethostname() and not pid_alive(int(pid))


_BEATING: dict[tuple[str, int], threading.Thread] = {}
_BEAT_LOCK = threading.Lock()


def _heartbeat_for(path: Path) -> None:
    """Start (once per process and store) the daemon thread that refreshes this process's claims."""
    key = (str(Path(path).resolve()), os.getpid())
    with _BEAT_LOCK:
        if key in _BEATING and _BEATING[key].is_alive():
            return
        thread = threading.Thread(target=_beat_loop, args=(Path(path),), name="unlearnkit-heartbeat", daemon=True)
        _BEATING[key] = thread
        thread.start()


def _beat_loop(path: Path) -> None:
    """Refresh this process's claims every ``HEARTBEAT_S`` seconds; end when it holds none (a later
    claim starts a new thread) or the store is gone."""
    token = owner()[2]
    key = (str(path.resolve()), os.getpid())

    def beat() -> int:
        if not path.is_file():
            return 0
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        try:
            return conn.execute("UPDATE claims SET heartbeat=? WHERE token=?", (time.time(), token)).rowcount
        finally:
            conn.close()

    while True:
        time.sleep(HEARTBEAT_S)
        try:
            if beat():
                continue
            with _BEAT_LOCK:  # a claim taken meanwhile sees this thread alive: check again under the lock
                if beat():
                    continue
                if _BEATING.get(key) is threading.current_thread():
                    del _BEATING[key]
                return
        except sqlite3.Error:  # a busy store: try again at the next beat
            continue


class _Tx:
    """``with`` block = one transaction (``begin`` ... COMMIT, ROLLBACK on error), then close.

    SQLite errors that mean "cannot write here" or "not a database" become ``StoreError``."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None = None, begin: str = "BEGIN IMMEDIATE"):
        self.conn = conn
        self.path = path
        self.begin = begin

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.conn.execute(self.begin)
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise _store_error(self.path, exc) from None
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.conn.close()
        if exc_type is not None and issubclass(exc_type, sqlite3.OperationalError):  # one line, not a traceback
            raise _store_error(self.path, exc) from None


def _kind(exc: sqlite3.Error) -> str:
    """``readonly``, ``notadb`` or ``other``, from the SQLite error code (or its message)."""
    name = str(getattr(exc, "sqlite_errorname", "") or "")
    text = str(exc).lower()
    if name.startswith(("SQLITE_READONLY", "SQLITE_PERM", "SQLITE_CANTOPEN", "SQLITE_AUTH")) or "readonly" in text \
            or "read-only" in text or "unable to open" in text:
        return "readonly"
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")) or "not a database" in text or "malformed" in text:
        return "notadb"
    return "other"


def _store_error(path: Path | None, exc: sqlite3.Error) -> StoreError:
    kind = _kind(exc)
    if kind == "readonly":
        return StoreError(f"Run store {path} cannot be written: it or its folder is read-only ({exc}); "
                          f"make it writable or choose another --home.")
    if kind == "notadb":
        return StoreError(f"Run store {path} is not a valid SQLite database ({exc}).")
    return StoreError(f"Run store {path} cannot be used ({exc}).")


def _one_row(cur: sqlite3.Cursor, run_id: str, path: Path) -> None:
    if cur.rowcount != 1:
        raise StoreError(f"No run {run_id!r} in the run store {path}; its result was not recorded.")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


def _decode(row: sqlite3.Row) -> dict[str, Any]:
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

