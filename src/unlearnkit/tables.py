"""Terminal tables: the headline table of one or more runs, and the metric cards under it.

By default the table shows the metrics asked for without their companions (``cpu_s``,
``cpu_speedup``, ``mia_member_recall``, recorded beside ``runtime_s``, ``speedup`` and
``mia_efficacy``): for the headline metrics that is 9 columns within 100 characters. ``wide=True``
(``--wide`` at the CLI) shows every column. Units go on a second header line.

Example:
    >>> from unlearnkit.metrics import Report
    >>> r = Report(metrics=["ua", "cpu_s"], rows={"unlearned": {"ua": 99.0, "cpu_s": 1.5}}, gaps={})
    >>> shown_metrics([r]), shown_metrics([r], wide=True)
    (['ua'], ['ua', 'cpu_s'])
"""

from __future__ import annotations

import math
import sys
from typing import Sequence

from rich import box
from rich.console import Console
from rich.table import Table

from unlearnkit.metrics import METRICS, Report

ROW_ORDER = ("golden", "original")
#: Columns shown only in the wide table: recorded beside another metric, not asked for themselves.
COMPANION_COLUMNS = ("cpu_s", "cpu_speedup", "mia_member_recall")
#: The width the default table is made to fit, and the width of piped output.
NARROW_WIDTH = 100
WIDE_WIDTH = 200


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if not math.isfinite(value):
        return str(value)
    if unit == "s":
        return f"{value:.3g}" if value < 10 else f"{value:.1f}"
    if unit == "x":
        return f"{value:.1f}"
    return f"{value:.2f}"


def present_metrics(reports: Sequence[Report]) -> list[str]:
    """Requested metrics that at least one row of some report has a value for."""
    names: list[str] = []
    for r in reports:
        for m in r.metrics:
            if m not in names and any(m in row for row in r.rows.values()):
                names.append(m)
    return names


def shown_metrics(reports: Sequence[Report], wide: bool = False) -> list[str]:
    """The columns of the table: every present metric when ``wide``, else those without the companions."""
    present = present_metrics(reports)
    return present if wide else [m for m in present if m not in COMPANION_COLUMNS]


def hidden_metrics(reports: Sequence[Report], wide: bool = False) -> list[str]:
    """Present metrics the table leaves out (none when ``wide``)."""
    shown = shown_metrics(reports, wide)
    return [m for m in present_metrics(reports) if m not in shown]


def headline_table(reports: Sequence[tuple[str, Report]], title: str, wide: bool = False) -> Table:
    """One row for golden, one for original, then one per (label, report), plus gap rows if single."""
    metrics = shown_metrics([r for _, r in reports], wide)
    units = {m: METRICS.get(m).card.unit for m in metrics}
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                  collapse_padding=True)
    table.add_column("model", style="bold")  # a long label wraps; the metric columns never do
    for m in metrics:
        table.add_column(m + (f"\n({units[m]})" if units[m] else ""), justify="right", no_wrap=True)
    first = reports[0][1]
    for row in ROW_ORDER:
        if first.rows.get(row):
            table.add_row(row, *(_fmt(first.rows[row].get(m), units[m]) for m in metrics), style="dim")
    for label, report in reports:
        table.add_row(label, *(_fmt(report.rows["unlearned"].get(m), units[m]) for m in metrics))
    if len(reports) == 1:
        gaps = reports[0][1].gaps
        table.add_row("|u − golden|", *(_fmt(gaps.get(m), units[m]) for m in metrics), style="italic")
    return table


def cards_table(metrics: Sequence[str]) -> Table:
    table = Table(title="Metric cards", title_justify="left", show_lines=False)
    table.add_column("metric", style="bold", no_wrap=True)
    table.add_column("definition")
    table.add_column("better")
    for m in metrics:
        card = METRICS.get(m).card
        table.add_row(m, card.definition, card.direction_text)
    return table


def absent_notes(reports: Sequence[tuple[str, Report]], metrics: Sequence[str] | None = None) -> list[str]:
    """Why a metric (of ``metrics``, default all) has no value for the unlearned model, one line each."""
    notes: dict[str, str] = {}
    for _, r in reports:
        for m, why in r.absent.items():
            if metrics is None or m in metrics:
                notes.setdefault(m, why)
    return [f"{m}: absent ({why})" for m, why in notes.items()]


def print_reports(reports: Sequence[tuple[str, Report]], title: str, console: Console | None = None,
                  wide: bool = False) -> None:
    """Print the headline table, why values are absent, and the cards of the metrics shown.

    Args:
        reports: ``(row label, Report)`` pairs; golden and original rows come from the first.
        title: the table's title.
        console: where to print; default stdout (piped output: ``NARROW_WIDTH`` columns, or
            ``WIDE_WIDTH`` when ``wide``).
        wide: every column, the companions included.
    """
    if console is None:
        console = Console() if sys.stdout.isatty() else Console(width=WIDE_WIDTH if wide else NARROW_WIDTH)
    console.print(headline_table(reports, title, wide))
    only = [r for _, r in reports]
    hidden = hidden_metrics(only, wide)
    if hidden:
        console.print(f"[dim]not shown: {', '.join(hidden)} (--wide shows every column)[/dim]")
    shown = shown_metrics(only, wide)
    for note in absent_notes(reports, shown):
        console.print(f"[dim]{note}[/dim]")
    console.print(cards_table(shown))
