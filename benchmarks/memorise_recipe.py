"""Does the ``memorise`` recipe memorise? Train and test accuracy of the original models, per seed.

For the memorising benchmark (Fashion-MNIST, a 10,000-image stratified training subset, ``cnn``,
recipe ``memorise``): the original model of every seed (from the model store when the grid already
trained it, else trained here), its accuracy on the whole training subset and on the test set,
its training wall and CPU seconds, and the same for the golden model of each forget spec given.

Usage:  python benchmarks/memorise_recipe.py [--home DIR] [--seeds 0,1,2] [--forget random:0.1,class:3]
        [--train-subset 10000] [--recipe memorise]
"""

from __future__ import annotations

import argparse

import torch

from unlearnkit.metrics.context import compute_logits
from unlearnkit.runs.experiment import ExperimentConfig, Workspace, golden_model, load_context, original_model


def accuracy(model: torch.nn.Module, subset) -> float:
    logits = compute_logits(model, subset)
    return 100.0 * float((logits.argmax(1) == subset.labels).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", help="the stores' home (default: $UNLEARNKIT_HOME or ~/.cache/unlearnkit)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--forget", default="random:0.1,class:3", help="golden models of these forget specs too")
    parser.add_argument("--train-subset", type=int, default=10000)
    parser.add_argument("--recipe", default="memorise")
    args = parser.parse_args()

    ws = Workspace(args.home)
    print("| model | seed | train acc (%) | test acc (%) | train wall (s) | train CPU (s) | cached |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for seed in (int(s) for s in args.seeds.split(",")):
        for i, forget in enumerate(args.forget.split(",")):
            cfg = ExperimentConfig(dataset="fashion-mnist", model="cnn", forget=forget, seed=seed, recipe=args.recipe,
                                   data_options={"train_subset": args.train_subset})
            ctx = load_context(cfg)
            pairs = [("golden " + forget, golden_model(ws, ctx), ctx.split.subset("retain"))]
            if i == 0:
                pairs.insert(0, ("original", original_model(ws, ctx), ctx.split.subset("train")))
            for name, trained, data in pairs:
                cpu = f"{trained.train_cpu_s:.0f}" if trained.train_cpu_s is not None else "—"
                print(f"| {name} | {seed} | {accuracy(trained.model, data):.2f} | "
                      f"{accuracy(trained.model, ctx.split.subset('test')):.2f} | {trained.train_time_s:.0f} | {cpu} | "
                      f"{'yes' if trained.cached else 'no'} |")


if __name__ == "__main__":
    main()
