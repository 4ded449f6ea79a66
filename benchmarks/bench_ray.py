"""Speed-up of the ray executor (2 workers) over the local one on a grid of independent runs.

Usage:  python benchmarks/bench_ray.py [--grid benchmarks/grids/ray_speedup.toml] [--workers 2]

Each executor starts from an empty home, so both train every original and golden model and run
every method; the script prints the wall times and their ratios. The local executor uses torch's
default threads (all cores); each Ray task uses one thread, with ``--workers`` tasks at once.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from unlearnkit.bench.executors import make_executor
from unlearnkit.bench.grid import load_grid
from unlearnkit.bench.runner import run_grid
from unlearnkit.runs.experiment import Workspace

HERE = Path(__file__).resolve().parent


def timed(grid, executor_name: str, **options) -> tuple[float, int]:
    ws = Workspace(tempfile.mkdtemp(prefix=f"uk-{executor_name}-"))
    executor = make_executor(executor_name, **options)
    start = time.perf_counter()
    try:
        summary = run_grid(grid, ws, executor)
    finally:
        executor.close()
    return time.perf_counter() - start, len(summary.done)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", default=str(HERE / "grids" / "ray_speedup.toml"))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    grid = load_grid(args.grid)
    local_s, n = timed(grid, "local")
    print(f"local executor:          {local_s:7.1f} s for {n} runs (torch's default threads)")
    local1_s, n = timed(grid, "local", threads=1)
    print(f"local executor, 1 thread:{local1_s:7.1f} s for {n} runs (the per-task threads of Ray)")
    ray_s, n = timed(grid, "ray", workers=args.workers)
    print(f"ray executor, {args.workers} workers: {ray_s:7.1f} s for {n} runs (including Ray start-up)")
    print(f"speed-up of ray over local: {local_s / ray_s:.2f}x (over local with 1 thread: {local1_s / ray_s:.2f}x)")


if __name__ == "__main__":
    main()
