"""The experiment pipeline: dataset -> split -> original and golden models (cached) -> method ->
evaluation -> run store. The CLI's ``train``, ``unlearn``, ``eval`` and ``demo`` are thin shells
over these functions."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch.nn as nn

from unlearnkit.data import Split, load_dataset, make_split
from unlearnkit.data.dataset import Dataset, Subset
from unlearnkit.config import Interval
from unlearnkit.errors import ConfigError, StoreError
from unlearnkit.methods.base import Method, UnlearnResult
from unlearnkit.methods.calibration import check_calibration
from unlearnkit.methods.front_door import check_holdout, make_method, method_name, unlearn
from unlearnkit.metrics import HEADLINE, METRICS, Report, Scores, evaluate, score_model
from unlearnkit.models import build_model
from unlearnkit.runs.store import RunStore
from unlearnkit.training import TRAINING_CODE_VERSION, ModelStore, Recipe, default_home, get_recipe, resolve_device, train
from unlearnkit.training.store import canonical_json, content_key
from unlearnkit.version import __version__


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that fixes the original and golden models of an experiment.

    Attributes:
        dataset: dataset name. model: architecture name. forget: forget spec string.
        seed: seeds the split, initialisation, training, the method and the attacks.
        recipe: preset name (None: the dataset's own). recipe_overrides: ``{"epochs": 5}``...
        model_kwargs: architecture arguments. data_dir: for file-based datasets.
        download: fetch the dataset's files first (datasets with a canonical URL).
        data_options: loader options, e.g. ``{"label_column": "y"}`` for ``csv``.
        device: ``auto``, ``cpu`` or ``cuda``.
    """

    dataset: str = "digits"
    model: str = "mlp"
    forget: str = "random:0.1"
    seed: int = 0
    recipe: str | None = None
    recipe_overrides: dict[str, Any] = field(default_factory=dict)
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    data_dir: str | None = None
    download: bool = False
    data_options: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"

    def resolved_recipe(self) -> Recipe:
        return get_recipe(self.recipe or _default_recipe(self.dataset), dict(self.recipe_overrides))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["recipe"] = self.recipe or _default_recipe(self.dataset)
        out["resolved_recipe"] = self.resolved_recipe().to_dict()
        return out


def _default_recipe(dataset: str) -> str:
    from unlearnkit.training import default_recipe_name

    return default_recipe_name(dataset)


RUNS_FILE = "runs.sqlite"
MODELS_DIR = "models"


class Workspace:
    """The model store and run store under one home directory (``$UNLEARNKIT_HOME``).

    Golden and original scores are kept in memory for the life of the workspace, so a demo that
    compares several methods evaluates each reference model once.

    Raises:
        StoreError: ``home`` (or a folder on its way) is a file, or a store inside it has the wrong
            kind (``models`` a file, ``runs.sqlite`` a folder).
    """

    def __init__(self, home: str | Path | None = None):
        self.home = Path(home) if home is not None else default_home()
        check_home(self.home)
        self.models = ModelStore(self.home / MODELS_DIR)
        self._runs: RunStore | None = None
        self._scores: dict[tuple, Scores] = {}
        self._tidied = False

    @property
    def runs(self) -> RunStore:
        """The run store, for writing: created when missing (after ``check_writable``)."""
        if self._runs is None:
            self.check_writable()
            self._runs = RunStore(self.home / RUNS_FILE)
        return self._runs

    def existing_runs(self) -> RunStore | None:
        """The run store for reading, or ``None`` when this home has none yet; creates nothing."""
        if self._runs is not None:
            return self._runs
        path = self.home / RUNS_FILE
        return RunStore(path, create=False) if path.exists() else None

    def check_writable(self) -> None:
        """Raise ``StoreError`` unless the home (or the folder it will be made in) and its stores can be written.

        Called before any work of a command that writes, so that a read-only home fails at once with
        nothing trained."""
        existing = self.home
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        for path in (existing, self.home / MODELS_DIR, self.home / RUNS_FILE):
            if path.exists() and not os.access(path, os.W_OK | (os.X_OK if path.is_dir() else 0)):
                raise StoreError(f"Cannot write to the home {self.home}: {path} is read-only; make it writable or "
                                 f"choose another --home (or $UNLEARNKIT_HOME).")

    def tidy(self) -> list[str]:
        """Clean up after killed processes, once per workspace: mark the runs of gone owners interrupted,
        remove the unlearned models of interrupted runs, and remove abandoned temporary files of the
        model store. Returns the ids of the runs marked interrupted now."""
        if self._tidied:
            return []
        self._tidied = True
        reaped = self.runs.reap()
        self.drop_unlearned([r["id"] for r in self.runs.list(status="failed")])
        self.models.remove_abandoned_temp_files()
        return reaped

    def drop_unlearned(self, run_ids: Sequence[str]) -> int:
        """Remove the unlearned models of these (unfinished) runs from the model store; returns how many existed."""
        return sum(self.models.delete(content_key(unlearned_spec(rid))) for rid in run_ids)


def unlearned_spec(run_id: str) -> dict[str, str]:
    """The model-store spec of a run's unlearned model."""
    return {"kind": "unlearned", "run": run_id}


def check_home(home: Path) -> None:
    """Raise ``StoreError`` when ``home`` cannot be a home directory: it, or a folder on its way, is a
    file; or ``models`` inside it is a file, or ``runs.sqlite`` a folder. Writes nothing."""
    existing = home
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        if existing == home:
            raise StoreError(f"The home {home} is a file, not a directory; give a directory as --home "
                             f"(or $UNLEARNKIT_HOME), e.g. {home.parent / 'unlearnkit-home'}.")
        raise StoreError(f"The home {home} cannot be created: {existing} is a file, not a directory.")
    if (home / MODELS_DIR).exists() and not (home / MODELS_DIR).is_dir():
        raise StoreError(f"The model store {home / MODELS_DIR} is a file, not a directory; move it away or choose "
                         f"another --home.")
    if (home / RUNS_FILE).is_dir():
        raise StoreError(f"The run store {home / RUNS_FILE} is a directory, not a file; move it away or choose "
                         f"another --home.")


@dataclass
class TrainedModel:
    model: nn.Module
    key: str
    train_time_s: float
    cached: bool
    train_cpu_s: float | None = None


@dataclass
class Context:
    """A loaded experiment: dataset, split and recipe."""

    config: ExperimentConfig
    dataset: Dataset
    split: Split
    recipe: Recipe


def load_context(cfg: ExperimentConfig) -> Context:
    """Load the dataset, resolve the split and the recipe; every name is checked here."""
    recipe = cfg.resolved_recipe()
    resolve_device(cfg.device)
    ds = load_dataset(cfg.dataset, data_dir=cfg.data_dir, download=cfg.download, **cfg.data_options)
    split = make_split(ds, cfg.forget, seed=cfg.seed)
    build_model(cfg.model, input_shape=ds.input_shape, num_classes=split.num_classes, **cfg.model_kwargs)
    return Context(cfg, ds, split, recipe)


def model_spec(ctx: Context, kind: str, *, seed: int | None = None, data: str | None = None) -> dict[str, Any]:
    """What determines a trained model's weights; its hash is the model-store key.

    ``data`` names the training samples: "full" for the original, the split fingerprint for the
    golden model, or a caller's tag (e.g. a LiRA half); ``seed`` defaults to the config's.
    """
    cfg = ctx.config
    return {
        "kind": kind,
        "dataset": cfg.dataset,
        "dataset_fingerprint": ctx.dataset.fingerprint(),
        "label_set": ctx.split.label_set,
        "data": data if data is not None else (ctx.split.fingerprint if kind == "golden" else "full"),
        "model": cfg.model,
        "model_kwargs": cfg.model_kwargs,
        "recipe": ctx.recipe.to_dict(),
        "seed": cfg.seed if seed is None else seed,
        "training_code": TRAINING_CODE_VERSION,
    }


def build(ctx: Context, seed: int | None = None) -> nn.Module:
    """A freshly initialised model of the experiment's architecture (seeded)."""
    cfg = ctx.config
    return build_model(cfg.model, input_shape=ctx.dataset.input_shape, num_classes=ctx.split.num_classes,
                       seed=cfg.seed if seed is None else seed, **cfg.model_kwargs)


def trained_model(ws: Workspace, ctx: Context, kind: str, data: Subset, *, seed: int | None = None,
                  data_tag: str | None = None) -> TrainedModel:
    """Train a model on ``data`` with the experiment's recipe, or take it from the model store."""
    spec = model_spec(ctx, kind, seed=seed, data=data_tag)
    seed = ctx.config.seed if seed is None else seed
    key = content_key(spec)
    if ws.models.has(key):
        record = ws.models.meta(key)
        model = ws.models.load_into(key, build(ctx, seed))
        cpu = record["meta"].get("train_cpu_s")
        return TrainedModel(model, key, float(record["meta"].get("train_time_s", float("nan"))), cached=True,
                            train_cpu_s=None if cpu is None else float(cpu))
    ws.check_writable()  # before the training, not after it
    model = build(ctx, seed)
    start, cpu_start = time.perf_counter(), time.process_time()
    train(model, data, ctx.recipe, seed=seed, device=ctx.config.device, description=f"{kind} model")
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    ws.models.put(spec, model, {"train_time_s": elapsed, "train_cpu_s": cpu, "n_train": len(data),
                                "version": __version__})
    return TrainedModel(model.to("cpu").eval(), key, elapsed, cached=False, train_cpu_s=cpu)


def original_model(ws: Workspace, ctx: Context) -> TrainedModel:
    """The model trained on the whole training set (labels of the split's label set), cached."""
    return trained_model(ws, ctx, "original", ctx.split.subset("train"))


def golden_model(ws: Workspace, ctx: Context) -> TrainedModel:
    """The model retrained from scratch on D_r with the same recipe and seed, cached."""
    return trained_model(ws, ctx, "golden", ctx.split.subset("retain"))


def reference_keys(ctx: Context) -> dict[str, str]:
    """The model-store keys of the original and golden models of ``ctx``."""
    return {kind: content_key(model_spec(ctx, kind)) for kind in ("original", "golden")}


def verify_reference_models(ws: Workspace, ctx: Context) -> None:
    """Check the original and golden models of ``ctx`` that are in the model store (record and
    weights checksum), so a corrupt entry is reported before any work; reads only."""
    for key in reference_keys(ctx).values():
        if ws.models.has(key):
            ws.models.verify(key)


def reference_scores(ws: Workspace, ctx: Context, which: TrainedModel, metrics: Sequence[str],
                     golden: TrainedModel | None = None) -> Scores:
    """Scores of the golden or original model, computed once per workspace."""
    key = (which.key, ctx.split.fingerprint, tuple(metrics), ctx.config.seed)
    if key not in ws._scores:
        ws._scores[key] = score_model(which.model, ctx.split, metrics=list(metrics), seed=ctx.config.seed,
                                      golden_model=golden.model if golden is not None else None,
                                      device=ctx.config.device)
    return ws._scores[key]


def check_metrics(metrics: Sequence[str] | None) -> list[str]:
    names = list(metrics) if metrics else list(HEADLINE)
    for name in names:
        METRICS.get(name)
    return names


#: metrics recorded beside another whenever it is asked for: the CPU-time twins of the wall-time
#: ones, and the check of the membership attack beside its score
COMPANIONS = {"runtime_s": "cpu_s", "speedup": "cpu_speedup", "mia_efficacy": "mia_member_recall"}


def with_companions(names: Sequence[str]) -> list[str]:
    """``names`` with each metric's companion (``COMPANIONS``) right after it, when not already asked for.

    Example:
        >>> with_companions(["ua", "mia_efficacy", "runtime_s"])
        ['ua', 'mia_efficacy', 'mia_member_recall', 'runtime_s', 'cpu_s']
    """
    out: list[str] = []
    for name in names:
        if name not in out:
            out.append(name)
        twin = COMPANIONS.get(name)
        if twin and twin not in names:
            out.append(twin)
    return out


def report_for(ws: Workspace, ctx: Context, model: nn.Module, runtime_s: float | None,
               metrics: Sequence[str] | None = None, cpu_s: float | None = None) -> Report:
    """Evaluate ``model`` against the (cached) golden and original models of ``ctx``.

    Wherever ``runtime_s`` / ``speedup`` are asked for, ``cpu_s`` / ``cpu_speedup`` come beside
    them: every recorded run carries its process CPU seconds and the golden retrain's. Beside
    ``mia_efficacy`` comes ``mia_member_recall``, so that a collapsed attack is seen.
    """
    names = with_companions(check_metrics(metrics))
    golden = golden_model(ws, ctx)
    original = original_model(ws, ctx)
    needs_golden_module = any(m in names for m in ("js_to_golden", "weight_distance"))
    return evaluate(
        model, ctx.split,
        reference=golden.model if needs_golden_module else reference_scores(ws, ctx, golden, names),
        original=reference_scores(ws, ctx, original, names, golden),
        metrics=names, seed=ctx.config.seed, runtime_s=runtime_s, reference_runtime_s=golden.train_time_s,
        cpu_s=cpu_s, reference_cpu_s=golden.train_cpu_s, device=ctx.config.device,
    )


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
    verify_reference_models(ws, ctx)
    runs = ws.runs
    ws.tidy()
    row = dict(dataset=cfg.dataset, model=cfg.model, forget=str(ctx.split.spec),
               split_fingerprint=ctx.split.fingerprint, seed=cfg.seed, method=method_name(est),
               params=est.get_params(), config=plan.config, config_hash=plan.config_hash,
               version=__version__)
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
        result = unlearn(original.model, ctx.split, est, seed=cfg.seed, device=cfg.device,
                         retain_fraction=plan.retain_fraction, **(plan.calibration or {}))
        report = report_for(ws, ctx, result.model, result.runtime_s, plan.metrics, cpu_s=result.cpu_s)
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
    return RunOutcome(run_id, report, result, plan.config)


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
