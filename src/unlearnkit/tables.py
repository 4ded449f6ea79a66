"""Terminal tables: the headline table of one or more runs, and the metric cards under it."""

from __future__ import annotations

import math
import sys
from typing import Sequence

from rich.console import Console
from rich.table import Table

from unlearnkit.metrics import METRICS, Report

ROW_ORDER = ("golden", "original")


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


def headline_table(reports: Sequence[tuple[str, Report]], title: str) -> Table:
    """One row for golden, one for original, then one per (label, report), plus gap rows if single."""
    metrics = present_metrics([r for _, r in reports])
    units = {m: METRICS.get(m).card.unit for m in metrics}
    table = Table(title=title, title_justify="left")
    table.add_column("model", style="bold", no_wrap=True)
    for m in metrics:
        table.add_column(m + (f" ({units[m]})" if units[m] else ""), justify="right", overflow="fold")
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


def absent_notes(reports: Sequence[tuple[str, Report]]) -> list[str]:
    notes: dict[str, str] = {}
    for _, r in reports:
        for m, why in r.absent.items():
            notes.setdefault(m, why)
    return [f"{m}: absent ({why})" for m, why in notes.items()]


def print_reports(reports: Sequence[tuple[str, Report]], title: str, console: Console | None = None) -> None:
    if console is None:
        # piped output is not cut to 80 columns
        console = Console() if sys.stdout.isatty() else Console(width=160)
    console.print(headline_table(reports, title))
    for note in absent_notes(reports):
        console.print(f"[dim]{note}[/dim]")
    console.print(cards_table(present_metrics([r for _, r in reports])))
