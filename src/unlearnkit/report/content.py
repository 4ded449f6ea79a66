"""What every rendering of the report shows, independent of the output format.

The tables of a scenario (headline metrics, gaps to golden, other metrics) as rows of formatted
cells, the summary and intro paragraphs, the notes on absent values, the run ids, the metric
cards and the ``Sweep`` record of a retain-fraction plot. A renderer (``markdown.py``,
``html.py``) only lays these out in its format.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from unlearnkit.errors import ConfigError
from unlearnkit.report.rows import Scenario, Variant
from unlearnkit.report.stats import FEW_SEEDS, SPREADS, Stat, metric_bounds
from unlearnkit.report.sweep_plot import SWEEP_CAPTION

_SPREAD_TEXT = {
    "ci": ("Each cell is the mean over seeds ± the half-width of a 95% Student-t interval (n − 1 degrees of "
           "freedom); an interval that would leave the metric's range (0 to 100 for a percentage, 0 and up for a "
           "time) is cut to it and shown as \"mean [low, high]\". \"(n=1)\" marks a single seed, which has no "
           "interval, \"(n=2)\" two seeds, whose interval (t = 12.7) says little, and \"(n=k)\" a metric recorded "
           "for fewer seeds than the row has."),
    "std": ("Each cell is the mean over seeds ± the sample standard deviation of the per-seed values (n − 1 in "
            "the denominator), not an interval; \"(n=1)\" marks a single seed, which has no standard deviation, "
            "\"(n=2)\" two seeds, and \"(n=k)\" a metric recorded for fewer seeds than the row has. The error "
            "bars of the plots stay 95% Student-t intervals, cut to the metric's range."),
}
_INTRO_REST = (
    " *golden* is the model retrained from scratch on the retain set with "
    "the same recipe and seed, *original* the model before unlearning. Variants are ranked by `avg_gap` "
    "(lower is better). For ua, ra, ta, ta_forget and the MIA scores, better means closer to the golden "
    "model, not higher. A seed run more than once counts once (its latest run). Marks after a name: "
    "*did nothing* (avg_gap not below the original's, every headline value within 1 point of it), *no closer "
    "than the original* (avg_gap not below the original's), *overshoots ua / mia_efficacy* (more forgetting "
    "than the golden model by more than the variant's seed standard deviation: D_f pushed past unseen)."
)


def check_spread(spread: str) -> str:
    """``spread`` itself when it is ``ci`` or ``std``.

    Raises:
        ConfigError: any other value (the message names the valid ones).
    """
    if spread not in SPREADS:
        raise ConfigError(f"Unknown spread {spread!r} (valid: {', '.join(SPREADS)}).")
    return spread


def intro(spread: str = "ci") -> str:
    """The paragraph under the report's summary: what a cell shows (``spread``: ``ci`` or ``std``) and
    what golden, original and the ranking mean. Markdown (``*golden*``, backquotes)."""
    return _SPREAD_TEXT[check_spread(spread)] + _INTRO_REST


#: The paragraph of the default report (``spread="ci"``).
INTRO = intro("ci")


@dataclass
class Table:
    """One table of a scenario: a title, the column headers and the rows, each a kind (``golden``,
    ``original`` or ``variant``) and its formatted cells."""

    title: str
    header: list[str]
    rows: list[tuple[str, list[str]]]  # (kind, cells)


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


# ============================================================================ numbers, cards
def _unit(scenario: Scenario, metric: str) -> str:
    card = card_for(metric, [scenario])
    return str(card.get("unit") or "") if card else ""


def _bounds(scenario: Scenario, metric: str, gap: bool = False) -> tuple[float, float]:
    return metric_bounds(metric, _unit(scenario, metric), gap=gap)


def _golden_directed(scenario: Scenario, metric: str) -> bool:
    """Whether ``metric`` is judged by closeness to the golden model (unknown metrics count as such)."""
    card = card_for(metric, [scenario])
    return card is None or str(card.get("direction", "golden")) == "golden"


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


def format_stat(stat: Stat | None, unit: str, n_row: int | None = None, spread: str = "ci",
                bounds: tuple[float, float] | None = None) -> str:
    """``12.34 ± 1.02``; ``12.34 (n=1)`` for one seed; ``—`` when absent.

    ``spread`` is what follows "±": ``ci``, the 95% t-interval half-width, or ``std``, the sample
    standard deviation of the per-seed values (``stat.values``). A 95% interval that reaches
    outside ``bounds`` (the range of the metric, e.g. 0–100 for a percentage) is cut to it and
    shown as ``mean [low, high]``. ``(n=k)`` follows when k is below ``FEW_SEEDS`` (3: an
    interval from two seeds uses t = 12.7) or below the row's seeds ``n_row``.

    Example:
        >>> format_stat(Stat(12.344, 1.019, 3), "%"), format_stat(Stat(0.5, None, 1), "s"), format_stat(None, "%")
        ('12.34 ± 1.02', '0.5 (n=1)', '—')
        >>> format_stat(Stat(2.0, 2.4841, 3, (1.0, 2.0, 3.0)), "%", spread="std")
        '2.00 ± 1.00'
        >>> format_stat(Stat(57.53, 322.01, 2), "%", bounds=(0.0, 100.0))
        '57.53 [0.00, 100.00] (n=2)'
    """
    if stat is None:
        return "—"
    mean = _num(stat.mean, unit)
    half = stat.spread(check_spread(spread))
    if half is None:
        return f"{mean} (n={stat.n})"

    def num(x: float) -> str:
        return _same_decimals(x, mean) if unit in ("s", "x") else _num(x, unit)

    if spread == "ci" and bounds is not None and stat.clipped(bounds):
        low, high = stat.interval(bounds)
        text = f"{mean} [{num(low)}, {num(high)}]"
    else:
        text = f"{mean} ± {num(half)}"
    if stat.n < FEW_SEEDS or (n_row is not None and stat.n != n_row):
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


def marked_label(v: Variant) -> str:
    """The variant's label with its marks: ``kl_ft (overshoots ua, mia_efficacy)``."""
    return f"{v.label} ({'; '.join(v.marks)})" if v.marks else v.label


#: The columns before the metric columns of every scenario table.
LEAD = ["rank", "model", "n seeds"]


def scenario_tables(scenario: Scenario, spread: str = "ci") -> list[Table]:
    """The tables of one scenario: headline metrics, gaps to golden, other metrics (if any).

    Every table has the columns ``rank``, ``model``, ``n seeds`` and then one per metric; the
    golden and original rows come first (no rank), then the variants in rank order. Each cell is
    ``mean ± spread``, or ``mean [low, high]`` for an interval cut to the metric's range (see
    ``format_stat``). The gap table has the metrics judged by closeness to golden only (not
    ``runtime_s``, ``speedup``: their gap to golden means nothing).
    """
    headline, other = _split_metrics(scenario)
    tables = []

    def value_table(title: str, metrics: list[str]) -> Table:
        rows: list[tuple[str, list[str]]] = []
        for ref in (scenario.golden, scenario.original):
            if ref.seeds:
                rows.append((ref.name, ["", ref.name, str(ref.n_seeds)] +
                             [format_stat(ref.stats.get(m), _unit(scenario, m), ref.n_seeds, spread,
                                          _bounds(scenario, m)) for m in metrics]))
        for v in scenario.variants:
            rows.append(("variant", [str(v.rank), marked_label(v), str(v.n_seeds)] +
                         [format_stat(v.stats.get(m), _unit(scenario, m), v.n_seeds, spread, _bounds(scenario, m))
                          for m in metrics]))
        return Table(title, LEAD + [_col(scenario, m) for m in metrics], rows)

    if headline:
        tables.append(value_table("Headline metrics", headline))
    # only metrics judged by closeness to golden: not runtime_s, speedup or avg_gap (lower / higher is better)
    gap_metrics = [m for m in headline + other if m != "avg_gap" and _golden_directed(scenario, m)
                   and any(m in v.gaps for v in scenario.variants)]
    if gap_metrics:
        rows = [("variant", [str(v.rank), v.label, str(v.n_seeds)] +
                 [format_stat(v.gaps.get(m), _unit(scenario, m), v.n_seeds, spread, _bounds(scenario, m, gap=True))
                  for m in gap_metrics])
                for v in scenario.variants]
        tables.append(Table("Gap to the golden model, |θ_u − θ_g| (avg_gap is itself the mean of the ua, ra, ta "
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
            parts.append(f"{join_names(who)}: {why}")
        notes.append((m, "; ".join(parts)))
    return notes


def join_names(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def run_lines(scenario: Scenario) -> list[tuple[str, str]]:
    """(``rank. label``, ``seed 0: <run id>, seed 1: ...``) for each variant of ``scenario``."""
    return [(_variant_name(v), ", ".join(f"seed {s}: {rid}" for s, rid in zip(v.seeds, v.run_ids)))
            for v in scenario.variants]


def summary(scenarios: Sequence[Scenario], store: str, n_runs: int, n_unfinished: int, n_outside: int = 0,
            spread: str = "ci") -> str:
    """The report's first paragraph: how many runs and scenarios, what was left out, which spread is shown."""
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


#: The paragraph above the retain-fraction plots.
SWEEP_NOTE = (f"Scenarios that differ only in their retain fraction: {SWEEP_CAPTION} (whatever spread the "
              "tables show).")


def scenario_numbers(numbers: Sequence[int]) -> str:
    """``scenarios 1, 2 and 3``."""
    return "scenarios " + join_names([str(n) for n in numbers])


__all__ = ["intro", "INTRO", "check_spread", "Table", "Sweep", "LEAD", "format_stat", "card_for", "direction_text",
           "marked_label",
           "scenario_tables", "shown_metrics", "absent_notes", "run_lines", "summary", "SWEEP_NOTE",
           "scenario_numbers", "join_names"]
