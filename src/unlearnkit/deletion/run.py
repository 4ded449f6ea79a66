"""The run of a checked request (the second step of ``forget``): the method (or ``"auto"``'s choice),
the golden model with ``retrain``, and the golden-free evidence. Nothing is written here."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from unlearnkit.deletion.auto_select import auto_recipe, select_method
from unlearnkit.deletion.evidence import Evidence, compute_evidence
from unlearnkit.deletion.modelio import weights_bytes
from unlearnkit.deletion.plan import ForgetPlan, sha256_hex
from unlearnkit.errors import ConfigError
from unlearnkit.methods.front_door import method_name, unlearn
from unlearnkit.metrics import HEADLINE, Report, evaluate
from unlearnkit.training import Recipe, train


@dataclass
class ForgetRun:
    """What running a ``ForgetPlan`` gave: the method's result, the unlearned model (``after``) and its
    weights, both hashes, the evidence, and with ``retrain`` the golden model and the headline report."""

    result: Any
    after: nn.Module
    after_bytes: bytes
    sha_before: str
    sha_after: str
    evidence: Evidence
    headline: Report | None = None
    golden: nn.Module | None = None
    golden_info: dict[str, Any] | None = None


def run_plan(plan: ForgetPlan, *, method: str, retrain: Recipe | None, recipe: Recipe | None, budget: float,
             seed: int, device: str) -> ForgetRun:
    """Run the method on the plan (with ``"auto"``: measure, try the rule's candidates within the budget, keep
    the best-rated; ``plan.estimator`` and ``plan.choice`` are updated), then compute the evidence."""
    if method == "auto":  # measure, try the rule's candidates within the budget, keep the best-rated
        sel = select_method(plan.before, plan.split, shape=plan.shape, seed=seed, device=device, budget=budget,
                            **auto_recipe(recipe, retrain, plan.live.name))
        result, plan.estimator, plan.choice = sel.result, sel.result.estimator, sel.choice
    else:
        result = unlearn(plan.before, plan.split, plan.estimator, seed=seed, device=device)
    after = result.model.to("cpu").eval()
    after_bytes = weights_bytes(after)
    sha_before, sha_after = sha256_hex(plan.before_bytes), sha256_hex(after_bytes)
    headline = golden = None
    golden_info = None
    if retrain is not None:
        golden, golden_info = _retrain(plan, retrain, seed, device)
        headline = evaluate(after, plan.split, reference=golden, original=plan.before,
                            metrics=_with_companions(HEADLINE), seed=seed, runtime_s=result.runtime_s,
                            reference_runtime_s=golden_info["train_time_s"], cpu_s=result.cpu_s,
                            reference_cpu_s=golden_info["train_cpu_s"], device=device)
    evidence = compute_evidence(plan.before, after, plan.split, shape=plan.shape, classes=plan.classes, seed=seed,
                                device=device, weights_changed=sha_before != sha_after, golden=golden)
    if plan.choice and plan.choice.get("retrain_note"):
        evidence.warnings.append(plan.choice["retrain_note"])
    if evidence.destroyed:
        raise ConfigError(f"The unlearned model's outputs are NaN or infinite: {method_name(plan.estimator)} with "
                          f"{jsonable(result.params)} destroyed the model. Nothing was written; try other parameters "
                          "(a smaller lr, fewer epochs) or another method.")
    return ForgetRun(result, after, after_bytes, sha_before, sha_after, evidence, headline, golden, golden_info)


def _with_companions(names) -> list[str]:
    from unlearnkit.runs.experiment import with_companions

    return with_companions(list(names))


def _retrain(plan: ForgetPlan, recipe: Recipe, seed: int, device: str) -> tuple[nn.Module, dict[str, Any]]:
    from unlearnkit.methods.base import fresh_model
    from unlearnkit.seeding import torch_generator

    retain = plan.split.subset("retain")
    if plan.arch is not None:
        model = plan.arch.build(input_shape=plan.live.input_shape, num_classes=plan.split.num_classes, seed=seed)
    else:
        model = fresh_model(plan.before, retain, torch_generator(seed, "golden"))
    start, cpu_start = time.perf_counter(), time.process_time()
    train(model, retain, recipe, seed=seed, device=device, description="golden model")
    info = {"train_time_s": time.perf_counter() - start, "train_cpu_s": time.process_time() - cpu_start,
            "recipe": recipe.to_dict(), "n_train": len(retain),
            "init": str(plan.arch) if plan.arch is not None else "reset_parameters() of every module (seeded)"}
    return model.to("cpu").eval(), info


def jsonable(obj: Any) -> Any:
    """``obj`` with numpy numbers made plain and anything else not JSON made a string (the method's params)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)


__all__ = ["ForgetRun", "jsonable", "run_plan"]
