"""What LTU's guides and harmonisation did in each stored run (the numbers of docs/results/ltu.md).

Reads the run store and each unlearned model's record, where the method's log is kept, and prints
one row per ``ltu`` run of the given grid(s): the steps that needed projecting (⟨g_f, g_r⟩ < 0), the
share of D̂_r the refit guides call "member" at each epoch, and the guides' loss on the forget
queries at each epoch (ln 2 ≈ 0.69 is the loss of a guide that answers 0.5 for every sample).

Usage:  python benchmarks/ltu_logs.py benchmarks/grids/ltu.toml [benchmarks/grids/ltu_rho.toml] [--home DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from unlearnkit.bench.grid import grids_config_hashes
from unlearnkit.runs.experiment import Workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("grids", nargs="+", type=Path)
    parser.add_argument("--home", help="the store's home (default: $UNLEARNKIT_HOME or ~/.cache/unlearnkit)")
    args = parser.parse_args()

    hashes = grids_config_hashes(args.grids)
    ws = Workspace(args.home)
    store = ws.existing_runs()  # reads only: the store is not written
    rows = [r for r in (store.list(status="done") if store else [])
            if r["config_hash"] in hashes and r["method"] == "ltu"]
    print("| forget | ρ | seed | meta | harmonize | conflicting steps | guides' member rate on D̂_r | guides' loss on Q_f |")
    print("|---|---:|---:|---|---|---:|---|---|")
    for row in sorted(rows, key=lambda r: (r["forget"], str(r["config"].get("retain_fraction")), r["seed"])):
        log = ws.models.meta(row["unlearned_key"])["meta"]["log"]
        params = row["params"]
        rates = ", ".join(f"{x:.2f}" for x in log["guide_member_rate"])
        losses = ", ".join(f"{x:.2f}" for x in log["mi_loss"])
        print(f"| {row['forget']} | {row['config'].get('retain_fraction')} | {row['seed']} | {params['meta']} "
              f"| {params['harmonize']} | {log['conflicts']} / {log['steps']} | {rates} | {losses} |")


if __name__ == "__main__":
    main()
