"""What every plot of the report shares: matplotlib loaded lazily, one PNG renderer, a method's colour
and marker across plots, error bars cut to a metric's range, and label formatting.

Example:
    >>> _fmt_ratio(12.345), _fmt_seconds(0.5)
    ('12.3', '0.5 s')
"""

from __future__ import annotations

import io
import textwrap
from typing import Any, Callable, Sequence

from unlearnkit.errors import ConfigError
from unlearnkit.report.rows import Scenario, Variant
from unlearnkit.report.stats import FEW_SEEDS, Stat, metric_bounds

DPI = 100
MARKERS = ("o", "s", "D", "^", "v", "P", "h", "<", ">", "p")
GOLDEN_COLOR = "#d4a017"
ORIGINAL_COLOR = "#555555"


def _matplotlib() -> tuple[Any, Any, Any]:
    try:
        import matplotlib
        import matplotlib.style
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ConfigError("The report needs matplotlib: pip install 'unlearnkit[report]'") from None
    return matplotlib, Figure, FigureCanvasAgg


def require_matplotlib() -> None:
    """Raise ``ConfigError`` (with the install command) when matplotlib is not installed."""
    _matplotlib()


def _render(width: float, height: float, draw: Callable[[Any], None]) -> bytes:
    matplotlib, Figure, FigureCanvasAgg = _matplotlib()
    with matplotlib.style.context("default"):  # not the user's matplotlibrc
        fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        draw(fig)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def report_palette(scenarios: Sequence[Scenario]) -> list[str]:
    """Every variant label of ``scenarios``, sorted: the i-th label gets the i-th colour and marker in
    every plot of the report, so a method looks the same in every scenario, whatever its rank."""
    return sorted({v.label for sc in scenarios for v in sc.variants})


def _color(i: int) -> Any:
    matplotlib, _, _ = _matplotlib()
    if i < 10:
        return matplotlib.colormaps["tab10"](i)
    return matplotlib.colormaps["tab20b"]((i - 10) % 20)


def variant_colors(scenario: Scenario, palette: Sequence[str] | None = None) -> dict[str, tuple[Any, str]]:
    """label -> (colour, marker): by the label's place in ``palette`` (default: the scenario's labels,
    sorted), never by rank, so a variant keeps its colour across scenarios and plots."""
    order = list(palette) if palette is not None else report_palette([scenario])
    order += sorted(v.label for v in scenario.variants if v.label not in order)
    index = {label: i for i, label in enumerate(order)}
    return {v.label: (_color(index[v.label]), MARKERS[index[v.label] % len(MARKERS)]) for v in scenario.variants}


def _title(fig, kind: str, scenario: Scenario) -> None:
    seeds = scenario.seeds
    text = f"{kind}: {scenario.title} ({len(seeds)} seed{'s' if len(seeds) != 1 else ''})"
    fig.suptitle(_plain("\n".join(textwrap.wrap(text, 110))), x=0.01, ha="left", fontsize=11)


def _ci(stat: Stat | None) -> float:
    return stat.ci if stat is not None and stat.ci is not None else 0.0


PERCENT = metric_bounds("ua", "%")  # UA, RA: 0..100
GAP = metric_bounds("avg_gap", "pp")  # avg_gap: 0..100


def _err(stat: Stat | None, bounds: tuple[float, float]) -> list[list[float]]:
    """Matplotlib's asymmetric error ``[[below], [above]]`` of the 95% interval cut to ``bounds``."""
    interval = stat.interval(bounds) if stat is not None else None
    if interval is None:
        return [[0.0], [0.0]]
    return [[max(stat.mean - interval[0], 0.0)], [max(interval[1] - stat.mean, 0.0)]]


def _ends(stat: Stat, bounds: tuple[float, float]) -> tuple[float, float]:
    """The ends of the error bar of ``stat`` (its mean with one seed)."""
    interval = stat.interval(bounds)
    return interval if interval is not None else (stat.mean, stat.mean)


def _few_seeds(ns: Sequence[int]) -> str:
    """A line for a legend title when some variant has fewer than ``FEW_SEEDS`` seeds."""
    return f"\nn < {FEW_SEEDS}: bars only indicative" if any(0 < n < FEW_SEEDS for n in ns) else ""


def _seeds(v: Variant) -> str:
    return f"n={v.n_seeds}"


def _plain(text: str) -> str:
    """``text`` (a label built from run data) with its "$" escaped, so matplotlib never reads mathtext."""
    return str(text).replace("$", r"\$")


def _fmt_ratio(x: float) -> str:
    return f"{x:.1f}" if abs(x) >= 10 else f"{x:.2f}" if abs(x) >= 0.1 else f"{x:.3g}"


def _fmt_seconds(x: float) -> str:
    return f"{x:.0f} s" if x >= 100 else f"{x:.3g} s"
