"""Stored runs before and after issue 20's equal-class membership attack, side by side.

Issue 20 changed ``mia_efficacy`` (METRICS.md: the SVC is fitted on as many non-members as members)
and added ``mia_member_recall`` (the attack's recall on its own members; below 50 it has collapsed).
The stores keep no weights, so the runs were re-made by the re-evaluation grids
(``memorising_equal_attack*.toml``, ``generalising_equal_attack.toml``), which name
``mia_member_recall`` and so get config hashes of their own. This script pairs every finished run
of those grids with the run of the same scenario, seed, method and parameters that the grids given
with ``--before`` stored (``memorising.toml``, ``baselines.toml``; the validation slice ``val_size``
is ignored in the match: it changes neither the training set nor the test set nor D_f), and prints:

* every run whose attack reads ``mia_member_recall`` < 50, with RA − TA (a hint only: whether
  members and non-members read alike or inverted, ``mia_collapse.py --max-recall 50`` measures on
  the models);
* per variant: ``mia_efficacy`` and ``avg_gap`` before → after (means over the seeds that have both),
  the rank by ``avg_gap`` before and after among the variants paired on every seed, and the lowest
  member recall;
* the golden model's ``mia_efficacy`` per seed, before → after;
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
    xs = [x for x in xs if x == x]  # NaN left out
    return statistics.fmean(xs) if xs else float("nan")


def spread(xs: list[float]) -> str:
    if not xs:
        return "—"
    return f"{mean(xs):.2f} ± {statistics.stdev(xs):.2f}" if len(xs) > 1 else f"{xs[0]:.2f}"


def moved_by(after: dict, before: dict) -> float | None:
    """The largest change of UA, RA and TA between two runs; None when one lacks a value."""
    a, b = values(after, "unlearned"), values(before, "unlearned")
    diffs = [abs(a[m] - b[m]) for m in SAME if m in a and m in b and a[m] == a[m] and b[m] == b[m]]
    return max(diffs) if len(diffs) == len(SAME) else None


def summary(matched: list[tuple[dict, dict | None]], labels: dict) -> list[str]:
    """The low-recall runs and the runs whose UA, RA or TA moved."""
    def name(r: dict) -> str:
        return f"{r['forget']} seed {r['seed']} `{labels[variant_key(r)]}`"

    low = [a for a, _ in matched if values(a, "unlearned").get(RECALL, 100.0) < 50]
    out = [f"{len(matched)} re-evaluated runs, {sum(b is not None for _, b in matched)} with a stored run "
           f"from before; mia_member_recall < 50 on {len(low)}."]
    for a in low:
        u = values(a, "unlearned")
        out.append(f"- {name(a)}: recall {u[RECALL]:.1f}, mia_efficacy {u['mia_efficacy']:.1f}, "
                   f"RA − TA {u['ra'] - u['ta']:+.2f}")
    moved = [(a, moved_by(a, b)) for a, b in matched if b is not None]
    same = sum(d is not None and d < 1e-6 for _, d in moved)
    out.append(f"UA, RA and TA equal to the stored run's (1e-6) on {same} of {len(moved)} pairs; the others:")
    out += [f"- {name(a)}: " + (f"moved by up to {d:.2f}" if d is not None else "a value is missing")
            for a, d in moved if d is None or d >= 1e-6]
    return out


def variant_table(rows: list[tuple[dict, dict | None]], labels: dict) -> list[str]:
    """Per variant: mia_efficacy and avg_gap before → after over the seeds that have both (the
    ranks among the variants paired on every seed they ran), and the lowest member recall."""
    per: dict[str, list] = defaultdict(list)
    for a, b in rows:
        per[f"`{labels[variant_key(a)]}`"].append((a, b, "unlearned"))
    originals = {a["seed"]: (a, b) for a, b in sorted(rows, key=lambda ab: ab[1] is not None)}
    # every run of a seed carries its original's row; one paired with a stored run is preferred
    per["*original*"] = [(a, b, "original") for a, b in originals.values()]
    stats = {}
    for label, runs in per.items():
        paired = [(values(a, w), values(b, w)) for a, b, w in runs if b is not None]
        stats[label] = dict(
            seeds=len(runs), paired=len(paired),
            recall=min((values(a, w).get(RECALL, float("nan")) for a, _, w in runs), key=lambda x: (x != x, x)),
            **{f"{m}_{t}": mean([pair[i].get(m, float("nan")) for pair in paired])
               for m in ("avg_gap", "mia_efficacy") for i, t in ((0, "a"), (1, "b"))})
    ranked = [k for k in stats if stats[k]["paired"] == stats[k]["seeds"]]
    ranked = [k for k in ranked if stats[k]["avg_gap_a"] == stats[k]["avg_gap_a"]]  # a NaN avg_gap has no rank
    rank = {t: {k: i + 1 for i, k in enumerate(sorted(ranked, key=lambda k: (stats[k][f"avg_gap_{t}"], k)))}
            for t in ("a", "b")}
    out = ["| method | seeds | paired | mia_efficacy before → after | lowest member recall | avg_gap before → after "
           "| rank before → after |", "|---|---:|---:|---:|---:|---:|---:|"]

    def last_if_nan(x: float) -> tuple:
        return (x != x, x if x == x else 0.0)

    def fmt(x: float, digits: int) -> str:
        return f"{x:.{digits}f}" if x == x else "—"

    for label in sorted(stats, key=lambda k: (stats[k]["paired"] == 0, *last_if_nan(stats[k]["avg_gap_a"]), k)):
        s = stats[label]
        arrows = [f"{fmt(s[m + '_b'], d)} → {fmt(s[m + '_a'], d)}" if s["paired"] else "—"
                  for m, d in (("mia_efficacy", 1), ("avg_gap", 2))]
        ranks = f"{rank['b'][label]} → {rank['a'][label]}" if label in rank["a"] else "—"
        out.append(f"| {label} | {s['seeds']} | {s['paired']} | {arrows[0]} | {fmt(s['recall'], 1)} | {arrows[1]} "
                   f"| {ranks} |")
    return out


def report(matched: list[tuple[dict, dict | None]]) -> list[str]:
    labels = variant_labels([a for a, _ in matched])
    out = summary(matched, labels)
    by_scenario: dict[str, list] = defaultdict(list)
    for a, b in matched:
        by_scenario[a["forget"]].append((a, b))
    for forget, rows in sorted(by_scenario.items()):
        golden = {}
        for a, b in rows:
            if golden.get(a["seed"], (None, None))[1] is None:
                golden[a["seed"]] = (values(a, "golden"), values(b, "golden") if b is not None else None)
        seeds = ", ".join(f"seed {s}: " + (f"{g[1]['mia_efficacy']:.1f} → " if g[1] else "") + f"{g[0]['mia_efficacy']:.1f}"
                          for s, g in sorted(golden.items()))
        out += ["", f"#### {forget}", "",
                f"golden mia_efficacy (before → after) {seeds}; after "
                f"{spread([g[0]['mia_efficacy'] for g in golden.values()])}; golden recall ≥ "
                f"{min(g[0][RECALL] for g in golden.values()):.1f}, original recall ≥ "
                f"{min(values(a, 'original')[RECALL] for a, _ in rows):.1f}", ""]
        out += variant_table(rows, labels)
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
