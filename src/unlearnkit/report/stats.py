"""Statistics of a metric over seeds: mean, 95% Student-t interval, sample std, the metric's range.

``summarize(values)`` gives a ``Stat``; ``metric_bounds`` the range an interval is cut to (0–100
for a percentage, 0 and up for a time).

Example:
    >>> s = summarize([1.0, 3.0])
    >>> s.mean, s.n, round(s.ci, 3)
    (2.0, 2, 12.706)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

#: Confidence level of every interval.
CONFIDENCE = 0.95

#: The spreads a report can show after "mean ±": the 95% t-interval half-width or the sample std.
SPREADS = ("ci", "std")


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t distribution with ``df`` degrees of freedom.

    Example:
        >>> round(t_quantile(0.975, 1), 4), round(t_quantile(0.975, 2), 4)
        (12.7062, 4.3027)
    """
    if df < 1:
        raise ValueError(f"t_quantile needs df >= 1; got {df}")
    from scipy.special import stdtrit  # scipy comes with scikit-learn

    return float(stdtrit(df, p))


@dataclass(frozen=True)
class Stat:
    """A metric summarised over seeds.

    Attributes:
        mean: the mean of ``values``.
        ci: half-width of the 95% Student-t interval, ``None`` when ``n == 1``.
        n: number of values (seeds).
        values: the per-seed values, in seed order.
    """

    mean: float
    ci: float | None
    n: int
    values: tuple[float, ...] = ()

    @property
    def std(self) -> float | None:
        """Sample standard deviation (n − 1 in the denominator) of ``values``; ``None`` with fewer than
        two values (or when the values were not kept).

        Example:
            >>> round(Stat(2.0, 2.4841, 3, (1.0, 2.0, 3.0)).std, 4), Stat(5.0, None, 1, (5.0,)).std
            (1.0, None)
        """
        n = len(self.values)
        if n < 2:
            return None
        mean = math.fsum(self.values) / n
        return math.sqrt(math.fsum((v - mean) ** 2 for v in self.values) / (n - 1))

    def spread(self, kind: str = "ci") -> float | None:
        """The half-width shown after "±": ``ci`` (95% t-interval) or ``std`` (sample standard deviation).

        Raises:
            ValueError: ``kind`` is neither ``ci`` nor ``std``.
        """
        if kind == "ci":
            return self.ci
        if kind == "std":
            return self.std
        raise ValueError(f"Unknown spread {kind!r} (valid: {', '.join(SPREADS)})")

    @property
    def low(self) -> float:
        return self.mean - (self.ci or 0.0)

    @property
    def high(self) -> float:
        return self.mean + (self.ci or 0.0)

    def interval(self, bounds: tuple[float, float] = (-math.inf, math.inf)) -> tuple[float, float] | None:
        """The 95% t-interval (low, high) cut to ``bounds``, the range the metric can take; ``None``
        with one value.

        Example:
            >>> Stat(57.53, 322.01, 2).interval((0.0, 100.0))
            (0.0, 100.0)
            >>> Stat(5.0, 1.0, 3).interval((0.0, 100.0))
            (4.0, 6.0)
        """
        if self.ci is None:
            return None
        low, high = bounds
        return max(self.mean - self.ci, low), min(self.mean + self.ci, high)

    def clipped(self, bounds: tuple[float, float]) -> bool:
        """Whether the 95% t-interval reaches outside ``bounds`` (and ``interval`` cuts it)."""
        return self.ci is not None and (self.mean - self.ci < bounds[0] or self.mean + self.ci > bounds[1])


#: Seeds below which an interval is marked: with 2 seeds the t quantile is 12.7 (1 degree of freedom).
FEW_SEEDS = 3

#: The range of a metric's values by its unit (percentages, seconds, ratios, nats) ...
UNIT_BOUNDS: dict[str, tuple[float, float]] = {
    "%": (0.0, 100.0), "pp": (0.0, 100.0), "s": (0.0, math.inf), "x": (0.0, math.inf), "nats": (0.0, math.inf),
}
#: ... and of the unit-less metrics whose range is known.
NAME_BOUNDS: dict[str, tuple[float, float]] = {
    "indiscernibility": (0.0, 1.0), "zrf": (0.0, 1.0), "js_to_golden": (0.0, math.log(2.0)),
    "weight_distance": (0.0, math.inf),
}


def metric_bounds(metric: str, unit: str | None, *, gap: bool = False) -> tuple[float, float]:
    """The range of ``metric``'s values (of its gaps |u − g| with ``gap=True``); unbounded when unknown.

    Example:
        >>> metric_bounds("ua", "%"), metric_bounds("ua", "%", gap=True), metric_bounds("zrf", "")
        ((0.0, 100.0), (0.0, 100.0), (0.0, 1.0))
        >>> metric_bounds("mystery", "")
        (-inf, inf)
    """
    low, high = UNIT_BOUNDS.get(unit or "", NAME_BOUNDS.get(metric, (-math.inf, math.inf)))
    if gap:
        return 0.0, high - low
    return low, high


def summarize(values: Iterable[float], confidence: float = CONFIDENCE) -> Stat | None:
    """Mean and Student-t interval half-width of ``values``; ``None`` when there is no finite value.

    Non-finite values (``nan``, ``inf``) are left out.

    Example:
        >>> s = summarize([1.0, 2.0, 3.0])
        >>> s.mean, round(s.ci, 4), s.n
        (2.0, 2.4841, 3)
        >>> summarize([5.0]).ci is None
        True
    """
    vals = tuple(float(v) for v in values if v is not None and math.isfinite(float(v)))
    n = len(vals)
    if n == 0:
        return None
    mean = math.fsum(vals) / n
    if n == 1:
        return Stat(mean, None, 1, vals)
    var = math.fsum((v - mean) ** 2 for v in vals) / (n - 1)
    ci = t_quantile(0.5 + confidence / 2, n - 1) * math.sqrt(var) / math.sqrt(n)
    return Stat(mean, ci, n, vals)
