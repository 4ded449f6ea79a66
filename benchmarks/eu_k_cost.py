"""What EU-k costs against retraining, on the memorising benchmark: process CPU seconds per run.

For each seed: the golden model's training CPU seconds (from the model store; trained here when
absent) and ``eu_k``'s, at its defaults or at ``KEY=VALUE`` parameters, ``--repeat`` times (the
median is kept). No evaluation is timed. Run it on a quiet machine: another job on the same cores
inflates CPU time too (threads spin while they wait).

Usage:  python benchmarks/eu_k_cost.py [--home DIR] [--seeds 0,1,2] [--repeat 3] [KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import statistics

from unlearnkit.config import parse_overrides
from unlearnkit.methods.eu_k import EUk
from unlearnkit.methods.front_door import unlearn
from unlearnkit.runs.experiment import ExperimentConfig, Workspace, golden_model, load_context, original_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", help="the stores' home (default: $UNLEARNKIT_HOME or ~/.cache/unlearnkit)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("params", nargs="*", metavar="KEY=VALUE", help="eu_k parameters")
    args = parser.parse_args()
    params = parse_overrides(args.params, EUk, owner="eu_k")

    ws = Workspace(args.home)
    print("| seed | golden training CPU (s) | eu_k CPU (s), median | eu_k wall (s), median | share of the golden's CPU |")
    print("|---:|---:|---:|---:|---:|")
    shares = []
    for seed in (int(s) for s in args.seeds.split(",")):
        cfg = ExperimentConfig(dataset="fashion-mnist", model="cnn", forget="random:0.1", seed=seed, recipe="memorise",
                               data_options={"train_subset": 10000})
        ctx = load_context(cfg)
        golden, original = golden_model(ws, ctx), original_model(ws, ctx)
        runs = [unlearn(original.model, ctx.split, "eu_k", seed=seed, **params) for _ in range(args.repeat)]
        cpu = statistics.median(r.cpu_s for r in runs)
        wall = statistics.median(r.runtime_s for r in runs)
        shares.append(cpu / golden.train_cpu_s)
        print(f"| {seed} | {golden.train_cpu_s:.1f} | {cpu:.1f} | {wall:.1f} | {100 * shares[-1]:.1f}% |")
    print(f"\nmean share: {100 * statistics.mean(shares):.1f}% of the golden retrain's CPU")


if __name__ == "__main__":
    main()
