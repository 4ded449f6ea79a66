"""Metric cards and the ``METRICS`` registry: one name, one definition, one direction per metric.

Every metric of METRICS.md is registered in ``METRICS`` as a ``MetricEntry``: its ``MetricCard``
plus the function that computes it. The "Headline" metrics are registered in
``unlearnkit.metrics.headline``, the "Secondary" ones in ``unlearnkit.metrics.secondary``, the
golden-free evidence metrics (``heldout_*``) beside their statistics in ``unlearnkit.metrics.heldout``;
importing ``unlearnkit.metrics`` registers them all. Model-level metrics are
computed from an evaluation context of one model (``unlearnkit.metrics.context.EvalContext``);
report-level metrics (``speedup``, ``avg_gap``) are derived from a model's row and the golden row.

Adding a metric is one ``@register_metric(MetricCard(...))`` on a function of the context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from unlearnkit.errors import ConfigError
from unlearnkit.registry import Registry

SCENARIOS = ("random", "class", "subclass", "indices")
CLASS_SCENARIOS = ("class", "subclass")
LEVELS = ("model", "report")


class MetricAbsent(Exception):
    """Raised by a metric's compute function when the metric cannot be computed; carries the reason.

    ``evaluate`` turns it into an entry of ``Report.absent`` (never a value of 0).
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class MetricCard:
    """What a metric means, printed next to every table that shows it.

    Attributes:
        name: the registry name, e.g. ``"ua"``.
        definition: the definition of METRICS.md in one or two sentences.
        direction: ``"golden"`` (closer to the golden model is better), ``"lower"``, ``"higher"``
            or ``"target:<number>"`` (closer to that number is better).
        unit: ``"%"``, ``"s"``, ``"x"``, ``"nats"``, ``"pp"`` (percentage points) or ``""``.
        scenarios: the forget scenarios in which the metric is defined.

    Example:
        >>> card = MetricCard("ua", "100 - acc(theta, D_f)", "golden", "%")
        >>> card.direction_text
        'closer to the golden model is better'
        >>> MetricCard("x", "d", "target:50", "%").target
        50.0
    """

    name: str
    definition: str
    direction: str
    unit: str
    scenarios: tuple[str, ...] = SCENARIOS

    def __post_init__(self) -> None:
        if self.direction not in ("golden", "lower", "higher"):
            ok = False
            if self.direction.startswith("target:"):
                try:
                    float(self.direction.split(":", 1)[1])
                    ok = True
                except ValueError:
                    ok = False
            if not ok:
                raise ConfigError(
                    f"MetricCard {self.name!r}: direction must be 'golden', 'lower', 'higher' or 'target:<number>'; "
                    f"got {self.direction!r}."
                )
        bad = [s for s in self.scenarios if s not in SCENARIOS]
        if bad or not self.scenarios:
            raise ConfigError(f"MetricCard {self.name!r}: scenarios must be a non-empty subset of {SCENARIOS}; got {self.scenarios!r}.")
        object.__setattr__(self, "scenarios", tuple(self.scenarios))

    @property
    def target(self) -> float | None:
        """The target value of a ``"target:<x>"`` direction, else ``None``."""
        return float(self.direction.split(":", 1)[1]) if self.direction.startswith("target:") else None

    @property
    def direction_text(self) -> str:
        """The direction in words."""
        if self.direction == "golden":
            return "closer to the golden model is better"
        if self.direction == "lower":
            return "lower is better"
        if self.direction == "higher":
            return "higher is better"
        return f"closer to {self.target:g} is better"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "definition": self.definition,
            "direction": self.direction,
            "unit": self.unit,
            "scenarios": list(self.scenarios),
        }

    def __str__(self) -> str:
        unit = f" [{self.unit}]" if self.unit else ""
        return f"{self.name}{unit}: {self.definition} ({self.direction_text})"


@dataclass(frozen=True)
class MetricEntry:
    """A registered metric: its card and how to compute it.

    Attributes:
        card: the ``MetricCard``.
        compute: for ``level="model"``, ``compute(ctx) -> float`` on an evaluation context of one
            model; for ``level="report"``, ``compute(row, golden_row) -> float`` on metric rows.
            Either raises ``MetricAbsent(reason)`` when the value cannot be computed.
        level: ``"model"`` or ``"report"``.
        needs: model-level metrics a report-level metric is derived from.
        needs_golden_model: whether the golden model itself (not only its scores) is required.
    """

    card: MetricCard
    compute: Callable[..., float]
    level: str = "model"
    needs: tuple[str, ...] = field(default=())
    needs_golden_model: bool = False

    @property
    def name(self) -> str:
        return self.card.name


#: name -> ``MetricEntry``; ``METRICS.names()`` lists every metric.
METRICS: Registry[MetricEntry] = Registry("metric")

#: The headline protocol of the fine-tuning papers (UA / RA / TA / MIA-Efficacy / RTE) plus the gap.
HEADLINE = ("ua", "ra", "ta", "ta_forget", "mia_efficacy", "runtime_s", "speedup", "avg_gap")
#: The four metrics averaged by ``avg_gap``.
AVG_GAP_METRICS = ("ua", "ra", "ta", "mia_efficacy")


def register_metric(
    card: MetricCard, *, level: str = "model", needs: tuple[str, ...] = (), needs_golden_model: bool = False
) -> Callable[[Callable[..., float]], Callable[..., float]]:
    """Decorator registering ``compute`` under ``card.name`` in ``METRICS``.

    Example:
        >>> @register_metric(MetricCard("doc_example", "always 1", "higher", ""))  # doctest: +SKIP
        ... def _one(ctx):
        ...     return 1.0
    """
    if level not in LEVELS:
        raise ConfigError(f"level must be one of {LEVELS}; got {level!r}")

    def decorator(compute: Callable[..., float]) -> Callable[..., float]:
        METRICS.register(card.name)(
            MetricEntry(card=card, compute=compute, level=level, needs=tuple(needs), needs_golden_model=needs_golden_model)
        )
        return compute

    return decorator


def cards(names=None) -> dict[str, MetricCard]:
    """The cards of ``names`` (all registered metrics when ``None``), in the given order."""
    names = METRICS.names() if names is None else list(names)
    return {n: METRICS.get(n).card for n in names}
