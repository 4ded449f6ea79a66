"""Reading the run store: the queries behind ``RunStore.get`` / ``list`` / ``find_done`` /
``done_hashes``, and the runs as CSV text (``runs_csv``) with one column per metric
(``metric_values``).
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path
from typing import Any, Iterable

from unlearnkit.errors import StoreError
from unlearnkit.runs.schema import COLUMNS, JSON_COLUMNS, decode


def done_hashes(conn: sqlite3.Connection) -> set[str]:
    """The config hashes of every finished run."""
    return {r[0] for r in conn.execute("SELECT config_hash FROM runs WHERE status='done'").fetchall()}


def get_run(conn: sqlite3.Connection, run_id: str, path: Path) -> dict[str, Any]:
    """The run ``run_id``, decoded.

    Raises:
        StoreError: there is no such run in the store at ``path``.
    """
    row = conn.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
    if row is None:
        raise StoreError(f"No run {run_id!r} in the run store {path} (list them with 'unlearnkit runs').")
    return decode(row)


def list_runs(conn: sqlite3.Connection, *, status: str | None = None, method: str | None = None,
              dataset: str | None = None) -> list[dict]:
    """The runs, oldest first, of the given status, method and dataset (``None``: any)."""
    where, args = [], []
    for column, value in (("status", status), ("method", method), ("dataset", dataset)):
        if value is not None:
            where.append(f"{column}=?")
            args.append(value)
    sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY created_at"
    return [decode(r) for r in conn.execute(sql, args).fetchall()]


def find_done(conn: sqlite3.Connection, config_hash: str) -> dict | None:
    """The first finished run of ``config_hash``, or ``None``."""
    row = conn.execute("SELECT * FROM runs WHERE config_hash=? AND status='done' ORDER BY created_at LIMIT 1",
                       (config_hash,)).fetchone()
    return decode(row) if row else None


def runs_csv(rows: Iterable[dict]) -> str:
    """Run rows (``RunStore.list()``) as CSV text that ``pandas.read_csv`` reads as is.

    One column per scalar field of a run; ``params`` and ``config`` as JSON objects; then one
    column per metric recorded by any of the runs (its name, e.g. ``ua``; ``metric.<name>`` if a
    field has that name), holding the unlearned model's value, empty where a run has none.

    Example:
        >>> runs_csv([]).startswith("id,created_at,finished_at,status")
        True
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
