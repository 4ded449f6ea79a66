"""``demo``, ``train``, ``unlearn``, ``eval`` and ``audit``: one experiment of the benchmark (dataset, model, forget spec, seed)."""

from __future__ import annotations

import sys
from typing import Any

from unlearnkit.cli.common import add_common, emit_json, experiment_config, metric_names, workspace
from unlearnkit.errors import ConfigError

DEMO_METHODS = ("finetune", "grad_ascent", "neggrad_plus", "random_labels")

def add_parsers(sub: Any) -> None:
    """Add ``demo``, ``train``, ``unlearn``, ``eval``, ``audit`` to the ``unlearnkit`` sub-command parsers."""
    p = sub.add_parser("demo", help="train, unlearn with several methods and print the table (digits, < 1 min)")
    add_common(p)
    p.add_argument("--forget", default="class:3", help="forget spec; default class:3")
    p.add_argument("--methods", default=",".join(DEMO_METHODS), help="comma-separated method names")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--wide", action="store_true", help="show every column of the table (default: fits 100 characters)")
    p.set_defaults(handler=_demo)

    p = sub.add_parser("train", help="train (or fetch from the model store) the original model")
    add_common(p)
    p.add_argument("--forget", help="also train the golden model of this forget spec")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_train)

    p = sub.add_parser("unlearn", help="run one method, evaluate it against the golden model and record the run")
    add_common(p)
    p.add_argument("--forget", default="random:0.1", help="forget spec: random:0.1, class:3, subclass:Shirt, indices:FILE")
    p.add_argument("--method", required=True, help="method name (unlearnkit list methods), or auto: measure the "
                   "model, try the candidates of its rule within --budget and keep the one the golden-free verdict "
                   "rates best; the golden model only judges it (docs/results/auto.md)")
    p.add_argument("--budget", metavar="SHARE", help="--method auto: the share (0, 1] of an estimated retrain's CPU "
                   "its candidates may spend (default 0.1)")
    p.add_argument("params", nargs="*", metavar="KEY=VALUE", help="method parameters, e.g. lr=0.01 epochs=3")
    p.add_argument("--metrics", help="comma-separated metric names; default the headline metrics")
    p.add_argument("--retain-fraction", type=float, help="give the method only this fraction of D_r")
    p.add_argument("--calibrate", metavar="KIND", help="heldout: end a loop method where D_f looks most like the "
                   "validation slice V (needs --data-option train_subset=N or val_size=N)")
    p.add_argument("--calibrate-every", type=int, metavar="K", help="with --calibrate: check every K steps "
                   "(default 4 checks per epoch)")
    p.add_argument("--preset", metavar="FILE", help="method parameters from a preset file (unlearnkit tune --preset-out); "
                   "KEY=VALUE parameters override it")
    p.add_argument("--json", action="store_true")
    p.add_argument("--wide", action="store_true", help="show every column of the table (default: fits 100 characters)")
    p.set_defaults(handler=_unlearn)

    p = sub.add_parser("eval", help="evaluate a recorded run (or, without --run, the original model)")
    add_common(p)
    p.add_argument("--forget", help="forget spec (default random:0.1); with --run, checked against the run's")
    p.add_argument("--run", help="run id (unlearnkit runs); --dataset/--model/--forget, if given, must match it")
    p.set_defaults(dataset=None, model=None)
    p.add_argument("--metrics", help="comma-separated metric names; default the headline metrics")
    p.add_argument("--json", action="store_true")
    p.add_argument("--wide", action="store_true", help="show every column of the table (default: fits 100 characters)")
    p.set_defaults(handler=_eval)

    p = sub.add_parser("audit", help="per-example audit: forgetting quality, challenge score and LiRA with N-model banks")
    add_common(p)
    p.add_argument("--forget", default="class:3")
    p.add_argument("--method", required=True)
    p.add_argument("params", nargs="*", metavar="KEY=VALUE", help="method parameters")
    p.add_argument("--n-models", type=int, default=16, help="models per bank (default 16)")
    p.add_argument("--calibrate", metavar="KIND", help="heldout: calibrate every run of the unlearned bank on the "
                   "validation slice V (as unlearn --calibrate)")
    p.add_argument("--executor", default="local", help="local (default) or ray")
    p.add_argument("--address", help="Ray cluster address host:port")
    p.add_argument("--workers", type=int, help="CPUs of a local Ray instance")
    p.add_argument("--out", default="unlearnkit-audit", help="output directory (default ./unlearnkit-audit)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_audit)


def _demo(args) -> int:
    from unlearnkit.methods import make_method
    from unlearnkit.runs.experiment import run_unlearning
    from unlearnkit.tables import print_reports

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not methods:
        raise ConfigError("--methods names no method.")
    for name in methods:
        make_method(name)
    cfg = experiment_config(args, args.forget)
    ws = workspace(args)
    outcomes = [run_unlearning(ws, cfg, name) for name in methods]
    if args.json:
        emit_json({"config": cfg.to_dict(), "runs": [{"run_id": o.run_id, "method": o.result.method,
                                                        "params": o.result.params, "report": o.report.to_dict()}
                                                       for o in outcomes]})
        return 0
    title = f"{cfg.dataset} / {cfg.model} / forget {cfg.forget} / seed {cfg.seed}"
    print_reports([(o.result.method, o.report) for o in outcomes], title, wide=args.wide)
    print("runs recorded: " + ", ".join(f"{o.result.method}={o.run_id}" for o in outcomes))
    return 0


def _train(args) -> int:
    from unlearnkit.runs.experiment import golden_model, load_context, original_model

    cfg = experiment_config(args, args.forget)
    ws = workspace(args)
    ctx = load_context(cfg)
    rows = [("original", original_model(ws, ctx))]
    if args.forget:
        rows.append(("golden", golden_model(ws, ctx)))
    out = [{"model": name, "key": t.key, "cached": t.cached, "train_time_s": t.train_time_s} for name, t in rows]
    if args.json:
        emit_json({"config": cfg.to_dict(), "models": out})
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

    if args.calibrate_every is not None and not args.calibrate:
        raise ConfigError("--calibrate-every only applies with --calibrate heldout.")
    if args.method == "auto":
        return _unlearn_auto(args)
    if args.budget is not None:
        raise ConfigError("--budget only applies with --method auto (the share of a retrain's CPU its candidates "
                          "may spend).")
    params = parse_overrides(args.params, METHODS.get(args.method), owner=f"method {args.method!r}")
    if args.preset:
        from unlearnkit.bench.presets import read_preset

        params = {**read_preset(args.preset, args.method), **params}
    cfg = experiment_config(args, args.forget)
    ws = workspace(args)
    calibration = {"calibrate": args.calibrate, "calibrate_every": args.calibrate_every} if args.calibrate else None
    o = run_unlearning(ws, cfg, args.method, params, metrics=metric_names(args.metrics),
                       retain_fraction=args.retain_fraction, calibration=calibration)
    if args.json:
        emit_json({"run_id": o.run_id, "config": o.config, "report": o.report.to_dict()})
        return 0
    print_reports([(o.result.method, o.report)], f"{cfg.dataset} / {cfg.model} / forget {cfg.forget} / seed {cfg.seed}",
                  wide=args.wide)
    print(f"run {o.run_id} recorded in {ws.runs.path}")
    return 0


def _unlearn_auto(args) -> int:
    from unlearnkit.deletion.auto_rule import DEFAULT_BUDGET
    from unlearnkit.deletion.auto_run import run_auto
    from unlearnkit.deletion.auto_select import check_budget
    from unlearnkit.tables import print_reports

    given = [flag for flag, value in (("KEY=VALUE parameters", args.params), ("--preset", args.preset),
                                      ("--calibrate", args.calibrate),
                                      ("--retain-fraction", args.retain_fraction is not None)) if value]
    if given:
        raise ConfigError(f"--method auto takes no {', '.join(given)}: they depend on the method it picks; name a "
                          "method (unlearnkit list methods) to set them.")
    budget = check_budget(DEFAULT_BUDGET if args.budget is None else args.budget)
    cfg = experiment_config(args, args.forget)
    ws = workspace(args)
    o = run_auto(ws, cfg, budget=budget, metrics=metric_names(args.metrics))
    choice = o.result.log["choice"]
    if args.json:
        emit_json({"run_id": o.run_id, "config": o.config, "report": o.report.to_dict(), "choice": choice})
        return 0
    print_reports([(f"auto -> {choice['label']}", o.report)],
                  f"{cfg.dataset} / {cfg.model} / forget {cfg.forget} / seed {cfg.seed}", wide=args.wide)
    print(f"auto: {choice['why']}")
    print(f"auto's CPU: {o.result.cpu_s:.1f} s in all, {choice['budget']['candidates_cpu_s']:.1f} s of it its "
          f"candidates (budget {choice['budget']['cpu_s']:.1f} s)")
    print(f"run {o.run_id} recorded in {ws.runs.path}")
    return 0


def _eval(args) -> int:
    from unlearnkit.runs.experiment import evaluate_original, evaluate_run
    from unlearnkit.tables import print_reports

    ws = workspace(args)
    metrics = metric_names(args.metrics)
    if args.run:
        given = {"dataset": args.dataset, "model": args.model, "forget": args.forget}
        report, row = evaluate_run(ws, args.run, metrics=metrics, expect={k: v for k, v in given.items() if v})
        label, cfg = row["method"], row["config"]
        title = f"run {args.run}: {cfg['dataset']} / {cfg['model']} / forget {cfg['forget']} / seed {cfg['seed']}"
    else:
        args.dataset, args.model = args.dataset or "digits", args.model or "mlp"
        cfg = experiment_config(args, args.forget)
        report = evaluate_original(ws, cfg, metrics=metrics)
        label, title = "original (no unlearning)", f"{cfg.dataset} / {cfg.model} / forget {cfg.forget} / seed {cfg.seed}"
    if args.json:
        emit_json({"run_id": args.run, "report": report.to_dict()})
        return 0
    print_reports([(label, report)], title, wide=args.wide)
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
    cfg = experiment_config(args, args.forget)
    ctx = load_context(cfg)
    if args.n_models < 3:
        raise ConfigError(f"--n-models must be at least 3 (forgetting quality needs ln(N-1) > 0); got {args.n_models}.")
    ws = workspace(args)
    executor = make_executor(args.executor, address=args.address, workers=args.workers)
    try:
        calibration = {"calibrate": args.calibrate} if args.calibrate else None
        result = run_audit(ws, cfg, args.method, params, n_models=args.n_models, executor=executor,
                           calibration=calibration, log=lambda line: print(line, file=sys.stderr, flush=True))
    finally:
        executor.close()
    paths = write_audit(result, ctx.dataset, args.out)
    if args.json:
        emit_json(result.to_dict())
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
