"""Retrain-referenced tuning: search a method's parameters to minimise ``avg_gap`` to the golden model.

The search runs on a *calibration* forget set: every trial unlearns it from the original model
with candidate parameters and is scored against the golden model of that forget set. The best
parameters can be written as a preset (a TOML file) and used for later runs on other forget sets
(``unlearnkit unlearn --preset FILE``).

Search spaces, one string per parameter::

    lr=float:1e-4:1e-1:log     a float in [1e-4, 1e-1], sampled on a log scale
    beta=float:0.01:0.5        a float in [0.01, 0.5]
    epochs=int:1:5             an int in 1..5 (``int:1:64:log`` samples on a log scale)
    optimizer=choice:sgd,adam  one of the listed values

Every range must lie inside the parameter's declared range (``_parameter_constraints``); all
problems of a space are reported at once. Without a space, ``default_space`` tunes ``lr`` (float,
log scale, [1e-4, 1e-1] intersected with its declared range) and ``epochs`` (int, 1..5 intersected
likewise), of those the method has.

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
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from unlearnkit.config import Boolean, Constraint, Interval, OptionalOf, Options, init_params
from unlearnkit.errors import ConfigError
from unlearnkit.methods.front_door import make_method, unlearn
from unlearnkit.methods.registry import METHODS
from unlearnkit.training.store import atomic_write_bytes, canonical_json

KINDS = ("float", "int", "choice")
#: What ``default_space`` tunes when the method has the parameter: kind, low, high, log scale.
DEFAULT_RANGES: dict[str, tuple[str, float, float, bool]] = {
    "lr": ("float", 1e-4, 1e-1, True),
    "epochs": ("int", 1, 5, False),
}
STORAGE_FILE = "tune.sqlite"
_OPTUNA_MISSING = "Tuning needs Optuna: pip install 'unlearnkit[tune]'"
_FORMS = "name=float:LOW:HIGH[:log], name=int:LOW:HIGH[:log] or name=choice:A,B,..."


# ============================================================================ search space
@dataclass(frozen=True)
class ParamSpace:
    """The search range of one parameter.

    Attributes:
        name: the method's parameter. kind: ``"float"``, ``"int"`` or ``"choice"``.
        low, high: inclusive bounds (float and int). log: sample on a log scale.
        choices: the values of a ``choice`` parameter, already parsed to the parameter's type.

    Example:
        >>> p = ParamSpace.parse("lr=float:1e-4:1e-1:log")
        >>> p.kind, p.low, p.high, p.log, str(p)
        ('float', 0.0001, 0.1, True, 'lr=float:0.0001:0.1:log')
    """

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple = ()

    @classmethod
    def parse(cls, text: str, constraint: Constraint | None = None) -> "ParamSpace":
        """Parse one ``name=kind:...`` string (grammar only; ``parse_space`` checks the method)."""
        problems: list[str] = []
        out = _parse_one(text, constraint, problems)
        if problems:
            raise ConfigError("; ".join(problems))
        assert out is not None
        return out

    def __str__(self) -> str:
        if self.kind == "choice":
            return f"{self.name}=choice:" + ",".join(_choice_text(v) for v in self.choices)
        text = f"{self.name}={self.kind}:{_num_text(self.low)}:{_num_text(self.high)}"
        return text + (":log" if self.log else "")

    def suggest(self, trial) -> Any:
        """Draw this parameter's value for an Optuna trial."""
        if self.kind == "float":
            return trial.suggest_float(self.name, float(self.low), float(self.high), log=self.log)
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_categorical(self.name, list(self.choices))


def _num_text(x: float | None) -> str:
    return repr(x) if isinstance(x, float) else str(x)


def _choice_text(v: Any) -> str:
    if v is None:
        return "none"
    if isinstance(v, bool):
        return str(v).lower()
    return str(v)


def _loose(text: str) -> Any:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _parse_one(text: str, constraint: Constraint | None, problems: list[str]) -> ParamSpace | None:
    """Grammar of one entry; appends to ``problems`` and returns None when malformed."""
    name, sep, rest = str(text).partition("=")
    name = name.strip()
    kind, _, args = rest.partition(":")
    kind = kind.strip().lower()
    if not sep or not name or kind not in KINDS:
        problems.append(f"{text!r} must have the form {_FORMS}")
        return None
    if kind == "choice":
        values = [v.strip() for v in args.split(",")]
        if not args.strip() or any(v == "" for v in values):
            problems.append(f"{text!r}: choice needs a comma-separated list of values, e.g. {name}=choice:a,b")
            return None
        parsed = tuple(constraint.parse(v) if constraint is not None else _loose(v) for v in values)
        if len(set(map(repr, parsed))) != len(parsed):
            problems.append(f"{text!r}: the choices repeat a value")
            return None
        return ParamSpace(name, "choice", choices=parsed)
    parts = [p.strip() for p in args.split(":")]
    log = False
    if len(parts) == 3 and parts[2].lower() == "log":
        log = True
        parts = parts[:2]
    if len(parts) != 2:
        problems.append(f"{text!r}: {kind} needs LOW:HIGH or LOW:HIGH:log")
        return None
    bounds: list[float] = []
    for part in parts:
        try:
            value = int(part) if kind == "int" else float(part)
        except ValueError:
            problems.append(f"{text!r}: bound {part!r} is not {'an int' if kind == 'int' else 'a number'}")
            return None
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"{text!r}: bound {part!r} is not finite")
            return None
        bounds.append(value)
    low, high = bounds
    if low >= high:
        problems.append(f"{text!r}: low {_num_text(low)} must be below high {_num_text(high)}")
    if log and low <= 0:
        problems.append(f"{text!r}: a log scale needs low > 0, got {_num_text(low)}")
    return ParamSpace(name, kind, low, high, log)  # also when not ok: its range is still checked


def _interval_of(c: Constraint | None) -> Interval | None:
    if isinstance(c, OptionalOf):
        c = c.inner
    return c if isinstance(c, Interval) else None


def _check_against(p: ParamSpace, c: Constraint | None, owner: str, text: str, problems: list[str]) -> None:
    """Check a well-formed entry against the parameter's declared constraint."""
    if c is None:
        return
    if p.kind == "choice":
        for v in p.choices:
            if not c.accepts(v):
                problems.append(f"{text!r}: choice {_choice_text(v)!r} is not valid; {p.name!r} of {owner} "
                                f"must be {c.description}")
        return
    interval = _interval_of(c)
    if interval is None:
        kind = "a bool" if isinstance(c, Boolean) else ("one of a set" if isinstance(c, (Options, OptionalOf)) else "not a number")
        problems.append(f"{text!r}: {p.name!r} of {owner} is {kind} ({c.description}); use {p.name}=choice:...")
        return
    declared = "int" if interval.type is int else "float"
    if declared != p.kind:
        problems.append(f"{text!r}: {p.name!r} of {owner} is {'an' if declared == 'int' else 'a'} {declared} parameter; "
                        f"use {p.name}={declared}:LOW:HIGH")
        return
    outside = [b for b in (p.low, p.high) if not interval.accepts(b)]
    if outside:
        problems.append(f"{text!r}: range [{_num_text(p.low)}, {_num_text(p.high)}] is outside the declared range of "
                        f"{p.name!r} of {owner}: {interval.description}")


def parse_space(texts: Sequence[str], method: str) -> tuple[ParamSpace, ...]:
    """Parse and check a search space for ``method``; every problem is reported in one ``ConfigError``.

    Example:
        >>> [str(p) for p in parse_space(["epochs=int:1:3", "optimizer=choice:sgd,adam"], "finetune")]
        ['epochs=int:1:3', 'optimizer=choice:sgd,adam']
    """
    cls = METHODS.get(method)
    valid = init_params(cls)
    constraints: Mapping[str, Constraint] = getattr(cls, "_parameter_constraints", {})
    problems: list[str] = []
    out: list[ParamSpace] = []
    seen: set[str] = set()
    if isinstance(texts, str):
        texts = [texts]
    for text in texts:
        name = str(text).partition("=")[0].strip()
        known = name in valid
        if name and not known:
            problems.append(f"{name!r} is not a parameter of {method} (valid: {', '.join(sorted(valid))})")
        p = _parse_one(text, constraints.get(name) if known else None, problems)
        if p is None or not known:
            continue
        if name in seen:
            problems.append(f"{name!r} is given twice")
            continue
        seen.add(name)
        _check_against(p, constraints.get(name), method, text, problems)
        out.append(p)
    if not texts:
        problems.append("the search space is empty")
    if problems:
        raise ConfigError(f"Bad search space for method {method!r}: " + "; ".join(problems) + ".")
    return tuple(out)


def default_space(method: str) -> tuple[ParamSpace, ...]:
    """``lr`` (float, log, [1e-4, 1e-1]) and ``epochs`` (int, 1..5), each intersected with the declared
    range, for those of the two the method has; ``ConfigError`` when it has neither.

    Example:
        >>> [str(p) for p in default_space("finetune")]
        ['lr=float:0.0001:0.1:log', 'epochs=int:1:5']
    """
    cls = METHODS.get(method)
    valid = init_params(cls)
    constraints: Mapping[str, Constraint] = getattr(cls, "_parameter_constraints", {})
    out: list[ParamSpace] = []
    for name, (kind, low, high, log) in DEFAULT_RANGES.items():
        if name not in valid:
            continue
        interval = _interval_of(constraints.get(name))
        if interval is not None:
            if ("int" if interval.type is int else "float") != kind:
                continue
            if interval.low is not None:
                low = max(low, interval.low)
            if interval.high is not None:
                high = min(high, interval.high)
            if kind == "int":
                low += 0 if interval.accepts(low) else 1
                high -= 0 if interval.accepts(high) else 1
            if low >= high or not (interval.accepts(low) and interval.accepts(high)):
                continue
        out.append(ParamSpace(name, kind, low, high, log))
    if not out:
        raise ConfigError(f"Method {method!r} has no lr or epochs to tune by default; give a search space "
                          f"(--space), e.g. name=float:LOW:HIGH. Its parameters: {', '.join(sorted(valid)) or 'none'}.")
    return tuple(out)


def resolve_space(space: Sequence[str | ParamSpace] | None, method: str) -> tuple[ParamSpace, ...]:
    """Strings are parsed and checked, ``ParamSpace`` objects re-checked, ``None`` gives the default."""
    if space is None or (not isinstance(space, str) and len(space) == 0):
        return default_space(method)
    if isinstance(space, str):
        space = [space]
    return parse_space([str(p) for p in space], method)


# ============================================================================ tuning
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

    Every argument is checked before anything is trained or written. A trial whose method raises,
    or whose objective is NaN or absent, is recorded as failed (its time still counts).
    """
    from unlearnkit.runs.experiment import golden_model, load_context, original_model

    optuna = _import_optuna()
    ps = resolve_space(space, method)
    objective = check_objective(objective)
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ConfigError(f"The number of trials must be an int >= 1. Got {n_trials!r} instead.")
    if study_name is not None and not str(study_name).strip():
        raise ConfigError("The study name must not be empty.")
    make_method(method)
    seed = cfg.seed if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"The tuning seed must be an int. Got {seed!r} instead.")
    ctx = load_context(cfg)
    spec = study_spec(ctx, method, ps, objective, seed)
    name = study_name or default_study_name(spec)
    metrics = list(dict.fromkeys(["ua", "ra", "ta", "mia_efficacy", "avg_gap", objective]))

    ws.home.mkdir(parents=True, exist_ok=True)
    path = ws.home / STORAGE_FILE
    storage = optuna.storages.RDBStorage(f"sqlite:///{path.resolve()}")
    try:
        study = optuna.create_study(storage=storage, study_name=name, direction="minimize", load_if_exists=True)
        recorded = study.user_attrs.get("spec")
        if recorded is None:
            study.set_user_attr("spec", spec)
        elif canonical_json(recorded) != canonical_json(spec):
            diff = sorted(k for k in set(recorded) | set(spec) if canonical_json(recorded.get(k)) != canonical_json(spec.get(k)))
            raise ConfigError(f"Study {name!r} in {path} was made for a different {', '.join(diff)}; "
                              "give another --study name (or none, for the default).")
        original = original_model(ws, ctx)  # trained once (or taken from the model store) before the trials
        golden = golden_model(ws, ctx)
        before = len(study.get_trials(deepcopy=False))
        study.sampler = optuna.samplers.TPESampler(seed=(seed + before) % 2**32)
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


# ============================================================================ presets
def _toml_key(key: str) -> str:
    key = str(key)
    if key and all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in key):
        return key
    return _toml_string(key)


def _toml_string(s: str) -> str:
    escapes = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
    out = []
    for ch in s:
        if ch in escapes:
            out.append(escapes[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _toml_string(v)
    if isinstance(v, Path):
        return _toml_string(str(v))
    if v is None:
        return _toml_string("none")
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise ConfigError(f"Cannot write {v!r} ({type(v).__name__}) to a preset file.")


def preset_text(method: str, params: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> str:
    """The TOML text of a preset: ``[methods.<method>]`` with the parameters, then ``[tuned]``."""
    lines = ["# unlearnkit preset, written by `unlearnkit tune`; use it with `unlearnkit unlearn --preset FILE`",
             "", f"[methods.{_toml_key(method)}]"]
    lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in params.items()]
    if meta:
        lines += ["", "[tuned]"]
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in meta.items() if v is not None]
    return "\n".join(lines) + "\n"


def write_preset(path: str | Path, method: str, params: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> Path:
    """Write a preset file atomically (a temporary file and a rename); one method per file.

    Example of the file::

        [methods.finetune]
        lr = 0.0123
        epochs = 4

        [tuned]
        method = "finetune"
        dataset = "digits"
        trials = 20
        tuning_time_s = 14.2
        best_avg_gap = 1.37
    """
    make_method(method, dict(params))  # never write a preset that cannot be used
    target = Path(path)
    if not target.parent.is_dir():
        raise ConfigError(f"Cannot write {path}: directory {target.parent} does not exist.")
    atomic_write_bytes(target, preset_text(method, params, meta).encode("utf-8"))
    return target


def read_preset(path: str | Path, method: str) -> dict[str, Any]:
    """The parameters of ``method`` in a preset file, parsed to their types and validated.

    Raises ``ConfigError`` when the file is missing, not TOML, or has no ``[methods.<method>]``.
    """
    cls = METHODS.get(method)
    target = Path(path)
    try:
        data = tomllib.loads(target.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"Preset file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"Preset file {path} is not a readable TOML file: {exc}") from None
    methods = data.get("methods")
    if not isinstance(methods, dict) or not isinstance(methods.get(method), dict):
        have = sorted(methods) if isinstance(methods, dict) else []
        raise ConfigError(f"Preset file {path} has no [methods.{method}] table"
                          + (f"; it has: {', '.join(have)}." if have else "."))
    valid = init_params(cls)
    constraints: Mapping[str, Constraint] = getattr(cls, "_parameter_constraints", {})
    params: dict[str, Any] = {}
    for key, value in methods[method].items():
        if key not in valid:
            raise ConfigError(f"Preset file {path}: unknown parameter {key!r} for method {method!r}. "
                              f"Valid parameters: {', '.join(sorted(valid))}.")
        c = constraints.get(key)
        if isinstance(value, str) and c is not None:
            value = c.parse(value)
        params[key] = value
    try:
        make_method(method, params)
    except ConfigError as exc:
        raise ConfigError(f"Preset file {path}: {exc}") from None
    return params


def preset_meta(result: TuneResult, cfg) -> dict[str, Any]:
    """The ``[tuned]`` table of a preset written from ``result``."""
    return {
        "method": result.method, "dataset": cfg.dataset, "model": cfg.model, "forget": cfg.forget, "seed": cfg.seed,
        "recipe": cfg.to_dict()["recipe"], "recipe_overrides": dict(cfg.recipe_overrides), "objective": result.objective,
        f"best_{result.objective}": result.best_value, "trials": result.n_trials_total,
        "failed_trials": result.n_failed, "tuning_time_s": round(result.tuning_time_s, 3),
        "study": result.study_name, "space": list(result.space),
    }
