"""``--method auto`` on the memorising benchmark: fix its rule on development seeds, then measure it.

The benchmark: Fashion-MNIST 10k subset, ``cnn``, recipe ``memorise``, random 10% (the setting of
benchmarks/grids/memorising.toml), each seed with its own original and golden models (trained once
and cached in the model store of ``--home``). Process CPU seconds throughout.

``--phase dev`` (seeds 7, 8, 9 by default; no golden model is trained or looked at): every member of
``POOL`` runs on each seed's original model and is rated by the golden-free verdict
(``deletion.auto_select``); its CPU is compared with the estimated retrain
(``deletion.retrain_cost``). The rule for the (high memorisation, scattered) cell follows
mechanically (``derive_cell``): the members that read forgotten on at least 2 of the 3 seeds (if none, forgotten
or inconclusive on at least 2; if none, the best-rated one), by (seeds forgotten, mean distance to
the margins' centre); each one's cost is its mean CPU fraction;
the default budget stays 0.10 when the first one's worst-seed cost fits it, else the smallest
multiple of 0.05 that does (the budget counts the candidates' own CPU; auto's overhead, scoring
the model, the retrain estimate and the ratings, is reported beside it).

``--phase report`` (seeds 0, 1, 2): ``select_method`` with the package's rule and default budget on
each seed; the pick's avg_gap (and UA, RA, TA, MIA) against that seed's golden model, beside doing
nothing (the original model); auto's CPU as a fraction of the golden retrain's measured training
CPU: the candidates' (what the budget counts) and the total (everything auto did: scoring, estimate,
every candidate and its rating).

Usage:  python benchmarks/auto_choice.py --phase dev [--seeds 7,8,9] [--home DIR] [--threads 1] [--out dev.json]
        python benchmarks/auto_choice.py --phase merge dev7.json dev8.json dev9.json   (seeds run apart)
        python benchmarks/auto_choice.py --phase report [--seeds 0,1,2] [--home DIR] [--budget 0.1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from pathlib import Path

import torch

from unlearnkit.deletion.auto_rule import DEFAULT_BUDGET, Candidate
from unlearnkit.deletion.auto_select import (Tried, distance, measure_memorisation, rate_candidate, rating_split,
                                             run_candidate, select_method)
from unlearnkit.deletion.judge import model_scores, verdict_parts
from unlearnkit.deletion.margins import load_margins
from unlearnkit.deletion.retrain_cost import estimate_retrain_cpu
from unlearnkit.runs.experiment import (ExperimentConfig, Workspace, golden_model, load_context, original_model,
                                        report_for)

#: The development pool for the (high, scattered) cell: the short and the faithful EU-k, and
#: ``restart_ft``, second closest on random-deletion.md within reach of a tenth of a retrain. Left out
#: to save CPU on a machine shared with four other jobs: ``ssd`` (does nothing on scattered records
#: there: 6.71 against 6.72), ``neggrad_plus`` (the old pick, 5.37), ``cf_k``, shorter EU-k schedules.
POOL = (
    Candidate("eu_k", {"k": 2, "schedule": "short", "init": "reset"}),
    Candidate("eu_k", {"k": 2, "schedule": "recipe", "recipe": "memorise"}),
    Candidate("restart_ft", {}),
)
HEADLINE = ["ua", "ra", "ta", "mia_efficacy", "avg_gap"]


def context(seed: int, data_dir: str | None):
    cfg = ExperimentConfig(dataset="fashion-mnist", model="cnn", forget="random:0.1", seed=seed, recipe="memorise",
                           data_options={"train_subset": 10000}, data_dir=data_dir)
    return load_context(cfg)


def dev(ws: Workspace, seeds: list[int], data_dir: str | None, out: str | None = None) -> None:
    margins = load_margins()
    rows: dict[str, list[tuple[str, float, float]]] = {c.label(): [] for c in POOL}
    overhead: list[float] = []
    for seed in seeds:
        ctx = context(seed, data_dir)
        original = original_model(ws, ctx).model
        t0 = time.process_time()
        rsplit = rating_split(ctx.split, seed)  # what select_method rates on: a seeded 5,000 of V's 50,000
        parts = verdict_parts(rsplit, seed)
        before = model_scores(original, rsplit, parts)
        mem = measure_memorisation(before)
        est = estimate_retrain_cpu(original, ctx.split.subset("retain"), ctx.recipe, seed=seed)
        setup = time.process_time() - t0
        print(f"seed {seed}: memorisation {mem.train_acc:.1f} - {mem.heldout_acc:.1f} = {mem.gap:.1f} points "
              f"({mem.level}); retrain estimate {est.cpu_s:.1f} CPU s ({est.to_dict()['how']})",
              flush=True)
        rate = []
        for cand in POOL:
            one: Tried = run_candidate(original, ctx.split, cand, float("inf"), seed=seed, device="cpu")
            rate_candidate(one, rsplit, parts, before, margins=margins, seed=seed, device="cpu")
            rate.append(one.rate_cpu_s)
            rows[cand.label()].append((one.verdict.verdict, distance(one.verdict), one.cpu_s / est.cpu_s))
            print(f"  {cand.label()}: {one.verdict.verdict}, distance {distance(one.verdict):.2f}, "
                  f"{one.cpu_s:.1f} CPU s ({100 * one.cpu_s / est.cpu_s:.1f}% of the estimate)", flush=True)
        overhead.append((setup + statistics.mean(rate)) / est.cpu_s)
    if out:
        Path(out).write_text(json.dumps({"seeds": seeds, "rows": rows, "overhead": overhead}))
    summarise(rows, seeds, overhead)


def summarise(rows: dict[str, list[tuple[str, float, float]]], seeds: list[int], overhead: list[float]) -> None:
    """The dev table and the derived cell."""
    print("\n| candidate | verdicts (seeds " + ", ".join(map(str, seeds)) + ") | mean distance | "
          "CPU, % of the estimated retrain (mean, max) |")
    print("|---|---|---:|---:|")
    for label, vals in rows.items():
        print(f"| `{label}` | {', '.join(v for v, _, _ in vals)} | {statistics.mean(d for _, d, _ in vals):.2f} | "
              f"{100 * statistics.mean(f for _, _, f in vals):.1f}, {100 * max(f for _, _, f in vals):.1f} |")
    print(f"\nauto's overhead (scoring, estimate, one rating): {100 * max(overhead):.1f}% at most")
    derive_cell(rows, max(overhead))


def derive_cell(rows: dict[str, list[tuple[str, float, float]]], overhead: float) -> None:
    """Print the (high, scattered) cell and the default budget that the dev results give (the module's rule):
    the members forgotten on at least 2 of the seeds; if none, those forgotten or inconclusive on at least
    2; if none, the one best by (mean verdict rank, mean distance)."""
    rank = {"forgotten": 0, "inconclusive": 1}

    def n_of(label: str, ok: tuple[str, ...]) -> int:
        return sum(v in ok for v, _, _ in rows[label])

    def mean_d(label: str) -> float:
        return statistics.mean(d for _, d, _ in rows[label])

    keep = [lab for lab in rows if n_of(lab, ("forgotten",)) >= 2]
    why = "forgotten on at least 2 seeds"
    if not keep:
        keep = [lab for lab in rows if n_of(lab, ("forgotten", "inconclusive")) >= 2]
        why = "none forgotten on 2 seeds; forgotten or inconclusive on at least 2"
    if not keep:
        keep = [min(rows, key=lambda lab: (statistics.mean(rank.get(v, 2) for v, _, _ in rows[lab]), mean_d(lab)))]
        why = "none forgotten or inconclusive on 2 seeds; the best-rated member"
    keep.sort(key=lambda lab: (-n_of(lab, ("forgotten",)), mean_d(lab)))
    print(f"\nderived cell (high, scattered), {why}:")
    for lab in keep:
        print(f"  {lab}: cost {statistics.mean(f for _, _, f in rows[lab]):.3f} "
              f"(forgotten on {n_of(lab, ('forgotten',))} seeds, mean distance {mean_d(lab):.2f})")
    need = max(f for _, _, f in rows[keep[0]])
    budget = DEFAULT_BUDGET if need <= DEFAULT_BUDGET else 0.05 * -(-need // 0.05)
    print(f"default budget: {budget:.2f} (the first needs {need:.3f} on its worst seed; overhead {overhead:.3f})")


def report(ws: Workspace, seeds: list[int], data_dir: str | None, budget: float) -> None:
    rows = []
    for seed in seeds:
        ctx = context(seed, data_dir)
        original, golden = original_model(ws, ctx), golden_model(ws, ctx)
        t0 = time.process_time()
        sel = select_method(original.model, ctx.split, shape="scattered", recipe=ctx.recipe,
                            recipe_source="memorise (the benchmark's)", budget=budget, seed=seed)
        total = time.process_time() - t0
        picked = report_for(ws, ctx, sel.result.model, sel.result.runtime_s, HEADLINE, cpu_s=sel.result.cpu_s)
        nothing = report_for(ws, ctx, original.model, None, HEADLINE)
        c = sel.choice
        print(f"seed {seed}: {c['why']}", flush=True)
        rows.append(dict(seed=seed, c=c, gap=picked.value("avg_gap"), none=nothing.value("avg_gap"), total=total,
                         golden=golden.train_cpu_s, cand=c["budget"]["candidates_cpu_s"], rep=picked))
    print("\n| seed | memorisation (points) | auto's pick | golden-free verdict | avg_gap | doing nothing | "
          "candidates' CPU (s) | auto's total CPU (s) | retrain CPU (s), measured / estimated | "
          "CPU fraction, candidates / total | candidates tried |")
    print("|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        c = r["c"]
        tried = ", ".join(f"`{t['label']}` {t['verdict'] or t['status']} ({t['cpu_s']:.1f} s)" for t in c["candidates"])
        print(f"| {r['seed']} | {c['memorisation']['gap']:.1f} | `{c['label']}` | {c['verdict']} | {r['gap']:.2f} | "
              f"{r['none']:.2f} | {r['cand']:.1f} | {r['total']:.1f} | {r['golden']:.1f} / "
              f"{c['retrain_estimate']['cpu_s']:.1f} | {100 * r['cand'] / r['golden']:.1f}% / "
              f"{100 * r['total'] / r['golden']:.1f}% | {tried} |")

    def ms(xs: list[float], scale: float = 1.0) -> str:
        sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
        return f"{scale * statistics.mean(xs):.2f} ± {scale * sd:.2f}"

    print(f"\nmean over {len(rows)} seeds: avg_gap {ms([r['gap'] for r in rows])} (doing nothing "
          f"{ms([r['none'] for r in rows])}); CPU, % of the retrain: candidates "
          f"{ms([r['cand'] / r['golden'] for r in rows], 100)}, "
          f"total {ms([r['total'] / r['golden'] for r in rows], 100)}")
    print("\n| seed | ua | ra | ta | mia_efficacy | mia_member_recall |\n|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        vals = [r["rep"].value(m) for m in (*HEADLINE[:4], "mia_member_recall")]
        print(f"| {r['seed']} | " + " | ".join("" if v is None else f"{v:.2f}" for v in vals) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", choices=("dev", "report", "merge"), required=True)
    parser.add_argument("--out", help="dev: also write the rows to this JSON file (one per seed when run apart)")
    parser.add_argument("files", nargs="*", help="merge: the dev JSON files, summarised and the cell derived together")
    parser.add_argument("--seeds", help="comma-separated (default: 7,8,9 for dev, 0,1,2 for report)")
    parser.add_argument("--home", help="the stores' home (default: $UNLEARNKIT_HOME or ~/.cache/unlearnkit)")
    parser.add_argument("--data-dir", help="folder of the Fashion-MNIST files (default: the dataset's own)")
    parser.add_argument("--budget", type=float, default=DEFAULT_BUDGET, help="report: auto's budget")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: CPU seconds without "
                        "spinning threads)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in (args.seeds or ("7,8,9" if args.phase == "dev" else "0,1,2")).split(",")]
    ws = Workspace(args.home)
    if args.phase == "merge":
        parts = [json.loads(Path(f).read_text()) for f in args.files]
        rows = {lab: [tuple(r) for p in parts for r in p["rows"][lab]] for lab in parts[0]["rows"]}
        summarise(rows, [s for p in parts for s in p["seeds"]], [o for p in parts for o in p["overhead"]])
    elif args.phase == "dev":
        dev(ws, seeds, args.data_dir, args.out)
    else:
        report(ws, seeds, args.data_dir, args.budget)


if __name__ == "__main__":
    main()
