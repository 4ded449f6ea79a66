"""Retrain-referenced tuning: search a method's parameters to minimise ``avg_gap`` to the golden model.

The search runs on a *calibration* forget set: every trial unlearns it from the original model
with candidate parameters and is scored against the golden model of that forget set. The best
parameters can be written as a preset (a TOML file) and used for later runs on other forget sets
(``unlearnkit unlearn --preset FILE``).

Search spaces: ``unlearnkit.bench.search_space``; presets: ``unlearnkit.bench.presets``.

Counting the cost: every trial's wall time (the method *and* its evaluation) is stored with the
trial in the Optuna study, so ``TuneResult.tuning_time_s`` is the time of every trial the study
holds, including those of earlier, resumed calls. A fair comparison with a method that is not
tuned must add it to the method's runtime. The golden model of the calibration set is needed by
any retrain-referenced tuning; its training time is reported separately
(``golden_train_time_s``). Trials are calibration, not results: none is written to the run store.

Optuna is an optional extra (``pip install 'unlearnkit[tune]'``); its study lives in SQLite at
``<home>/tune.sqlite``, so running the same command again resumes the study and adds trials.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from unlearnkit.bench.search_space import ParamSpace, _choice_text, method_defaults, resolve_space
from unlearnkit.errors import ConfigError
from unlearnkit.methods.front_door import make_method, unlearn
from unlearnkit.training.store import canonical_json

STORAGE_FILE = "tune.sqlite"
_OPTUNA_MISSING = "Tuning needs Optuna: pip install 'unlearnkit[tune]'"


@dataclass
class TuneResult:
    """What ``tune`` returns.

    Attributes:
        best_params: the parameters of the best finished trial of the study (None when none finished).
        best_value: its objective (``avg_gap``, percentage points; lower is better).
        n_trials_total: finished trials in the study (complete or failed), over every call.
        n_trials_this_call: trials run by this call. n_failed: failed trials in the study.
        tuning_time_s: sum of the wall time (method + evaluation) of every finished trial in the study.
        golden_train_time_s: training time of the golden model of the calibration set (not included).
        study_name, storage_path: where the study lives; the same name resumes it.
        method, objective, space: what was tuned (``space`` as canonical strings).
    """

    best_params: dict[str, Any] | None
    best_value: float | None
    n_trials_total: int
    n_trials_this_call: int
    tuning_time_s: float
    study_name: str
    storage_path: Path
    method: str = ""
    objective: str = "avg_gap"
    space: list[str] = field(default_factory=list)
    n_failed: int = 0
    best_trial: int | None = None
    golden_train_time_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "best_params": self.best_params, "best_value": self.best_value, "best_trial": self.best_trial,
            "n_trials_total": self.n_trials_total, "n_trials_this_call": self.n_trials_this_call,
            "n_failed": self.n_failed, "tuning_time_s": self.tuning_time_s,
            "golden_train_time_s": self.golden_train_time_s, "study_name": self.study_name,
            "storage_path": str(self.storage_path), "method": self.method, "objective": self.objective,
            "space": list(self.space),
        }


def _import_optuna():
    try:
        import optuna
    except ImportError:
        raise ConfigError(_OPTUNA_MISSING) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def check_objective(objective: str) -> str:
    """``avg_gap`` or a metric judged by closeness to the golden model (then its gap is minimised)."""
    from unlearnkit.metrics import METRICS

    if objective == "avg_gap":
        return objective
    entry = METRICS.get(objective)
    if entry.card.direction != "golden":
        raise ConfigError(f"Objective {objective!r} is not judged by its gap to the golden model; use avg_gap or one of: "
                          + ", ".join(n for n, e in METRICS.items() if e.card.direction == "golden") + ".")
    return objective


def study_spec(ctx, method: str, space: Sequence[ParamSpace], objective: str, seed: int) -> dict[str, Any]:
    """What a study is about; its hash names the default study, and a resumed study must match it."""
    cfg = ctx.config
    return {
        "dataset": cfg.dataset, "dataset_fingerprint": ctx.dataset.fingerprint(), "model": cfg.model,
        "model_kwargs": cfg.model_kwargs, "forget": str(ctx.split.spec), "split": ctx.split.fingerprint,
        "seed": cfg.seed, "sampler_seed": seed, "recipe": ctx.recipe.to_dict(), "method": method,
        "space": [str(p) for p in space], "objective": objective,
    }


def default_study_name(spec: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(canonical_json(dict(spec)).encode()).hexdigest()[:12]
    return f"{spec['method']}-{spec['dataset']}-{digest}"


def _finished(optuna, study) -> list:
    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL, optuna.trial.TrialState.PRUNED)
    return [t for t in study.get_trials(deepcopy=False) if t.state in done]


def tune(ws, cfg, method: str, space: Sequence[str | ParamSpace] | None = None, *, n_trials: int = 20,
         seed: int | None = None, study_name: str | None = None, objective: str = "avg_gap",
         log: Callable[[str], None] = lambda line: None) -> TuneResult:
    """Search ``method``'s parameters to minimise ``objective`` against the golden model of ``cfg``.

    Args:
        ws: the ``Workspace`` (model store; the study is kept in ``ws.home / "tune.sqlite"``).
        cfg: the ``ExperimentConfig`` of the calibration forget set.
        method: a method name (``unlearnkit list methods``).
        space: strings such as ``"lr=float:1e-4:1e-1:log"``, or ``None`` for ``default_space``.
        n_trials: trials to add by this call.
        seed: seed of the TPE sampler (default ``cfg.seed``). The sampler of a call is seeded with
            this seed plus the number of trials already in the study, so a resumed study draws new
            points instead of repeating the first call's, and the same calls give the same trials.
        study_name: the study's name; default a stable hash of the experiment, method, space and
            objective, so the same command resumes the same study.
        objective: ``"avg_gap"`` (default) or a golden-directed metric whose gap is minimised.
        log: called with one line per trial.

    Returns:
        ``TuneResult``; the best trial is the best of the whole study, so it never gets worse on resume.

    The first trial of a new study runs the method's default parameters whenever they lie in the
    space (always for the default space), so the best result is never worse than not tuning.

    Every argument is checked before anything is trained or written. A trial whose method raises,
    or whose objective is NaN or absent, is recorded as failed (its time still counts).
    """
    from unlearnkit.runs.experiment import golden_model, load_context, original_model

    optuna = _import_optuna()
    ps = resolve_space(space, method)
    objective = check_objective(objective)
    seed = _check_tune_args(method, n_trials, study_name, cfg.seed if seed is None else seed)
    ctx = load_context(cfg)
    spec = study_spec(ctx, method, ps, objective, seed)
    name = study_name or default_study_name(spec)
    metrics = list(dict.fromkeys(["ua", "ra", "ta", "mia_efficacy", "avg_gap", objective]))

    ws.home.mkdir(parents=True, exist_ok=True)
    path = ws.home / STORAGE_FILE
    storage = optuna.storages.RDBStorage(f"sqlite:///{path.resolve()}")
    try:
        study = _open_study(optuna, storage, name, spec, path)
        original = original_model(ws, ctx)  # trained once (or taken from the model store) before the trials
        golden = golden_model(ws, ctx)
        before = len(study.get_trials(deepcopy=False))
        study.sampler = optuna.samplers.TPESampler(seed=(seed + before) % 2**32)
        if before == 0:
            first = first_trial(method, ps)
            if first is not None:  # tuning never ends worse than not tuning
                study.enqueue_trial(first)
            else:
                shown = ", ".join(f"{p.name}={method_defaults(method).get(p.name)!r}" for p in ps)
                log(f"the defaults of {method} ({shown}) are not all points of the search space, so the first "
                    f"trial is not the defaults")
        for _ in range(n_trials):
            _run_trial(optuna, study, ws, ctx, original.model, method, ps, metrics, objective, log)
        trials = _finished(optuna, study)
        complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
        best = min(complete, key=lambda t: (t.value, t.number)) if complete else None
        return TuneResult(
            best_params=dict(best.params) if best else None, best_value=float(best.value) if best else None,
            best_trial=best.number if best else None, n_trials_total=len(trials), n_trials_this_call=n_trials,
            n_failed=sum(t.state != optuna.trial.TrialState.COMPLETE for t in trials),
            tuning_time_s=float(sum(float(t.user_attrs.get("wall_s", 0.0)) for t in trials)),
            golden_train_time_s=golden.train_time_s, study_name=name, storage_path=path, method=method,
            objective=objective, space=[str(p) for p in ps],
        )
    finally:
        engine = getattr(storage, "engine", None)
        if engine is not None:
            engine.dispose()


def _check_tune_args(method: str, n_trials: Any, study_name: str | None, seed: Any) -> int:
    """Check ``tune``'s arguments before anything is trained; the tuning seed."""
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ConfigError(f"The number of trials must be an int >= 1. Got {n_trials!r} instead.")
    if study_name is not None and not str(study_name).strip():
        raise ConfigError("The study name must not be empty.")
    make_method(method)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"The tuning seed must be an int. Got {seed!r} instead.")
    return seed


def _open_study(optuna: Any, storage: Any, name: str, spec: dict[str, Any], path: Path) -> Any:
    """The study ``name`` (created when new); refused when it was made for another set-up than ``spec``."""
    study = optuna.create_study(storage=storage, study_name=name, direction="minimize", load_if_exists=True)
    recorded = study.user_attrs.get("spec")
    if recorded is None:
        study.set_user_attr("spec", spec)
    elif canonical_json(recorded) != canonical_json(spec):
        diff = sorted(k for k in set(recorded) | set(spec) if canonical_json(recorded.get(k)) != canonical_json(spec.get(k)))
        raise ConfigError(f"Study {name!r} in {path} was made for a different {', '.join(diff)}; "
                          "give another --study name (or none, for the default).")
    return study


def first_trial(method: str, space: Sequence[ParamSpace]) -> dict[str, Any] | None:
    """The method's default values of the parameters of ``space``, when every one lies in its range
    (the first trial of a new study); ``None`` otherwise."""
    defaults = method_defaults(method)
    if all(p.name in defaults and p.contains(defaults[p.name]) for p in space):
        return {p.name: defaults[p.name] for p in space}
    return None


def _run_trial(optuna, study, ws, ctx, original, method, space, metrics, objective, log) -> None:
    from unlearnkit.runs.experiment import report_for

    cfg = ctx.config
    trial = study.ask()
    params = {p.name: p.suggest(trial) for p in space}
    start = time.perf_counter()
    value: float | None = None
    error: str | None = None
    try:
        result = unlearn(original, ctx.split, method, seed=cfg.seed, device=cfg.device, **params)
        report = report_for(ws, ctx, result.model, result.runtime_s, metrics)
        trial.set_user_attr("runtime_s", float(result.runtime_s))
        trial.set_user_attr("metrics", {k: float(v) for k, v in report.rows.get("unlearned", {}).items()})
        value = report.avg_gap if objective == "avg_gap" else report.gaps.get(objective)
        if value is None or not math.isfinite(float(value)):
            reasons = [report.absent[m] for m in metrics if m in report.absent and m != objective]
            reason = reasons[0] if reasons else report.absent.get(objective, "not finite")
            error = f"{objective} is {'absent' if value is None else value}: {reason}"
            value = None
    except KeyboardInterrupt:
        trial.set_user_attr("wall_s", time.perf_counter() - start)
        trial.set_user_attr("error", "interrupted")
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        raise
    except Exception as exc:  # a failing candidate is a failed trial, not a crash
        error = f"{type(exc).__name__}: {exc}"
    wall = time.perf_counter() - start
    trial.set_user_attr("wall_s", wall)
    shown = " ".join(f"{k}={_fmt_value(v)}" for k, v in params.items())
    if value is None:
        trial.set_user_attr("error", error)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        log(f"trial {trial.number}: {shown} -> failed: {error} ({wall:.1f} s)")
    else:
        study.tell(trial, float(value))
        log(f"trial {trial.number}: {shown} -> {objective} {float(value):.2f} ({wall:.1f} s)")


def _fmt_value(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else _choice_text(v)


def preset_meta(result: TuneResult, cfg) -> dict[str, Any]:
    """The ``[tuned]`` table of a preset written from ``result``."""
    return {
        "method": result.method, "dataset": cfg.dataset, "model": cfg.model, "forget": cfg.forget, "seed": cfg.seed,
        "recipe": cfg.to_dict()["recipe"], "recipe_overrides": dict(cfg.recipe_overrides), "objective": result.objective,
        f"best_{result.objective}": result.best_value, "trials": result.n_trials_total,
        "failed_trials": result.n_failed, "tuning_time_s": round(result.tuning_time_s, 3),
        "study": result.study_name, "space": list(result.space),
    }
