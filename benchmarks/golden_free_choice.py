"""Pick a method's setting without the golden model: rank a grid's settings by golden-free distance.

For every setting (method and parameters) of the given grid(s), per seed:

    distance = |heldout_acc_gap| / 100 + |heldout_auc − 0.5| + max(0, ra(original) − ra) / 100

(``distance+fit`` of ``benchmarks/heldout_agreement.py``), that is, how far D_f is from looking like the held-out V_f (METRICS.md, "Golden-free evidence"),
plus how much of D_r's fit was lost, all of which an engineer can compute without retraining. The
settings are ranked by the mean over seeds; those whose mean process CPU seconds exceed
``--budget`` (a fraction of ``--golden-cpu``, the retrain's CPU seconds) are listed but not chosen.
avg_gap is printed beside for the record, never used to rank.

Usage:  python benchmarks/golden_free_choice.py benchmarks/grids/eu_k_settings.toml [--home DIR]
        [--budget 0.1] [--golden-cpu 147.5]
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

from heldout_agreement import golden_free  # benchmarks/: the same distance, with the D_r fit term

from unlearnkit.bench.grid import grids_config_hashes
from unlearnkit.report.aggregate import variant_key, variant_labels
from unlearnkit.runs.experiment import Workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("grids", nargs="+", type=Path)
    parser.add_argument("--home", help="the store's home (default: $UNLEARNKIT_HOME or ~/.cache/unlearnkit)")
    parser.add_argument("--budget", type=float, default=0.1, help="largest CPU share of the retrain (default 0.1)")
    parser.add_argument("--golden-cpu", type=float, default=147.5,
                        help="the retrain's CPU seconds (default: the memorising benchmark's golden, seeds 0-2)")
    args = parser.parse_args()

    hashes = grids_config_hashes(args.grids)
    store = Workspace(args.home).existing_runs()
    rows = [r for r in (store.list(status="done") if store else []) if r["config_hash"] in hashes]
    labels = variant_labels(rows)
    per_setting: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for row in rows:
        m = row["metrics"]["rows"]
        per_setting[labels[variant_key(row)]].append((golden_free(m["unlearned"], m["original"])["distance+fit"],
                                                       m["unlearned"].get("cpu_s", np.nan),
                                                       m["unlearned"].get("avg_gap", np.nan)))
    limit = args.budget * args.golden_cpu
    ranked = sorted(per_setting.items(), key=lambda kv: np.mean([d for d, _, _ in kv[1]]))
    print(f"CPU budget: {args.budget:g} × {args.golden_cpu:g} s = {limit:.2f} s\n")
    print("| setting | seeds | golden-free distance | CPU (s) | within budget | avg_gap (not used) |")
    print("|---|---:|---:|---:|---|---:|")
    chosen = None
    for label, vals in ranked:
        d, cpu, gap = (np.array(x) for x in zip(*vals))
        ok = float(np.mean(cpu)) <= limit
        if ok and chosen is None:
            chosen = label
        print(f"| `{label}` | {len(vals)} | {d.mean():.4f} ± {d.std(ddof=1) if len(d) > 1 else 0:.4f} | "
              f"{cpu.mean():.1f} | {'yes' if ok else 'no'} | {gap.mean():.2f} |")
    print(f"\nchosen: {chosen}")


if __name__ == "__main__":
    main()
