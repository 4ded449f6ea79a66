"""The evidence report of a deletion request as Markdown and as one self-contained HTML page.

Both are rendered from the request's record (``ForgetResult.record``, the content of
``evidence.json``); nothing is computed here.
"""

from __future__ import annotations

import html
import math
from typing import Any

from unlearnkit.deletion.evidence import LABELS, fmt

ACC_ROWS = (("deleted", "deleted records (D_f)"), ("retained", "retained records (D_r)"),
            ("heldout", "held-out records of the kept classes"),
            ("heldout_forget", "held-out records of the deleted records' classes (V_f)"))
COLOURS = {"forgotten": "#1b7f3b", "not_forgotten": "#b42318", "over_forgotten": "#b54708",
           "damaged": "#b42318", "inconclusive": "#475467"}
QUESTIONS = {"forget": "Forgotten?", "kept": "Still the same model on what was kept?"}


def _margin(s: dict[str, Any]) -> str:
    t, m, u = s["target"], s["margin"], s["unit"]
    if s["side"] == "both":
        return f"inside ±{m:g}{u}" if not t else f"inside {t:g} ± {m:g}"
    return f"below {t + m:g}{u}" if s["side"] == "upper" else f"above {t - m:g}{u}"


def _verdict_rows(ev: dict[str, Any], detail: dict[str, Any]) -> list[list[str]]:
    """One row per statistic: question, statistic, before (golden-free forget statistics only), after,
    where it must lie, where its interval lies."""
    before = {s["name"]: s for s in (ev.get("before") or {}).get("stats", [])} if detail["basis"] != "golden" else {}
    rows = []
    for q in ("forget", "kept"):
        for s in detail[q]["stats"]:
            b = before.get(s["name"])
            rows.append([QUESTIONS[q], LABELS.get(s["name"], s["name"]), fmt(b) if b else "—", fmt(s), _margin(s),
                         s["position"]])
    return rows


def _num(x: float | None, digits: int) -> str:
    if x is None:
        return "—"
    return f"{x:.{digits}f}" if math.isfinite(x) else str(x)


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
        if led.get("keep_head"):
            lines.append(("Keep the ledger head", led["keep_head"]))
    return lines


def _how_to_read() -> list[str]:
    return [
        "The verdict answers two questions, each with 95% intervals (seeded bootstrap, 1,000 resamples), never a "
        "point value. Forgotten? The accuracy on the deleted records minus the accuracy on held-out records of their "
        "classes (every held-out record of those classes, weighted to the deleted records' class proportions) must lie "
        "inside its margin, as it does for a model retrained without them; the loss AUC (P(a deleted record's loss < "
        "a held-out record's)) wholly below its margin is over-forgetting. Still the same model on what was kept? "
        "Accuracy and confidence (p of the true label) lost on a sample of the retained records, and accuracy lost on "
        "held-out records of the kept classes, against the model before, must lie below their margins.",
        "Verdicts: forgotten (every interval inside its margins), not forgotten (the gap wholly above its margin), "
        "over-forgotten (wholly below), damaged (a loss wholly above its margin), inconclusive (an interval straddles "
        "a margin: roughly how many records would decide it is said). An interval end exactly on a margin decides "
        "nothing. With --retrain the verdict compares with the retrained model instead.",
        "The margins are numbers measured on a benchmark (their source is stated above), not guarantees for your "
        "model. The verdict is about behaviour (what the model predicts), not about what its weights contain. See "
        "docs/evidence.md.",
    ]


def _basis(ev: dict[str, Any]) -> str:
    return ("Verdict from the comparison with the model retrained without the deleted records (--retrain)"
            if ev["basis"] == "golden" else "Verdict without a retrained model (golden-free)")


def _sizes_line(s: dict[str, int]) -> str:
    return (f"D_f: {s['deleted']} deleted records; V_f: all {s['heldout_forget']} held-out records of their classes, "
            f"weighted to their class proportions; {s['retained_sample']} of the {s['retained']} retained records "
            f"(a seeded sample); {s['heldout']} held-out records of the kept classes.")


def _tables(ev: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = [("The verdict's two questions" + (" (against the retrained model)" if ev["basis"] == "golden" else ""),
            ev["detail"])]
    if ev.get("golden_free"):
        out.append((f"Without the retrained model (golden-free): {ev['golden_free']['title'].lower()}", ev["golden_free"]))
    return out


HEAD = ("question", "statistic", "before", "after", "must lie", "interval")


def _verdict_tables_md(ev: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for title, detail in _tables(ev):
        lines += [f"## {title}", "", "| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
        lines += ["| " + " | ".join(row) + " |" for row in _verdict_rows(ev, detail)]
        lines.append("")
    return lines[:-1]


def render_markdown(r: dict[str, Any]) -> str:
    """The evidence report of one request as Markdown."""
    ev = r["evidence"]
    req = r["request"]
    lines = [f"# Deletion request {req['request_id']}: evidence", "",
             f"**Verdict: {ev['verdict_title']}.** {ev['verdict_text']}", "", f"_{_basis(ev)}; {ev['margins']}._", ""]
    for w in ev["warnings"]:
        lines.append(f"> **Warning:** {w}")
        lines.append(">")
    if ev["warnings"]:
        lines[-1] = ""
    lines += ["| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in _request_lines(r)]
    lines += [""] + _verdict_tables_md(ev)
    s = ev["sizes"]
    lines += ["", _sizes_line(s), "",
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


def _interval_svg(detail: dict[str, Any]) -> str:
    """Each statistic's interval on its own axis, with its margin(s) dashed and the good zone shaded."""
    stats = [st for q in ("forget", "kept") for st in detail[q]["stats"]]
    width, left, right, row_h = 900, 250, 190, 34
    out = [f'<svg viewBox="0 0 {width} {row_h * len(stats) + 10}" width="100%" role="img" '
           'aria-label="95% intervals of the verdict and their margins">']
    for k, st in enumerate(stats):
        t, m = st["target"], st["margin"]
        edges = [t - m, t + m] if st["side"] == "both" else [t + m] if st["side"] == "upper" else [t - m]
        values = [st["low"], st["high"], t, *edges]
        pad = 0.15 * ((max(values) - min(values)) or 1.0)
        lo, hi = min(values) - pad, max(values) + pad

        def px(v: float) -> float:
            return left + (v - lo) / (hi - lo) * (width - left - right)

        cy = row_h * k + row_h / 2 + 4
        good_lo = edges[0] if st["side"] != "upper" else lo
        good_hi = edges[-1] if st["side"] != "lower" else hi
        out.append(f'<rect x="{px(good_lo):.1f}" y="{cy - 10:.1f}" width="{px(good_hi) - px(good_lo):.1f}" height="20" '
                   'fill="#ecfdf3"/>')
        for e in edges:
            out.append(f'<line x1="{px(e):.1f}" y1="{cy - 12:.1f}" x2="{px(e):.1f}" y2="{cy + 12:.1f}" '
                       'stroke="#98a2b3" stroke-dasharray="4 3"/>')
        out.append(f'<text x="{left - 10}" y="{cy + 4:.1f}" text-anchor="end">{_e(LABELS.get(st["name"], st["name"]))}</text>')
        out.append(f'<line x1="{px(st["low"]):.1f}" y1="{cy:.1f}" x2="{px(st["high"]):.1f}" y2="{cy:.1f}" '
                   'stroke="#1849a9" stroke-width="4" stroke-linecap="round"/>')
        out.append(f'<circle cx="{px(st["value"]):.1f}" cy="{cy:.1f}" r="6" fill="#1849a9"/>')
        out.append(f'<text x="{width - right + 12}" y="{cy + 4:.1f}">{_e(fmt(st))}</text>')
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
        f'<p class="sub">Evidence of a deletion request · unlearnkit {_e(r.get("package_version", ""))}</p>',
        f'<div class="verdict" style="background:{colour}"><b>Verdict: {_e(ev["verdict_title"])}</b>'
        f"{_e(ev['verdict_text'])}</div>",
    ]
    parts += [f'<div class="warn"><b>Warning:</b> {_e(w)}</div>' for w in ev["warnings"]]
    parts.append('<table class="facts">')
    for k, v in _request_lines(r):
        cls = ' class="mono"' if "SHA-256" in k or k == "Ledger" else ""
        parts.append(f"<tr><td>{_e(k)}</td><td{cls}>{_e(v)}</td></tr>")
    parts.append("</table>")
    parts.append(f"<p class=sub>{_e(_basis(ev))}; {_e(ev['margins'])}.</p>")
    for title, detail in _tables(ev):
        parts.append(f"<h2>{_e(title)}</h2><table><tr>" + "".join(f"<th>{h}</th>" for h in HEAD) + "</tr>")
        for row in _verdict_rows(ev, detail):
            parts.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>")
        parts.append("</table>")
        parts.append(_interval_svg(detail))
    s = ev["sizes"]
    parts.append(f"<p>{_e(_sizes_line(s))}</p>")
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
