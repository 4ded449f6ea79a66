"""The trade-off curve of a grid: avg_gap to the golden model against the share of a retrain's CPU.

Reads the run store only (as ``method_table.py``). Per scenario, every variant's mean avg_gap over
seeds and its mean process CPU seconds as a share of the golden model's training CPU (mean over the
same seeds); doing nothing (the original) sits at 0. A variant is on the **front** when it comes
closer (by at least ``FRONT_STEP``) than every cheaper one. The issue-21 target, avg_gap <= 1.5 at
<= 10% of the retrain's CPU, is marked.
``--svg`` also draws the scenario as a self-contained SVG (log CPU axis), for the docs.

Usage:  python benchmarks/tradeoff.py benchmarks/grids/memorising_mlp.toml --home benchmarks/results/memorising-mlp
                                      [--with-auto] [--svg docs/img/tradeoff-mlp.svg]
"""

from __future__ import annotations

import argparse
import html
import math
from dataclasses import dataclass
from pathlib import Path

from method_table import load_rows

from unlearnkit.report.aggregate import aggregate_runs

TARGET_GAP, TARGET_CPU = 1.5, 0.10
#: A point joins the front only when it comes this much closer than every cheaper one: a method that
#: scores doing nothing's avg_gap give or take noise (ssd, eu_k k=1 on some models) is not a step.
FRONT_STEP = 0.1


@dataclass
class Point:
    label: str
    cpu: float  # share of the golden model's training CPU
    gap: float
    gap_std: float | None
    n: int
    front: bool = False

    @property
    def on_target(self) -> bool:
        return self.gap <= TARGET_GAP and self.cpu <= TARGET_CPU


def points(sc) -> list[Point]:
    """The original at CPU 0, then every variant with a mean ``cpu_s`` and ``avg_gap``; the front marked."""
    golden_cpu = sc.golden.stats.get("cpu_s")
    gap = sc.original.stats.get("avg_gap")
    out = [Point("doing nothing (original)", 0.0, gap.mean, gap.std, sc.original.n_seeds)]
    for v in sc.variants:
        cpu, gap = v.stats.get("cpu_s"), v.stats.get("avg_gap")
        if cpu and gap and golden_cpu:
            out.append(Point(v.label, cpu.mean / golden_cpu.mean, gap.mean, gap.std, v.n_seeds))
    out.sort(key=lambda p: (p.cpu, p.gap))
    best = math.inf
    for p in out:
        p.front = p.gap < best - FRONT_STEP
        best = min(best, p.gap)
    return out


def table(pts: list[Point]) -> str:
    lines = ["| method | seeds | CPU (% of the retrain) | avg_gap | front | target |", "|---|---:|---:|---:|:-:|:-:|"]
    for p in pts:
        spread = f" ± {p.gap_std:.2f}" if p.gap_std is not None else ""
        lines.append(f"| `{p.label}` | {p.n} | {100 * p.cpu:.1f} | {p.gap:.2f}{spread} | {'●' if p.front else ''} | "
                     f"{'✓' if p.on_target else ''} |")
    return "\n".join(lines)


def short(label: str) -> str:
    """``eu_k[k=3,recipe=memorise,schedule=recipe]`` -> ``eu_k k=3``; other labels up to their parameters."""
    method, _, inner = label.partition("[")
    k = [p for p in inner.rstrip("]").split(",") if p.startswith("k=")]
    return f"{method} {k[0]}" if k else method


def svg(pts: list[Point], title: str, width: int = 640, height: int = 400) -> str:
    """A scatter of avg_gap against log CPU share (the original drawn at the left edge), the front as a line."""
    left, right, top, bottom = 60, 20, 30, 50
    xs = [p.cpu for p in pts if p.cpu > 0]
    lo = 10 ** math.floor(math.log10(min(xs + [TARGET_CPU]) * 0.9))
    hi = 10 ** math.ceil(math.log10(max(xs + [1.0])) - 1e-9)
    ymax = max(p.gap for p in pts) * 1.1 or 1.0

    def x(c: float) -> float:
        c = max(c, lo)
        return left + (math.log10(c) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * (width - left - right)

    def y(g: float) -> float:
        return top + (1 - g / ymax) * (height - top - bottom)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
             f'font-size="11"><rect width="100%" height="100%" fill="white"/>',
             f'<text x="{left}" y="18" font-size="13">{html.escape(title)}</text>',
             f'<rect x="{x(lo):.1f}" y="{y(TARGET_GAP):.1f}" width="{x(TARGET_CPU) - x(lo):.1f}" '
             f'height="{y(0) - y(TARGET_GAP):.1f}" fill="#d8f0d8"/>',
             f'<text x="{x(lo) + 4:.1f}" y="{y(0) - 4:.1f}" fill="#2a6">target: avg_gap ≤ 1.5 at ≤ 10%</text>',
             f'<line x1="{left}" y1="{y(0):.1f}" x2="{width - right}" y2="{y(0):.1f}" stroke="black"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{y(0):.1f}" stroke="black"/>']
    decade = lo
    while decade <= hi * 1.0001:
        parts.append(f'<line x1="{x(decade):.1f}" y1="{y(0):.1f}" x2="{x(decade):.1f}" y2="{y(0) + 4:.1f}" '
                     f'stroke="black"/><text x="{x(decade):.1f}" y="{y(0) + 16:.1f}" text-anchor="middle">'
                     f'{100 * decade:g}%</text>')
        decade *= 10
    for g in range(0, int(ymax) + 1, max(1, int(ymax) // 5)):
        parts.append(f'<text x="{left - 6}" y="{y(g) + 4:.1f}" text-anchor="end">{g}</text>'
                     f'<line x1="{left}" y1="{y(g):.1f}" x2="{width - right}" y2="{y(g):.1f}" stroke="#eee"/>')
    parts.append(f'<text x="{(left + width - right) / 2:.0f}" y="{height - 12}" text-anchor="middle">CPU, share of '
                 'a retrain (log; doing nothing at the left edge)</text>')
    parts.append(f'<text x="14" y="{(top + height - bottom) / 2:.0f}" transform="rotate(-90 14 '
                 f'{(top + height - bottom) / 2:.0f})" text-anchor="middle">avg_gap to the retrained model</text>')
    front = " ".join(f"{x(p.cpu):.1f},{y(p.gap):.1f}" for p in pts if p.front)
    parts.append(f'<polyline points="{front}" fill="none" stroke="#c33" stroke-width="1.5"/>')
    for p in pts:
        colour = "#c33" if p.front else "#555"
        parts.append(f'<circle cx="{x(p.cpu):.1f}" cy="{y(p.gap):.1f}" r="3.5" fill="{colour}"><title>'
                     f'{html.escape(p.label)}: avg_gap {p.gap:.2f}, CPU {100 * p.cpu:.1f}%</title></circle>')
        if p.front:
            parts.append(f'<text x="{x(p.cpu) + 5:.1f}" y="{y(p.gap) - 5:.1f}" fill="{colour}">'
                         f'{html.escape(short(p.label))}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("grids", nargs="+", type=Path)
    ap.add_argument("--home", help="the store's home (default: $UNLEARNKIT_HOME or ~/.cache/unlearnkit)")
    ap.add_argument("--with-auto", action="store_true", help="add the scenarios' `unlearn --method auto` runs")
    ap.add_argument("--svg", type=Path, help="also write the (first) scenario's curve as an SVG")
    args = ap.parse_args()
    for i, sc in enumerate(aggregate_runs(load_rows(args.grids, args.home, with_auto=args.with_auto))):
        pts = points(sc)
        title = f"{sc.model} / {sc.forget} ({sc.golden.n_seeds} seeds)"
        print(f"\n#### {sc.dataset} / {title}\n")
        print(table(pts))
        if args.svg and i == 0:
            args.svg.write_text(svg(pts, f"Memorising {title}"))
            print(f"\n{args.svg} written")


if __name__ == "__main__":
    main()
