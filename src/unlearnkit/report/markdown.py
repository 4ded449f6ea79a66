"""The report as Markdown (GitHub-flavoured tables): ``render_markdown`` and its escaping helpers.

The plots are linked as relative paths (``plots/*.png``), written beside ``report.md``.
"""

from __future__ import annotations

import re
from typing import Sequence

from unlearnkit.report.rows import Scenario
from unlearnkit.report.content import (
    LEAD,
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


def _md_table(t: Table) -> list[str]:
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
             md_escape(summary(scenarios, store, n_runs, n_unfinished, n_outside, spread)), "", intro(spread), ""]
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
        lines += [f"- {md_code(label)}: {md_escape(text)}" for label, text in run_lines(sc)] + [""]
    if sweeps:
        lines += [f"## {md_escape('avg_gap versus retain fraction')}", "",
                  md_escape(SWEEP_NOTE), ""]
        for sw in sweeps:
            lines += [f"### {md_escape(sw.title)}", "", md_escape(f"From {scenario_numbers(sw.scenarios)}."), "",
                      f"![{md_escape(sw.title)}]({sw.path})", ""]
    lines += ["## Metric cards", "", "| metric | unit | definition | better |", "|---|---|---|---|"]
    for m in shown_metrics(scenarios):
        card = card_for(m, scenarios) or {}
        lines.append(f"| {md_code(m)} | {md_escape(card.get('unit') or '')} | "
                     f"{md_escape(card.get('definition', 'no card recorded'))} | "
                     f"{md_escape(direction_text(str(card.get('direction', ''))))} |")
    lines.append("")
    return "\n".join(lines)



__all__ = ["render_markdown", "md_escape", "md_code"]
