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

from typing import Any, Iterable, Mapping, Sequence

from unlearnkit.report.labels import (
    dataset_label, format_param, model_label, recipe_label, scenario_key, variant_key, variant_labels, variant_params,
)
from unlearnkit.report.marks import verdict_marks
from unlearnkit.report.rows import ReferenceRow, Scenario, Variant
from unlearnkit.report.stats import Stat, summarize, t_quantile

#: Re-exported from the modules that hold them: the benchmarks and callers import them from here.
__all__ = [
    "ReferenceRow", "Scenario", "Stat", "Variant", "aggregate_runs", "format_param", "rank_variants",
    "retain_fraction_sweeps", "scenario_key", "summarize", "t_quantile", "variant_key", "variant_labels",
]


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
