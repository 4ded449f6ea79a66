"""What every command group shares: the one-line-error parser, the common options, and small helpers."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any, Sequence

from unlearnkit.errors import ConfigError


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line and exit code 2, without a usage dump."""

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_common(p: argparse.ArgumentParser, *, experiment: bool = True) -> None:
    p.add_argument("--home", help="where the model and run stores live (default: $UNLEARNKIT_HOME or ~/.cache/unlearnkit)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    if not experiment:
        return
    p.add_argument("--dataset", default="digits", help="dataset name (unlearnkit list datasets); default digits")
    p.add_argument("--model", default="mlp", help="architecture (unlearnkit list models); default mlp")
    p.add_argument("--seed", type=int, default=0, help="seeds split, training, method and attacks; default 0")
    p.add_argument("--recipe", help="training preset (unlearnkit list recipes); default: the dataset's own")
    p.add_argument("--set", dest="recipe_set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe field, e.g. --set epochs=5 (repeatable)")
    p.add_argument("--model-arg", dest="model_args", action="append", default=[], metavar="KEY=VALUE",
                   help="architecture argument, e.g. --model-arg width=32 (repeatable)")
    p.add_argument("--data-dir", help="directory holding the dataset's files")
    p.add_argument("--download", action="store_true", help="download the dataset's files into --data-dir first")
    p.add_argument("--data-option", dest="data_options", action="append", default=[], metavar="KEY=VALUE",
                   help="dataset loader option, e.g. --data-option label_column=target (repeatable)")
    p.add_argument("--device", default="cpu", help="auto, cpu or cuda; default cpu")


def workspace(args):
    from unlearnkit.runs.experiment import Workspace

    return Workspace(args.home)


def experiment_config(args, forget: str | None):
    from unlearnkit.config import parse_overrides
    from unlearnkit.models import MODELS
    from unlearnkit.runs.experiment import ExperimentConfig
    from unlearnkit.training import Recipe

    model_cls = MODELS.get(args.model)
    return ExperimentConfig(
        dataset=args.dataset, model=args.model, forget=forget or "random:0.1", seed=args.seed, recipe=args.recipe,
        recipe_overrides=parse_overrides(args.recipe_set, Recipe, owner="the recipe"),
        model_kwargs=parse_overrides(args.model_args, model_cls, owner=f"model {args.model!r}"),
        data_dir=args.data_dir, download=args.download, data_options=loose_pairs(args.data_options), device=args.device,
    )


def loose_pairs(pairs: Sequence[str], what: str = "Option") -> dict[str, Any]:
    """``["size=32", "grayscale=true"]`` -> ``{"size": 32, "grayscale": True}``; other values stay strings.

    Raises:
        ConfigError: a pair without ``=``, a key given twice, or a number too long to be meant.
    """
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"{what} {pair[:60]!r} must have the form key=value.")
        if key in out:
            raise ConfigError(f"{what} {key!r} is given twice; give each key once.")
        out[key] = _loose_value(key, text, what)
    return out


def _loose_value(key: str, text: str, what: str) -> Any:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    digits = text.strip().lstrip("+-")
    if digits.isdigit() and len(digits) > 30:
        raise ConfigError(f"{what} {key!r} is a number of {len(digits)} digits, far too large to be meant.")
    for kind in (int, float):
        try:
            value = kind(text)
        except ValueError:
            continue
        if isinstance(value, float) and not math.isfinite(value) and text.strip().lower().lstrip("+-") not in (
                "inf", "infinity", "nan"):
            raise ConfigError(f"{what} {key!r} is {text[:20]!r}{'...' if len(text) > 20 else ''}, a number too "
                              "large to be meant.")
        return value
    return text


def metric_names(text: str | None) -> list[str] | None:
    return [m.strip() for m in text.split(",") if m.strip()] if text else None


def emit_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, sort_keys=True, default=str))


