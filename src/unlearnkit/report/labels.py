"""How runs are grouped and named: scenario keys, variant keys and their display labels.

A **scenario** is (dataset, model and its arguments, forget spec, recipe, retain_fraction); a
**variant** is (method, parameters) inside it, labelled ``neggrad_plus[beta=0.1]`` when runs of
that method differ in their parameters (only the parameters that differ are shown).

Example:
    >>> format_param(0.1), format_param(True)
    ('0.1', 'true')
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

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
