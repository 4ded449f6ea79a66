"""Is a high ``mia_efficacy`` the forget set looking unseen, or the SVC attack collapsing?

``mia_efficacy`` (METRICS.md) fits an RBF SVC on one scalar, p_y, on equal classes: m = min(|D_t*|,
|D_r|) members from D_r and m non-members from D_t*, and reports the percent of D_f it calls
non-member. Before issue 20 the non-members were all of D_t*: with |D_r| < |D_t*| (the memorising
benchmark: 9,000 members against 10,000 non-members) a model whose D_r is a little looser than the
test set's correct samples made the SVC collapse to "everything non-member": it then called its own
members non-member as well, and ``mia_efficacy`` read 100 whatever D_f looked like.

For every finished run of the given grids whose ``mia_efficacy`` is at least ``--min-mia``, and
for the golden and original models of each seed, this script reloads the stored model, refits
the attack and prints ``mia_member_recall`` (the percent of the attack's own members it calls
member; below 50 = collapsed) beside the stored metrics. The recomputed ``mia_efficacy`` equals the
stored one for runs recorded under the current definition.

``--max-recall R`` checks the runs whose stored ``mia_member_recall`` is below R instead (the
equal-class attack's low-recall runs). Every checked model also gets the AUC of p_y separating the
attack's members from its non-members (0.5: the attack has nothing to find; below 0.5: D_r is less
confident than D_t*, a genuine inversion).

``--unequal`` also fits the pre-issue-20 attack (m members against all of D_t*) on the same model
and prints its ``mia_efficacy`` and member recall: the collapse the equal classes remove.
``--balanced`` fits the unequal attack with ``class_weight="balanced"`` instead (each class weighted
by the inverse of its size); neither is the attack METRICS.md defines.

Usage:  python benchmarks/mia_collapse.py GRID.toml [GRID.toml ...] [--home DIR]
            [--scenario random:0.1] [--min-mia 50 | --max-recall 50] [--unequal] [--balanced]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from unlearnkit.bench.grid import grids_config_hashes
from unlearnkit.deletion.runs import load_run_model
from unlearnkit.metrics import evaluate, mia
from unlearnkit.metrics.context import compute_logits
from unlearnkit.report.aggregate import variant_key, variant_labels
from unlearnkit.report.marks import COLLAPSED_RECALL
from unlearnkit.runs.experiment import Workspace, config_from_run, golden_model, load_context, original_model

METRICS = ["mia_efficacy", "mia_member_recall"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("grids", nargs="+", type=Path)
    parser.add_argument("--home", help="the store's home (default: $UNLEARNKIT_HOME or ~/.cache/unlearnkit)")
    parser.add_argument("--scenario", default="random:0.1", help="forget spec of the runs to check")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--min-mia", type=float, default=50.0, help="check runs with mia_efficacy at least this")
    which.add_argument("--max-recall", type=float,
                       help="check runs whose stored member recall is below this instead (runs that record it)")
    parser.add_argument("--unequal", action="store_true", help="also fit the pre-issue-20 attack (all of D_t*)")
    parser.add_argument("--balanced", action="store_true", help="also fit that attack with balanced class weights")
    args = parser.parse_args()

    ws = Workspace(args.home)
    hashes = grids_config_hashes(args.grids)
    rows = [r for r in ws.runs.list(status="done") if r["config_hash"] in hashes and r["forget"] == args.scenario]
    labels = variant_labels(rows)
    weight = "balanced" if args.balanced else None
    other = args.unequal or args.balanced
    what = "balanced" if args.balanced else "unequal"
    extra = f" {what}: mia_efficacy | {what}: member recall |" if other else ""
    print("| model | seed | ua | ra | mia_efficacy (stored) | mia_efficacy (again) | mia_member_recall | members vs "
          "non-members AUC | attack |" + extra)
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|" + ("---:|---:|" if other else ""))
    contexts: dict[int, object] = {}
    t0 = time.process_time()
    for r in sorted(rows, key=lambda r: (r["seed"], labels[variant_key(r)])):
        seed = r["seed"]
        if seed not in contexts:
            ctx = contexts[seed] = load_context(config_from_run(r))
            for name, trained in (("*golden*", golden_model(ws, ctx)), ("*original*", original_model(ws, ctx))):
                rep = evaluate(trained.model, ctx.split, metrics=["ua", "ra", *METRICS], seed=seed)
                p_y = _features(trained.model, ctx.split, other)
                _row(name, seed, rep.rows["unlearned"], None, _separability(p_y, seed),
                     _unequal(p_y, seed, weight) if other else None)
        vals = (r.get("metrics") or {}).get("rows", {}).get("unlearned", {})
        if args.max_recall is not None:
            if vals.get("mia_member_recall", 100.0) >= args.max_recall:
                continue
        elif vals.get("mia_efficacy", 0.0) < args.min_mia:
            continue
        model = load_run_model(r["id"], home=ws.home)
        split = contexts[seed].split
        rep = evaluate(model, split, metrics=METRICS, seed=seed)
        p_y = _features(model, split, other)
        _row(f"`{labels[variant_key(r)]}`", seed, vals, rep.rows["unlearned"], _separability(p_y, seed),
             _unequal(p_y, seed, weight) if other else None)
    print(f"\n{time.process_time() - t0:.0f} CPU s")


def _features(model: torch.nn.Module, split, with_forget: bool) -> dict[str, np.ndarray]:
    """p_y of the model on D_r and D_t* (and D_f when ``with_forget``), each set scored once."""
    names = {"retain": "retain", "test": split.test_star_name, **({"forget": "forget"} if with_forget else {})}
    out = {}
    for key, name in names.items():
        subset = split.subset(name)
        out[key] = mia.attack_feature(compute_logits(model, subset), subset.labels, "confidence")
    return out


def _unequal(p_y: dict[str, np.ndarray], seed: int, class_weight: str | None) -> tuple[float, float]:
    """(mia_efficacy, member recall) of the pre-issue-20 SVC attack: m members against all of D_t*."""
    retain, test = p_y["retain"], p_y["test"]
    members = retain[mia.select_members(len(retain), len(test), seed=seed)]
    clf = mia.fit_svc_attack(members, test, class_weight=class_weight)
    return (mia.svc_attack(members, test, p_y["forget"], clf=clf), mia.svc_member_recall(members, test, clf=clf))


def _separability(p_y: dict[str, np.ndarray], seed: int) -> float:
    """AUC of p_y telling the equal-class attack's members (D_r) from its non-members (D_t*)."""
    retain, test = p_y["retain"], p_y["test"]
    members = retain[mia.select_members(len(retain), len(test), seed=seed)]
    nonmembers = test[mia.select_nonmembers(len(retain), len(test), seed=seed)]
    return float(roc_auc_score(np.r_[np.ones(len(members)), np.zeros(len(nonmembers))], np.r_[members, nonmembers]))


def _row(name: str, seed: int, stored: dict, again: dict | None, auc: float,
         balanced: tuple[float, float] | None) -> None:
    now = again if again is not None else stored
    recall = now["mia_member_recall"]
    verdict = "works"
    if recall < COLLAPSED_RECALL:
        verdict = ("inverted: D_r less confident than D_t*" if auc < 0.5 else
                   "collapsed: calls its own members non-member")
    again_mia = f"{again['mia_efficacy']:.2f}" if again is not None else ""
    tail = f" {balanced[0]:.2f} | {balanced[1]:.2f} |" if balanced is not None else ""
    print(f"| {name} | {seed} | {stored['ua']:.2f} | {stored['ra']:.2f} | {stored['mia_efficacy']:.2f} | {again_mia} "
          f"| {recall:.2f} | {auc:.3f} | {verdict} |{tail}", flush=True)


if __name__ == "__main__":
    main()
