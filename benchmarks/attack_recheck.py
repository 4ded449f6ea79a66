"""Stored runs before and after issue 20's equal-class membership attack, side by side.

Issue 20 changed ``mia_efficacy`` (METRICS.md: the SVC is fitted on as many non-members as members)
and added ``mia_member_recall`` (the attack's recall on its own members; below 50 it has collapsed).
The stores keep no weights, so the runs were re-made by the re-evaluation grids
(``memorising_equal_attack*.toml``, ``generalising_equal_attack.toml``), which name
``mia_member_recall`` and so get config hashes of their own. This script pairs every finished run
of those grids with the run of the same scenario, seed, method and parameters that the grids given
with ``--before`` stored (``memorising.toml``, ``baselines.toml``; the validation slice ``val_size``
is ignored in the match: it changes neither the training set nor the test set nor D_f), and prints:

* every run whose attack reads ``mia_member_recall`` < 50, with RA − TA (negative: D_r fitted worse
  than the test set, a genuine inversion rather than a collapse);
* per method (mean over seeds): ``mia_efficacy`` and ``avg_gap`` before → after, and the rank by
  ``avg_gap`` before and after, with the lowest member recall;
* the golden model's ``mia_efficacy`` over seeds, before and after;
* how many runs reproduced UA, RA and TA to 1e-6 (the same models: training is seeded), and which
  did not (a method that takes V sees another V when ``val_size`` changed).

It reads the stores only.

Usage:  python benchmarks/attack_recheck.py GRID.toml [GRID.toml ...] --before GRID.toml [...] [--home DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

from unlearnkit.bench.grid import grids_config_hashes
from unlearnkit.report.labels import variant_key, variant_labels
from unlearnkit.runs.experiment import Workspace

RECALL = "mia_member_recall"
SAME = ("ua", "ra", "ta")


def match_key(row: dict) -> tuple:
    """The scenario, seed and variant of a run, with ``val_size`` left out of its data options."""
    config = row.get("config") or {}
    options = {k: v for k, v in (config.get("data_options") or {}).items() if k != "val_size"}
    recipe = config.get("resolved_recipe") or config.get("recipe")
    return (row["dataset"], row["model"], row["forget"], row["seed"], variant_key(row),
            json.dumps(options, sort_keys=True), json.dumps(recipe, sort_keys=True))


def values(row: dict, which: str) -> dict:
    return (row.get("metrics") or {}).get("rows", {}).get(which, {})


def records_recall(row: dict) -> bool:
    return RECALL in ((row.get("config") or {}).get("metrics") or [])


def pairs(grids: list[Path], before_grids: list[Path], home: str | None) -> list[tuple[dict, dict | None]]:
    """(after, before) for every finished run of ``grids``; before is the run of ``before_grids`` with
    the same ``match_key`` that does not record the member recall, None when there is none."""
    hashes, before_hashes = grids_config_hashes(grids), grids_config_hashes(before_grids)
    store = Workspace(home).existing_runs()
    done = sorted(store.list(status="done") if store else [], key=lambda r: r["finished_at"] or 0)
    before: dict[tuple, dict] = {}
    for r in done:
        if r["config_hash"] in before_hashes and not records_recall(r):
            before[match_key(r)] = r  # latest wins
    return [(r, before.get(match_key(r))) for r in done if r["config_hash"] in hashes]


def mean(xs: list[float]) -> float:
    return statistics.fmean(xs) if xs else float("nan")


def spread(xs: list[float]) -> str:
    if not xs:
        return "—"
    return f"{mean(xs):.2f} ± {statistics.stdev(xs):.2f}" if len(xs) > 1 else f"{xs[0]:.2f}"


def report(matched: list[tuple[dict, dict | None]]) -> list[str]:
    labels = variant_labels([a for a, _ in matched])
    out: list[str] = []
    low = [(a, b) for a, b in matched if values(a, "unlearned").get(RECALL, 100.0) < 50]
    out.append(f"{len(matched)} re-evaluated runs, {sum(b is not None for _, b in matched)} with a stored run "
               f"from before; mia_member_recall < 50 on {len(low)}.")
    for a, _ in low:
        u = values(a, "unlearned")
        out.append(f"- {a['forget']} seed {a['seed']} `{labels[variant_key(a)]}`: recall {u[RECALL]:.1f}, "
                   f"mia_efficacy {u['mia_efficacy']:.1f}, RA − TA {u['ra'] - u['ta']:+.2f}")
    moved = {id(a): max(abs(values(a, "unlearned").get(m, 0) - values(b, "unlearned").get(m, 0)) for m in SAME)
             for a, b in matched if b is not None}
    out.append(f"UA, RA and TA equal to the stored run's (1e-6) on {sum(d < 1e-6 for d in moved.values())} of "
               f"{len(moved)} pairs; the others:")
    out += [f"- {a['forget']} seed {a['seed']} `{labels[variant_key(a)]}`: moved by up to {moved[id(a)]:.2f}"
            for a, b in matched if b is not None and moved[id(a)] >= 1e-6]
    by_scenario: dict[str, list] = defaultdict(list)
    for a, b in matched:
        by_scenario[a["forget"]].append((a, b))
    for forget, rows in sorted(by_scenario.items()):
        out += ["", f"#### {forget}", ""]
        golden_after = {a["seed"]: values(a, "golden") for a, _ in rows}
        golden_before = {b["seed"]: values(b, "golden") for _, b in rows if b is not None}
        out.append("golden mia_efficacy by seed, after: " + ", ".join(
            f"{golden_after[s]['mia_efficacy']:.1f}" for s in sorted(golden_after)) +
            f" ({spread([g['mia_efficacy'] for g in golden_after.values()])}); before: " + ", ".join(
            f"{golden_before[s]['mia_efficacy']:.1f}" for s in sorted(golden_before)) +
            f"; golden recall ≥ {min(g[RECALL] for g in golden_after.values()):.1f}, original recall ≥ "
            f"{min(values(a, 'original')[RECALL] for a, _ in rows):.1f}")
        out.append("")
        per: dict[str, list] = defaultdict(list)
        for a, b in rows:
            per[f"`{labels[variant_key(a)]}`"].append((a, b, "unlearned"))
        originals = {a["seed"]: (a, b) for a, b in sorted(rows, key=lambda ab: ab[1] is not None)}
        # every run of a seed carries its original's row; one paired with a stored run is preferred
        per["*original*"] = [(a, b, "original") for a, b in originals.values()]
        stats = {}
        for label, runs in per.items():
            ua = [values(a, which) for a, _, which in runs]
            ub = [values(b, which) for _, b, which in runs if b]
            stats[label] = dict(
                seeds=len(runs), gap_a=mean([u["avg_gap"] for u in ua if "avg_gap" in u]),
                gap_b=mean([u["avg_gap"] for u in ub if "avg_gap" in u]),
                mia_a=mean([u["mia_efficacy"] for u in ua]), mia_b=mean([u["mia_efficacy"] for u in ub]),
                recall=min(u.get(RECALL, float("nan")) for u in ua), n_b=len(ub))
        rank_a = {k: i + 1 for i, k in enumerate(sorted(stats, key=lambda k: (stats[k]["gap_a"], k)))}
        had = [k for k in stats if stats[k]["n_b"]]
        rank_b = {k: i + 1 for i, k in enumerate(sorted(had, key=lambda k: (stats[k]["gap_b"], k)))}
        out.append("| method | seeds | mia_efficacy before → after | lowest member recall | avg_gap before → after "
                   "| rank before → after |")
        out.append("|---|---:|---:|---:|---:|---:|")
        for label in sorted(stats, key=rank_a.get):
            s = stats[label]
            before_gap, before_mia = (f"{s['gap_b']:.2f}", f"{s['mia_b']:.1f}") if s["n_b"] else ("—", "—")
            out.append(f"| {label} | {s['seeds']} | {before_mia} → {s['mia_a']:.1f} | {s['recall']:.1f} | "
                       f"{before_gap} → {s['gap_a']:.2f} | {rank_b.get(label, '—')} → {rank_a[label]} |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("grids", nargs="+", type=Path, help="the re-evaluation grids")
    parser.add_argument("--before", nargs="+", type=Path, required=True, help="the grids that stored the runs before")
    parser.add_argument("--home", help="the store's home (default: $UNLEARNKIT_HOME or ~/.cache/unlearnkit)")
    args = parser.parse_args()
    print("\n".join(report(pairs(args.grids, args.before, args.home))))


if __name__ == "__main__":
    main()
