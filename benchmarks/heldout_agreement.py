"""How far can the golden-free statistics be trusted? Their agreement with avg_gap over every run.

An engineer without a golden model judges an unlearning by ``heldout_acc_gap`` and ``heldout_auc``
(D_f against held-out data V_f). This script reads the run store (runs of the given grids), and for
every finished run with those metrics compares three golden-free distances with ``avg_gap`` (the
distance to the retrained model, which the engineer does not have):

- ``|acc_gap|``: |heldout_acc_gap| (points);
- ``|auc-0.5|``: |heldout_auc − 0.5|;
- ``distance``: |heldout_acc_gap|/100 + |heldout_auc − 0.5|, the D_f-against-V_f part of the
  calibration's distance in random scenarios (``unlearnkit.methods.calibration``);
- ``distance+fit``: ``distance`` plus the accuracy lost on D_r, max(0, ra(θ_o) − ra(θ))/100. An
  engineer can compute it without a golden model too (the retained records and the model before).
- ``two-question``: the mean, in points, of the verdict's two questions (METRICS.md, "The verdict
  of a deletion request") as estimates of avg_gap's terms: |acc(θ, D_f) − acc(θ_o, V_f)| (D_f against
  what unseen records score under the model before, which is what the retrained model scores on
  D_f: the UA term), max(0, ra(θ_o) − ra(θ)) (the RA term) and |acc(θ, V_f) − acc(θ_o, V_f)| (held-out
  accuracy lost or gained: the TA term). Random scenarios only (in class scenarios the retrained
  model's D_f accuracy is 0, not that of V_f); V_f there is all of V, so acc(θ, V_f) = acc(θ, D_f) −
  heldout_acc_gap. avg_gap's fourth term, the membership attack, has no golden-free stand-in here.
- ``three-question`` (with ``--mia-standin``; random scenarios): ``two-question`` plus a golden-free
  stand-in for avg_gap's MIA term, averaged over four: |mia_efficacy(θ) − m_o|, where m_o is the
  percent of V_f (weighted to D_f's classes) that the original model's own SVC attack calls
  non-member: what the attack reads on records the model never saw, as the retrained model's attack
  reads D_f. It loads each seed's original model from the model store (trained again, seeded, when
  the store lacks it).
- ``two-question+mia (golden)``: not golden-free, a diagnostic of what limits ``two-question``: the
  same three terms plus avg_gap's own MIA term |mia_efficacy − mia_efficacy(golden)|, averaged over
  four. Where it agrees with avg_gap and ``two-question`` does not, the missing term is the MIA one.

Per scenario it prints Spearman's rank correlation of each with avg_gap, over all runs and over the
variant means, and lists the runs where the two views disagree most: ``three-question`` when
computed, else ``two-question`` (in class scenarios ``distance+fit``) ranks the run a third of the
ranking or more away from where avg_gap ranks it.

Usage:  python benchmarks/heldout_agreement.py GRID.toml [GRID.toml ...] [--home DIR] [--top 8] [--mia-standin]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from unlearnkit.bench.grid import grids_config_hashes
from unlearnkit.metrics import mia
from unlearnkit.metrics.context import EvalContext
from unlearnkit.metrics.heldout import heldout_weights
from unlearnkit.report.aggregate import aggregate_runs, scenario_key, variant_labels
from unlearnkit.runs.experiment import Workspace, config_from_run, load_context, original_model

STATS = ("|acc_gap|", "|auc-0.5|", "distance", "distance+fit", "two-question", "three-question",
         "two-question+mia (golden)")


def heldout_nonmember_rate(ws: Workspace, row: dict) -> float:
    """m_o of ``three-question``: percent of V_f (weighted) that the original model's SVC attack calls non-member."""
    ctx = load_context(config_from_run(row))
    ectx = EvalContext(original_model(ws, ctx).model, ctx.split, seed=row["seed"])
    members, nonmembers = (mia.attack_feature(*ectx.member_logits()), mia.attack_feature(*ectx.nonmember_logits()))
    heldout = mia.attack_feature(ectx.logits("val_forget"), ectx.labels("val_forget"))
    clf = mia.fit_svc_attack(members, nonmembers)
    called_nonmember = clf.predict(heldout.reshape(-1, 1)) == 0
    weights = heldout_weights(*ectx.heldout_classes())
    return 100.0 * float(np.sum(weights * called_nonmember) / np.sum(weights))


def golden_free(values: dict, original: dict, random_scenario: bool = True, golden: dict | None = None,
                heldout_mia: float | None = None) -> dict[str, float]:
    """The golden-free statistics of one run from its stored rows (``values``: the unlearned model's);
    ``three-question`` when ``heldout_mia`` (m_o) is given, and the ``two-question+mia (golden)``
    diagnostic when ``golden`` holds the golden row's mia_efficacy."""
    gap, auc = values["heldout_acc_gap"], values["heldout_auc"]
    distance = abs(gap) / 100 + abs(auc - 0.5)
    ra_lost = max(0.0, original.get("ra", values["ra"]) - values["ra"])
    out = {"|acc_gap|": abs(gap), "|auc-0.5|": abs(auc - 0.5), "distance": distance,
           "distance+fit": distance + ra_lost / 100, "two-question": float("nan"),
           "three-question": float("nan"), "two-question+mia (golden)": float("nan")}
    if random_scenario and {"ua", "heldout_acc_gap"} <= set(original):
        acc_f = 100.0 - values["ua"]
        acc_v, acc_v_before = acc_f - gap, 100.0 - original["ua"] - original["heldout_acc_gap"]
        out["two-question"] = (abs(acc_f - acc_v_before) + ra_lost + abs(acc_v - acc_v_before)) / 3
        if heldout_mia is not None and "mia_efficacy" in values:
            out["three-question"] = (3 * out["two-question"] + abs(values["mia_efficacy"] - heldout_mia)) / 4
        if golden and "mia_efficacy" in golden and "mia_efficacy" in values:
            mia_term = abs(values["mia_efficacy"] - golden["mia_efficacy"])
            out["two-question+mia (golden)"] = (3 * out["two-question"] + mia_term) / 4
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("grids", nargs="+", type=Path)
    parser.add_argument("--home", help="the store's home (default: $UNLEARNKIT_HOME or ~/.cache/unlearnkit)")
    parser.add_argument("--top", type=int, default=8, help="disagreements listed per scenario")
    parser.add_argument("--mia-standin", action="store_true",
                        help="add three-question (loads the original models, or trains them again, seeded, "
                             "when the model store lacks them; random scenarios)")
    args = parser.parse_args()

    ws = Workspace(args.home)
    hashes = grids_config_hashes(args.grids)
    rows = [r for r in ws.runs.list(status="done") if r["config_hash"] in hashes]
    standin: dict[tuple, float] = {}
    labels = variant_labels(rows)
    from unlearnkit.report.aggregate import variant_key

    by_scenario: dict[tuple, list] = {}
    for r in rows:
        rows_of = (r.get("metrics") or {}).get("rows") or {}
        vals = rows_of.get("unlearned") or {}
        if not {"heldout_acc_gap", "heldout_auc", "avg_gap", "ra"} <= set(vals):
            continue
        random_scenario = str(r["forget"]).startswith("random")
        if args.mia_standin and random_scenario and (scenario_key(r), r["seed"]) not in standin:
            standin[(scenario_key(r), r["seed"])] = heldout_nonmember_rate(ws, r)
            print(f"m_o, seed {r['seed']}: {standin[(scenario_key(r), r['seed'])]:.2f}", flush=True)
        free = golden_free(vals, rows_of.get("original") or {}, random_scenario, rows_of.get("golden"),
                           standin.get((scenario_key(r), r["seed"])))
        by_scenario.setdefault(scenario_key(r), []).append((labels[variant_key(r)], r["seed"], {**vals, **free}))
    titles = {sc.key: f"{sc.dataset} / {sc.model} / {sc.forget} / recipe {sc.recipe}" for sc in aggregate_runs(rows)}
    for key, runs in sorted(by_scenario.items()):
        print(f"\n#### {titles.get(key, key)}: {len(runs)} runs\n")
        avg = np.array([v["avg_gap"] for _, _, v in runs])
        free = {s: np.array([v[s] for _, _, v in runs]) for s in STATS}
        variants = sorted({label for label, _, _ in runs})
        mean_avg = np.array([np.mean([v["avg_gap"] for lb, _, v in runs if lb == label]) for label in variants])
        print("| golden-free statistic | Spearman ρ with avg_gap (runs) | ρ (variant means) |")
        print("|---|---:|---:|")
        for s in STATS:
            if np.isnan(free[s]).any():
                continue
            rho_runs = spearmanr(free[s], avg).statistic
            means = np.array([np.mean([v[s] for lb, _, v in runs if lb == label]) for label in variants])
            rho_means = spearmanr(means, mean_avg).statistic if len(variants) > 2 else float("nan")
            print(f"| `{s}` | {rho_runs:.2f} | {rho_means:.2f} |")
        best = next((s for s in ("three-question", "two-question") if not np.isnan(free[s]).any()), "distance+fit")
        rank_free = np.argsort(np.argsort(free[best])) / max(len(runs) - 1, 1)
        rank_avg = np.argsort(np.argsort(avg)) / max(len(runs) - 1, 1)
        disagree = np.argsort(-np.abs(rank_free - rank_avg))
        print(f"\nLargest disagreements (rank 0 = closest, 1 = farthest; thirds apart):\n")
        print(f"| run | seed | avg_gap | rank | {best} | rank | heldout_acc_gap | heldout_auc | ra | mia_efficacy |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        shown = 0
        for i in disagree:
            if abs(rank_free[i] - rank_avg[i]) < 1 / 3 or shown >= args.top:
                break
            label, seed, v = runs[i]
            print(f"| `{label}` | {seed} | {v['avg_gap']:.2f} | {rank_avg[i]:.2f} | {free[best][i]:.3f} | "
                  f"{rank_free[i]:.2f} | {v['heldout_acc_gap']:.2f} | {v['heldout_auc']:.3f} | {v['ra']:.2f} | "
                  f"{v.get('mia_efficacy', float('nan')):.2f} |")
            shown += 1
        if not shown:
            print("| (none: no run is a third of the ranking apart) | | | | | | | | | |")


if __name__ == "__main__":
    main()
