"""``bench``, ``tune``, ``runs`` and ``report``: grids of runs, parameter search, and the run store as tables."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from unlearnkit.cli.common import add_common, emit_json, experiment_config, workspace
from unlearnkit.errors import ConfigError

def add_parsers(sub: Any) -> None:
    """Add ``bench``, ``tune``, ``runs``, ``report`` to the ``unlearnkit`` sub-command parsers."""
    p = sub.add_parser("bench", help="run a TOML grid of runs, resumable; results go to the run store")
    add_common(p, experiment=False)
    p.add_argument("grid", help="grid file, e.g. benchmarks/grids/default.toml")
    p.add_argument("--data-dir", help="directory holding the datasets' files (as the grid's data_dir key)")
    p.add_argument("--executor", default="local", help="local (default) or ray")
    p.add_argument("--address", help="Ray cluster address host:port (default: start Ray locally)")
    p.add_argument("--workers", type=int, help="CPUs of a local Ray instance (default: all)")
    p.add_argument("--threads", type=int, help="torch threads per task (ray default 1)")
    p.set_defaults(handler=_bench)

    p = sub.add_parser("tune", help="search a method's parameters (Optuna) to minimise avg_gap to the golden model; resumable")
    add_common(p)
    p.add_argument("--forget", default="random:0.1", help="the calibration forget spec; default random:0.1")
    p.add_argument("--method", required=True, help="method name (unlearnkit list methods)")
    p.add_argument("--space", action="append", default=[], metavar="NAME=KIND:...",
                   help="search range of one parameter (repeatable): lr=float:1e-4:1e-1:log, epochs=int:1:5, "
                        "optimizer=choice:sgd,adam; default lr and epochs")
    p.add_argument("--trials", type=int, default=20, help="trials to add to the study; default 20")
    p.add_argument("--study", help="study name; default a hash of the command, so the same command resumes")
    p.add_argument("--objective", default="avg_gap", help="avg_gap (default) or a metric whose gap to golden is minimised")
    p.add_argument("--preset-out", metavar="FILE", help="write the best parameters as a preset file (TOML)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_tune)

    p = sub.add_parser("runs", help="list recorded runs, or export them as CSV")
    add_common(p, experiment=False)
    p.add_argument("--status", choices=("running", "done", "failed"))
    p.add_argument("--method")
    p.add_argument("--csv", metavar="FILE", help="write the runs as CSV to FILE ('-' for stdout)")
    p.set_defaults(handler=_runs)

    p = sub.add_parser("report", help="write a Markdown report and a self-contained HTML page of the finished runs")
    add_common(p, experiment=False)
    p.add_argument("--out", default="unlearnkit-report", help="output directory; default ./unlearnkit-report")
    p.add_argument("--title", default="unlearnkit report", help="title of the report")
    p.add_argument("--grid", dest="grids", action="append", default=[], metavar="FILE",
                   help="report only the runs planned by this grid file (repeatable: the runs of any of them)")
    p.add_argument("--spread", choices=("ci", "std"), default="ci",
                   help="after 'mean ±': ci, the 95%% t-interval half-width (default), or std, the sample "
                        "standard deviation over seeds")
    p.set_defaults(handler=_report)


def _bench(args) -> int:
    from unlearnkit.bench.executors import make_executor
    from unlearnkit.bench.grid import load_grid
    from unlearnkit.bench.runner import run_grid

    grid = load_grid(args.grid)
    if args.data_dir is not None:
        if grid.data_dir is not None and str(grid.data_dir) != args.data_dir:
            raise ConfigError(f"--data-dir {args.data_dir} differs from the grid's data_dir {grid.data_dir!r}; give "
                              "one of them.")
        grid.data_dir = args.data_dir
    ws = workspace(args)
    plans = grid.plans()  # every problem of the grid is reported before an executor starts
    executor = make_executor(args.executor, address=args.address, workers=args.workers, threads=args.threads)
    try:
        summary = run_grid(grid, ws, executor, plans=plans, log=lambda line: print(line, flush=True))
    finally:
        executor.close()
    elsewhere = f", {summary.elsewhere} left to another process" if summary.elsewhere else ""
    print(f"{len(summary.done)} run(s) done, {summary.skipped} skipped (already done){elsewhere}, "
          f"{len(summary.failed)} failed, {summary.trained} model(s) trained, {summary.wall_s:.1f} s; "
          f"run store: {ws.runs.path}")
    return 1 if summary.failed else 0


def _tune(args) -> int:
    from unlearnkit.bench.presets import write_preset
    from unlearnkit.bench.tune import preset_meta, tune

    cfg = experiment_config(args, args.forget)
    if args.preset_out and not Path(args.preset_out).parent.is_dir():
        raise ConfigError(f"Cannot write {args.preset_out}: directory {Path(args.preset_out).parent} does not exist.")
    ws = workspace(args)
    log = (lambda line: None) if args.json else (lambda line: print(line, flush=True))
    r = tune(ws, cfg, args.method, args.space or None, n_trials=args.trials, study_name=args.study,
             objective=args.objective, log=log)
    if args.preset_out and r.best_params is not None:
        write_preset(args.preset_out, args.method, r.best_params, preset_meta(r, cfg))
    if args.json:
        emit_json({**r.to_dict(), "config": cfg.to_dict(), "preset": args.preset_out if r.best_params is not None else None})
        return 0 if r.best_params is not None else 1
    print(f"{args.method} on {cfg.dataset} / {cfg.model} / forget {cfg.forget} / seed {cfg.seed}; space: {' '.join(r.space)}")
    if r.best_params is None:
        print(f"no trial finished: {r.n_failed} failed")
    else:
        print(f"best {r.objective}: {r.best_value:.2f} pp (trial {r.best_trial})")
        print("best params: " + " ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}"
                                         for k, v in r.best_params.items()))
    print(f"trials: {r.n_trials_this_call} this call, {r.n_trials_total} in the study ({r.n_failed} failed)")
    golden = f"; the golden model of the calibration set took {r.golden_train_time_s:.1f} s to train, not included" \
        if r.golden_train_time_s is not None else ""
    print(f"tuning time: {r.tuning_time_s:.1f} s over all {r.n_trials_total} trials (method + evaluation){golden}")
    print(f"study: {r.study_name} in {r.storage_path}")
    if args.preset_out and r.best_params is not None:
        print(f"preset written to {args.preset_out} (use: unlearnkit unlearn --method {args.method} --preset {args.preset_out})")
    return 0 if r.best_params is not None else 1


def _runs(args) -> int:
    from unlearnkit.fileio import atomic_write_bytes
    from unlearnkit.runs.store import runs_csv

    ws = workspace(args)
    store = ws.existing_runs()  # listing creates no store
    rows = store.list(status=args.status, method=args.method) if store is not None else []
    if args.csv:
        text = runs_csv(rows)
        if args.csv == "-":
            sys.stdout.write(text)
        else:
            target = Path(args.csv)
            if not target.parent.is_dir():
                raise ConfigError(f"Cannot write {args.csv}: directory {target.parent} does not exist.")
            atomic_write_bytes(target, text.encode())
            print(f"{len(rows)} runs written to {args.csv}")
        return 0
    if not rows:
        print(f"no runs in {ws.home / 'runs.sqlite'}")
        return 0
    for r in rows:
        gap = ((r.get("metrics") or {}).get("rows", {}).get("unlearned", {})).get("avg_gap")
        gap_text = f"avg_gap={gap:.2f}" if gap is not None else ""
        print(f"{r['id']}  {r['status']:7s} {r['dataset']}/{r['model']} {r['forget']:>14s} seed={r['seed']} "
              f"{r['method']:14s} {gap_text}")
    return 0


def _report(args) -> int:
    from unlearnkit.bench.grid import grids_config_hashes
    from unlearnkit.report import write_report

    # every grid is read and planned before anything is written
    hashes = grids_config_hashes(args.grids) if args.grids else None
    ws = workspace(args)
    md_path, html_path = write_report(ws.home / "runs.sqlite", args.out, title=args.title,  # never creates a store
                                      config_hashes=hashes, spread=args.spread)
    print(md_path)
    print(html_path)
    return 0
