"""The retain-fraction plot: ``avg_gap`` against the retain fraction, one line per method variant, for
scenarios that differ only in their retain fraction (``unlearnkit.report.aggregate.retain_fraction_sweeps``).
"""

from __future__ import annotations

import textwrap
from typing import Sequence

from unlearnkit.report.plot_style import GAP, MARKERS, _color, _err, _few_seeds, _plain, _render
from unlearnkit.report.rows import Scenario
from unlearnkit.report.stats import Stat

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
