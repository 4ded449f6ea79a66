"""The experiment pipeline: dataset -> split -> original and golden models (cached) -> method ->
evaluation -> run store. The CLI's ``train``, ``unlearn``, ``eval`` and ``demo`` are thin shells
over these functions.

This module plans and runs an unlearning run and (re-)evaluates recorded ones; what it builds on
lives beside it and is re-exported here: ``config`` (``ExperimentConfig``), ``workspace`` (the
home's model and run stores), ``references`` (dataset, split and the cached original and golden
models) and ``scoring`` (which metrics, and a model's report against the references)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from unlearnkit.config import Interval
from unlearnkit.errors import ConfigError, StoreError
from unlearnkit.methods.base import Method, UnlearnResult
from unlearnkit.methods.calibration import check_calibration
from unlearnkit.methods.front_door import check_holdout, make_method, method_name, unlearn
from unlearnkit.metrics import Report
from unlearnkit.runs.config import ExperimentConfig
from unlearnkit.runs.references import (
    Context, TrainedModel, build, golden_model, load_context, model_spec, original_model, reference_keys,
    reference_scores, trained_model, verify_reference_models,
)
from unlearnkit.runs.scoring import COMPANIONS, check_metrics, report_for, with_companions
from unlearnkit.runs.workspace import MODELS_DIR, RUNS_FILE, Workspace, check_home, unlearned_spec
from unlearnkit.training.store import canonical_json
from unlearnkit.version import __version__

#: The pipeline in one place: the CLI, the benchmark runner, the audits and callers import from here.
__all__ = [
    "COMPANIONS", "MODELS_DIR", "RUNS_FILE", "Context", "ExperimentConfig", "RunOutcome", "RunPlan", "TrainedModel",
    "Workspace", "build", "check_home", "check_metrics", "check_retain_fraction", "config_from_run", "evaluate_original",
    "evaluate_run", "execute_plan", "golden_model", "load_context", "model_spec", "original_model", "plan_run",
    "record_run", "reference_keys", "reference_scores", "report_for", "run_unlearning", "trained_model",
    "unlearned_spec", "verify_reference_models", "with_companions",
]


@dataclass
class RunOutcome:
    run_id: str
    report: Report
    result: UnlearnResult
    config: dict[str, Any]


@dataclass
class RunPlan:
    """A validated run, not yet executed: its method object, metrics, context and config hash."""

    estimator: Any
    metrics: list[str]
    context: Context
    retain_fraction: float | None
    config: dict[str, Any]
    config_hash: str
    calibration: dict[str, Any] | None = None


_FRACTION = Interval(float, 0, 1, closed="right")


def check_retain_fraction(value: Any) -> float | None:
    """``None`` or a number in (0, 1]; anything else is a ``ConfigError`` (checked before any work)."""
    if value is not None and not _FRACTION.accepts(value):
        raise ConfigError(f"The 'retain_fraction' parameter of unlearn must be {_FRACTION.description}. "
                          f"Got {value!r} instead.")
    return value


def plan_run(cfg: ExperimentConfig, method: str, params: dict[str, Any] | None = None, *,
             metrics: Sequence[str] | None = None, retain_fraction: float | None = None,
             calibration: dict[str, Any] | None = None) -> RunPlan:
    """Check every choice of a run (method, parameters, metrics, dataset, split, model) without training.

    The config hash identifies the run: a benchmark skips a run whose hash is already done.
    ``calibration`` holds ``unlearn``'s ``calibrate``, ``calibrate_every`` and
    ``calibrate_patience``; it enters the config (and its hash) only when given.
    """
    est = make_method(method, params)
    names = check_metrics(metrics)
    check_retain_fraction(retain_fraction)
    ctx = load_context(cfg)
    check_holdout(est, ctx.split)
    if type(est).check_model is not Method.check_model:  # building a model costs time: only when it is checked
        est.check_model(build(ctx))
    config = {**cfg.to_dict(), "method": method_name(est), "params": est.get_params(),
              "retain_fraction": retain_fraction, "metrics": names, "split": ctx.split.describe()}
    if calibration:
        calibration = {"calibrate": "heldout", "calibrate_every": None, "calibrate_patience": None, **calibration}
        check_calibration(est, ctx.split, **calibration)
        config["calibration"] = calibration
    config_hash = hashlib.sha256(canonical_json(config).encode()).hexdigest()
    return RunPlan(est, names, ctx, retain_fraction, config, config_hash, calibration or None)


def execute_plan(ws: Workspace, plan: RunPlan, *, exclusive: bool = False) -> RunOutcome | None:
    """Train or fetch the original and golden models, run the method, evaluate and record the run.

    Before any work the cached original and golden models are verified, the home checked writable
    and the run store opened (a corrupt one fails here), and the leftovers of killed processes are
    cleaned up (``Workspace.tidy``).

    Args:
        ws: the workspace.
        plan: from ``plan_run``.
        exclusive: claim the run first (``RunStore.claim_run``), as a benchmark does: when a run of the
            same config is done, or held by a live process, nothing is done and ``None`` is returned.
    """
    ctx, cfg, est = plan.context, plan.context.config, plan.estimator
    row = dict(dataset=cfg.dataset, model=cfg.model, forget=str(ctx.split.spec),
               split_fingerprint=ctx.split.fingerprint, seed=cfg.seed, method=method_name(est),
               params=est.get_params(), config=plan.config, config_hash=plan.config_hash,
               version=__version__)

    def produce(original: TrainedModel) -> UnlearnResult:
        return unlearn(original.model, ctx.split, est, seed=cfg.seed, device=cfg.device,
                       retain_fraction=plan.retain_fraction, **(plan.calibration or {}))

    return record_run(ws, ctx, row, plan.metrics, produce, config=plan.config, exclusive=exclusive)


def record_run(ws: Workspace, ctx: Context, row: dict[str, Any], metrics: list[str],
               produce: Callable[[TrainedModel], UnlearnResult], *, config: dict[str, Any],
               exclusive: bool = False) -> RunOutcome | None:
    """Start a run in the store, ``produce`` its unlearned model from the original, evaluate and record it.

    ``execute_plan`` passes a registered method; ``deletion.auto_run`` passes ``--method auto``. The
    original and golden models are trained (or fetched) before ``produce`` sees the original; the
    golden model is only used to evaluate. A failure marks the run failed and drops its model.
    """
    verify_reference_models(ws, ctx)
    runs = ws.runs
    ws.tidy()
    original: TrainedModel | None = None
    if exclusive:
        claim = runs.claim_run(**row)
        ws.drop_unlearned(list(claim.reaped))
        if claim.status != "claimed":
            return None
        run_id = claim.run_id
    else:
        original = original_model(ws, ctx)
        golden_model(ws, ctx)
        run_id = runs.start(**row)
    try:
        if original is None:
            original = original_model(ws, ctx)
            golden_model(ws, ctx)
        result = produce(original)
        report = report_for(ws, ctx, result.model, result.runtime_s, metrics, cpu_s=result.cpu_s)
        key = ws.models.put(unlearned_spec(run_id), result.model,
                            {"method": result.method, "params": result.params, "log": result.log})
        runs.finish(run_id, metrics=report.to_dict(), runtime_s=result.runtime_s, unlearned_key=key)
    except BaseException as exc:
        try:
            runs.fail(run_id, f"{type(exc).__name__}: {exc}")
        except StoreError:  # the claim was lost meanwhile; the first error is the one to report
            pass
        ws.drop_unlearned([run_id])
        raise
    return RunOutcome(run_id, report, result, config)


def run_unlearning(ws: Workspace, cfg: ExperimentConfig, method: str, params: dict[str, Any] | None = None, *,
                   metrics: Sequence[str] | None = None, retain_fraction: float | None = None,
                   calibration: dict[str, Any] | None = None) -> RunOutcome:
    """Plan (validate everything, train nothing) and then execute one run; see ``execute_plan``."""
    return execute_plan(ws, plan_run(cfg, method, params, metrics=metrics, retain_fraction=retain_fraction,
                                     calibration=calibration))


def config_from_run(row: dict[str, Any]) -> ExperimentConfig:
    c = row["config"]
    return ExperimentConfig(dataset=c["dataset"], model=c["model"], forget=c["forget"], seed=c["seed"],
                            recipe=c["recipe"], recipe_overrides=c["recipe_overrides"],
                            model_kwargs=c["model_kwargs"], data_dir=c["data_dir"], download=False,
                            data_options=c.get("data_options", {}), device=c["device"])


def evaluate_run(ws: Workspace, run_id: str, *, metrics: Sequence[str] | None = None,
                 expect: dict[str, str] | None = None) -> tuple[Report, dict[str, Any]]:
    """Re-evaluate a recorded run's unlearned model (e.g. with more metrics).

    ``expect`` ({"dataset": ..., "forget": ...}) names fields the run must have been made with.
    """
    names = check_metrics(metrics)
    runs = ws.existing_runs()  # reading a run creates no store
    if runs is None:
        raise StoreError(f"No run {run_id!r}: there is no run store in {ws.home} yet (runs are recorded by "
                         f"'unlearnkit unlearn' and 'unlearnkit bench').")
    row = runs.get(run_id)
    if row["status"] != "done":
        raise ConfigError(f"Run {run_id} has status {row['status']!r}; only finished runs can be evaluated.")
    cfg = config_from_run(row)
    for fld, value in (expect or {}).items():
        if value != getattr(cfg, fld):
            raise ConfigError(f"Run {run_id} was made with --{fld} {getattr(cfg, fld)!r}, not {value!r}.")
    ctx = load_context(cfg)
    model = ws.models.load_into(row["unlearned_key"], build(ctx))
    cpu = ((row.get("metrics") or {}).get("rows", {}).get("unlearned", {})).get("cpu_s")
    return report_for(ws, ctx, model, row["runtime_s"], names, cpu_s=cpu), row


def evaluate_original(ws: Workspace, cfg: ExperimentConfig, *, metrics: Sequence[str] | None = None) -> Report:
    """The original model's report against the golden model (what 'doing nothing' scores)."""
    names = check_metrics(metrics)
    ctx = load_context(cfg)
    return report_for(ws, ctx, original_model(ws, ctx).model, None, names)
