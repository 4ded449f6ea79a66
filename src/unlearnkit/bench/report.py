"""``write_report``: the run store as a Markdown file and a self-contained HTML page with plots.

Reads only the run store: nothing is trained and no model is loaded. For every scenario (see
``unlearnkit.bench.aggregate``) the report has

- a table of the headline metrics: golden and original rows first, then the method variants
  ranked by ``avg_gap``, each cell ``mean ± half-width of the 95% Student-t interval`` over seeds;
- a table of the gaps |θ_u − θ_g| of each metric, and one of the other recorded metrics if any;
- why a value is absent, where one is;
- three plots (UA versus RA, avg_gap bars, runtime bars with the speed-up over retraining);

and at the end the metric card (name, definition, direction) of every metric shown.

The Markdown links the PNGs saved under ``out_dir/plots/``; the HTML page embeds them as
``data:`` URIs and has its CSS inline, so it can be mailed or archived as one file. Every file is
written to a temporary file and renamed into place.
"""

from __future__ import annotations

import base64
import html
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from unlearnkit.bench.aggregate import Scenario, Stat, Variant, aggregate_runs
from unlearnkit.bench.plots import PLOT_CAPTIONS, PLOTS, require_matplotlib
from unlearnkit.errors import ConfigError
from unlearnkit.runs.store import RunStore
from unlearnkit.fileio import atomic_write_bytes

DEFAULT_TITLE = "unlearnkit report"
MD_NAME = "report.md"
HTML_NAME = "report.html"
PLOT_DIR = "plots"
_PLOT_FILE = re.compile(r"^scenario\d+-(" + "|".join(map(re.escape, PLOTS)) + r")\.png$")

INTRO = (
    "Each cell is the mean over seeds ± the half-width of a 95% Student-t interval (n − 1 degrees of "
    "freedom); \"(n=1)\" marks a single seed, which has no interval, and \"(n=k)\" a metric recorded for "
    "fewer seeds than the row has. *golden* is the model retrained from scratch on the retain set with "
    "the same recipe and seed, *original* the model before unlearning. Variants are ranked by `avg_gap` "
    "(lower is better). For ua, ra, ta, ta_forget and the MIA scores, better means closer to the golden "
    "model, not higher. A seed run more than once counts once (its latest run)."
)


@dataclass
class _Table:
    title: str
    header: list[str]
    rows: list[tuple[str, list[str]]]  # (css class, cells)


# ============================================================================== public entry
def write_report(runs: RunStore | str | os.PathLike, out_dir: str | Path, *,
                 title: str = DEFAULT_TITLE) -> tuple[Path, Path]:
    """Write ``out_dir/report.md`` (with ``out_dir/plots/*.png``) and ``out_dir/report.html``.

    ``runs`` is a ``RunStore`` or the path of one; a path that does not exist is an empty store
    (and is not created). Returns the two paths. Raises ``ConfigError`` when the store has no
    finished run, when ``out_dir`` is not a directory, or when matplotlib is missing.

    Example:
        >>> md, page = write_report(RunStore("runs.sqlite"), "unlearnkit-report")  # doctest: +SKIP
    """
    if not isinstance(runs, RunStore):
        path = Path(runs)
        if not path.is_file():
            raise ConfigError(f"No finished runs in {path}; run `unlearnkit bench` or `unlearnkit unlearn` first.")
        runs = RunStore(path)
    done = runs.list(status="done")
    scenarios = aggregate_runs(done)
    if not scenarios:
        raise ConfigError(f"No finished runs in {runs.path}; run `unlearnkit bench` or `unlearnkit unlearn` first.")
    require_matplotlib()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"Cannot write the report into {out}: it exists and is not a directory.")
    n_unfinished = len(runs.list()) - len(done)

    images: dict[tuple[int, str], tuple[str, bytes]] = {}
    for i, sc in enumerate(scenarios, 1):
        for name, plot in PLOTS.items():
            images[(i, name)] = (f"{PLOT_DIR}/scenario{i}-{name}.png", plot(sc))
    for rel, data in images.values():
        atomic_write_bytes(out / rel, data)
    _remove_stale_plots(out / PLOT_DIR, {Path(rel).name for rel, _ in images.values()})

    meta = {"store": str(runs.path), "n_runs": sum(sc.n_runs for sc in scenarios), "n_unfinished": n_unfinished}
    md_path, html_path = out / MD_NAME, out / HTML_NAME
    atomic_write_bytes(md_path, render_markdown(scenarios, images, title=title, **meta).encode("utf-8"))
    atomic_write_bytes(html_path, render_html(scenarios, images, title=title, **meta).encode("utf-8"))
    return md_path, html_path


def _remove_stale_plots(plot_dir: Path, keep: set[str]) -> None:
    """Remove plots of an earlier report (more scenarios) so the folder matches the report."""
    if not plot_dir.is_dir():
        return
    for p in plot_dir.iterdir():
        if p.is_file() and _PLOT_FILE.match(p.name) and p.name not in keep:
            p.unlink(missing_ok=True)


# ============================================================================ numbers, cards
def _unit(scenario: Scenario, metric: str) -> str:
    card = card_for(metric, [scenario])
    return str(card.get("unit") or "") if card else ""


def _num(x: float, unit: str) -> str:
    if not math.isfinite(x):
        return str(x)
    if unit == "s":
        return f"{x:.3g}"
    if unit == "x":
        return f"{x:.1f}" if abs(x) >= 10 else f"{x:.2f}" if abs(x) >= 0.1 else f"{x:.3g}"
    if unit in ("%", "pp"):
        return f"{x:.2f}"
    return f"{x:.4f}"


def _same_decimals(x: float, like: str) -> str:
    """``x`` with as many decimals as the number ``like`` shows (``0.37 ± 0.25``, not ``0.37 ± 0.247``)."""
    if not math.isfinite(x) or "e" in like.lower():
        return f"{x:.2g}"
    return f"{x:.{len(like.partition('.')[2])}f}"


def format_stat(stat: Stat | None, unit: str, n_row: int | None = None) -> str:
    """``12.34 ± 1.02``; ``12.34 (n=1)`` for one seed; ``—`` when absent; ``(n=k)`` when k < the row's seeds.

    Example:
        >>> format_stat(Stat(12.344, 1.019, 3), "%"), format_stat(Stat(0.5, None, 1), "s"), format_stat(None, "%")
        ('12.34 ± 1.02', '0.5 (n=1)', '—')
    """
    if stat is None:
        return "—"
    mean = _num(stat.mean, unit)
    if stat.ci is None:
        return f"{mean} (n=1)"
    text = f"{mean} ± {_same_decimals(stat.ci, mean) if unit in ('s', 'x') else _num(stat.ci, unit)}"
    if n_row is not None and stat.n != n_row:
        text += f" (n={stat.n})"
    return text


def card_for(metric: str, scenarios: Sequence[Scenario]) -> dict[str, Any] | None:
    """The card of ``metric`` as the runs recorded it, else the registry's, else ``None``."""
    for sc in scenarios:
        if metric in sc.cards:
            return sc.cards[metric]
    from unlearnkit.metrics.cards import METRICS

    if metric in METRICS:
        return METRICS.get(metric).card.to_dict()
    return None


def direction_text(direction: str) -> str:
    """A card's direction in words (as ``MetricCard.direction_text``)."""
    if direction == "golden":
        return "closer to the golden model is better"
    if direction == "lower":
        return "lower is better"
    if direction == "higher":
        return "higher is better"
    if direction.startswith("target:"):
        return f"closer to {float(direction.split(':', 1)[1]):g} is better"
    return direction


def _split_metrics(scenario: Scenario) -> tuple[list[str], list[str]]:
    from unlearnkit.metrics.cards import HEADLINE

    headline = [m for m in HEADLINE if m in scenario.metrics]
    return headline, [m for m in scenario.metrics if m not in headline]


def _col(scenario: Scenario, m: str) -> str:
    unit = _unit(scenario, m)
    return f"{m} ({unit})" if unit else m


def _variant_name(v: Variant) -> str:
    return f"{v.rank}. {v.label}"


#: The columns before the metric columns of every scenario table.
LEAD = ["rank", "model", "n seeds"]


def scenario_tables(scenario: Scenario) -> list[_Table]:
    """The tables of one scenario: headline metrics, gaps to golden, other metrics (if any).

    Every table has the columns ``rank``, ``model``, ``n seeds`` and then one per metric; the
    golden and original rows come first (no rank), then the variants in rank order.
    """
    headline, other = _split_metrics(scenario)
    tables = []

    def value_table(title: str, metrics: list[str]) -> _Table:
        rows: list[tuple[str, list[str]]] = []
        for ref in (scenario.golden, scenario.original):
            if ref.seeds:
                rows.append((ref.name, ["", ref.name, str(ref.n_seeds)] +
                             [format_stat(ref.stats.get(m), _unit(scenario, m), ref.n_seeds) for m in metrics]))
        for v in scenario.variants:
            rows.append(("variant", [str(v.rank), v.label, str(v.n_seeds)] +
                         [format_stat(v.stats.get(m), _unit(scenario, m), v.n_seeds) for m in metrics]))
        return _Table(title, LEAD + [_col(scenario, m) for m in metrics], rows)

    if headline:
        tables.append(value_table("Headline metrics", headline))
    gap_metrics = [m for m in headline + other if m != "avg_gap" and any(m in v.gaps for v in scenario.variants)]
    if gap_metrics:
        rows = [("variant", [str(v.rank), v.label, str(v.n_seeds)] +
                 [format_stat(v.gaps.get(m), _unit(scenario, m), v.n_seeds) for m in gap_metrics])
                for v in scenario.variants]
        tables.append(_Table("Gap to the golden model, |θ_u − θ_g| (avg_gap is itself the mean of the ua, ra, ta "
                             "and mia_efficacy gaps)", LEAD + [_col(scenario, m) for m in gap_metrics], rows))
    if other:
        tables.append(value_table("Other metrics", other))
    return tables


def shown_metrics(scenarios: Sequence[Scenario]) -> list[str]:
    """Every metric that appears in some table, in table order."""
    out: list[str] = []
    for sc in scenarios:
        headline, other = _split_metrics(sc)
        for m in headline + other:
            if m not in out:
                out.append(m)
    return out


def absent_notes(scenario: Scenario) -> list[tuple[str, str]]:
    """(metric, "who: reason; ...") for each metric some row could not compute, rows with the same
    reason named together ("golden, original and every variant: ...")."""
    absent = scenario.absent
    order = ["golden", "original"] + [v.label for v in scenario.variants]
    notes = []
    for m in scenario.metrics + [m for m in absent if m not in scenario.metrics]:
        reasons = absent.get(m)
        if not reasons:
            continue
        by_reason: dict[str, list[str]] = {}
        for who in order:
            if who in reasons:
                by_reason.setdefault(reasons[who], []).append(who)
        parts = []
        for why, who in by_reason.items():
            variants = [w for w in who if w not in ("golden", "original")]
            if scenario.variants and len(variants) == len(scenario.variants) and len(variants) > 1:
                who = [w for w in who if w in ("golden", "original")] + ["every variant"]
            parts.append(f"{_join(who)}: {why}")
        notes.append((m, "; ".join(parts)))
    return notes


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _run_lines(scenario: Scenario) -> list[tuple[str, str]]:
    return [(_variant_name(v), ", ".join(f"seed {s}: {rid}" for s, rid in zip(v.seeds, v.run_ids)))
            for v in scenario.variants]


def _summary(scenarios: Sequence[Scenario], store: str, n_runs: int, n_unfinished: int) -> str:
    text = f"{n_runs} finished run{'s' if n_runs != 1 else ''} in {store}, {len(scenarios)} scenario" \
           f"{'s' if len(scenarios) != 1 else ''}."
    if n_unfinished:
        text += f" {n_unfinished} run{'s' if n_unfinished != 1 else ''} not finished (running or failed) left out."
    return text


# ================================================================================== Markdown
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def md_escape(text: str) -> str:
    """Backslash-escape the characters Markdown (and GFM tables) would interpret."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def md_code(text: str) -> str:
    """``text`` as an inline code span that is safe inside a GFM table cell.

    Example:
        >>> print(md_code("neggrad_plus[beta=0.1]"), md_code("a|b"))
        `neggrad_plus[beta=0.1]` `a\\|b`
    """
    text = str(text).replace("|", "\\|").replace("\n", " ")
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_header(h: str) -> str:
    name, sep, unit = h.partition(" (")
    return md_code(name) + (f" ({md_escape(unit)}" if sep else "")


def _md_table(t: _Table) -> list[str]:
    n = len(LEAD)
    header = LEAD + [_md_header(h) for h in t.header[n:]]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---:", "---"] + ["---:"] * (len(t.header) - 2)) + "|"]
    for kind, cells in t.rows:
        model = f"*{md_escape(cells[1])}*" if kind != "variant" else md_code(cells[1])
        lines.append("| " + " | ".join([cells[0], model] + [md_escape(c) for c in cells[2:]]) + " |")
    return lines


def render_markdown(scenarios: Sequence[Scenario], images: dict[tuple[int, str], tuple[str, bytes]], *,
                    title: str, store: str, n_runs: int, n_unfinished: int) -> str:
    """The Markdown report; ``images`` maps (scenario number, plot name) to (relative path, PNG bytes)."""
    lines = [f"# {md_escape(title)}", "", md_escape(_summary(scenarios, store, n_runs, n_unfinished)), "", INTRO, ""]
    lines.append("Scenarios:")
    lines.append("")
    for i, sc in enumerate(scenarios, 1):
        lines.append(f"{i}. {md_escape(sc.title)}")
    lines.append("")
    for i, sc in enumerate(scenarios, 1):
        lines += [f"## {i}. {md_escape(sc.title)}", "",
                  f"Seeds {md_escape(', '.join(map(str, sc.seeds)))}; {sc.n_runs} runs; {len(sc.variants)} method "
                  f"variant{'s' if len(sc.variants) != 1 else ''}.", ""]
        for t in scenario_tables(sc):
            lines += [f"### {md_escape(t.title)}", ""] + _md_table(t) + [""]
        notes = absent_notes(sc)
        if notes:
            lines += ["Absent values (never counted as 0):", ""]
            lines += [f"- {md_code(m)}: {md_escape(why)}" for m, why in notes] + [""]
        lines += ["### Plots", ""]
        for name in PLOTS:
            rel, _ = images[(i, name)]
            lines += [f"![{md_escape(PLOT_CAPTIONS[name])}]({rel})", ""]
        lines += ["### Runs", ""]
        lines += [f"- {md_code(label)}: {md_escape(text)}" for label, text in _run_lines(sc)] + [""]
    lines += ["## Metric cards", "", "| metric | unit | definition | better |", "|---|---|---|---|"]
    for m in shown_metrics(scenarios):
        card = card_for(m, scenarios) or {}
        lines.append(f"| {md_code(m)} | {md_escape(card.get('unit') or '')} | "
                     f"{md_escape(card.get('definition', 'no card recorded'))} | "
                     f"{md_escape(direction_text(str(card.get('direction', ''))))} |")
    lines.append("")
    return "\n".join(lines)


# ====================================================================================== HTML
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


def _html_table(t: _Table) -> list[str]:
    out = [f"<h3>{_h(t.title)}</h3>", "<table>", "<thead><tr>" + "".join(f"<th>{_h(c)}</th>" for c in t.header)
           + "</tr></thead>", "<tbody>"]
    for kind, cells in t.rows:
        tds = ([f'<td class="num">{_h(cells[0])}</td>', f'<td class="name">{_h(cells[1])}</td>']
               + [f'<td class="num">{_h(c)}</td>' for c in cells[2:]])
        out.append(f'<tr class="{_h(kind)}">' + "".join(tds) + "</tr>")
    out += ["</tbody>", "</table>"]
    return out


def render_html(scenarios: Sequence[Scenario], images: dict[tuple[int, str], tuple[str, bytes]], *,
                title: str, store: str, n_runs: int, n_unfinished: int) -> str:
    """The self-contained HTML page: inline CSS, PNGs as ``data:image/png;base64`` URIs, no external resource."""
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{_h(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
             f"<h1>{_h(title)}</h1>", f"<p>{_h(_summary(scenarios, store, n_runs, n_unfinished))}</p>",
             f'<p class="note">{_h(INTRO.replace("*", "").replace("`", ""))}</p>', "<ol>"]
    parts += [f'<li><a href="#scenario-{i}">{_h(sc.title)}</a></li>' for i, sc in enumerate(scenarios, 1)]
    parts.append("</ol>")
    for i, sc in enumerate(scenarios, 1):
        parts += [f'<section id="scenario-{i}">', f"<h2>{i}. {_h(sc.title)}</h2>",
                  f"<p>Seeds {_h(', '.join(map(str, sc.seeds)))}; {sc.n_runs} runs; {len(sc.variants)} method "
                  f"variant{'s' if len(sc.variants) != 1 else ''}.</p>"]
        for t in scenario_tables(sc):
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
        parts += [f"<li>{_h(label)}: {_h(text)}</li>" for label, text in _run_lines(sc)]
        parts += ["</ul>", "</section>"]
    parts += ['<section id="metric-cards">', "<h2>Metric cards</h2>", '<table class="cards">',
              "<thead><tr><th>metric</th><th>unit</th><th>definition</th><th>better</th></tr></thead>", "<tbody>"]
    for m in shown_metrics(scenarios):
        card = card_for(m, scenarios) or {}
        parts.append(f"<tr><td>{_h(m)}</td><td>{_h(card.get('unit') or '')}</td>"
                     f"<td>{_h(card.get('definition', 'no card recorded'))}</td>"
                     f"<td>{_h(direction_text(str(card.get('direction', ''))))}</td></tr>")
    parts += ["</tbody>", "</table>", "</section>", "</body>", "</html>", ""]
    return "\n".join(parts)


__all__ = ["write_report", "render_markdown", "render_html", "scenario_tables", "format_stat", "card_for",
           "md_escape", "md_code"]
