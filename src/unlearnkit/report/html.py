"""The report as one self-contained HTML page: ``render_html``.

CSS inline, every plot embedded as a ``data:image/png;base64`` URI, no external resource, so the
page can be mailed or archived as one file. Every text from the runs is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
from typing import Any, Sequence

from unlearnkit.report.rows import Scenario
from unlearnkit.report.content import (
    SWEEP_NOTE,
    Sweep,
    Table,
    absent_notes,
    card_for,
    direction_text,
    intro,
    run_lines,
    scenario_numbers,
    scenario_tables,
    shown_metrics,
    summary,
)
from unlearnkit.report.plots import PLOT_CAPTIONS, PLOTS

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1200px;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.3em; border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
h3 { font-size: 1.05em; margin-top: 1.4em; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .3em .6em; }
th { background: #f2f2f2; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.golden td { background: #fff6d6; } tr.original td { background: #eeeeee; }
table.cards td:first-child, td.name { white-space: nowrap; font-family: ui-monospace, Menlo, Consolas, monospace; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: .85em; color: #555; }
p.note, ul.note { font-size: .9em; color: #444; }
code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .95em; }
"""


def _h(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _html_table(t: Table) -> list[str]:
    out = [f"<h3>{_h(t.title)}</h3>", "<table>", "<thead><tr>" + "".join(f"<th>{_h(c)}</th>" for c in t.header)
           + "</tr></thead>", "<tbody>"]
    for kind, cells in t.rows:
        tds = ([f'<td class="num">{_h(cells[0])}</td>', f'<td class="name">{_h(cells[1])}</td>']
               + [f'<td class="num">{_h(c)}</td>' for c in cells[2:]])
        out.append(f'<tr class="{_h(kind)}">' + "".join(tds) + "</tr>")
    out += ["</tbody>", "</table>"]
    return out


def render_html(scenarios: Sequence[Scenario], images: dict[tuple[int, str], tuple[str, bytes]], *,
                title: str, store: str, n_runs: int, n_unfinished: int, n_outside: int = 0, spread: str = "ci",
                sweeps: Sequence[Sweep] = ()) -> str:
    """The self-contained HTML page: inline CSS, PNGs as ``data:image/png;base64`` URIs, no external resource."""
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{_h(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
             f"<h1>{_h(title)}</h1>",
             f"<p>{_h(summary(scenarios, store, n_runs, n_unfinished, n_outside, spread))}</p>",
             f'<p class="note">{_h(intro(spread).replace("*", "").replace("`", ""))}</p>', "<ol>"]
    parts += [f'<li><a href="#scenario-{i}">{_h(sc.title)}</a></li>' for i, sc in enumerate(scenarios, 1)]
    parts.append("</ol>")
    if sweeps:
        parts.append(f'<p>After the scenarios: <a href="#retain-sweeps">{len(sweeps)} plot'
                     f'{"s" if len(sweeps) != 1 else ""} of avg_gap versus retain fraction</a>.</p>')
    for i, sc in enumerate(scenarios, 1):
        parts += [f'<section id="scenario-{i}">', f"<h2>{i}. {_h(sc.title)}</h2>",
                  f"<p>Seeds {_h(', '.join(map(str, sc.seeds)))}; {sc.n_runs} runs; {len(sc.variants)} method "
                  f"variant{'s' if len(sc.variants) != 1 else ''}.</p>"]
        for t in scenario_tables(sc, spread):
            parts += _html_table(t)
        notes = absent_notes(sc)
        if notes:
            parts += ['<p class="note">Absent values (never counted as 0):</p>', '<ul class="note">']
            parts += [f"<li><code>{_h(m)}</code>: {_h(why)}</li>" for m, why in notes]
            parts.append("</ul>")
        parts.append("<h3>Plots</h3>")
        for name in PLOTS:
            _, data = images[(i, name)]
            uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
            parts += ["<figure>", f'<img src="{uri}" alt="{_h(PLOT_CAPTIONS[name])}">',
                      f"<figcaption>{_h(PLOT_CAPTIONS[name])}</figcaption>", "</figure>"]
        parts += ["<h3>Runs</h3>", '<ul class="note">']
        parts += [f"<li>{_h(label)}: {_h(text)}</li>" for label, text in run_lines(sc)]
        parts += ["</ul>", "</section>"]
    if sweeps:
        parts += ['<section id="retain-sweeps">', "<h2>avg_gap versus retain fraction</h2>",
                  f'<p class="note">{_h(SWEEP_NOTE)}</p>']
        for sw in sweeps:
            uri = "data:image/png;base64," + base64.b64encode(sw.png).decode("ascii")
            parts += ["<figure>", f'<img src="{uri}" alt="{_h(sw.title)}">',
                      f"<figcaption>{_h(f'{sw.title} (from {scenario_numbers(sw.scenarios)})')}</figcaption>",
                      "</figure>"]
        parts.append("</section>")
    parts += ['<section id="metric-cards">', "<h2>Metric cards</h2>", '<table class="cards">',
              "<thead><tr><th>metric</th><th>unit</th><th>definition</th><th>better</th></tr></thead>", "<tbody>"]
    for m in shown_metrics(scenarios):
        card = card_for(m, scenarios) or {}
        parts.append(f"<tr><td>{_h(m)}</td><td>{_h(card.get('unit') or '')}</td>"
                     f"<td>{_h(card.get('definition', 'no card recorded'))}</td>"
                     f"<td>{_h(direction_text(str(card.get('direction', ''))))}</td></tr>")
    parts += ["</tbody>", "</table>", "</section>", "</body>", "</html>", ""]
    return "\n".join(parts)


__all__ = ["render_html", "CSS"]
