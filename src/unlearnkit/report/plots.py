"""The report's plots as PNG bytes: UA versus RA, avg_gap bars and runtime bars, one set per scenario,
and ``avg_gap`` against the retain fraction for scenarios that differ only in it (``avg_gap_sweep``).

matplotlib is imported lazily (only the report needs it) and used without ``pyplot``: every
figure is a ``matplotlib.figure.Figure`` on its own Agg canvas, drawn under matplotlib's default
style (the user's matplotlibrc does not change the picture), at a fixed size and 100 dpi, saved
without the "Software" tag or any date, so the same data gives the same bytes.

Error bars are the 95% Student-t intervals over seeds of ``unlearnkit.report.aggregate``, whatever
spread the report's tables show, cut to the range of the metric (0–100 for UA, RA and avg_gap), so a
two-seed interval does not stretch the axes; a variant with one seed has none. A method variant has
one colour and marker in every plot of a report, whatever its rank (``palette``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from unlearnkit.report.plot_style import (  # _render is looked up here at call time (tests replace it)
    GAP, GOLDEN_COLOR, ORIGINAL_COLOR, PERCENT, _ci, _ends, _err, _few_seeds, _fmt_ratio, _fmt_seconds, _plain,
    _render, _seeds, _title, report_palette, require_matplotlib, variant_colors,
)
from unlearnkit.report.rows import Scenario
from unlearnkit.report.stats import FEW_SEEDS, Stat
from unlearnkit.report.sweep_plot import SWEEP_CAPTION, avg_gap_sweep, sweep_lines, sweep_title

#: Re-exported: the report's writer and callers import these from here.
__all__ = [
    "PLOTS", "PLOT_CAPTIONS", "SWEEP_CAPTION", "avg_gap_bars", "avg_gap_sweep", "report_palette",
    "require_matplotlib", "runtime_bars", "sweep_lines", "sweep_title", "ua_ra_scatter", "variant_colors",
]

@dataclass(frozen=True)
class _Point:
    name: str  # legend text
    kind: str  # "variant", "golden" or "original"
    x: Stat
    y: Stat
    style: dict


def _scatter_points(scenario: Scenario, palette: Sequence[str] | None = None) -> tuple[list[_Point], list[str]]:
    """The points of the UA-RA plot (variants first, best rank first) and the variants left out."""
    colors = variant_colors(scenario, palette)
    points, missing = [], []
    for i, v in enumerate(scenario.variants):
        ua, ra = v.stats.get("ua"), v.stats.get("ra")
        if ua is None or ra is None:
            missing.append(v.label)
            continue
        color, marker = colors[v.label]
        # the better-ranked variants are drawn larger and lower, so points that coincide stay
        # visible as concentric markers
        points.append(_Point(_plain(f"{v.rank}. {v.label} ({_seeds(v)})"), "variant", ua, ra,
                             dict(fmt=marker, color=color, markersize=max(13 - 1.5 * i, 5), markeredgewidth=0.7,
                                  elinewidth=1.3, zorder=3 + 0.01 * i)))
    for ref, marker, color, size, text in (
        (scenario.golden, "*", GOLDEN_COLOR, 24, "golden (retrained on D_r)"),
        (scenario.original, "X", ORIGINAL_COLOR, 17, "original (before unlearning)"),
    ):
        ua, ra = ref.stats.get("ua"), ref.stats.get("ra")
        if ua is not None and ra is not None:
            points.append(_Point(f"{text} (n={ref.n_seeds})", ref.name, ua, ra,
                                 dict(fmt=marker, color=color, markersize=size, markeredgewidth=0.8, elinewidth=1.2,
                                      alpha=0.85, zorder=2)))
    return points, missing


def _draw_points(ax, points: list[_Point], scale: float = 1.0, legend: bool = True) -> None:
    for p in points:
        style = dict(p.style)
        style["markersize"] *= scale
        ax.errorbar(p.x.mean, p.y.mean, xerr=_err(p.x, PERCENT), yerr=_err(p.y, PERCENT), markeredgecolor="black",
                    capsize=4 * scale,
                    label=p.name if legend else None, **style)


def _limits(values: list[float], floor: float, ceil: float, min_pad: float) -> tuple[float, float]:
    low, high = max(min(values), floor), min(max(values), ceil)
    pad = max(0.12 * (high - low), min_pad)
    return max(low - pad, floor - 1.0), min(high + pad, ceil + 1.0)


def _zoom_cluster(points: list[_Point], span_x: float, span_y: float) -> list[_Point]:
    """The points around the golden model that the full plot cannot tell apart (3 or more within
    6% of each axis' span of the golden point), else an empty list."""
    golden = next((p for p in points if p.kind == "golden"), None)
    if golden is None:
        return []
    near = [p for p in points if abs(p.x.mean - golden.x.mean) <= 0.06 * span_x
            and abs(p.y.mean - golden.y.mean) <= 0.06 * span_y]
    return near if len(near) >= 3 else []


def ua_ra_scatter(scenario: Scenario, palette: Sequence[str] | None = None) -> bytes:
    """UA (x) against RA (y): each variant a point with its 95% error bars, golden a star, original an X.

    UA is shown over its whole range; RA is zoomed on the data. When three or more points crowd
    around the golden star, an inset zooms on them.
    """
    points, missing = _scatter_points(scenario, palette)

    def draw(fig) -> None:
        ax = fig.add_subplot()
        _draw_points(ax, points)
        ax.set_xlabel("UA (%) = 100 − accuracy on the forget set D_f")
        ax.set_ylabel("RA (%) = accuracy on the retain set D_r")
        # accuracies live in [0, 100]: show all of UA; zoom RA on the data (intervals cut at the frame)
        ax.set_xlim(-6, 106)
        if points:
            ax.set_ylim(*_limits([e for p in points for e in _ends(p.y, PERCENT)], -5.0, 105.0, 1.0))
        x0, x1 = ax.get_xlim()
        y0, y1 = ax.get_ylim()
        # name the golden and original markers: golden above, original below, pointing into the plot
        for p in points:
            if p.kind == "variant":
                continue
            right = p.x.mean < (x0 + x1) / 2
            up = p.kind == "golden"
            ax.annotate(p.kind, (p.x.mean, p.y.mean), xytext=(14 if right else -14, 13 if up else -17),
                        textcoords="offset points", ha="left" if right else "right", va="center", fontsize=10,
                        fontweight="bold", zorder=5, annotation_clip=False)
        cluster = _zoom_cluster(points, x1 - x0, y1 - y0)
        if cluster:
            _inset(ax, points, cluster, (x0, x1), (y0, y1))
        ax.grid(True, color="#dddddd", linewidth=0.8, zorder=0)
        _title(fig, "UA vs RA", scenario)
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9, frameon=False,
                      title="closer to the golden star is better\nbars: 95% t-interval over seeds"
                      + _few_seeds([v.n_seeds for v in scenario.variants]), title_fontsize=8,
                      alignment="left", markerscale=0.8)
        if missing:
            ax.text(0.0, -0.14, _plain("not plotted (UA or RA absent): " + ", ".join(missing)), transform=ax.transAxes,
                    fontsize=8, va="top", color="#aa0000")

    return _render(9.0, 5.5, draw)


def _inset(ax, points: list[_Point], cluster: list[_Point], xlim: tuple[float, float], ylim: tuple[float, float]) -> None:
    """Zoom on ``cluster`` in an inset placed in the emptiest corner of ``ax``."""
    xs = [p.x.mean for p in cluster]
    ys = [p.y.mean for p in cluster]
    zx = _limits(xs, -5.0, 105.0, 0.5)
    zy = _limits(ys, -5.0, 105.0, 0.25)
    size = 0.42

    def frac(x: float, y: float) -> tuple[float, float]:
        return (x - xlim[0]) / (xlim[1] - xlim[0]), (y - ylim[0]) / (ylim[1] - ylim[0])

    def crowd(cx: float, cy: float) -> int:  # markers and error bars that a corner box would cover
        def hits(a: tuple[float, float], b: tuple[float, float], m: float) -> bool:
            return (min(a[0], b[0]) - m <= cx + size and max(a[0], b[0]) + m >= cx
                    and min(a[1], b[1]) - m <= cy + size and max(a[1], b[1]) + m >= cy)
        n = 0
        for p in points:
            centre = frac(p.x.mean, p.y.mean)
            n += 3 * hits(centre, centre, 0.08)  # the marker and its label
            (x_low, x_high), (y_low, y_high) = _ends(p.x, PERCENT), _ends(p.y, PERCENT)
            n += hits(frac(x_low, p.y.mean), frac(x_high, p.y.mean), 0.02)
            n += hits(frac(p.x.mean, y_low), frac(p.x.mean, y_high), 0.02)
        return n

    corners = [(0.55, 0.05), (0.05, 0.05), (0.55, 0.53), (0.05, 0.53)]  # lower right first
    cx, cy = min(corners, key=lambda c: (crowd(*c), corners.index(c)))
    inset = ax.inset_axes((cx, cy, size, size))
    _draw_points(inset, cluster, scale=0.75, legend=False)
    inset.set_xlim(*zx)
    inset.set_ylim(*zy)
    inset.tick_params(labelsize=8)
    inset.grid(True, color="#eeeeee", linewidth=0.6)
    inset.set_title("zoom on the dashed box around golden", fontsize=8)
    from matplotlib.patches import Rectangle

    ax.add_patch(Rectangle((zx[0], zy[0]), zx[1] - zx[0], zy[1] - zy[0], fill=False, edgecolor="#777777",
                           linestyle="--", linewidth=1.0, zorder=1))


def _bar_height(n: int) -> float:
    return 1.9 + 0.42 * max(n, 1)


def avg_gap_bars(scenario: Scenario, palette: Sequence[str] | None = None) -> bytes:
    """Horizontal avg_gap bars in rank order (best at the top) with 95% error bars; the original as a line."""
    colors = variant_colors(scenario, palette)
    variants = scenario.variants

    def draw(fig) -> None:
        ax = fig.add_subplot()
        ys = list(range(len(variants)))
        ends = []
        for y, v in zip(ys, variants):
            s = v.stats.get("avg_gap")
            if s is None:
                ax.text(0, y, "  absent (a metric of avg_gap could not be computed)", va="center", fontsize=9,
                        color="#aa0000")
                continue
            ax.barh(y, s.mean, xerr=_err(s, GAP) if s.ci else None, color=colors[v.label][0], edgecolor="black",
                    linewidth=0.6, capsize=4, height=0.6, zorder=3)
            low, end = _ends(s, GAP)
            ends.append(end)
            if s.ci is None:
                text = f"{s.mean:.2f} (n=1)"
            elif s.clipped(GAP):
                text = f"{s.mean:.2f} [{low:.2f}, {end:.2f}]"
            else:
                text = f"{s.mean:.2f} ± {s.ci:.2f}"
            text += f" (n={s.n})" if 1 < s.n < FEW_SEEDS else ""
            ax.annotate(text, (end, y), xytext=(5, 0), textcoords="offset points", va="center", fontsize=9)
        orig = scenario.original.stats.get("avg_gap")
        if orig is not None:
            ends.append(orig.mean)
            ax.axvline(orig.mean, color=ORIGINAL_COLOR, linestyle="--", linewidth=1.2, zorder=2,
                       label=f"original, no unlearning: {orig.mean:.2f} pp")
            ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=9, frameon=False, borderaxespad=0.2)
        ax.set_yticks(ys, [_plain(f"{v.rank}. {v.label} ({_seeds(v)})") for v in variants])
        ax.set_ylim(len(variants) - 0.4, -0.6)
        ax.set_xlim(0, max(ends, default=1.0) * 1.3 or 1.0)
        ax.set_xlabel("avg_gap (pp) = mean |θ_u − θ_golden| over UA, RA, TA, MIA-efficacy; lower is better")
        ax.grid(True, axis="x", color="#dddddd", linewidth=0.8, zorder=0)
        _title(fig, "avg_gap to golden, ranked", scenario)

    return _render(9.0, _bar_height(len(variants)), draw)


def runtime_bars(scenario: Scenario, palette: Sequence[str] | None = None) -> bytes:
    """Horizontal runtime_s bars (log scale): golden retraining first, then the variants in rank order,
    each annotated with its speed-up over retraining."""
    colors = variant_colors(scenario, palette)
    variants = scenario.variants

    def draw(fig) -> None:
        ax = fig.add_subplot()
        labels = []
        highs, lows = [], []
        golden = scenario.golden.stats.get("runtime_s")
        entries: list[tuple[str, Stat | None, Any, str]] = [
            (f"golden: retrain on D_r (n={scenario.golden.n_seeds})", golden, GOLDEN_COLOR, "golden")]
        for v in variants:
            entries.append((_plain(f"{v.rank}. {v.label} ({_seeds(v)})"), v.stats.get("runtime_s"), colors[v.label][0],
                            v.label))
        for y, (label, s, color, key) in enumerate(entries):
            labels.append(label)
            if s is None or s.mean <= 0:
                ax.text(0.01, y, "runtime absent", transform=ax.get_yaxis_transform(), va="center", fontsize=9,
                        color="#aa0000")
                continue
            ci = _ci(s)
            low_err = min(ci, s.mean * 0.9)  # keep the bar's lower end on the log axis
            ax.barh(y, s.mean, xerr=[[low_err], [ci]] if ci else None, color=color, edgecolor="black",
                    linewidth=0.6, capsize=4, height=0.6, zorder=3, hatch="//" if key == "golden" else None)
            highs.append(s.mean + ci)
            lows.append(s.mean - low_err)
            ax.annotate(_fmt_seconds(s.mean), (s.mean + ci, y), xytext=(5, 0), textcoords="offset points",
                        va="center", fontsize=9)
        side = ax.get_yaxis_transform()  # x in axes fraction, y in data
        ax.text(1.02, -0.95, "speed-up\nover retraining", transform=side, va="bottom", ha="left", fontsize=9,
                fontweight="bold", clip_on=False)
        for y, (_, _, _, key) in enumerate(entries):
            if key == "golden":
                text = "1× (reference)"
            else:
                sp = next(x for x in variants if x.label == key).stats.get("speedup")
                mean = _fmt_ratio(sp.mean) if sp is not None else ""
                decimals = len(mean.partition(".")[2])
                text = "absent" if sp is None else f"{mean}×" + (
                    f" ± {sp.ci:.{decimals}f}" if sp.ci is not None else " (n=1)")
            ax.text(1.02, y, text, transform=side, va="center", ha="left", fontsize=9, clip_on=False)
        ax.set_xscale("log")
        if highs:
            ax.set_xlim(min(lows) / 2.0, max(highs) * 6.0)
        ax.set_yticks(range(len(labels)), labels)
        ax.set_ylim(len(labels) - 0.4, -0.6)
        ax.set_xlabel("runtime (s, log scale) of the unlearning method alone; golden: training from scratch on D_r\n"
                      "speed-up = mean over seeds of runtime(golden) / runtime(method); bars: 95% t-interval")
        ax.grid(True, axis="x", which="major", color="#dddddd", linewidth=0.8, zorder=0)
        _title(fig, "runtime and speed-up over retraining", scenario)

    return _render(9.0, _bar_height(len(variants) + 1), draw)


#: name -> plot function ``(scenario, palette=None) -> PNG bytes``; the report writes
#: ``<scenario>-<name>.png`` for each, with the palette of the whole report (``report_palette``).
PLOTS: dict[str, Callable[..., bytes]] = {
    "ua-ra": ua_ra_scatter,
    "avg-gap": avg_gap_bars,
    "runtime": runtime_bars,
}

#: What each plot shows, for alt texts and captions.
PLOT_CAPTIONS = {
    "ua-ra": "UA versus RA: each method variant with its 95% interval over seeds; the golden model is the star",
    "avg-gap": "avg_gap to the golden model per variant, ranked, with 95% intervals; dashed line: the original model",
    "runtime": "runtime of each variant (log scale) and its speed-up over retraining the golden model",
}
