"""``write_report``: the run store as a Markdown file and a self-contained HTML page with plots.

Reads only the run store: nothing is trained and no model is loaded. For every scenario (see
``unlearnkit.bench.aggregate``) the report has

- a table of the headline metrics: golden and original rows first, then the method variants
  ranked by ``avg_gap``, each cell ``mean ± half-width of the 95% Student-t interval`` over seeds
  (or, with ``spread="std"``, ``mean ± sample standard deviation`` over seeds);
- a table of the gaps |θ_u − θ_g| of each metric, and one of the other recorded metrics if any;
- why a value is absent, where one is;
- three plots (UA versus RA, avg_gap bars, runtime bars with the speed-up over retraining);

then, for every group of two or more scenarios that differ only in their retain fraction, a plot
of ``avg_gap`` against the retain fraction (one line per variant run at two or more fractions);
and at the end the metric card (name, definition, direction) of every metric shown.

``config_hashes`` restricts the report to the runs whose config hash is in the set, e.g. the
planned runs of a grid (``Grid.config_hashes()``, ``unlearnkit report --grid FILE``).

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

from unlearnkit.bench.aggregate import SPREADS, Scenario, Stat, Variant, aggregate_runs, retain_fraction_sweeps
from unlearnkit.bench.plots import (
    PLOT_CAPTIONS,
    PLOTS,
    SWEEP_CAPTION,
    avg_gap_sweep,
    require_matplotlib,
    sweep_lines,
    sweep_title,
)
from unlearnkit.errors import ConfigError
from unlearnkit.runs.store import RunStore
from unlearnkit.fileio import atomic_write_bytes

DEFAULT_TITLE = "unlearnkit report"
MD_NAME = "report.md"
HTML_NAME = "report.html"
PLOT_DIR = "plots"
SWEEP_PLOT = "avg-gap"
_PLOT_FILE = re.compile(r"^(scenario\d+-(" + "|".join(map(re.escape, PLOTS)) + r")|sweep\d+-"
                        + re.escape(SWEEP_PLOT) + r")\.png$")

_SPREAD_TEXT = {
    "ci": ("Each cell is the mean over seeds ± the half-width of a 95% Student-t interval (n − 1 degrees of "
           "freedom); \"(n=1)\" marks a single seed, which has no interval, and \"(n=k)\" a metric recorded for "
           "fewer seeds than the row has."),
    "std": ("Each cell is the mean over seeds ± the sample standard deviation of the per-seed values (n − 1 in "
            "the denominator), not an interval; \"(n=1)\" marks a single seed, which has no standard deviation, "
            "and \"(n=k)\" a metric recorded for fewer seeds than the row has. The error bars of the plots "
            "stay 95% Student-t intervals."),
}
_INTRO_REST = (
    " *golden* is the model retrained from scratch on the retain set with "
    "the same recipe and seed, *original* the model before unlearning. Variants are ranked by `avg_gap` "
    "(lower is better). For ua, ra, ta, ta_forget and the MIA scores, better means closer to the golden "
    "model, not higher. A seed run more than once counts once (its latest run)."
)


def _check_spread(spread: str) -> str:
    if spread not in SPREADS:
        raise ConfigError(f"Unknown spread {spread!r} (valid: {', '.join(SPREADS)}).")
    return spread


def intro(spread: str = "ci") -> str:
    """The paragraph under the report's summary: what a cell shows (``spread``: ``ci`` or ``std``) and
    what golden, original and the ranking mean. Markdown (``*golden*``, backquotes)."""
    return _SPREAD_TEXT[_check_spread(spread)] + _INTRO_REST


#: The paragraph of the default report (``spread="ci"``).
INTRO = intro("ci")


@dataclass
class _Table:
    title: str
    header: list[str]
    rows: list[tuple[str, list[str]]]  # (css class, cells)


# ============================================================================== public entry
@dataclass(frozen=True)
class Sweep:
    """One plot of ``avg_gap`` against the retain fraction.

    Attributes:
        title: ``avg_gap versus retain fraction — <dataset / model / forget / recipe>``.
        scenarios: the numbers (1-based, as in the report) of the scenarios it draws, by retain fraction.
        path: the PNG's path relative to the output directory. png: its bytes.
    """

    title: str
    scenarios: tuple[int, ...]
    path: str
    png: bytes


def write_report(runs: RunStore | str | os.PathLike, out_dir: str | Path, *, title: str = DEFAULT_TITLE,
                 config_hashes: set[str] | frozenset[str] | None = None, spread: str = "ci") -> tuple[Path, Path]:
    """Write ``out_dir/report.md`` (with ``out_dir/plots/*.png``) and ``out_dir/report.html``.

    Args:
        runs: a ``RunStore`` or the path of one; a path that does not exist is an empty store (and is
            not created).
        out_dir: the output directory (created if needed).
        title: the report's title.
        config_hashes: when given, only the runs whose ``config_hash`` is in this set are reported
            (e.g. ``Grid.config_hashes()``: the planned runs of a grid); ``None`` reports every run.
        spread: what follows "mean ±" in the tables: ``ci`` (default), the half-width of the 95%
            Student-t interval, or ``std``, the sample standard deviation (n − 1) over seeds. The
            plots' error bars are 95% t-intervals either way.

    Returns:
        The paths of the Markdown file and of the HTML page.

    Raises:
        ConfigError: ``spread`` is not ``ci`` or ``std``; the store has no finished run (of
            ``config_hashes``, when given); ``out_dir`` is not a directory; matplotlib is missing.
            Nothing is written then.

    Example:
        >>> md, page = write_report(RunStore("runs.sqlite"), "unlearnkit-report")  # doctest: +SKIP
    """
    _check_spread(spread)
    if not isinstance(runs, RunStore):
        path = Path(runs)
        if not path.is_file():
            raise ConfigError(f"No finished runs in {path}; run `unlearnkit bench` or `unlearnkit unlearn` first.")
        runs = RunStore(path)
    every = runs.list()
    done = [r for r in every if r["status"] == "done"]
    n_outside = 0
    if config_hashes is not None:
        wanted = set(config_hashes)
        every = [r for r in every if r.get("config_hash") in wanted]
        kept = [r for r in done if r.get("config_hash") in wanted]
        n_outside, done = len(done) - len(kept), kept
    scenarios = aggregate_runs(done)
    if not scenarios and n_outside:
        raise ConfigError(f"None of the {n_outside} finished run(s) in {runs.path} is a run of the given grid(s); "
                          f"run `unlearnkit bench GRID` first, or pass the grid that was run.")
    if not scenarios:
        raise ConfigError(f"No finished runs in {runs.path}; run `unlearnkit bench` or `unlearnkit unlearn` first.")
    require_matplotlib()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"Cannot write the report into {out}: it exists and is not a directory.")
    n_unfinished = len(every) - len(done)

    images: dict[tuple[int, str], tuple[str, bytes]] = {}
    for i, sc in enumerate(scenarios, 1):
        for name, plot in PLOTS.items():
            images[(i, name)] = (f"{PLOT_DIR}/scenario{i}-{name}.png", plot(sc))
    sweeps = make_sweeps(scenarios)
    for rel, data in [*images.values(), *((sw.path, sw.png) for sw in sweeps)]:
        atomic_write_bytes(out / rel, data)
    _remove_stale_plots(out / PLOT_DIR, {Path(rel).name for rel, _ in images.values()}
                        | {Path(sw.path).name for sw in sweeps})

    meta = {"store": str(runs.path), "n_runs": sum(sc.n_runs for sc in scenarios), "n_unfinished": n_unfinished,
            "n_outside": n_outside, "spread": spread, "sweeps": sweeps}
    md_path, html_path = out / MD_NAME, out / HTML_NAME
    atomic_write_bytes(md_path, render_markdown(scenarios, images, title=title, **meta).encode("utf-8"))
    atomic_write_bytes(html_path, render_html(scenarios, images, title=title, **meta).encode("utf-8"))
    return md_path, html_path


def make_sweeps(scenarios: Sequence[Scenario]) -> list[Sweep]:
    """One ``Sweep`` (``plots/sweep<j>-avg-gap.png``) per group of scenarios that differ only in their
    retain fraction and have a variant with ``avg_gap`` at two or more of its fractions; none otherwise."""
    number = {id(sc): i for i, sc in enumerate(scenarios, 1)}
    out: list[Sweep] = []
    for group in retain_fraction_sweeps(scenarios):
        if not sweep_lines(group):
            continue
        rel = f"{PLOT_DIR}/sweep{len(out) + 1}-{SWEEP_PLOT}.png"
        out.append(Sweep(sweep_title(group), tuple(number[id(sc)] for sc in group), rel, avg_gap_sweep(group)))
    return out


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


def format_stat(stat: Stat | None, unit: str, n_row: int | None = None, spread: str = "ci") -> str:
    """``12.34 ± 1.02``; ``12.34 (n=1)`` for one seed; ``—`` when absent; ``(n=k)`` when k < the row's seeds.

    ``spread`` is what follows "±": ``ci``, the 95% t-interval half-width, or ``std``, the sample
    standard deviation of the per-seed values (``stat.values``).

    Example:
        >>> format_stat(Stat(12.344, 1.019, 3), "%"), format_stat(Stat(0.5, None, 1), "s"), format_stat(None, "%")
        ('12.34 ± 1.02', '0.5 (n=1)', '—')
        >>> format_stat(Stat(2.0, 2.4841, 3, (1.0, 2.0, 3.0)), "%", spread="std")
        '2.00 ± 1.00'
    """
    if stat is None:
        return "—"
    mean = _num(stat.mean, unit)
    half = stat.spread(_check_spread(spread))
    if half is None:
        return f"{mean} (n={stat.n})"
    text = f"{mean} ± {_same_decimals(half, mean) if unit in ('s', 'x') else _num(half, unit)}"
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


def scenario_tables(scenario: Scenario, spread: str = "ci") -> list[_Table]:
    """The tables of one scenario: headline metrics, gaps to golden, other metrics (if any).

    Every table has the columns ``rank``, ``model``, ``n seeds`` and then one per metric; the
    golden and original rows come first (no rank), then the variants in rank order. Each cell is
    ``mean ± spread`` (see ``format_stat``).
    """
    headline, other = _split_metrics(scenario)
    tables = []

    def value_table(title: str, metrics: list[str]) -> _Table:
        rows: list[tuple[str, list[str]]] = []
        for ref in (scenario.golden, scenario.original):
            if ref.seeds:
                rows.append((ref.name, ["", ref.name, str(ref.n_seeds)] +
                             [format_stat(ref.stats.get(m), _unit(scenario, m), ref.n_seeds, spread) for m in metrics]))
        for v in scenario.variants:
            rows.append(("variant", [str(v.rank), v.label, str(v.n_seeds)] +
                         [format_stat(v.stats.get(m), _unit(scenario, m), v.n_seeds, spread) for m in metrics]))
        return _Table(title, LEAD + [_col(scenario, m) for m in metrics], rows)

    if headline:
        tables.append(value_table("Headline metrics", headline))
    gap_metrics = [m for m in headline + other if m != "avg_gap" and any(m in v.gaps for v in scenario.variants)]
    if gap_metrics:
        rows = [("variant", [str(v.rank), v.label, str(v.n_seeds)] +
                 [format_stat(v.gaps.get(m), _unit(scenario, m), v.n_seeds, spread) for m in gap_metrics])
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


def _summary(scenarios: Sequence[Scenario], store: str, n_runs: int, n_unfinished: int, n_outside: int = 0,
             spread: str = "ci") -> str:
    text = f"{n_runs} finished run{'s' if n_runs != 1 else ''} in {store}, {len(scenarios)} scenario" \
           f"{'s' if len(scenarios) != 1 else ''}."
    if n_outside:
        text += f" Only the runs of the given grid(s): {n_outside} other finished run{'s' if n_outside != 1 else ''} " \
                f"left out."
    if n_unfinished:
        text += f" {n_unfinished} run{'s' if n_unfinished != 1 else ''} not finished (running or failed) left out."
    text += " Spread shown after ±: " + ("the 95% t-interval half-width." if spread == "ci"
                                          else "the sample standard deviation over seeds.")
    return text


_SWEEP_NOTE = (f"Scenarios that differ only in their retain fraction: {SWEEP_CAPTION} (whatever spread the "
               "tables show).")


def _scenario_numbers(numbers: Sequence[int]) -> str:
    return "scenarios " + _join([str(n) for n in numbers])


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
                    title: str, store: str, n_runs: int, n_unfinished: int, n_outside: int = 0, spread: str = "ci",
                    sweeps: Sequence[Sweep] = ()) -> str:
    """The Markdown report; ``images`` maps (scenario number, plot name) to (relative path, PNG bytes),
    ``sweeps`` are the retain-fraction plots (see ``make_sweeps``)."""
    lines = [f"# {md_escape(title)}", "",
             md_escape(_summary(scenarios, store, n_runs, n_unfinished, n_outside, spread)), "", intro(spread), ""]
    lines.append("Scenarios:")
    lines.append("")
    for i, sc in enumerate(scenarios, 1):
        lines.append(f"{i}. {md_escape(sc.title)}")
    lines.append("")
    if sweeps:
        lines += [f"After the scenarios: {len(sweeps)} plot{'s' if len(sweeps) != 1 else ''} of `avg_gap` "
                  f"versus retain fraction.", ""]
    for i, sc in enumerate(scenarios, 1):
        lines += [f"## {i}. {md_escape(sc.title)}", "",
                  f"Seeds {md_escape(', '.join(map(str, sc.seeds)))}; {sc.n_runs} runs; {len(sc.variants)} method "
                  f"variant{'s' if len(sc.variants) != 1 else ''}.", ""]
        for t in scenario_tables(sc, spread):
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
    if sweeps:
        lines += [f"## {md_escape('avg_gap versus retain fraction')}", "",
                  md_escape(_SWEEP_NOTE), ""]
        for sw in sweeps:
            lines += [f"### {md_escape(sw.title)}", "", md_escape(f"From {_scenario_numbers(sw.scenarios)}."), "",
                      f"![{md_escape(sw.title)}]({sw.path})", ""]
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
                title: str, store: str, n_runs: int, n_unfinished: int, n_outside: int = 0, spread: str = "ci",
                sweeps: Sequence[Sweep] = ()) -> str:
    """The self-contained HTML page: inline CSS, PNGs as ``data:image/png;base64`` URIs, no external resource."""
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{_h(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
             f"<h1>{_h(title)}</h1>",
             f"<p>{_h(_summary(scenarios, store, n_runs, n_unfinished, n_outside, spread))}</p>",
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
        parts += [f"<li>{_h(label)}: {_h(text)}</li>" for label, text in _run_lines(sc)]
        parts += ["</ul>", "</section>"]
    if sweeps:
        parts += ['<section id="retain-sweeps">', "<h2>avg_gap versus retain fraction</h2>",
                  f'<p class="note">{_h(_SWEEP_NOTE)}</p>']
        for sw in sweeps:
            uri = "data:image/png;base64," + base64.b64encode(sw.png).decode("ascii")
            parts += ["<figure>", f'<img src="{uri}" alt="{_h(sw.title)}">',
                      f"<figcaption>{_h(f'{sw.title} (from {_scenario_numbers(sw.scenarios)})')}</figcaption>",
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


__all__ = ["write_report", "make_sweeps", "Sweep", "intro", "render_markdown", "render_html", "scenario_tables",
           "format_stat", "card_for", "md_escape", "md_code"]
