"""Benchmark grids: a TOML file of datasets × models × forget specs × methods × seeds.

```toml
datasets = ["fashion-mnist"]
models = ["cnn"]
forget = ["class:3", "subclass:Shirt", "random:0.1"]
seeds = [0, 1, 2]
metrics = ["ua", "ra", "ta", "ta_forget", "mia_efficacy", "runtime_s", "speedup", "avg_gap"]  # optional
retain_fraction = 0.3          # optional: run every method under this budget of D_r, a number in (0, 1];
                               # a list such as [0.1, 0.3, 0.5] runs every method once per value
data_dir = "/path"             # optional
device = "cpu"                 # optional

[recipe]                       # optional: preset name and field overrides
name = "fashion-mnist"
epochs = 6

[model_args]                   # optional: architecture arguments
channels = 32

calibrate = "heldout"          # optional: calibrate every (loop) method on the validation slice V;
                               # also calibrate_every and calibrate_patience (unlearnkit.unlearn)

[data_options]                 # optional: dataset options, e.g. a training subset and its validation slice V
train_subset = 10000

[methods.finetune]             # a method with its defaults
[methods.neggrad_plus]
beta = [0.05, 0.1]             # a list is a small parameter grid: one run per value

[[methods.jit]]                # several [[methods.x]] tables: the union of their grids
sigma = [0.1, 0.5]
[[methods.jit]]
sigma = 2.0
lr = 3e-4
```

Without ``retain_fraction`` every method runs with its own default budget (all of D_r, or the
method's own fraction for the partial-retain methods). Each retain fraction is a scenario of its
own in the report, which also plots ``avg_gap`` against the fraction when a grid sweeps it.

``load_grid`` checks everything before anything runs and reports every problem at once.

The checks of each part of the TOML table live in ``bench/grid_checks.py``; expanding parameter
grids in ``bench/expand.py``.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unlearnkit.bench import grid_checks as checks
from unlearnkit.bench.expand import MAX_RUNS, expand_params, expand_tables, grid_size, too_big
from unlearnkit.config import init_params
from unlearnkit.errors import ConfigError, UnlearnkitError
from unlearnkit.runs.experiment import ExperimentConfig, RunPlan, check_metrics, check_retain_fraction, plan_run
from unlearnkit.training.recipe import Recipe

TOP_KEYS = ("datasets", "models", "forget", "seeds", "metrics", "retain_fraction", "data_dir", "device", "recipe",
            "model_args", "data_options", "calibrate", "calibrate_every", "calibrate_patience", "methods")
CALIBRATION_KEYS = ("calibrate", "calibrate_every", "calibrate_patience")


@dataclass(frozen=True)
class RunSpec:
    """One run of a grid: an experiment config plus a method and its parameters."""

    config: ExperimentConfig
    method: str
    params: dict[str, Any]
    metrics: tuple[str, ...] | None
    retain_fraction: float | None
    calibration: dict[str, Any] | None = None

    def plan(self) -> RunPlan:
        return plan_run(self.config, self.method, self.params, metrics=self.metrics,
                        retain_fraction=self.retain_fraction, calibration=self.calibration)

    def label(self) -> str:
        params = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        c = self.config
        budget = f"/retain{self.retain_fraction:g}" if self.retain_fraction is not None else ""
        cal = f"+{self.calibration['calibrate']}" if self.calibration else ""
        head = f"{c.dataset}/{c.model}/{c.forget}{budget}/seed{c.seed}/{self.method}{cal}"
        return head + (f"[{params}]" if params else "")


@dataclass
class Grid:
    """A parsed grid; ``runs()`` expands it, ``plans()`` validates and plans every run.

    ``retain_fraction`` is ``None`` (each method's default budget), one number, or a list of
    numbers (one run per value), each in (0, 1].
    """

    datasets: list[str]
    models: list[str]
    forget: list[str]
    seeds: list[int]
    methods: dict[str, dict[str, Any]]
    metrics: list[str] | None = None
    retain_fraction: float | list[float] | None = None
    data_dir: str | None = None
    device: str = "cpu"
    recipe: str | None = None
    recipe_overrides: dict[str, Any] = field(default_factory=dict)
    model_args: dict[str, Any] = field(default_factory=dict)
    data_options: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, Any] | None = None
    source: str = "<grid>"

    def retain_fractions(self) -> list[float | None]:
        """The retain fractions to run: ``[None]`` when the grid sets none, else its value(s)."""
        if isinstance(self.retain_fraction, list):
            return list(self.retain_fraction)
        return [self.retain_fraction]

    def size(self) -> int:
        """How many runs ``runs()`` gives at most (before duplicate parameter sets are dropped), counted
        without expanding anything."""
        return grid_size(len(self.datasets), len(self.models), len(self.forget), len(self.retain_fractions()),
                         len(self.seeds), self.methods)

    def runs(self) -> list[RunSpec]:
        """Every run of the grid: datasets × models × forget specs × retain fractions × seeds × method variants."""
        if self.size() > MAX_RUNS:
            raise ConfigError(too_big(self.source, self.size()))
        variants = {method: expand_tables(grids) for method, grids in self.methods.items()}
        out = []
        for dataset, model, forget, fraction, seed in itertools.product(
                self.datasets, self.models, self.forget, self.retain_fractions(), self.seeds):
            cfg = ExperimentConfig(dataset=dataset, model=model, forget=forget, seed=seed, recipe=self.recipe,
                                   recipe_overrides=dict(self.recipe_overrides), model_kwargs=dict(self.model_args),
                                   data_dir=self.data_dir, device=self.device, data_options=dict(self.data_options))
            for method, sets in variants.items():
                for params in sets:
                    out.append(RunSpec(cfg, method, params, tuple(self.metrics) if self.metrics else None, fraction,
                                       dict(self.calibration) if self.calibration else None))
        return out

    def problems(self) -> list[str]:
        """Every distinct problem of the grid's values, each part checked on its own (so one bad part
        does not hide the problems of another): each method's parameter sets, the metrics, the
        retain fractions, the recipe and device, and every dataset, forget spec and model (the
        dataset is loaded, the split made, the model built). Trains nothing, writes nothing."""
        from unlearnkit.data import load_dataset, make_split
        from unlearnkit.methods.front_door import make_method
        from unlearnkit.models import build_model
        from unlearnkit.training.loop import resolve_device

        problems: list[str] = []

        def check(fn, *args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except UnlearnkitError as exc:
                if str(exc) not in problems:
                    problems.append(str(exc))
                return None

        for method, tables in self.methods.items():
            for params in expand_tables(tables):
                check(make_method, method, params)
        if self.metrics:
            check(check_metrics, self.metrics)
        for fraction in self.retain_fractions():
            check(check_retain_fraction, fraction)
        check(resolve_device, self.device)
        seed = self.seeds[0] if self.seeds else 0
        for dataset in self.datasets:
            base = ExperimentConfig(dataset=dataset, recipe=self.recipe, recipe_overrides=dict(self.recipe_overrides))
            check(base.resolved_recipe)
            ds = check(load_dataset, dataset, data_dir=self.data_dir, **self.data_options)
            if ds is None:
                continue
            for forget in self.forget:
                split = check(make_split, ds, forget, seed=seed)
                if split is None:
                    continue
                for model in self.models:
                    check(build_model, model, input_shape=ds.input_shape, num_classes=split.num_classes,
                          **self.model_args)
        return problems

    def plans(self) -> list[tuple[RunSpec, RunPlan]]:
        """Plan every run; raise one ``ConfigError`` naming every distinct problem (see ``problems``)."""
        problems = self.problems()
        if problems:
            raise ConfigError(checks.problems_message(self.source, problems))
        out = []
        for spec in self.runs():
            try:
                out.append((spec, spec.plan()))
            except UnlearnkitError as exc:
                if str(exc) not in problems:
                    problems.append(str(exc))
        if problems:
            raise ConfigError(checks.problems_message(self.source, problems))
        return out

    def config_hashes(self) -> set[str]:
        """The config hash of every run of the grid (what the run store records); see ``plans``."""
        return {plan.config_hash for _, plan in self.plans()}


def load_grid(path: str | Path) -> Grid:
    """Read and structurally check a TOML grid; every problem found is reported together."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"Grid file {str(path)!r} does not exist.")
    if path.is_dir():
        raise ConfigError(f"Grid file {str(path)!r} is a directory; give a .toml file.")
    try:
        raw = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Grid {path} is not valid TOML: {exc}.") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise ConfigError(f"Grid {path} cannot be read: {str(exc).split(';')[0]}.") from None
    return grid_from_dict(raw, source=str(path))


def grids_config_hashes(paths) -> set[str]:
    """The config hashes of every run the grid files plan (each file read and checked first)."""
    hashes: set[str] = set()
    for path in paths:
        hashes |= load_grid(path).config_hashes()
    return hashes


def grid_from_dict(raw: dict[str, Any], *, source: str = "<grid>") -> Grid:
    """A ``Grid`` from a TOML grid's table (see the module docstring), every part checked.

    Raises:
        ConfigError: one line naming every problem: of the structure, and of the values of the
            parts that are well formed (``Grid.problems``).

    Example:
        >>> grid = grid_from_dict({"datasets": ["digits"], "models": ["mlp"], "forget": ["class:3"],
        ...                        "methods": {"finetune": {}}})
        >>> grid.seeds, grid.size()
        ([0], 1)
    """
    from unlearnkit.data import DATASETS
    from unlearnkit.methods import METHODS
    from unlearnkit.metrics import METRICS
    from unlearnkit.models import MODELS

    problems = [f"unknown key {key!r} (valid keys: {', '.join(TOP_KEYS)})" for key in raw if key not in TOP_KEYS]
    datasets = checks.names(raw, "datasets", DATASETS, problems)
    models = checks.names(raw, "models", MODELS, problems)
    forget = checks.names(raw, "forget", None, problems)
    metrics = checks.names(raw, "metrics", METRICS, problems, required=False) or None
    seeds = checks.seeds(raw, problems)
    recipe_name, overrides = checks.recipe(raw, problems)
    model_args = checks.table(raw, "model_args", problems)
    data_options = checks.table(raw, "data_options", problems)
    methods = checks.methods(raw, METHODS, problems)

    fractions = raw.get("retain_fraction")
    checks.check_size(source, datasets, models, forget, len(fractions) if isinstance(fractions, list) else 1, seeds,
                      methods)

    calibration = {k: raw[k] for k in CALIBRATION_KEYS if k in raw} or None
    if calibration and "calibrate" not in calibration:
        problems.append("'calibrate_every' and 'calibrate_patience' need 'calibrate' (e.g. calibrate = \"heldout\")")

    retain_fraction = raw.get("retain_fraction")
    if retain_fraction is not None:
        problems += checks.check_retain_fraction(retain_fraction)
    grid = Grid(datasets=datasets, models=models, forget=forget, seeds=seeds, methods=methods, metrics=metrics,
                retain_fraction=retain_fraction, data_dir=raw.get("data_dir"), device=raw.get("device", "cpu"),
                recipe=recipe_name, recipe_overrides=overrides, model_args=model_args, data_options=data_options,
                calibration=calibration, source=source)
    if problems:
        # the values of the valid parts are checked too, so every problem is reported at once
        problems += [p for p in _valid_part(grid).problems() if p not in problems]
        raise ConfigError(checks.problems_message(source, problems))
    return grid


def _valid_part(grid: Grid) -> Grid:
    """The well-formed part of a grid with structural problems: known datasets, models, metrics,
    recipe fields and method parameters, a valid retain fraction (no calibration)."""
    from unlearnkit.data import DATASETS
    from unlearnkit.methods import METHODS
    from unlearnkit.metrics import METRICS
    from unlearnkit.models import MODELS

    metrics, fraction = grid.metrics, grid.retain_fraction
    return Grid(
        datasets=[d for d in grid.datasets if d in DATASETS], models=[m for m in grid.models if m in MODELS],
        forget=[f for f in grid.forget if isinstance(f, str)], seeds=grid.seeds,
        methods={name: checks.known_params(tables, init_params(METHODS.get(name)))
                 for name, tables in grid.methods.items()},
        metrics=[m for m in metrics if m in METRICS] if metrics else None,
        retain_fraction=fraction if not checks.check_retain_fraction(fraction) else None,
        data_dir=grid.data_dir, device=grid.device,
        recipe=grid.recipe if isinstance(grid.recipe, str) else None,
        recipe_overrides={k: v for k, v in grid.recipe_overrides.items() if k in init_params(Recipe)},
        model_args=grid.model_args, data_options=grid.data_options, source=grid.source)
