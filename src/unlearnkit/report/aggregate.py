"""Aggregate finished runs of the run store into scenarios and method variants, with t-intervals.

Pure functions over the dict rows of ``RunStore.list(status="done")`` (``row["metrics"]`` is a
``Report.to_dict()``); nothing here trains, loads a model or touches the disk.

- A **scenario** is (dataset, model and its arguments, forget spec, recipe, retain_fraction): the
  runs of a scenario share their golden and original models up to the seed.
- A **variant** is (method, parameters) inside a scenario. Its label is the method name, or
  ``neggrad_plus[beta=0.1]`` when runs of that method were made with different parameters
  (only the parameters that differ are shown).
- Each metric of a variant is summarised over seeds as mean ± the half-width of a 95% Student-t
  interval (n − 1 degrees of freedom): mean ± t₀.₉₇₅,ₙ₋₁ · s / √n, s the sample standard
  deviation. With one seed there is no interval.
- A seed that was run more than once for the same variant counts once: its most recent run.
- The golden and original rows come from the runs' reports, one value per seed (the golden model
  of a seed is the same whichever method was run), then mean ± interval over seeds.
- Variants are ranked by mean ``avg_gap`` (lower first; variants without one come last).
- ``Stat.std`` is the sample standard deviation (n − 1) of the per-seed values, the other spread
  the report can show (``unlearnkit report --spread std``).
- ``retain_fraction_sweeps`` finds the scenarios that differ only in their retain fraction.

Example:
    >>> rows = [{"id": "a", "dataset": "digits", "model": "mlp", "forget": "class:3", "seed": s,
    ...          "method": "finetune", "params": {"lr": 0.01}, "config": {"recipe": "digits"},
    ...          "created_at": float(s),
    ...          "metrics": {"metrics": ["ua"], "rows": {"unlearned": {"ua": u}, "golden": {"ua": 100.0}, "original": {}},
    ...                      "gaps": {"ua": 100.0 - u}}}
    ...         for s, u in ((0, 1.0), (1, 3.0))]
    >>> (sc,) = aggregate_runs(rows)
    >>> v = sc.variants[0]
    >>> v.label, v.stats["ua"].mean, v.n_seeds, round(v.stats["ua"].ci, 3)
    ('finetune', 2.0, 2, 12.706)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from unlearnkit.report.marks import verdict_marks

#: Confidence level of every interval.
CONFIDENCE = 0.95

#: The spreads a report can show after "mean ±": the 95% t-interval half-width or the sample std.
SPREADS = ("ci", "std")


# =============================================================================== statistics
def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t distribution with ``df`` degrees of freedom.

    Example:
        >>> round(t_quantile(0.975, 1), 4), round(t_quantile(0.975, 2), 4)
        (12.7062, 4.3027)
    """
    if df < 1:
        raise ValueError(f"t_quantile needs df >= 1; got {df}")
    from scipy.special import stdtrit  # scipy comes with scikit-learn

    return float(stdtrit(df, p))


@dataclass(frozen=True)
class Stat:
    """A metric summarised over seeds.

    Attributes:
        mean: the mean of ``values``.
        ci: half-width of the 95% Student-t interval, ``None`` when ``n == 1``.
        n: number of values (seeds).
        values: the per-seed values, in seed order.
    """

    mean: float
    ci: float | None
    n: int
    values: tuple[float, ...] = ()

    @property
    def std(self) -> float | None:
        """Sample standard deviation (n − 1 in the denominator) of ``values``; ``None`` with fewer than
        two values (or when the values were not kept).

        Example:
            >>> round(Stat(2.0, 2.4841, 3, (1.0, 2.0, 3.0)).std, 4), Stat(5.0, None, 1, (5.0,)).std
            (1.0, None)
        """
        n = len(self.values)
        if n < 2:
            return None
        mean = math.fsum(self.values) / n
        return math.sqrt(math.fsum((v - mean) ** 2 for v in self.values) / (n - 1))

    def spread(self, kind: str = "ci") -> float | None:
        """The half-width shown after "±": ``ci`` (95% t-interval) or ``std`` (sample standard deviation).

        Raises:
            ValueError: ``kind`` is neither ``ci`` nor ``std``.
        """
        if kind == "ci":
            return self.ci
        if kind == "std":
            return self.std
        raise ValueError(f"Unknown spread {kind!r} (valid: {', '.join(SPREADS)})")

    @property
    def low(self) -> float:
        return self.mean - (self.ci or 0.0)

    @property
    def high(self) -> float:
        return self.mean + (self.ci or 0.0)

    def interval(self, bounds: tuple[float, float] = (-math.inf, math.inf)) -> tuple[float, float] | None:
        """The 95% t-interval (low, high) cut to ``bounds``, the range the metric can take; ``None``
        with one value.

        Example:
            >>> Stat(57.53, 322.01, 2).interval((0.0, 100.0))
            (0.0, 100.0)
            >>> Stat(5.0, 1.0, 3).interval((0.0, 100.0))
            (4.0, 6.0)
        """
        if self.ci is None:
            return None
        low, high = bounds
        return max(self.mean - self.ci, low), min(self.mean + self.ci, high)

    def clipped(self, bounds: tuple[float, float]) -> bool:
        """Whether the 95% t-interval reaches outside ``bounds`` (and ``interval`` cuts it)."""
        return self.ci is not None and (self.mean - self.ci < bounds[0] or self.mean + self.ci > bounds[1])


#: Seeds below which an interval is marked: with 2 seeds the t quantile is 12.7 (1 degree of freedom).
FEW_SEEDS = 3

#: The range of a metric's values by its unit (percentages, seconds, ratios, nats) ...
UNIT_BOUNDS: dict[str, tuple[float, float]] = {
    "%": (0.0, 100.0), "pp": (0.0, 100.0), "s": (0.0, math.inf), "x": (0.0, math.inf), "nats": (0.0, math.inf),
}
#: ... and of the unit-less metrics whose range is known.
NAME_BOUNDS: dict[str, tuple[float, float]] = {
    "indiscernibility": (0.0, 1.0), "zrf": (0.0, 1.0), "js_to_golden": (0.0, math.log(2.0)),
    "weight_distance": (0.0, math.inf),
}


def metric_bounds(metric: str, unit: str | None, *, gap: bool = False) -> tuple[float, float]:
    """The range of ``metric``'s values (of its gaps |u − g| with ``gap=True``); unbounded when unknown.

    Example:
        >>> metric_bounds("ua", "%"), metric_bounds("ua", "%", gap=True), metric_bounds("zrf", "")
        ((0.0, 100.0), (0.0, 100.0), (0.0, 1.0))
        >>> metric_bounds("mystery", "")
        (-inf, inf)
    """
    low, high = UNIT_BOUNDS.get(unit or "", NAME_BOUNDS.get(metric, (-math.inf, math.inf)))
    if gap:
        return 0.0, high - low
    return low, high


def summarize(values: Iterable[float], confidence: float = CONFIDENCE) -> Stat | None:
    """Mean and Student-t interval half-width of ``values``; ``None`` when there is no finite value.

    Non-finite values (``nan``, ``inf``) are left out.

    Example:
        >>> s = summarize([1.0, 2.0, 3.0])
        >>> s.mean, round(s.ci, 4), s.n
        (2.0, 2.4841, 3)
        >>> summarize([5.0]).ci is None
        True
    """
    vals = tuple(float(v) for v in values if v is not None and math.isfinite(float(v)))
    n = len(vals)
    if n == 0:
        return None
    mean = math.fsum(vals) / n
    if n == 1:
        return Stat(mean, None, 1, vals)
    var = math.fsum((v - mean) ** 2 for v in vals) / (n - 1)
    ci = t_quantile(0.5 + confidence / 2, n - 1) * math.sqrt(var) / math.sqrt(n)
    return Stat(mean, ci, n, vals)


# ================================================================================ structures
@dataclass
class Variant:
    """One method with one set of parameters inside a scenario.

    Attributes:
        method: method name. params: its parameters (as recorded). label: display label.
        seeds: the seeds aggregated, sorted. run_ids: the run used for each seed, same order.
        stats: metric -> ``Stat`` of the unlearned model's value over seeds.
        gaps: metric -> ``Stat`` of |unlearned − golden| over seeds.
        absent: metric -> why some run of the variant could not compute it (from its report).
        rank: 1-based rank by mean ``avg_gap`` inside the scenario.
        marks: the report's verdicts on it (``report.marks.verdict_marks``): "did nothing", "no closer than the
            original", "overshoots ua" ...; empty when none applies.
    """

    method: str
    params: dict[str, Any]
    label: str
    seeds: list[int] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    stats: dict[str, Stat] = field(default_factory=dict)
    gaps: dict[str, Stat] = field(default_factory=dict)
    absent: dict[str, str] = field(default_factory=dict)
    rank: int = 0
    marks: list[str] = field(default_factory=list)

    @property
    def n_seeds(self) -> int:
        return len(self.seeds)

    @property
    def avg_gap(self) -> float | None:
        s = self.stats.get("avg_gap")
        return s.mean if s is not None else None


@dataclass
class ReferenceRow:
    """The golden or original model of a scenario, one value per seed, summarised over seeds."""

    name: str
    seeds: list[int] = field(default_factory=list)
    stats: dict[str, Stat] = field(default_factory=dict)
    absent: dict[str, str] = field(default_factory=dict)

    @property
    def n_seeds(self) -> int:
        return len(self.seeds)


@dataclass
class Scenario:
    """The runs that share dataset, model, forget spec, recipe and retain fraction.

    Attributes:
        key: the grouping key (a tuple of strings). dataset, model, forget, recipe,
        retain_fraction: its parts for display. variants: ranked, best first.
        golden, original: the reference rows. metrics: every metric with a value, in report order.
        cards: metric -> card dict as recorded in the reports (name, definition, direction, unit).
        n_runs: number of runs aggregated (after keeping one run per variant and seed).
    """

    key: tuple
    dataset: str
    model: str
    forget: str
    recipe: str
    retain_fraction: float | None
    variants: list[Variant]
    golden: ReferenceRow
    original: ReferenceRow
    metrics: list[str]
    cards: dict[str, dict[str, Any]] = field(default_factory=dict)
    n_runs: int = 0

    @property
    def title(self) -> str:
        parts = [self.dataset, self.model, f"forget {self.forget}", f"recipe {self.recipe}"]
        if self.retain_fraction is not None:
            parts.append(f"retain fraction {self.retain_fraction:g}")
        return " / ".join(parts)

    @property
    def seeds(self) -> list[int]:
        return sorted({s for v in self.variants for s in v.seeds})

    @property
    def absent(self) -> dict[str, dict[str, str]]:
        """metric -> {row: reason}: "golden", "original" or a variant label, for every row where
        some run's report says why the metric could not be computed."""
        out: dict[str, dict[str, str]] = {}
        for row in [self.golden, self.original, *self.variants]:
            name = row.name if isinstance(row, ReferenceRow) else row.label
            for m, why in row.absent.items():
                out.setdefault(m, {})[name] = why
        return out


# ================================================================================== grouping
def _canon(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))


def _kv_text(d: Mapping[str, Any]) -> str:
    return ",".join(f"{k}={format_param(v)}" for k, v in sorted(d.items()))


def recipe_label(config: Mapping[str, Any]) -> str:
    """``digits`` or ``digits(epochs=5)``: the recipe preset and its overrides."""
    name = str(config.get("recipe") or "default")
    overrides = config.get("recipe_overrides") or {}
    return f"{name}({_kv_text(overrides)})" if overrides else name


def model_label(row: Mapping[str, Any]) -> str:
    """``mlp`` or ``resnet18(width=32)``: the architecture and its arguments."""
    kwargs = (row.get("config") or {}).get("model_kwargs") or {}
    return f"{row['model']}({_kv_text(kwargs)})" if kwargs else str(row["model"])


def dataset_label(row: Mapping[str, Any]) -> str:
    """``fashion-mnist``, or ``fashion-mnist(train_subset=10000)`` when the run set dataset options."""
    options = (row.get("config") or {}).get("data_options") or {}
    return f"{row['dataset']}({_kv_text(options)})" if options else str(row["dataset"])


def scenario_key(row: Mapping[str, Any]) -> tuple:
    """(dataset label, model label, forget spec, recipe identity, retain fraction) of a run row.

    The recipe identity is the resolved recipe when recorded (so two spellings of the same recipe
    group together), else the preset name and overrides.
    """
    config = row.get("config") or {}
    recipe = config.get("resolved_recipe")
    recipe_id = _canon(recipe) if recipe is not None else recipe_label(config)
    rf = config.get("retain_fraction")
    return (dataset_label(row), model_label(row), str(row["forget"]), recipe_id,
            "" if rf is None else repr(float(rf)))


def variant_params(row: Mapping[str, Any]) -> dict[str, Any]:
    """The method's parameters, plus the run's calibration (``calibrate``, ...) when it had one."""
    return {**(row.get("params") or {}), **((row.get("config") or {}).get("calibration") or {})}


def variant_key(row: Mapping[str, Any]) -> tuple[str, str]:
    """(method, canonical JSON of its parameters and calibration)."""
    return str(row["method"]), _canon(variant_params(row))


def format_param(value: Any) -> str:
    """A parameter value as written in a label: ``0.1``, ``3``, ``true``, ``"sgd"`` -> ``sgd``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (int, str)):
        return str(value)
    return _canon(value)


def variant_labels(rows: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], str]:
    """Display label of every (method, params) variant among ``rows``.

    A method run with one parameter set is labelled by its name; a method run with several is
    labelled ``method[k=v,...]`` with the parameters whose values differ between its variants.
    A calibrated run adds ``+heldout`` (and ``(every=k)``, ``(patience=p)`` when not the defaults).

    Example:
        >>> rows = [{"method": "finetune", "params": {"lr": 0.01}},
        ...         {"method": "neggrad_plus", "params": {"beta": 0.05, "lr": 0.01}},
        ...         {"method": "neggrad_plus", "params": {"beta": 0.1, "lr": 0.01}}]
        >>> sorted(variant_labels(rows).values())
        ['finetune', 'neggrad_plus[beta=0.05]', 'neggrad_plus[beta=0.1]']
    """
    by_method: dict[str, dict[str, dict[str, Any]]] = {}
    calibration: dict[tuple[str, str], str] = {}
    for r in rows:
        method, canon = variant_key(r)
        by_method.setdefault((method, _canon((r.get("config") or {}).get("calibration"))), {})[canon] = \
            dict(r.get("params") or {})
        calibration[(method, canon)] = _calibration_suffix((r.get("config") or {}).get("calibration"))
    labels: dict[tuple[str, str], str] = {}
    for (method, _), variants in by_method.items():
        if len(variants) == 1:
            (canon,) = variants
            labels[(method, canon)] = method + calibration[(method, canon)]
            continue
        keys = sorted({k for p in variants.values() for k in p})
        differing = [k for k in keys if len({_canon(p.get(k, "<unset>")) for p in variants.values()}) > 1]
        for canon, params in variants.items():
            shown = ",".join(f"{k}={format_param(params[k]) if k in params else 'unset'}" for k in differing)
            labels[(method, canon)] = f"{method}[{shown}]" + calibration[(method, canon)]
    # two parameter sets whose differing values print alike (never in practice): keep labels unique
    seen: dict[str, int] = {}
    for key in sorted(labels):
        label = labels[key]
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            labels[key] = f"{label}#{seen[label]}"
    return labels


def _calibration_suffix(cal: Mapping[str, Any] | None) -> str:
    if not cal:
        return ""
    extra = [f"every={cal['calibrate_every']}"] if cal.get("calibrate_every") is not None else []
    extra += [f"patience={cal['calibrate_patience']}"] if cal.get("calibrate_patience") is not None else []
    return f"+{cal['calibrate']}" + (f"({','.join(extra)})" if extra else "")


def _report(row: Mapping[str, Any]) -> Mapping[str, Any]:
    return row.get("metrics") or {}


def _row_values(row: Mapping[str, Any], which: str) -> Mapping[str, float]:
    return (_report(row).get("rows") or {}).get(which) or {}


def _latest_per_seed(rows: Sequence[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    out: dict[int, Mapping[str, Any]] = {}
    stamp = lambda r: (r.get("finished_at") or r.get("created_at") or 0.0, str(r.get("id", "")))  # noqa: E731
    for r in sorted(rows, key=stamp):
        out[int(r["seed"])] = r
    return dict(sorted(out.items()))


def _metric_order(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    names: list[str] = []
    for r in rows:
        rep = _report(r)
        candidates = list(rep.get("metrics") or []) + [m for vals in (rep.get("rows") or {}).values() for m in vals]
        for m in candidates:
            if m not in names and any(m in vals for vals in (rep.get("rows") or {}).values()):
                names.append(m)
    return names


def _reference_row(name: str, per_seed_rows: Mapping[int, list[Mapping[str, Any]]], metrics: Sequence[str]) -> ReferenceRow:
    values: dict[str, list[float]] = {m: [] for m in metrics}
    seeds = []
    absent: dict[str, str] = {}
    for seed, rows in sorted(per_seed_rows.items()):
        merged: dict[str, float] = {}
        for r in rows:  # newest first: the same model whichever run recorded it
            for m, v in _row_values(r, name).items():
                merged.setdefault(m, v)
            for m, why in ((_report(r).get("row_absent") or {}).get(name) or {}).items():
                absent.setdefault(m, str(why))
        if not merged:
            continue
        seeds.append(seed)
        for m in metrics:
            if m in merged:
                values[m].append(merged[m])
    stats = {m: s for m in metrics if (s := summarize(values[m])) is not None}
    return ReferenceRow(name, seeds, stats, absent)


def rank_variants(variants: Iterable[Variant]) -> list[Variant]:
    """Variants sorted by mean ``avg_gap`` (lower first, missing last, ties by label); sets ``rank``."""
    ordered = sorted(variants, key=lambda v: (v.avg_gap is None, v.avg_gap if v.avg_gap is not None else 0.0, v.label))
    for i, v in enumerate(ordered, 1):
        v.rank = i
    return ordered


def aggregate_runs(rows: Iterable[Mapping[str, Any]]) -> list[Scenario]:
    """Group done runs into scenarios and ranked variants with mean ± 95% t-interval per metric.

    ``rows`` are ``RunStore.list(status="done")`` rows (rows of another status or without a
    report are skipped). Scenarios come sorted by their key.
    """
    rows = [r for r in rows if r.get("status", "done") == "done" and _report(r).get("rows")]
    labels = variant_labels(rows)
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for r in rows:
        groups.setdefault(scenario_key(r), []).append(r)

    scenarios = []
    for key in sorted(groups):
        srows = groups[key]
        by_variant: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
        for r in srows:
            by_variant.setdefault(variant_key(r), []).append(r)
        kept: list[Mapping[str, Any]] = []
        variants = []
        for vkey, vrows in by_variant.items():
            per_seed = _latest_per_seed(vrows)
            kept.extend(per_seed.values())
            variants.append((vkey, per_seed))
        metrics = _metric_order(kept)

        out_variants = []
        for (method, canon), per_seed in variants:
            v = Variant(method=method, params=variant_params(per_seed[next(iter(per_seed))]),
                        label=labels[(method, canon)], seeds=list(per_seed),
                        run_ids=[str(r.get("id", "")) for r in per_seed.values()])
            for m in metrics:
                s = summarize(_row_values(r, "unlearned")[m] for r in per_seed.values() if m in _row_values(r, "unlearned"))
                if s is not None:
                    v.stats[m] = s
                g = summarize((_report(r).get("gaps") or {})[m] for r in per_seed.values()
                              if m in (_report(r).get("gaps") or {}))
                if g is not None:
                    v.gaps[m] = g
            for r in per_seed.values():
                rep = _report(r)
                reasons = {**((rep.get("row_absent") or {}).get("unlearned") or {}), **(rep.get("absent") or {})}
                for m, why in reasons.items():
                    v.absent.setdefault(m, str(why))
            out_variants.append(v)

        newest_first = sorted(kept, key=lambda r: (r.get("finished_at") or r.get("created_at") or 0.0), reverse=True)
        by_seed: dict[int, list[Mapping[str, Any]]] = {}
        for r in newest_first:
            by_seed.setdefault(int(r["seed"]), []).append(r)

        cards: dict[str, dict[str, Any]] = {}
        for r in newest_first:
            for m, card in (_report(r).get("cards") or {}).items():
                cards.setdefault(m, dict(card))

        first = srows[0]
        config = first.get("config") or {}
        rf = config.get("retain_fraction")
        golden = _reference_row("golden", by_seed, metrics)
        original = _reference_row("original", by_seed, metrics)
        for v in out_variants:
            v.marks = verdict_marks(v, golden, original)
        scenarios.append(Scenario(
            key=key, dataset=dataset_label(first), model=model_label(first), forget=str(first["forget"]),
            recipe=recipe_label(config), retain_fraction=None if rf is None else float(rf),
            variants=rank_variants(out_variants), golden=golden, original=original,
            metrics=metrics, cards=cards, n_runs=len(kept),
        ))
    return scenarios


def retain_fraction_sweeps(scenarios: Sequence[Scenario]) -> list[list[Scenario]]:
    """Groups of two or more scenarios identical except for their retain fraction, each sorted by it.

    Scenarios are compared on their key without the retain fraction (dataset, model, forget spec,
    recipe identity). Scenarios without a retain fraction are left out: they ran each method with
    its own default budget, which is not one point of a sweep. Groups come in the order of their
    first scenario in ``scenarios``.

    Example:
        >>> def sc(rf, forget="class:3"):
        ...     return Scenario(("d", "m", forget, "r", "" if rf is None else repr(rf)), "d", "m", forget, "r", rf,
        ...                     [], ReferenceRow("golden"), ReferenceRow("original"), [])
        >>> groups = retain_fraction_sweeps([sc(None), sc(0.5), sc(0.1), sc(0.3, "random:0.1")])
        >>> [[s.retain_fraction for s in g] for g in groups]
        [[0.1, 0.5]]
    """
    groups: dict[tuple, list[Scenario]] = {}
    for sc in scenarios:
        if sc.retain_fraction is not None:
            groups.setdefault(tuple(sc.key[:-1]), []).append(sc)
    return [sorted(g, key=lambda sc: sc.retain_fraction) for g in groups.values() if len(g) >= 2]
