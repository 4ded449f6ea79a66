"""Metrics of METRICS.md: one name, one definition, one direction each, judged against the golden model.

Example:
    >>> from unlearnkit.metrics import METRICS, HEADLINE
    >>> HEADLINE[:3], METRICS.get("ua").card.direction
    (('ua', 'ra', 'ta'), 'golden')
"""

from unlearnkit.metrics.cards import HEADLINE, METRICS, MetricAbsent, MetricCard, MetricEntry, register_metric
from unlearnkit.metrics import headline, secondary  # noqa: F401  (register the metrics of METRICS.md)
from unlearnkit.metrics import heldout  # noqa: F401  (registers the golden-free metrics)
from unlearnkit.metrics.context import EvalContext, compute_logits
from unlearnkit.metrics.evaluate import evaluate, score_model
from unlearnkit.metrics.report import Report, Scores

__all__ = [
    "HEADLINE",
    "METRICS",
    "EvalContext",
    "MetricAbsent",
    "MetricCard",
    "MetricEntry",
    "Report",
    "Scores",
    "compute_logits",
    "evaluate",
    "register_metric",
    "score_model",
]
