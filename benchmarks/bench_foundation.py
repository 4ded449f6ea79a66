"""Foundation benchmark: training throughput, cost of one full evaluation, golden retrain time.

Prints, on Fashion-MNIST with the cnn (or any --dataset/--model):
- training throughput of the one training loop (samples/s, measured over the original model's training);
- the time of one full evaluation (all headline metrics) of a model, and its ratio to one training epoch;
- the golden retrain time (training from scratch on D_r), and the runtime of finetune as a ratio of it.

Usage:  python benchmarks/bench_foundation.py [--dataset fashion-mnist] [--model cnn] [--forget class:3]
Models are trained in a throw-away model store, so every number is measured, not cached.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from unlearnkit.metrics import HEADLINE
from unlearnkit.runs.experiment import ExperimentConfig, Workspace, golden_model, load_context, original_model, report_for
from unlearnkit.methods import unlearn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--forget", default="class:3")
    parser.add_argument("--epochs", type=int, help="override the recipe's epochs")
    args = parser.parse_args()

    overrides = {"epochs": args.epochs} if args.epochs else {}
    cfg = ExperimentConfig(dataset=args.dataset, model=args.model, forget=args.forget, recipe_overrides=overrides)
    ws = Workspace(tempfile.mkdtemp(prefix="uk-bench-"))
    ctx = load_context(cfg)
    n_train = len(ctx.split.forget) + len(ctx.split.retain)
    print(f"{cfg.dataset} / {cfg.model} / forget {cfg.forget}; torch threads: {torch.get_num_threads()}")
    print(f"recipe: {ctx.recipe}")

    orig = original_model(ws, ctx)
    samples = n_train * ctx.recipe.epochs
    epoch_s = orig.train_time_s / ctx.recipe.epochs
    print(f"original training:  {orig.train_time_s:8.1f} s  ({samples / orig.train_time_s:,.0f} samples/s, {epoch_s:.1f} s/epoch)")

    golden = golden_model(ws, ctx)
    print(f"golden retrain:     {golden.train_time_s:8.1f} s  (|D_r| = {len(ctx.split.retain)})")

    report_for(ws, ctx, orig.model, None, HEADLINE)  # fills the golden and original score caches
    start = time.perf_counter()
    report_for(ws, ctx, orig.model, None, HEADLINE)
    eval_s = time.perf_counter() - start
    print(f"full evaluation:    {eval_s:8.2f} s  (all headline metrics of one model; {eval_s / epoch_s:.2f} of a training epoch)")

    result = unlearn(orig.model, ctx.split, "finetune", seed=0)
    print(f"finetune (default): {result.runtime_s:8.1f} s  (speed-up over the golden retrain: {golden.train_time_s / result.runtime_s:.1f}x)")


if __name__ == "__main__":
    main()
