"""Claims: which live process owns a ``running`` run, or the training of a model, in the run store.

Every ``running`` row has a claim naming its owner (host, pid, a per-process token) and a heartbeat
that a daemon thread of the owner refreshes every ``HEARTBEAT_S`` seconds. An owner is *gone* when
its heartbeat is older than ``STALE_S`` seconds, or when it ran on this host and its process no
longer exists. The functions here work inside one transaction of ``RunStore`` (``runs/store.py``):
``take_run`` takes a run for a benchmark (refusing a config that is done or held by a live owner,
after reaping the claims of gone owners), ``take_model`` the training of one model, ``reap`` marks
the runs of gone owners ``failed`` (error ``interrupted``), and ``check_held`` refuses to record the
result of a run whose claim was reaped meanwhile.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unlearnkit.errors import StoreError
from unlearnkit.fileio import pid_alive
from unlearnkit.runs.schema import dumps

#: Seconds between two heartbeats of a process that holds claims.
HEARTBEAT_S = 15.0
#: A claim whose heartbeat is older than this many seconds is stale: its owner is taken to be gone.
STALE_S = 300.0


@dataclass(frozen=True)
class Claim:
    """What ``RunStore.claim_run`` / ``claim_model`` got.

    Attributes:
        status: ``claimed`` (this process owns it now), ``done`` (a finished run of the config
            exists) or ``busy`` (a live owner holds it).
        run_id: the new run's id when a run was claimed.
        owner: ``host:pid`` of the live owner when busy.
        reaped: ids of runs of gone owners marked interrupted on the way.

    Example:
        >>> Claim("busy", owner="host:42").status
        'busy'
    """

    status: str
    run_id: str | None = None
    owner: str | None = None
    reaped: list[str] | tuple[str, ...] = ()


# ------------------------------------------------------------------------------ owners
_OWNER: tuple[int, tuple[str, int, str]] | None = None


def owner() -> tuple[str, int, str]:
    """(host, pid, token) of this process; the token is new in every process (also after a fork).

    Example:
        >>> owner()[1] == os.getpid()
        True
    """
    global _OWNER
    pid = os.getpid()
    if _OWNER is None or _OWNER[0] != pid:
        _OWNER = (pid, (socket.gethostname(), pid, f"{pid}-{uuid.uuid4().hex}"))
    return _OWNER[1]


def owner_gone(host: str, pid: int, heartbeat: float, now: float | None = None, stale_s: float = STALE_S) -> bool:
    """Whether the owner of a claim is gone: its heartbeat is older than ``stale_s`` seconds, or it ran on
    this host and its process no longer exists.

    Example:
        >>> owner_gone("elsewhere", 1, heartbeat=0.0, now=1000.0)
        True
    """
    now = time.time() if now is None else now
    if now - float(heartbeat) > stale_s:
        return True
    return host == socket.gethostname() and not pid_alive(int(pid))


# ------------------------------------------------------------------- inside a transaction
def insert_run(conn: sqlite3.Connection, *, dataset: str, model: str, forget: str, split_fingerprint: str,
               seed: int, method: str, params: dict, config: dict, config_hash: str, version: str) -> str:
    """Insert a ``running`` run and this process's claim on it; returns the run's id."""
    run_id = uuid.uuid4().hex[:12]
    now = time.time()
    conn.execute(
        "INSERT INTO runs (id, created_at, status, dataset, model, forget, split_fingerprint, seed, method, "
        "params, config, config_hash, version) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (run_id, now, dataset, model, forget, split_fingerprint, seed, method,
         dumps(params), dumps(config), config_hash, version),
    )
    host, pid, token = owner()
    conn.execute("INSERT INTO claims (key, kind, config_hash, run_id, host, pid, token, claimed_at, heartbeat) "
                 "VALUES (?, 'run', ?, ?, ?, ?, ?, ?, ?)", (f"run:{run_id}", config_hash, run_id, host, pid,
                                                           token, now, now))
    return run_id


def take_run(conn: sqlite3.Connection, stale_s: float, config_hash: str, row: dict[str, Any]) -> Claim:
    """``RunStore.claim_run``'s transaction: reap the gone owners of ``config_hash``; then ``done``,
    ``busy``, or a new ``running`` row (``row``: the other arguments of ``insert_run``) claimed."""
    reaped = reap(conn, stale_s, config_hash=config_hash)
    if conn.execute("SELECT 1 FROM runs WHERE config_hash=? AND status='done' LIMIT 1",
                    (config_hash,)).fetchone():
        return Claim("done", reaped=reaped)
    holder = conn.execute("SELECT host, pid FROM claims WHERE kind='run' AND config_hash=? LIMIT 1",
                          (config_hash,)).fetchone()
    if holder is not None:
        return Claim("busy", owner=f"{holder['host']}:{holder['pid']}", reaped=reaped)
    run_id = insert_run(conn, config_hash=config_hash, **row)
    return Claim("claimed", run_id=run_id, reaped=reaped)


def take_model(conn: sqlite3.Connection, stale_s: float, key: str) -> tuple[Claim, bool]:
    """``RunStore.claim_model``'s transaction on the claim ``model:<key>``; returns the claim and
    whether a new claim row was written (not when this process held it already)."""
    ckey = f"model:{key}"
    reaped = reap(conn, stale_s, key=ckey)
    holder = conn.execute("SELECT host, pid, token FROM claims WHERE key=?", (ckey,)).fetchone()
    if holder is not None:
        if holder["token"] == owner()[2]:
            return Claim("claimed", reaped=reaped), False
        return Claim("busy", owner=f"{holder['host']}:{holder['pid']}", reaped=reaped), False
    host, pid, token = owner()
    now = time.time()
    conn.execute("INSERT INTO claims (key, kind, host, pid, token, claimed_at, heartbeat) "
                 "VALUES (?, 'model', ?, ?, ?, ?, ?)", (ckey, host, pid, token, now, now))
    return Claim("claimed", reaped=reaped), True


def check_held(conn: sqlite3.Connection, run_id: str, path: Path) -> None:
    """A ``running`` run whose claim was reaped (its owner was taken for gone) is not ours any more."""
    row = conn.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()
    if row is None or row["status"] != "failed":
        return
    claim = conn.execute("SELECT token FROM claims WHERE key=?", (f"run:{run_id}",)).fetchone()
    if claim is None:
        raise StoreError(f"Run {run_id} in {path} was taken for interrupted (its heartbeat went stale) and "
                         f"is redone elsewhere; its result was not recorded.")


def reap(conn: sqlite3.Connection, stale_s: float, *, config_hash: str | None = None,
         key: str | None = None) -> list[str]:
    """Reap gone owners: every claim, or those of one run config, or the one claim ``key``; returns
    the ids of the runs marked ``failed``. Without ``key``, a ``running`` row without any claim
    counts as interrupted too."""
    now = time.time()
    where, args = "", ()
    if config_hash is not None:
        where, args = " WHERE kind='run' AND config_hash=?", (config_hash,)
    elif key is not None:
        where, args = " WHERE key=?", (key,)
    gone = [r for r in conn.execute(f"SELECT key, run_id, host, pid, heartbeat FROM claims{where}", args).fetchall()
            if owner_gone(r["host"], r["pid"], r["heartbeat"], now, stale_s)]
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


# ------------------------------------------------------------------------------ heartbeat
_BEATING: dict[tuple[str, int], threading.Thread] = {}
_BEAT_LOCK = threading.Lock()


def heartbeat_for(path: Path) -> None:
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
