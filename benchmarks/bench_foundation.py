"""Foundation benchmark: training throughput, cost of one full evaluation, golden retrain time.

Prints, on Fashion-MNIST with the cnn (or any --dataset/--model):
- training throughput of the one training loop (samples/s, measured over the original model's training);
- the time of one full evaluation (all headline metrics) of a model, and its ratio to one training epoch;
- the golden retrain time (training from scratch on D_r), and the runtime of finetune as a ratio of it.

Usage:  python benchmarks/bench_foundation.py [--dataset fashion-mnist] [--model cnn] [--forget class:3]
                                              [--home DIR] [--repeat N] [--skip-finetune]

Models are trained in a throw-away model store, so every number is measured, not cached; with
``--home DIR`` the original and golden models are taken from (or trained into) that store, and
their training times are the recorded ones. On a shared machine the load changes between the
original's training and the evaluation, so the evaluation is also compared with one training epoch
measured right before it (a fresh model, one epoch on the training set): that ratio is the stable one.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from unlearnkit.metrics import HEADLINE
from unlearnkit.methods import unlearn
from unlearnkit.runs.experiment import (
    ExperimentConfig, Workspace, build, golden_model, load_context, original_model, report_for,
)
from unlearnkit.training import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--forget", default="class:3")
    parser.add_argument("--epochs", type=int, help="override the recipe's epochs")
    parser.add_argument("--home", help="model store to take the original and golden models from (default: a new one)")
    parser.add_argument("--repeat", type=int, default=1, help="evaluations (each after its own epoch); median shown")
    parser.add_argument("--skip-finetune", action="store_true", help="leave out the finetune run")
    args = parser.parse_args()

    overrides = {"epochs": args.epochs} if args.epochs else {}
    cfg = ExperimentConfig(dataset=args.dataset, model=args.model, forget=args.forget, recipe_overrides=overrides)
    ws = Workspace(args.home or tempfile.mkdtemp(prefix="uk-bench-"))
    ctx = load_context(cfg)
    n_train = len(ctx.split.forget) + len(ctx.split.retain)
    print(f"{cfg.dataset} / {cfg.model} / forget {cfg.forget}; torch threads: {torch.get_num_threads()}")
    print(f"recipe: {ctx.recipe}")

    orig = original_model(ws, ctx)
    samples = n_train * ctx.recipe.epochs
    epoch_s = orig.train_time_s / ctx.recipe.epochs
    how = " (recorded in the store)" if orig.cached else ""
    print(f"original training:  {orig.train_time_s:8.1f} s  ({samples / orig.train_time_s:,.0f} samples/s, "
          f"{epoch_s:.1f} s/epoch){how}")

    golden = golden_model(ws, ctx)
    how = " (recorded in the store)" if golden.cached else ""
    print(f"golden retrain:     {golden.train_time_s:8.1f} s  (|D_r| = {len(ctx.split.retain)}){how}")

    report_for(ws, ctx, orig.model, None, HEADLINE)  # fills the golden and original score caches
    one_recipe = ctx.recipe.replace(epochs=1)
    evals, epochs = [], []
    for _ in range(max(args.repeat, 1)):
        start = time.perf_counter()
        train(build(ctx), ctx.split.subset("train"), one_recipe, seed=cfg.seed, device=cfg.device)
        epochs.append(time.perf_counter() - start)
        start = time.perf_counter()
        report_for(ws, ctx, orig.model, None, HEADLINE)
        evals.append(time.perf_counter() - start)
    eval_s, epoch_now = statistics.median(evals), statistics.median(epochs)
    print(f"full evaluation:    {eval_s:8.2f} s  (all headline metrics of one model; {eval_s / epoch_s:.2f} of a "
          f"training epoch of the original)")
    runs = ", ".join(f"{e:.3g}/{p:.3g} s" for e, p in zip(evals, epochs))
    print(f"one epoch just now: {epoch_now:8.2f} s  (a fresh model, right before each evaluation; evaluation = "
          f"{eval_s / epoch_now:.2f} of it)" + (f"; evaluation/epoch of each run: {runs}" if len(evals) > 1 else ""))

    if not args.skip_finetune:
        result = unlearn(orig.model, ctx.split, "finetune", seed=0)
        print(f"finetune (default): {result.runtime_s:8.1f} s  (speed-up over the golden retrain: "
              f"{golden.train_time_s / result.runtime_s:.1f}x)")


if __name__ == "__main__":
    main()
