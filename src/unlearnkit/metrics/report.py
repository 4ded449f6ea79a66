"""``Scores`` (the metric values of one model) and ``Report`` (unlearned vs golden vs original).

Both are plain containers: ``evaluate`` and ``score_model`` in ``unlearnkit.metrics.evaluate`` fill them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from unlearnkit.metrics.cards import MetricCard

ROWS = ("unlearned", "golden", "original")


@dataclass
class Scores:
    """The model-level metric values of one model on one split, as returned by ``score_model``.

    Pass a ``Scores`` as ``reference=`` or ``original=`` of ``evaluate`` to score the golden and
    original models once and compare many unlearned models against them.

    Attributes:
        values: metric name -> value.
        absent: metric name -> why it could not be computed.
        seed: the seed of the attacks (must match the ``evaluate`` call it is used in).
        split_fingerprint: the split it was computed on.
        mia_members: ``"random"`` or ``"first"``, how the SVC attack chose its members.
        intervals: metric name -> bootstrap 95% interval ``(low, high)``, for metrics that have one.

    Example:
        >>> s = Scores(values={"ua": 5.0}, absent={"ta_forget": "random scenario"}, seed=0, split_fingerprint="abc")
        >>> s["ua"], s.get("ta_forget")
        (5.0, None)
    """

    values: dict[str, float]
    absent: dict[str, str] = field(default_factory=dict)
    seed: int = 0
    split_fingerprint: str = ""
    mia_members: str = "random"
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)

    def __getitem__(self, name: str) -> float:
        if name in self.values:
            return self.values[name]
        if name in self.absent:
            raise KeyError(f"{name} is absent: {self.absent[name]}")
        raise KeyError(f"{name} was not computed")

    def get(self, name: str, default: float | None = None) -> float | None:
        return self.values.get(name, default)

    def to_dict(self) -> dict[str, Any]:
        return {
            "values": {k: float(v) for k, v in self.values.items()},
            "absent": dict(self.absent),
            "seed": int(self.seed),
            "split_fingerprint": self.split_fingerprint,
            "mia_members": self.mia_members,
            "intervals": {k: [float(lo), float(hi)] for k, (lo, hi) in self.intervals.items()},
        }


@dataclass
class Report:
    """Every requested metric for the unlearned, golden and original models, with gaps and cards.

    Attributes:
        metrics: the requested metric names, in order.
        rows: ``{"unlearned": {...}, "golden": {...}, "original": {...}}``, metric -> value; a row
            is empty when that model was not given.
        gaps: metric -> |unlearned − golden|, for metrics present in both rows.
        absent: metric -> reason, for the unlearned model's missing values (never reported as 0).
        row_absent: the same for every row.
        intervals: row -> metric -> bootstrap 95% interval ``(low, high)``, for metrics that have one
            (the golden-free ``heldout_*`` metrics).
        cards: metric -> ``MetricCard`` (definition, direction, unit).
        scenario, split_fingerprint, seed: what the numbers were computed on.

    Example:
        >>> r = Report(metrics=("ua",), rows={"unlearned": {"ua": 3.0}, "golden": {"ua": 5.0}, "original": {}},
        ...            gaps={"ua": 2.0})
        >>> r["ua"], r.gaps["ua"], r.avg_gap
        (3.0, 2.0, None)
    """

    metrics: tuple[str, ...]
    rows: dict[str, dict[str, float]]
    gaps: dict[str, float] = field(default_factory=dict)
    absent: dict[str, str] = field(default_factory=dict)
    row_absent: dict[str, dict[str, str]] = field(default_factory=dict)
    intervals: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    cards: dict[str, MetricCard] = field(default_factory=dict)
    scenario: str = ""
    split_fingerprint: str = ""
    seed: int = 0

    def __getitem__(self, name: str) -> float:
        """The unlearned model's value of ``name``; ``KeyError`` with the reason when absent."""
        row = self.rows.get("unlearned", {})
        if name in row:
            return row[name]
        if name in self.absent:
            raise KeyError(f"{name} is absent: {self.absent[name]}")
        raise KeyError(f"{name} was not requested; requested: {', '.join(self.metrics)}")

    def value(self, name: str, row: str = "unlearned") -> float | None:
        """The value of ``name`` in ``row`` (``"unlearned"``, ``"golden"`` or ``"original"``), or ``None``."""
        return self.rows.get(row, {}).get(name)

    @property
    def avg_gap(self) -> float | None:
        """Mean of |ua−ua_g|, |ra−ra_g|, |ta−ta_g|, |mia_efficacy−mia_efficacy_g|, when requested and computable."""
        return self.value("avg_gap")

    @property
    def speedup(self) -> float | None:
        """runtime_s(golden) / runtime_s(unlearned), when requested and computable."""
        return self.value("speedup")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict; values are plain floats, not rounded."""
        return {
            "metrics": list(self.metrics),
            "rows": {r: {k: float(v) for k, v in vals.items()} for r, vals in self.rows.items()},
            "gaps": {k: float(v) for k, v in self.gaps.items()},
            "absent": dict(self.absent),
            "row_absent": {r: dict(v) for r, v in self.row_absent.items()},
            "intervals": {r: {k: [float(lo), float(hi)] for k, (lo, hi) in v.items()} for r, v in self.intervals.items()},
            "cards": {k: c.to_dict() for k, c in self.cards.items()},
            "scenario": self.scenario,
            "split_fingerprint": self.split_fingerprint,
            "seed": int(self.seed),
        }

    def to_markdown(self, digits: int = 2) -> str:
        """A Markdown table (metric | unlearned | golden | original | gap | direction) and the cards."""

        def num(x: float) -> str:
            return f"{x:.{digits}f}" if math.isfinite(x) else str(x)

        def fmt(x: float | None, row: str | None = None, metric: str | None = None) -> str:
            if x is None:
                return "—"
            iv = self.intervals.get(row, {}).get(metric) if row else None
            return num(x) + (f" [{num(iv[0])}, {num(iv[1])}]" if iv else "")

        lines = ["| metric | unlearned | golden | original | \\|u−g\\| | direction |", "|---|---|---|---|---|---|"]
        for m in self.metrics:
            card = self.cards.get(m)
            unit = f" [{card.unit}]" if card is not None and card.unit else ""
            lines.append(
                f"| {m}{unit} | {fmt(self.value(m), 'unlearned', m)} | {fmt(self.value(m, 'golden'), 'golden', m)} | "
                f"{fmt(self.value(m, 'original'), 'original', m)} | {fmt(self.gaps.get(m))} | "
                f"{card.direction_text if card else ''} |"
            )
        lines.append("")
        lines.extend(f"- {card}" for card in self.cards.values())
        if self.absent:
            lines.append("")
            lines.extend(f"- absent `{m}`: {why}" for m, why in self.absent.items())
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_markdown()
