"""The metrics view: recorded headline metrics side by side, golden-free metrics with intervals, marks,
and for ``forget`` outputs the verdict of each request."""

from __future__ import annotations

from typing import Any

from unlearnkit.compare.sources import Collection
from unlearnkit.metrics import evaluate
from unlearnkit.metrics.cards import cards as metric_cards
from unlearnkit.report.aggregate import aggregate_runs

#: The golden-free metrics computed for every model on the page (METRICS.md).
GOLDEN_FREE = ("heldout_auc", "heldout_acc_gap")


def _recorded_golden_free(col: Collection, names: list[str]) -> dict[str, dict[str, list[float]]]:
    """The golden-free values (with intervals) the runs recorded: model label -> metric -> [value, low, high]."""
    found: dict[str, dict[str, list[float]]] = {}
    rows = {"original": col.reference.label, "golden": "golden"}
    for m in col.subjects if col.kind == "runs" else []:
        rep = m.info.get("metrics") or {}
        for row, label in [("unlearned", m.label), *rows.items()]:
            values, iv = (rep.get("rows") or {}).get(row) or {}, (rep.get("intervals") or {}).get(row) or {}
            for n in names:
                if n in values and n in iv and n not in found.get(label, {}):
                    found.setdefault(label, {})[n] = [values[n], *iv[n]]
    return found


def golden_free(col: Collection) -> dict[str, Any]:
    """``heldout_auc`` and ``heldout_acc_gap`` (and ``heldout_class_acc`` in class scenarios) of every
    model, each with its seeded bootstrap 95% interval: as the runs recorded them, else computed by
    ``evaluate`` (the same definitions, on all of D_f and V_f).

    Returns:
        ``{"metrics": [...], "values": {model: {metric: [value, low, high] | None}},
        "absent": {metric: reason}, "cards": {metric: card}, "computed": [models evaluated here]}``.
    """
    names = list(GOLDEN_FREE) + (["heldout_class_acc"] if col.split.kind in ("class", "subclass") else [])
    values = _recorded_golden_free(col, names)
    absent: dict[str, str] = {}
    computed = []
    for m in col.models:
        missing = [n for n in names if n not in values.get(m.label, {})]
        if not missing:
            continue
        report = evaluate(m.model, col.split, metrics=missing, seed=col.seed)
        row, iv = report.rows.get("unlearned", {}), report.intervals.get("unlearned", {})
        got = values.setdefault(m.label, {})
        for n in missing:
            got[n] = [row[n], *iv.get(n, (row[n], row[n]))] if n in row else None
        computed.append(m.label)
        absent.update({n: r for n, r in report.absent.items() if n not in absent})
    cards = {n: c.to_dict() for n, c in metric_cards(names).items()}
    return {"metrics": names, "values": {m.label: {n: values[m.label].get(n) for n in names} for m in col.models},
            "absent": absent, "cards": cards, "computed": computed}


def _recorded(col: Collection) -> list[tuple[str, dict[str, Any]]]:
    """(subject label, recorded report dict) of every subject that has one."""
    if col.kind == "runs":
        return [(m.label, m.info.get("metrics") or {}) for m in col.subjects if m.info.get("metrics")]
    return [(label, rec["headline"]) for label, rec in col.records.items() if rec.get("headline")]


def headline(col: Collection) -> dict[str, Any] | None:
    """The recorded headline metrics of the reference, golden and each subject model, side by side with
    each subject's |gap| to golden; ``None`` when no subject has recorded metrics (a ``forget`` output
    made without ``--retrain``)."""
    recorded = _recorded(col)
    if not recorded:
        return None
    first = recorded[0][1]
    metrics = [n for n in first.get("metrics", []) if n in first.get("rows", {}).get("unlearned", {})]
    columns = {col.reference.label: first["rows"].get("original", {}), "golden": first["rows"].get("golden", {})}
    gaps = {}
    for label, rep in recorded:
        columns[label] = rep["rows"].get("unlearned", {})
        gaps[label] = rep.get("gaps", {})
    table = {c: {n: vals.get(n) for n in metrics} for c, vals in columns.items() if vals}
    cards = {n: first.get("cards", {}).get(n) for n in metrics}
    return {"metrics": metrics, "values": table, "gaps": gaps, "cards": cards}


def marks(col: Collection) -> dict[str, list[str]]:
    """The report's marks on each run ("did nothing", "overshoots ua", "mia attack collapsed"...)."""
    out: dict[str, list[str]] = {}
    for m in col.subjects:
        row = m.info.get("row")
        if row is None:
            continue
        scenarios = aggregate_runs([row])
        out[m.label] = list(scenarios[0].variants[0].marks) if scenarios and scenarios[0].variants else []
    return out


def verdicts(col: Collection) -> dict[str, Any]:
    """For ``forget`` outputs: each request's verdict, its sentence, warnings, margins and the statistics
    it rests on (each with its interval and margin), from the evidence record."""
    out = {}
    for label, rec in col.records.items():
        ev = rec.get("evidence") or {}
        entry = {k: ev.get(k) for k in ("verdict", "verdict_title", "verdict_text", "warnings", "change", "sizes",
                                        "margins", "basis")}
        detail = ev.get("detail") if isinstance(ev.get("detail"), dict) else {}
        entry["questions"] = [
            {"name": (detail.get(q) or {}).get("name", q), "status": (detail.get(q) or {}).get("status"),
             "stats": [{k: s.get(k) for k in ("name", "value", "low", "high", "unit", "margin", "side")}
                       for s in (detail.get(q) or {}).get("stats", []) if isinstance(s, dict)]}
            for q in ("forget", "kept") if isinstance(detail.get(q), dict)]
        out[label] = entry
    return out


def metrics_view(col: Collection) -> dict[str, Any]:
    """Everything the metrics view shows."""
    return {"headline": headline(col), "golden_free": golden_free(col), "marks": marks(col),
            "verdicts": verdicts(col)}


__all__ = ["GOLDEN_FREE", "golden_free", "headline", "marks", "metrics_view", "verdicts"]
