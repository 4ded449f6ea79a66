"""The evidence report of a deletion request as Markdown and as one self-contained HTML page.

Both are rendered from the request's record (``ForgetResult.record``, the content of
``evidence.json``); nothing is computed here.
"""

from __future__ import annotations

import html
import math
from typing import Any

from unlearnkit.deletion.evidence import CLASS_ACC_LIMIT, UTILITY_DROP_PP
from unlearnkit.metrics import METRICS

ROWS = (("heldout_auc", "", "0.5"), ("heldout_acc_gap", " pp", "0"), ("heldout_class_acc", "%", "≈ 0 for a whole class"))
ACC_ROWS = (("deleted", "deleted records (D_f)"), ("retained", "retained records (D_r)"),
            ("heldout", "held-out records of the kept classes"),
            ("heldout_forget", "held-out records of the deleted records' classes (V_f)"))
COLOURS = {"forgotten": "#1b7f3b", "not_forgotten": "#b42318", "over_forgotten": "#b54708",
           "unseen_before": "#475467", "inconclusive": "#b54708", "no_evidence": "#475467"}


def _rows(ev: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The evidence rows that apply: heldout_class_acc only for whole-class requests."""
    return [row for row in ROWS if row[0] != "heldout_class_acc" or ev["shape"] == "class"]


def _num(x: float | None, digits: int) -> str:
    if x is None:
        return "—"
    return f"{x:.{digits}f}" if math.isfinite(x) else str(x)


def _est(e: dict[str, float] | None, unit: str) -> str:
    if e is None:
        return "—"
    d = 3 if unit == "" else 1
    return f"{_num(e['value'], d)}{unit} [{_num(e['low'], d)}, {_num(e['high'], d)}]"


def _request_lines(r: dict[str, Any]) -> list[tuple[str, str]]:
    req, method, data, model = r["request"], r["method"], r["data"], r["model"]
    what = f"{req['n_deleted']} record(s)"
    if req["shape"] == "class":
        what += f": every training record of class {', '.join(req['classes'])}"
    else:
        what += ", scattered"
    lines = [("Request", f"{req['request_id']}, {req['time']}"), ("Deleted", what),
             ("IDs (SHA-256 of the sorted IDs)", req["ids_sha256"])]
    if req.get("already_deleted"):
        n = len(req["already_deleted"])
        by = sorted(set(req["already_deleted"].values()))
        lines.append(("Already deleted", f"{n} ID(s) of the request were deleted by request(s) "
                      f"{', '.join(map(str, by))} and were skipped"))
    params = ", ".join(f"{k}={v}" for k, v in method["params"].items())
    lines.append(("Method", f"{method['name']} ({params}), {method['runtime_s']:.2f} s"))
    if method.get("choice"):
        c = method["choice"]
        lines.append(("Why this method", f"--method auto: {c['why']} (source: {c['source']})"))
    lines.append(("Records", f"{data['n_train']} training records ({data['n_deleted_before']} deleted before), "
                  f"{data['n_retained']} retained; {data['n_heldout']} held-out; {data['n_test']} test"))
    lines.append(("Held-out slice", data["heldout_note"] or "—"))
    arch = model["arch"]["target"] if model.get("arch") else model["class"]
    lines.append(("Model", f"{arch}: {model['input_shape']} → {model['num_classes']} classes"))
    lines.append(("Weights before (SHA-256)", model["before_sha256"]))
    lines.append(("Weights after (SHA-256)", model["after_sha256"]))
    led = r.get("ledger")
    if led is None:
        lines.append(("Ledger", "none (this request is not recorded in a ledger)"))
    elif led["dry_run"]:
        lines.append(("Ledger", f"{led['path']}: dry run, not recorded"))
    else:
        lines.append(("Ledger", f"{led['path']}, entry {led['seq']}, hash {led['entry_hash']}"))
    return lines


def _how_to_read() -> list[str]:
    cards = [METRICS.get(n).card for n, _, _ in ROWS]
    out = [f"{c.name}: {c.definition}." for c in cards]
    out.append(
        "Verdict: a model that never saw the deleted records treats them like the held-out records of the same "
        "classes (V_f). Scattered records count as unseen when the 95% interval of heldout_acc_gap contains 0, and as "
        "still trained on when it lies above 0; a whole class counts as unseen when the interval of "
        f"heldout_class_acc reaches down to {CLASS_ACC_LIMIT:g}%. An interval of heldout_acc_gap below 0, or of "
        "heldout_auc below 0.5, is over-forgetting. 'Forgotten' also needs the change from before to lie outside the "
        "noise (the paired bootstrap interval of Δ heldout_acc_gap excludes 0)."
    )
    out.append(f"Utility: a fall of more than {UTILITY_DROP_PP:g} points of accuracy on the held-out records of the "
               "classes that keep retained records is warned about. Accuracy on the retained (training) records may "
               "fall without harm: a model retrained without the deleted records also fits its training records less "
               "closely than one that memorised them.")
    out.append("Intervals are seeded bootstrap 95% intervals (1,000 resamples); each statistic needs at least 30 "
               "deleted and 30 held-out records. See METRICS.md, 'Golden-free evidence'.")
    return out


def render_markdown(r: dict[str, Any]) -> str:
    """The evidence report of one request as Markdown."""
    ev = r["evidence"]
    req = r["request"]
    lines = [f"# Deletion request {req['request_id']}: evidence", "",
             f"**Verdict: {ev['verdict_title']}.** {ev['verdict_text']}", ""]
    for w in ev["warnings"]:
        lines.append(f"> **Warning:** {w}")
        lines.append(">")
    if ev["warnings"]:
        lines[-1] = ""
    lines += ["| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in _request_lines(r)]
    lines += ["", "## Golden-free evidence (no retrained model needed)", "",
              "| statistic | before | after | target |", "|---|---|---|---|"]
    for name, unit, target in _rows(ev):
        m = ev["metrics"][name]
        after = _est(m["after"], unit) if m["after"] is not None else f"absent ({m['absent']})"
        lines.append(f"| {name} | {_est(m['before'], unit)} | {after} | {target} |")
    if ev.get("change"):
        lines += ["", f"Change of heldout_acc_gap, after − before (paired bootstrap): {_est(ev['change'], ' pp')}."]
    s = ev["sizes"]
    lines += ["", f"D_f: {s['deleted']} deleted records; V_f: {s['heldout_forget']} held-out records of their classes, "
              "drawn to their class proportions.", "",
              "## Accuracy before and after (%)", "", "| records | n | before | after | change |", "|---|---:|---:|---:|---:|"]
    sizes = {"deleted": s["deleted"], "retained": s["retained"], "heldout": s["heldout"],
             "heldout_forget": s["heldout_forget"]}
    for key, label in ACC_ROWS:
        a = ev["accuracy"][key]
        delta = None if a["before"] is None or a["after"] is None else a["after"] - a["before"]
        lines.append(f"| {label} | {sizes[key]} | {_num(a['before'], 2)} | {_num(a['after'], 2)} | "
                     f"{'—' if delta is None else f'{delta:+.2f}'} |")
    if r.get("headline"):
        h = r["headline"]
        g = h["golden"]
        lines += ["", "## Against a model retrained without the deleted records (--retrain)", "",
                  f"Golden model: {g['init']}, trained on the {g['n_train']} retained records in "
                  f"{g['train_time_s']:.1f} s with recipe " + ", ".join(f"{k}={v}" for k, v in g["recipe"].items()) + ".",
                  "", "| metric | unlearned | golden | before | gap to golden |", "|---|---:|---:|---:|---:|"]
        for m in h["metrics"]:
            row = [h["rows"].get(w, {}).get(m) for w in ("unlearned", "golden", "original")]
            if all(v is None for v in row):
                continue
            lines.append(f"| {m} | " + " | ".join(_num(v, 3 if m.endswith("_s") else 2) for v in row)
                         + f" | {_num(h['gaps'].get(m), 2)} |")
    lines += ["", "## How to read this", ""] + [f"- {t}" for t in _how_to_read()]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------- HTML
CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 980px;
       color: #101828; line-height: 1.45; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 1.8rem; }
.sub { color: #475467; margin-top: 0; }
.verdict { border-radius: 8px; padding: .9rem 1.1rem; color: white; margin: 1rem 0; }
.verdict b { font-size: 1.15rem; display: block; margin-bottom: .2rem; }
.warn { background: #fffaeb; border: 1px solid #fec84b; border-radius: 8px; padding: .6rem 1rem; margin: .5rem 0; }
table { border-collapse: collapse; width: 100%; margin: .6rem 0; font-size: .93rem; }
th, td { border-bottom: 1px solid #eaecf0; padding: .35rem .6rem; text-align: left; vertical-align: top; }
th { background: #f9fafb; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .85rem; word-break: break-all; }
.facts td:first-child { width: 14rem; color: #475467; }
svg text { font-family: system-ui, sans-serif; font-size: 12px; fill: #344054; }
ul.notes li { margin: .3rem 0; color: #344054; }
"""


def _e(x: Any) -> str:
    return html.escape(str(x))


def _interval_svg(ev: dict[str, Any]) -> str:
    """Before / after intervals of heldout_auc and heldout_acc_gap, each on its own axis around its target."""
    panels = []
    specs = (("heldout_auc", 0.5, 0.0, 1.0, ""), ("heldout_acc_gap", 0.0, -100.0, 100.0, " pp"))
    for name, target, lo_lim, hi_lim, unit in specs:
        m = ev["metrics"][name]
        ests = [(w, m[w]) for w in ("before", "after") if m[w] is not None]
        if not ests:
            continue
        values = [v for _, e in ests for v in (e["low"], e["high"])] + [target]
        span = max(abs(v - target) for v in values) or (0.05 if unit == "" else 5.0)
        lo, hi = max(lo_lim, target - 1.25 * span), min(hi_lim, target + 1.25 * span)
        panels.append((name, target, lo, hi, unit, ests))
    if not panels:
        return ""
    width, left, right, row_h = 900, 90, 200, 26
    height = sum(30 + row_h * len(p[5]) + 22 for p in panels)
    out = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" '
           'aria-label="95% intervals before and after unlearning">']
    y = 0
    for name, target, lo, hi, unit, ests in panels:
        def px(v: float) -> float:
            return left + (v - lo) / (hi - lo) * (width - left - right)

        out.append(f'<text x="0" y="{y + 16}" font-weight="600">{_e(name)}</text>')
        top = y + 24
        bottom = top + row_h * len(ests)
        out.append(f'<line x1="{px(target):.1f}" y1="{top - 4}" x2="{px(target):.1f}" y2="{bottom}" stroke="#98a2b3" '
                   'stroke-dasharray="4 3"/>')
        out.append(f'<text x="{px(target) + 4:.1f}" y="{top + 2}" fill="#667085">target {target:g}</text>')
        for k, (which, e) in enumerate(ests):
            cy = top + row_h * k + row_h / 2 + 4
            colour = "#98a2b3" if which == "before" else "#1849a9"
            out.append(f'<text x="{left - 10}" y="{cy + 4:.1f}" text-anchor="end">{which}</text>')
            out.append(f'<line x1="{px(e["low"]):.1f}" y1="{cy:.1f}" x2="{px(e["high"]):.1f}" y2="{cy:.1f}" '
                       f'stroke="{colour}" stroke-width="4" stroke-linecap="round"/>')
            out.append(f'<circle cx="{px(e["value"]):.1f}" cy="{cy:.1f}" r="6" fill="{colour}"/>')
            digits = 3 if unit == "" else 1
            out.append(f'<text x="{width - right + 16}" y="{cy + 4:.1f}">'
                       f'{e["value"]:.{digits}f}{unit} [{e["low"]:.{digits}f}, {e["high"]:.{digits}f}]</text>')
        axis_y = bottom + 4
        out.append(f'<line x1="{left}" y1="{axis_y}" x2="{width - right}" y2="{axis_y}" stroke="#d0d5dd"/>')
        for v in (lo, target, hi):
            out.append(f'<text x="{px(v):.1f}" y="{axis_y + 14}" text-anchor="middle" fill="#667085">'
                       f'{v:.{3 if unit == "" else 0}f}</text>')
        y = axis_y + 22
    out.append("</svg>")
    return "\n".join(out)


def render_html(r: dict[str, Any]) -> str:
    """The evidence report of one request as a self-contained HTML page (inline CSS and SVG, no scripts)."""
    ev, req = r["evidence"], r["request"]
    colour = COLOURS.get(ev["verdict"], "#475467")
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Deletion request {_e(req['request_id'])}: evidence</title>", f"<style>{CSS}</style></head><body>",
        f"<h1>Deletion request {_e(req['request_id'])}</h1>",
        f'<p class="sub">Evidence without retraining · unlearnkit {_e(r.get("package_version", ""))}</p>',
        f'<div class="verdict" style="background:{colour}"><b>Verdict: {_e(ev["verdict_title"])}</b>'
        f"{_e(ev['verdict_text'])}</div>",
    ]
    parts += [f'<div class="warn"><b>Warning:</b> {_e(w)}</div>' for w in ev["warnings"]]
    parts.append('<table class="facts">')
    for k, v in _request_lines(r):
        cls = ' class="mono"' if "SHA-256" in k or k == "Ledger" else ""
        parts.append(f"<tr><td>{_e(k)}</td><td{cls}>{_e(v)}</td></tr>")
    parts.append("</table>")
    parts.append("<h2>Golden-free evidence (no retrained model needed)</h2>")
    parts.append("<table><tr><th>statistic</th><th>before</th><th>after</th><th>target</th></tr>")
    for name, unit, target in _rows(ev):
        m = ev["metrics"][name]
        after = _est(m["after"], unit) if m["after"] is not None else f"absent ({m['absent']})"
        parts.append(f"<tr><td>{_e(name)}</td><td>{_e(_est(m['before'], unit))}</td><td><b>{_e(after)}</b></td>"
                     f"<td>{_e(target)}</td></tr>")
    parts.append("</table>")
    if ev.get("change"):
        parts.append(f"<p>Change of heldout_acc_gap, after − before (paired bootstrap): "
                     f"<b>{_e(_est(ev['change'], ' pp'))}</b>.</p>")
    parts.append(_interval_svg(ev))
    s = ev["sizes"]
    parts.append(f"<p>D_f: {s['deleted']} deleted records; V_f: {s['heldout_forget']} held-out records of their classes, "
                 "drawn to their class proportions.</p>")
    parts.append("<h2>Accuracy before and after</h2>")
    parts.append('<table><tr><th>records</th><th class="num">n</th><th class="num">before (%)</th>'
                 '<th class="num">after (%)</th><th class="num">change (points)</th></tr>')
    sizes = {"deleted": s["deleted"], "retained": s["retained"], "heldout": s["heldout"],
             "heldout_forget": s["heldout_forget"]}
    for key, label in ACC_ROWS:
        a = ev["accuracy"][key]
        delta = None if a["before"] is None or a["after"] is None else a["after"] - a["before"]
        parts.append(f"<tr><td>{_e(label)}</td><td class=num>{sizes[key]}</td><td class=num>{_num(a['before'], 2)}</td>"
                     f"<td class=num>{_num(a['after'], 2)}</td>"
                     f"<td class=num>{'—' if delta is None else f'{delta:+.2f}'}</td></tr>")
    parts.append("</table>")
    if r.get("headline"):
        h = r["headline"]
        g = h["golden"]
        parts.append("<h2>Against a model retrained without the deleted records</h2>")
        parts.append(f"<p>Golden model: {_e(g['init'])}, trained on the {g['n_train']} retained records in "
                     f"{g['train_time_s']:.1f} s.</p>")
        parts.append('<table><tr><th>metric</th><th class="num">unlearned</th><th class="num">golden</th>'
                     '<th class="num">before</th><th class="num">gap to golden</th></tr>')
        for m in h["metrics"]:
            row = [h["rows"].get(w, {}).get(m) for w in ("unlearned", "golden", "original")]
            if all(v is None for v in row):
                continue
            cells = "".join(f"<td class=num>{_num(v, 3 if m.endswith('_s') else 2)}</td>" for v in row)
            parts.append(f"<tr><td>{_e(m)}</td>{cells}<td class=num>{_num(h['gaps'].get(m), 2)}</td></tr>")
        parts.append("</table>")
    parts.append("<h2>How to read this</h2><ul class=notes>")
    parts += [f"<li>{_e(t)}</li>" for t in _how_to_read()]
    parts.append("</ul></body></html>")
    return "\n".join(parts) + "\n"
