"""JiT's cost: O(N·|D_f|) forward passes. Doubles |D_f| and N and prints the time ratios.

JiT's work per forget sample is N + 1 forward passes and one backward pass and does not depend on
the weights, so an untrained model of the right architecture gives the same timing. The forget
sets are the first n and 2n training samples; after one untimed warm-up, each setting is timed
``--repeats`` times and the median is kept.

Expected ratios: doubling |D_f| ≈ 2; doubling N ≈ (2N + 1 + b) / (N + 1 + b), b the cost of one
backward pass in forward passes (about 2), so ≈ 1.9 at N = 25; doubling both ≈ 2 × that.

Usage:  python benchmarks/bench_jit.py [--dataset fashion-mnist] [--model cnn] [--n 1000] [--samples 25]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from unlearnkit.data import load_dataset
from unlearnkit.data.dataset import Subset
from unlearnkit.methods import make_method
from unlearnkit.models import build_model
from unlearnkit.seeding import torch_generator


def time_jit(model: torch.nn.Module, forget: Subset, n_samples: int, repeats: int) -> float:
    times = []
    for r in range(repeats):
        est = make_method("jit", {"n_samples": n_samples})
        work = build_model(model.arch_name, forget.dataset, seed=0, **model.arch_kwargs)
        work.load_state_dict(model.state_dict())
        start = time.perf_counter()
        est.run(work, forget=forget, retain=None, generator=torch_generator(r, "bench-jit"), device=torch.device("cpu"))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--n", type=int, default=1000, help="|D_f| of the base setting")
    parser.add_argument("--samples", type=int, default=25, help="N of the base setting")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    ds = load_dataset(args.dataset)
    model = build_model(args.model, ds, seed=0)
    print(f"{args.dataset} / {args.model}; torch threads: {torch.get_num_threads()}; median of {args.repeats}")
    time_jit(model, Subset(ds, "train", torch.arange(min(args.n, 256))), 2, 1)  # warm-up, not reported
    base = None
    rows = []
    for n, N in ((args.n, args.samples), (2 * args.n, args.samples), (args.n, 2 * args.samples),
                 (2 * args.n, 2 * args.samples)):
        seconds = time_jit(model, Subset(ds, "train", torch.arange(n)), N, args.repeats)
        base = base or seconds
        rows.append((n, N, seconds, seconds / base))
    print(f"{'|D_f|':>7} {'N':>4} {'seconds':>9} {'ratio':>6}")
    for n, N, seconds, ratio in rows:
        print(f"{n:>7} {N:>4} {seconds:>9.2f} {ratio:>6.2f}")


if __name__ == "__main__":
    main()
