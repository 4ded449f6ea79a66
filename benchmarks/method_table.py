"""The compact per-scenario table of the docs pages: mean ± std over seeds, runtime, speed-up.

Reads the run store only (like ``unlearnkit report``), keeps the runs of the given grid(s), and
prints one Markdown table per scenario: golden and original first, then every variant in
``avg_gap`` order, with the report's marks (did nothing, no closer than the original, overshoots).
The speed-up column, present when the grid has ``retrain`` runs, divides the mean runtime of
those runs by the variant's mean runtime, so both were measured under the same load (the
``speedup`` metric of the report divides by the golden model's training time, which may have been
measured in another process, another day). When the runs recorded process CPU seconds
(``cpu_s``), the table also shows them and the CPU-time speed-up against the golden model's
training CPU seconds: two jobs sharing the cores change CPU time far less than wall time.

``--with-auto`` adds the ``unlearnkit unlearn --method auto`` runs of the grid's scenarios and seeds
(they are not grid runs: ``auto`` lives above the benchmark runner), one row per budget.

Usage:  python benchmarks/method_table.py benchmarks/grids/baselines.toml [--home DIR] [--metrics ua,ra,ta]
                                          [--with-auto]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from unlearnkit.report.aggregate import Stat, aggregate_runs
from unlearnkit.report.labels import scenario_key
from unlearnkit.bench.grid import grids_config_hashes
from unlearnkit.runs.experiment import Workspace

DEFAULT_METRICS = "ua,ra,ta,mia_efficacy,avg_gap"


def fmt(stat: Stat | None, n_row: int, digits: int = 2) -> str:
    """``mean ± std``; "(n=k)" when only k of the row's seeds have a finite value; "—" when none."""
    if stat is None:
        return "—"
    std = stat.std
    text = f"{stat.mean:.{digits}f}" + (f" ± {std:.{digits}f}" if std is not None else "")
    return text + (f" (n={stat.n})" if stat.n < n_row else "")


def load_rows(grids: list[Path], home: str | None, *, with_auto: bool = False) -> list[dict]:
    """The finished runs of ``grids`` in the store of ``home`` (read only), with ``with_auto`` also the
    ``unlearn --method auto`` runs of the same scenarios and seeds."""
    hashes = grids_config_hashes(grids)
    store = Workspace(home).existing_runs()  # reads only: the store is not written
    done = store.list(status="done") if store else []
    rows = [r for r in done if r["config_hash"] in hashes]
    if with_auto:
        scenarios = {(scenario_key(r), r["seed"]) for r in rows}
        rows += [r for r in done if r["method"] == "auto" and (scenario_key(r), r["seed"]) in scenarios]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("grids", nargs="+", type=Path)
    parser.add_argument("--home", help="the store's home (default: $UNLEARNKIT_HOME or ~/.cache/unlearnkit)")
    parser.add_argument("--metrics", default=DEFAULT_METRICS)
    parser.add_argument("--with-auto", action="store_true", help="add the grid scenarios' `unlearn --method auto` runs")
    args = parser.parse_args()

    rows = load_rows(args.grids, args.home, with_auto=args.with_auto)
    metrics = args.metrics.split(",")
    for sc in aggregate_runs(rows):
        retrain = [v for v in sc.variants if v.method == "retrain"]
        retrain_s = retrain[0].stats.get("runtime_s").mean if retrain and "runtime_s" in retrain[0].stats else None
        print(f"\n#### {sc.dataset} / {sc.model} / {sc.forget}" + (f" / retain fraction {sc.retain_fraction:g}"
                                                                    if sc.retain_fraction is not None else ""))
        print()
        cpu = any("cpu_s" in v.stats for v in sc.variants)
        golden_cpu = sc.golden.stats.get("cpu_s")
        extra = ["runtime (s)"] + (["speed-up vs retrain"] if retrain_s else [])
        extra += (["CPU (s)"] + (["CPU speed-up vs golden"] if golden_cpu else [])) if cpu else []
        extra += ["marks"]
        print("| model | seeds | " + " | ".join(metrics + extra) + " |")
        print("|---|---:|" + "---:|" * (len(metrics) + len(extra)))
        for ref in (sc.golden, sc.original):
            cells = [fmt(ref.stats.get(m), ref.n_seeds) for m in metrics] + [""] * len(extra)
            if cpu and ref is sc.golden and golden_cpu:
                cells[len(metrics) + extra.index("CPU (s)")] = fmt(golden_cpu, ref.n_seeds, 1)
            print(f"| *{ref.name}* | {ref.n_seeds} | " + " | ".join(cells) + " |")
        for v in sc.variants:
            runtime = v.stats.get("runtime_s")
            cells = [fmt(v.stats.get(m), v.n_seeds) for m in metrics] + [fmt(runtime, v.n_seeds, 1)]
            if retrain_s:
                cells.append(f"{retrain_s / runtime.mean:.1f}×" if runtime else "—")
            if cpu:
                cpu_s = v.stats.get("cpu_s")
                cells.append(fmt(cpu_s, v.n_seeds, 1))
                if golden_cpu:
                    cells.append(f"{golden_cpu.mean / cpu_s.mean:.1f}×" if cpu_s and cpu_s.mean > 0 else "—")
            cells.append("; ".join(v.marks))
            print(f"| `{v.label}` | {v.n_seeds} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
