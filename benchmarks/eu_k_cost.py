"""What EU-k (or CF-k) costs against retraining, on the memorising benchmark: process CPU seconds per run.

For each seed: the golden model's training CPU seconds (from the model store; trained here when
absent) and ``eu_k``'s (``--method cf_k``: CF-k's), at its defaults or at ``KEY=VALUE`` parameters,
``--repeat`` times (the median is kept). No evaluation is timed. Run it on a quiet machine: another
job on the same cores inflates CPU time too (threads spin while they wait). The defaults follow the
original recipe, so pass ``recipe=memorise`` for the benchmark's (``schedule=short init=reset`` is
the setting measured before issue 21).

Usage:  python benchmarks/eu_k_cost.py [--home DIR] [--data-dir DIR] [--seeds 0,1,2] [--repeat 3]
            [--method eu_k|cf_k] [KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import statistics

from unlearnkit.config import parse_overrides
from unlearnkit.methods import METHODS
from unlearnkit.methods.front_door import unlearn
from unlearnkit.runs.experiment import ExperimentConfig, Workspace, golden_model, load_context, original_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", help="the stores' home (default: $UNLEARNKIT_HOME or ~/.cache/unlearnkit)")
    parser.add_argument("--data-dir", help="folder of the Fashion-MNIST files (default: the dataset's own)")
    parser.add_argument("--method", choices=("eu_k", "cf_k"), default="eu_k")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("params", nargs="*", metavar="KEY=VALUE", help="the method's parameters")
    args = parser.parse_args()
    params = parse_overrides(args.params, METHODS.get(args.method), owner=args.method)

    ws = Workspace(args.home)
    m = args.method
    print(f"| seed | golden training CPU (s) | {m} CPU (s), median | {m} wall (s), median | share of the golden's CPU |")
    print("|---:|---:|---:|---:|---:|")
    shares = []
    for seed in (int(s) for s in args.seeds.split(",")):
        cfg = ExperimentConfig(dataset="fashion-mnist", model="cnn", forget="random:0.1", seed=seed, recipe="memorise",
                               data_options={"train_subset": 10000}, data_dir=args.data_dir)
        ctx = load_context(cfg)
        golden, original = golden_model(ws, ctx), original_model(ws, ctx)
        runs = [unlearn(original.model, ctx.split, m, seed=seed, **params) for _ in range(args.repeat)]
        cpu = statistics.median(r.cpu_s for r in runs)
        wall = statistics.median(r.runtime_s for r in runs)
        shares.append(cpu / golden.train_cpu_s)
        print(f"| {seed} | {golden.train_cpu_s:.1f} | {cpu:.1f} | {wall:.1f} | {100 * shares[-1]:.1f}% |")
    print(f"\nmean share: {100 * statistics.mean(shares):.1f}% of the golden retrain's CPU")


if __name__ == "__main__":
    main()
