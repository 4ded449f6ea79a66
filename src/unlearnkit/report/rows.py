"""The rows of a report: a method variant, the golden and original reference rows, and a scenario.

Plain data, filled by ``unlearnkit.report.aggregate`` and read by the marks, the tables and the plots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from unlearnkit.report.stats import Stat

@dataclass
class Variant:
    """One method with one set of parameters inside a scenario.

    Attributes:
        method: method name. params: its parameters (as recorded). label: display label.
        seeds: the seeds aggregated, sorted. run_ids: the run used for each seed, same order.
        stats: metric -> ``Stat`` of the unlearned model's value over seeds.
        gaps: metric -> ``Stat`` of |unlearned − golden| over seeds.
        absent: metric -> why some run of the variant could not compute it (from its report).
        rank: 1-based rank by mean ``avg_gap`` inside the scenario.
        marks: the report's verdicts on it (``report.marks.verdict_marks``): "did nothing", "no closer than the
            original", "overshoots ua" ...; empty when none applies.
    """

    method: str
    params: dict[str, Any]
    label: str
    seeds: list[int] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    stats: dict[str, Stat] = field(default_factory=dict)
    gaps: dict[str, Stat] = field(default_factory=dict)
    absent: dict[str, str] = field(default_factory=dict)
    rank: int = 0
    marks: list[str] = field(default_factory=list)

    @property
    def n_seeds(self) -> int:
        return len(self.seeds)

    @property
    def avg_gap(self) -> float | None:
        s = self.stats.get("avg_gap")
        return s.mean if s is not None else None


@dataclass
class ReferenceRow:
    """The golden or original model of a scenario, one value per seed, summarised over seeds."""

    name: str
    seeds: list[int] = field(default_factory=list)
    stats: dict[str, Stat] = field(default_factory=dict)
    absent: dict[str, str] = field(default_factory=dict)

    @property
    def n_seeds(self) -> int:
        return len(self.seeds)


@dataclass
class Scenario:
    """The runs that share dataset, model, forget spec, recipe and retain fraction.

    Attributes:
        key: the grouping key (a tuple of strings). dataset, model, forget, recipe,
        retain_fraction: its parts for display. variants: ranked, best first.
        golden, original: the reference rows. metrics: every metric with a value, in report order.
        cards: metric -> card dict as recorded in the reports (name, definition, direction, unit).
        n_runs: number of runs aggregated (after keeping one run per variant and seed).
    """

    key: tuple
    dataset: str
    model: str
    forget: str
    recipe: str
    retain_fraction: float | None
    variants: list[Variant]
    golden: ReferenceRow
    original: ReferenceRow
    metrics: list[str]
    cards: dict[str, dict[str, Any]] = field(default_factory=dict)
    n_runs: int = 0

    @property
    def title(self) -> str:
        parts = [self.dataset, self.model, f"forget {self.forget}", f"recipe {self.recipe}"]
        if self.retain_fraction is not None:
            parts.append(f"retain fraction {self.retain_fraction:g}")
        return " / ".join(parts)

    @property
    def seeds(self) -> list[int]:
        return sorted({s for v in self.variants for s in v.seeds})

    @property
    def absent(self) -> dict[str, dict[str, str]]:
        """metric -> {row: reason}: "golden", "original" or a variant label, for every row where
        some run's report says why the metric could not be computed."""
        out: dict[str, dict[str, str]] = {}
        for row in [self.golden, self.original, *self.variants]:
            name = row.name if isinstance(row, ReferenceRow) else row.label
            for m, why in row.absent.items():
                out.setdefault(m, {})[name] = why
        return out
