"""The ``unlearnkit`` command: dispatch, pretty output and exit codes; no logic of its own (the parser is in cli_parser.py).

Exit codes: 0 success, 2 bad input (one line on stderr naming the problem and the valid
choices), 130 interrupted.
"""

from __future__ import annotations

import argparse
import errno
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from unlearnkit.cli_parser import build_parser
from unlearnkit.errors import ConfigError, UnlearnkitError

#: Errors of the file system a user causes (a read-only or full disk, a file where a folder
#: belongs): one line and exit code 2, like bad input.
_USER_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR, errno.EISDIR,
                errno.EEXIST}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except UnlearnkitError as exc:
        print(f"unlearnkit: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno not in _USER_ERRNOS:
            raise
        where = f": {exc.filename}" if exc.filename else ""
        print(f"unlearnkit: error: {exc.strerror or exc}{where}.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("unlearnkit: interrupted", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    from unlearnkit.progress import set_progress

    set_progress(not getattr(args, "quiet", True))
    handler = {"audit": _audit, "bench": _bench, "demo": _demo, "train": _train, "unlearn": _unlearn, "eval": _eval,
               "list": _list, "runs": _runs, "report": _report, "theory": _theory, "tune": _tune, "forget": _forget,
               "ledger": _ledger}
    return handler[args.command](args)


def _forget(args) -> int:
    from unlearnkit.cli_forget import forget_command

    return forget_command(args)


def _ledger(args) -> int:
    from unlearnkit.cli_forget import ledger_command

    return ledger_command(args)


def _workspace(args):
    from unlearnkit.runs.experiment import Workspace

    return Workspace(args.home)


def _config(args, forget: str | None):
    from unlearnkit.config import parse_overrides
    from unlearnkit.models import MODELS
    from unlearnkit.runs.experiment import ExperimentConfig
    from unlearnkit.training import Recipe

    model_cls = MODELS.get(args.model)
    return ExperimentConfig(
        dataset=args.dataset, model=args.model, forget=forget or "random:0.1", seed=args.seed, recipe=args.recipe,
        recipe_overrides=parse_overrides(args.recipe_set, Recipe, owner="the recipe"),
        model_kwargs=parse_overrides(args.model_args, model_cls, owner=f"model {args.model!r}"),
        data_dir=args.data_dir, download=args.download, data_options=_loose_pairs(args.data_options), device=args.device,
    )


def _loose_pairs(pairs: Sequence[str]) -> dict[str, Any]:
    """``["size=32", "grayscale=true"]`` -> ``{"size": 32, "grayscale": True}``; other values stay strings."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"Option {pair!r} must have the form key=value.")
        value: Any = text
        if text.lower() in ("true", "false"):
            value = text.lower() == "true"
        else:
            for kind in (int, float):
                try:
                    value = kind(text)
                    break
                except ValueError:
                    pass
        out[key] = value
    return out


def _metric_names(text: str | None) -> list[str] | None:
    return [m.strip() for m in text.split(",") if m.strip()] if text else None


def _emit_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, sort_keys=True, default=str))


def _demo(args) -> int:
    from unlearnkit.methods import make_method
    from unlearnkit.runs.experiment import run_unlearning
    from unlearnkit.tables import print_reports

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not methods:
        raise ConfigError("--methods names no method.")
    for name in methods:
        make_method(name)
    cfg = _config(args, args.forget)
    ws = _workspace(args)
    outcomes = [run_unlearning(ws, cfg, name) for name in methods]
    if args.json:
        _emit_json({"config": cfg.to_dict(), "runs": [{"run_id": o.run_id, "method": o.result.method,
                                                        "params": o.result.params, "report": o.report.to_dict()}
                                                       for o in outcomes]})
        return 0
    title = f"{cfg.dataset} / {cfg.model} / forget {cfg.forget} / seed {cfg.seed}"
    print_reports([(o.result.method, o.report) for o in outcomes], title)
    print("runs recorded: " + ", ".join(f"{o.result.method}={o.run_id}" for o in outcomes))
    return 0


def _train(args) -> int:
    from unlearnkit.runs.experiment import golden_model, load_context, original_model

    cfg = _config(args, args.forget)
    ws = _workspace(args)
    ctx = load_context(cfg)
    rows = [("original", original_model(ws, ctx))]
    if args.forget:
        rows.append(("golden", golden_model(ws, ctx)))
    out = [{"model": name, "key": t.key, "cached": t.cached, "train_time_s": t.train_time_s} for name, t in rows]
    if args.json:
        _emit_json({"config": cfg.to_dict(), "models": out})
        return 0
    for o in out:
        how = "from the model store" if o["cached"] else f"trained in {o['train_time_s']:.1f} s"
        print(f"{o['model']} model of {cfg.dataset}/{cfg.model} seed {cfg.seed}: {o['key'][:16]} ({how})")
    return 0


def _unlearn(args) -> int:
    from unlearnkit.config import parse_overrides
    from unlearnkit.methods import METHODS
    from unlearnkit.runs.experiment import run_unlearning
    from unlearnkit.tables import print_reports

    params = parse_overrides(args.params, METHODS.get(args.method), owner=f"method {args.method!r}")
    if args.preset:
        from unlearnkit.bench.presets import read_preset

        params = {**read_preset(args.preset, args.method), **params}
    cfg = _config(args, args.forget)
    ws = _workspace(args)
    calibration = {"calibrate": args.calibrate, "calibrate_every": args.calibrate_every} if args.calibrate else None
    o = run_unlearning(ws, cfg, args.method, params, metrics=_metric_names(args.metrics),
                       retain_fraction=args.retain_fraction, calibration=calibration)
    if args.json:
        _emit_json({"run_id": o.run_id, "config": o.config, "report": o.report.to_dict()})
        return 0
    print_reports([(o.result.method, o.report)], f"{cfg.dataset} / {cfg.model} / forget {cfg.forget} / seed {cfg.seed}")
    print(f"run {o.run_id} recorded in {ws.runs.path}")
    return 0


def _eval(args) -> int:
    from unlearnkit.runs.experiment import evaluate_original, evaluate_run
    from unlearnkit.tables import print_reports

    ws = _workspace(args)
    metrics = _metric_names(args.metrics)
    if args.run:
        given = {"dataset": args.dataset, "model": args.model, "forget": args.forget}
        report, row = evaluate_run(ws, args.run, metrics=metrics, expect={k: v for k, v in given.items() if v})
        label, cfg = row["method"], row["config"]
        title = f"run {args.run}: {cfg['dataset']} / {cfg['model']} / forget {cfg['forget']} / seed {cfg['seed']}"
    else:
        args.dataset, args.model = args.dataset or "digits", args.model or "mlp"
        cfg = _config(args, args.forget)
        report = evaluate_original(ws, cfg, metrics=metrics)
        label, title = "original (no unlearning)", f"{cfg.dataset} / {cfg.model} / forget {cfg.forget} / seed {cfg.seed}"
    if args.json:
        _emit_json({"run_id": args.run, "report": report.to_dict()})
        return 0
    print_reports([(label, report)], title)
    return 0


def _audit(args) -> int:
    from unlearnkit.audit.output import write_audit
    from unlearnkit.audit.run import run_audit
    from unlearnkit.bench.executors import make_executor
    from unlearnkit.config import parse_overrides
    from unlearnkit.methods import METHODS, make_method
    from unlearnkit.runs.experiment import load_context

    params = parse_overrides(args.params, METHODS.get(args.method), owner=f"method {args.method!r}")
    make_method(args.method, params)
    cfg = _config(args, args.forget)
    ctx = load_context(cfg)
    if args.n_models < 3:
        raise ConfigError(f"--n-models must be at least 3 (forgetting quality needs ln(N-1) > 0); got {args.n_models}.")
    ws = _workspace(args)
    executor = make_executor(args.executor, address=args.address, workers=args.workers)
    try:
        calibration = {"calibrate": args.calibrate} if args.calibrate else None
        result = run_audit(ws, cfg, args.method, params, n_models=args.n_models, executor=executor,
                           calibration=calibration, log=lambda line: print(line, file=sys.stderr, flush=True))
    finally:
        executor.close()
    paths = write_audit(result, ctx.dataset, args.out)
    if args.json:
        _emit_json(result.to_dict())
        return 0
    lira_u, lira_g = result.lira["unlearned"], result.lira["golden"]
    print(f"forgetting_quality {result.forgetting_quality:.4f} (95% CI {result.forgetting_quality_ci[0]:.4f}"
          f"-{result.forgetting_quality_ci[1]:.4f}), challenge_score {result.challenge_score:.4f}, N={result.n_models}")
    print(f"LiRA AUC unlearned {lira_u['auc']:.3f} vs golden {lira_g['auc']:.3f}; TPR@1%FPR "
          f"{lira_u['tpr_at_1pct_fpr']:.3f} vs {lira_g['tpr_at_1pct_fpr']:.3f}")
    print("hardest to forget (train indices): " + " ".join(map(str, result.hardest[:10])))
    if result.hardest_note:
        print(f"note: {result.hardest_note}")
    print("written: " + ", ".join(str(p) for p in paths))
    return 0


def _bench(args) -> int:
    from unlearnkit.bench.executors import make_executor
    from unlearnkit.bench.grid import load_grid
    from unlearnkit.bench.runner import run_grid

    grid = load_grid(args.grid)
    ws = _workspace(args)
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

    cfg = _config(args, args.forget)
    if args.preset_out and not Path(args.preset_out).parent.is_dir():
        raise ConfigError(f"Cannot write {args.preset_out}: directory {Path(args.preset_out).parent} does not exist.")
    ws = _workspace(args)
    log = (lambda line: None) if args.json else (lambda line: print(line, flush=True))
    r = tune(ws, cfg, args.method, args.space or None, n_trials=args.trials, study_name=args.study,
             objective=args.objective, log=log)
    if args.preset_out and r.best_params is not None:
        write_preset(args.preset_out, args.method, r.best_params, preset_meta(r, cfg))
    if args.json:
        _emit_json({**r.to_dict(), "config": cfg.to_dict(), "preset": args.preset_out if r.best_params is not None else None})
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


def _theory(args) -> int:
    from unlearnkit.theory import TheoryConfig, describe_sweep, format_table, run, sweep_csv, sweep_overlap, sweep_png
    from unlearnkit.fileio import atomic_write_bytes

    if args.out is not None and args.sweep is None:
        raise ConfigError("--out is only used with --sweep overlap.")
    cfg = TheoryConfig(d=args.d, n_f=args.n_f, n_r=args.n_r, size_f=args.size_f, size_o=args.size_o,
                       size_r=args.size_r, noise=args.noise, seed=args.seed, n_test=args.n_test)
    table = run(cfg)
    if args.sweep is None:
        if args.json:
            _emit_json(table)
        else:
            print(format_table(table))
        return 0
    out = Path(args.out or "unlearnkit-theory")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"Cannot write into {out}: it is not a directory.")
    rows = sweep_overlap(cfg, repeats=args.repeats)
    png, text = sweep_png(rows), sweep_csv(rows)  # everything is computed before anything is written
    paths = [out / "theory_overlap.png", out / "theory_overlap.csv"]
    atomic_write_bytes(paths[0], png)
    atomic_write_bytes(paths[1], text.encode())
    if args.json:
        _emit_json({"table": table, "sweep": rows, "files": [str(p) for p in paths]})
        return 0
    print(format_table(table))
    print()
    for line in describe_sweep(rows):
        print(line)
    for path in paths:
        print(path)
    return 0


def _list(args) -> int:
    entries = list_entries(args.what)
    if args.json:
        _emit_json(entries)
        return 0
    for e in entries:
        if args.what == "methods":
            print(f"{e['name']:16s} access={e['access']:15s} {e['summary']}")
        elif args.what == "metrics":
            print(f"{e['name']:26s} [{e['direction_text']}] {e['definition']}")
        elif args.what == "recipes":
            print(f"{e['name']:16s} " + " ".join(f"{k}={v}" for k, v in e["fields"].items()))
        else:
            print(f"{e['name']:16s} {e['summary']}")
    return 0


def list_entries(what: str) -> list[dict[str, Any]]:
    """The entries of ``unlearnkit list WHAT`` (``methods``, ``metrics``, ``datasets``, ``models`` or
    ``recipes``), one dict each, as ``--json`` prints them."""
    import inspect

    from unlearnkit.data import DATASETS
    from unlearnkit.methods import METHODS
    from unlearnkit.metrics import METRICS
    from unlearnkit.models import MODELS
    from unlearnkit.training import RECIPES

    def defaults(cls) -> dict[str, Any]:
        params = inspect.signature(cls.__init__).parameters.values()
        return {p.name: p.default for p in params
                if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is not inspect.Parameter.empty}

    if what == "methods":
        return [{"name": name, "access": cls.access.value, "summary": _first_line(cls.__doc__),
                 "defaults": defaults(cls)} for name, cls in METHODS.items()]
    if what == "metrics":
        return [{**entry.card.to_dict(), "direction_text": entry.card.direction_text} for _, entry in METRICS.items()]
    if what == "datasets":
        return [{"name": name, "summary": _first_line(loader.__doc__)} for name, loader in DATASETS.items()]
    if what == "models":
        return [{"name": name, "summary": _first_line(cls.__doc__), "defaults": defaults(cls)}
                for name, cls in MODELS.items()]
    return [{"name": name, "fields": dict(fields)} for name, fields in sorted(RECIPES.items())]


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if doc else ""


def _runs(args) -> int:
    from unlearnkit.fileio import atomic_write_bytes
    from unlearnkit.runs.store import runs_csv

    ws = _workspace(args)
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
    ws = _workspace(args)
    md_path, html_path = write_report(ws.home / "runs.sqlite", args.out, title=args.title,  # never creates a store
                                      config_hashes=hashes, spread=args.spread)
    print(md_path)
    print(html_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
