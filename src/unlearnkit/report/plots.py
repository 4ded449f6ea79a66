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

import io
import textwrap
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from unlearnkit.report.rows import Scenario, Variant
from unlearnkit.report.stats import FEW_SEEDS, Stat, metric_bounds
from unlearnkit.errors import ConfigError

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


# ============================================================================ retain sweeps
def sweep_title(group: Sequence[Scenario]) -> str:
    """``avg_gap versus retain fraction — digits / mlp / forget class:3 / recipe digits``."""
    sc = group[0]
    return f"avg_gap versus retain fraction — {sc.dataset} / {sc.model} / forget {sc.forget} / recipe {sc.recipe}"


def sweep_lines(group: Sequence[Scenario]) -> dict[str, list[tuple[float, Stat, int]]]:
    """label -> [(retain fraction, avg_gap stat, n seeds)] for every variant with an ``avg_gap`` at two or
    more fractions of ``group`` (scenarios sorted by retain fraction); labels in order of first appearance,
    best rank first."""
    lines: dict[str, list[tuple[float, Stat, int]]] = {}
    for sc in group:
        for v in sc.variants:
            s = v.stats.get("avg_gap")
            if s is not None:
                lines.setdefault(v.label, []).append((float(sc.retain_fraction), s, v.n_seeds))
    return {label: pts for label, pts in lines.items() if len(pts) >= 2}


def avg_gap_sweep(group: Sequence[Scenario], palette: Sequence[str] | None = None) -> bytes:
    """x: retain fraction, y: mean ``avg_gap`` with its 95% error bars, one line per variant run at two or
    more fractions of ``group`` (scenarios identical but for their retain fraction, see
    ``unlearnkit.report.aggregate.retain_fraction_sweeps``)."""
    lines = sweep_lines(group)
    fractions = sorted({float(sc.retain_fraction) for sc in group})

    order = list(palette) if palette is not None else sorted(lines)
    order += sorted(label for label in lines if label not in order)

    def draw(fig) -> None:
        ax = fig.add_subplot()
        for label, pts in lines.items():
            i = order.index(label)
            xs = [x for x, _, _ in pts]
            ys = [s.mean for _, s, _ in pts]
            below, above = zip(*[(e[0][0], e[1][0]) for e in (_err(s, GAP) for _, s, _ in pts)])
            errs = [list(below), list(above)]
            seeds = sorted({n for _, _, n in pts})
            n_text = f"n={seeds[0]}" if len(seeds) == 1 else f"n={seeds[0]}–{seeds[-1]}"
            ax.errorbar(xs, ys, yerr=errs, fmt="-" + MARKERS[i % len(MARKERS)], color=_color(i), capsize=4,
                        markeredgecolor="black", markeredgewidth=0.6, linewidth=1.4, markersize=7,
                        label=_plain(f"{label} ({n_text})"), zorder=3)
        ax.set_xticks(fractions, [f"{x:g}" for x in fractions])
        span = fractions[-1] - fractions[0]
        ax.set_xlim(fractions[0] - 0.06 * span, fractions[-1] + 0.06 * span)
        ax.set_ylim(bottom=0)
        ax.set_xlabel("retain fraction: share of D_r the method may use")
        ax.set_ylabel("avg_gap (pp) to the golden model; lower is better")
        ax.grid(True, color="#dddddd", linewidth=0.8, zorder=0)
        seeds = sorted({s for sc in group for s in sc.seeds})
        text = f"{sweep_title(group)} ({len(seeds)} seed{'s' if len(seeds) != 1 else ''})"
        fig.suptitle(_plain("\n".join(textwrap.wrap(text, 110))), x=0.01, ha="left", fontsize=11)
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9, frameon=False,
                      title="bars: 95% t-interval over seeds" + _few_seeds(list({n for pts in lines.values()
                                                                                  for _, _, n in pts})),
                      title_fontsize=8, alignment="left")

    return _render(9.0, 5.0, draw)


#: Caption of a retain-fraction sweep plot (after its title).
SWEEP_CAPTION = ("mean avg_gap over seeds with 95% t-interval error bars, one line per method variant run at two or "
                 "more retain fractions")
