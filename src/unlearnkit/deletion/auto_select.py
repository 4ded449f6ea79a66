"""``--method auto`` that looks: measure the model, try the rule's candidates within a CPU budget,
keep the one the golden-free verdict rates best.

``select_method`` does (CPU: process CPU seconds; the budget counts the candidates' own CPU, as
``unlearn`` measures it for any method, and auto's overhead is recorded beside it):

1. scores the model before unlearning on the verdict's parts (``deletion.judge``): a seeded sample
   of D_r and the held-out slice V give the **memorisation** (train minus held-out accuracy,
   points) and its level (``auto_rule.memorisation_level``); with the request's shape that picks
   the rule's cell (``auto_rule.RULE``);
2. estimates a retrain's CPU (``deletion.retrain_cost``); the budget is ``budget`` × that, and at
   least ``MIN_BUDGET_CPU_S``;
3. runs the cell's candidates, cheapest predicted first. A candidate whose predicted cost exceeds
   what is left is skipped; one that runs past its allowance (what is
   left, or ``OVERRUN`` times its prediction if less) is stopped at the next training step (or, for
   work outside the training loop, marked over budget) and not used. Each one run is rated by the
   golden-free verdict (``deletion.verdict``);
4. ranks the rated ones: ``forgotten`` first, then ``inconclusive``, then the rest; ties by the
   distance to the margins' centre (``distance``), then by CPU.

The result carries everything for the evidence (``Selection.choice``): the memorisation, the
retrain estimate, the budget, and every candidate's status, verdict, statistics and CPU seconds.
When no candidate reads forgotten, the choice says so and recommends retraining.

Example:
    >>> sel = select_method(model, split, shape="scattered", recipe=get_recipe("memorise"))  # doctest: +SKIP
    >>> sel.choice["method"], sel.choice["candidates"][0]["verdict"]  # doctest: +SKIP
    ('eu_k', 'forgotten')
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from unlearnkit.deletion.auto_rule import DEFAULT_BUDGET, RULE, Candidate, Cell, memorisation_level
from unlearnkit.deletion.judge import model_scores, verdict_from_scores, verdict_parts
from unlearnkit.deletion.margins import Margins, load_margins
from unlearnkit.deletion.retrain_cost import RetrainCost, estimate_retrain_cpu
from unlearnkit.deletion.verdict import Verdict
from unlearnkit.errors import ConfigError
from unlearnkit.methods.base import UnlearnResult
from unlearnkit.methods.front_door import make_method, unlearn
from unlearnkit.seeding import numpy_rng
from unlearnkit.training.loop import Step, observe_steps
from unlearnkit.training.recipe import Recipe, default_recipe_name, get_recipe

#: Verdict -> rank (lower is better): forgotten, then inconclusive, then every decided problem.
RANK = {"forgotten": 0, "inconclusive": 1}
#: A candidate may run for this many times its predicted CPU (at least ``MIN_ALLOWANCE`` of the
#: retrain's and a quarter of ``MIN_BUDGET_CPU_S``, at most what is left) before it is stopped, so
#: that one mispredicted candidate does not eat the budget of the others (the last may use all of it).
OVERRUN = 2.0
MIN_ALLOWANCE = 0.02
#: The smallest budget in CPU seconds, whatever the share: below it the fixed costs of any method
#: (copying the model, a pass over D_f) dominate, and a retrain that cheap is no reason to refuse.
MIN_BUDGET_CPU_S = 2.0
#: auto rates its candidates on at most this many held-out records (a seeded sample of V): every rating
#: scores V twice over (V_f and the kept classes), and a V of 50,000 would cost more than the candidates.
RATING_HELDOUT = 5000


def check_budget(budget: Any) -> float:
    """``budget`` as a float in (0, 1], or a one-line ``ConfigError``.

    Example:
        >>> check_budget("0.25")
        0.25
    """
    if isinstance(budget, bool):
        raise ConfigError(f"budget must be a number in (0, 1] (a share of a retrain's CPU time); got {budget!r}.")
    try:
        value = float(budget)
    except (TypeError, ValueError):
        raise ConfigError(f"budget must be a number in (0, 1] (a share of a retrain's CPU time, e.g. 0.1); got "
                          f"{budget!r}.") from None
    if not math.isfinite(value) or not 0 < value <= 1:
        raise ConfigError(f"budget must be in (0, 1] (a share of a retrain's CPU time, e.g. 0.1); got {budget!r}.")
    return value


def auto_recipe(recipe: Recipe | None, retrain: Recipe | None, dataset: str) -> dict[str, Any]:
    """``select_method``'s ``recipe`` and ``recipe_source``: the model's training recipe when given, else
    the ``--retrain`` recipe, else the data's preset (``training.default_recipe_name``: ``digits``, 30
    epochs of SGD, for a user's own data).

    Example:
        >>> auto_recipe(None, None, "my-data")["recipe_source"]
        "the default preset 'digits' (none given: --recipe / --set)"
    """
    if recipe is not None:
        return {"recipe": recipe, "recipe_source": "given (recipe=, --recipe / --set)"}
    if retrain is not None:
        return {"recipe": retrain, "recipe_source": "the --retrain recipe"}
    name = default_recipe_name(dataset)
    return {"recipe": get_recipe(name), "recipe_source": f"the default preset {name!r} (none given: --recipe / --set)"}


@dataclass(frozen=True)
class Memorisation:
    """Accuracy (%) on a seeded sample of the training records and on held-out records, the gap
    (points) and its level."""

    train_acc: float
    heldout_acc: float
    gap: float
    level: str
    n_train: int
    n_heldout: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Tried:
    """One candidate: ``status`` is ``rated``, ``skipped`` (predicted over what was left),
    ``stopped`` (ran past it), ``failed`` (the method refused the model) or ``destroyed``."""

    candidate: Candidate
    status: str
    predicted_cpu_s: float
    allowance_cpu_s: float
    reason: str = ""
    cpu_s: float = 0.0
    rate_cpu_s: float = 0.0
    verdict: Verdict | None = None
    result: UnlearnResult | None = None
    #: for a stopped candidate with a known number of epochs: its CPU extrapolated to the end of its loop
    needed_cpu_s: float | None = None

    @property
    def distance(self) -> float:
        return distance(self.verdict) if self.verdict is not None else math.inf

    def to_dict(self) -> dict[str, Any]:
        v = self.verdict
        stats = {s.name: {"value": s.est.value, "low": s.est.low, "high": s.est.high, "margin": s.margin,
                          "position": s.position()} for q in (v.forget, v.kept) for s in q.stats} if v else {}
        return {**self.candidate.to_dict(), "status": self.status, "reason": self.reason,
                "predicted_cpu_s": self.predicted_cpu_s, "allowance_cpu_s": self.allowance_cpu_s, "cpu_s": self.cpu_s,
                "rate_cpu_s": self.rate_cpu_s, "needed_cpu_s": self.needed_cpu_s, "verdict": v.verdict if v else None,
                "distance": None if v is None else self.distance, "stats": stats}


@dataclass
class Selection:
    """What ``select_method`` returns: the best candidate's ``UnlearnResult`` and the ``choice``
    record for the evidence."""

    result: UnlearnResult
    best: Tried
    tried: list[Tried]
    choice: dict[str, Any]


def distance(verdict: Verdict) -> float:
    """How far a verdict's point values lie from the margins' centre, in margins: |v − target| / margin
    for the two-sided gap and the AUC, max(v, 0) / margin for each loss on kept records; summed."""
    total = 0.0
    for s in (*verdict.forget.stats, *verdict.kept.stats):
        v = s.est.value - s.target
        total += (max(v, 0.0) if s.side == "upper" else abs(v)) / s.margin
    return total


def rating_split(split, seed: int, n: int = RATING_HELDOUT):
    """``split`` with its held-out slice V cut to a seeded sample of ``n`` records (itself when V is no
    larger): what auto scores the model and rates its candidates on."""
    ds = split.dataset
    if ds.val_y is None or len(ds.val_y) <= n:
        return split
    pick = torch.from_numpy(np.sort(numpy_rng(seed, "auto_rating_heldout").choice(len(ds.val_y), n, replace=False)))
    small = dataclasses.replace(
        ds, val_x=ds.val_x[pick], val_y=ds.val_y[pick],
        coarse_val_y=None if ds.coarse_val_y is None else ds.coarse_val_y[pick],
        val_ids=None if ds.val_ids is None else tuple(ds.val_ids[i] for i in pick.tolist()),
        val_note=f"{ds.val_note}; a seeded sample of {n} for auto's ratings")
    return dataclasses.replace(split, dataset=small, val=None, val_forget=None)


def best_of(rated: list[Tried]) -> Tried:
    """The best-rated candidate: forgotten > inconclusive > the rest, then the smallest ``distance``,
    then the least CPU."""
    return min(rated, key=lambda t: (RANK.get(t.verdict.verdict, 2), t.distance, t.cpu_s))


def measure_memorisation(before_scores: dict[str, dict]) -> Memorisation:
    """The memorisation from ``judge.model_scores`` of the model before unlearning: its accuracy on the
    verdict's D_r sample against its accuracy on the held-out records of the kept classes."""
    train, held = before_scores["retain"]["correct"], before_scores["val_kept"]["correct"]
    t = 100 * float(np.mean(train)) if len(train) else math.nan
    h = 100 * float(np.mean(held)) if len(held) else math.nan
    gap = t - h
    return Memorisation(t, h, gap, memorisation_level(gap) if math.isfinite(gap) else "high", len(train), len(held))


def _share_done(step: Step, epochs: Any) -> float | None:
    """The share of a single training loop of ``epochs`` epochs done at ``step`` (``None`` if unknown;
    ``Step.epoch`` counts from 0, ``Step.step`` from 1)."""
    if not isinstance(epochs, int) or epochs < 1 or step.steps_per_epoch < 1:
        return None
    return min(1.0, (step.epoch * step.steps_per_epoch + step.step) / (epochs * step.steps_per_epoch))


class _OverBudget(Exception):
    """Raised by the step observer when a candidate runs past its allowance."""


def run_candidate(before: nn.Module, split, cand: Candidate, allowance: float, *, seed: int, device: str,
                  recipe: Recipe | None = None) -> Tried:
    """Run one candidate through ``unlearn``, stopped when it spends more than ``allowance`` CPU seconds
    (status ``stopped``); a method that refuses the model is ``failed``. Not yet rated."""
    start = time.process_time()
    params = cand.params_for(recipe)
    last: list[Step] = []

    def stop(_m: nn.Module, s: Step) -> None:
        last[:] = [s]
        if time.process_time() - start > allowance:
            raise _OverBudget

    tried = Tried(cand, "rated", math.nan, allowance)
    try:
        est = make_method(cand.method, params)
        with observe_steps(stop):
            tried.result = unlearn(before, split, est, seed=seed, device=device)
    except _OverBudget:
        tried.status, tried.reason = "stopped", f"ran past its {allowance:.2f} CPU s and was stopped"
        done = _share_done(last[0], getattr(est, "epochs", None)) if last else None
        if done:
            tried.needed_cpu_s = (time.process_time() - start) / done
            tried.reason += (f" after {100 * done:.0f}% of its steps (it would need about {tried.needed_cpu_s:.1f} "
                             "CPU s)")
    except ConfigError as exc:
        tried.status, tried.reason = "failed", str(exc)
    tried.cpu_s = time.process_time() - start
    if tried.status == "rated" and tried.cpu_s > allowance:
        tried.status, tried.reason = "stopped", f"took {tried.cpu_s:.2f} CPU s, past its {allowance:.2f}"
        tried.result = None
    return tried


def rate_candidate(tried: Tried, split, parts, before_scores, *, margins: Margins, seed: int, device: str) -> None:
    """Set ``tried.verdict``: the golden-free verdict of its model against ``before_scores``
    (``judge.model_scores`` of the model before, on ``parts``); NaN outputs make it ``destroyed``."""
    start = time.process_time()
    after = model_scores(tried.result.model, split, parts, device)
    if not all(np.isfinite(after[p]["loss"]).all() for p in after):
        tried.status, tried.reason, tried.result = "destroyed", "NaN or infinite outputs", None
    else:
        tried.verdict = verdict_from_scores(after, before_scores, parts, margins=margins, seed=seed)
    tried.rate_cpu_s = time.process_time() - start


def select_method(before: nn.Module, split, *, shape: str, recipe: Recipe, recipe_source: str = "given",
                  budget: float = DEFAULT_BUDGET, seed: int = 0, device: str = "cpu", margins: Margins | None = None,
                  rule: dict[tuple[str, str], Cell] | None = None) -> Selection:
    """Choose and run a method for the request ``split`` of ``before`` (see the module).

    Args:
        before: the model (not modified).
        split: the request's ``Split``; its dataset carries the held-out slice V.
        shape: ``"class"`` or ``"scattered"`` (``auto.request_shape``).
        recipe: the model's training recipe, for the retrain estimate; ``recipe_source`` says whence.
        budget: the share of the estimated retrain's CPU the candidates may spend, in (0, 1].
        seed: seeds the D_r sample, the methods and the intervals.
        device: where everything runs.
        margins: the verdict's margins (default: the package's).
        rule: the candidates per (level, shape) (default: ``auto_rule.RULE``).

    Returns:
        ``Selection``.

    Raises:
        ConfigError: a bad budget, or no candidate could be run and rated within the budget (the
            message gives the budget the cheapest one needs).
    """
    budget = check_budget(budget)
    margins = margins or load_margins()
    t0 = time.process_time()
    rsplit = rating_split(split, seed)
    parts = verdict_parts(rsplit, seed)
    before_scores = model_scores(before, rsplit, parts, device)
    mem = measure_memorisation(before_scores)
    the_cell = (rule or RULE)[(mem.level, shape)]
    cost = estimate_retrain_cpu(before, split.subset("retain"), recipe, seed=seed, device=device,
                                recipe_source=recipe_source)
    limit = max(budget * cost.cpu_s, MIN_BUDGET_CPU_S)
    order = sorted(the_cell.candidates, key=lambda c: c.predicted_fraction(cost.epochs))
    tried: list[Tried] = []
    for i, cand in enumerate(order):
        predicted = cand.predicted_fraction(cost.epochs) * cost.cpu_s
        left = limit - sum(t.cpu_s for t in tried)
        if predicted > left:
            tried.append(Tried(cand, "skipped", predicted, max(left, 0.0),
                               f"predicted {predicted:.2f} CPU s, {max(left, 0.0):.2f} left"))
            continue
        last = i == len(order) - 1  # the last may use all that is left: no other candidate needs it
        allowance = left if last else min(left, max(OVERRUN * predicted, MIN_ALLOWANCE * cost.cpu_s,
                                                     MIN_BUDGET_CPU_S / 4))
        one = run_candidate(before, split, cand, allowance, seed=seed, device=device, recipe=recipe)
        one.predicted_cpu_s = predicted
        if one.status == "rated":
            rate_candidate(one, rsplit, parts, before_scores, margins=margins, seed=seed, device=device)
        tried.append(one)
    spent = time.process_time() - t0
    rated = [t for t in tried if t.status == "rated"]
    if not rated:
        raise ConfigError(_none_ran(tried, budget, limit, cost))
    best = best_of(rated)
    choice = _choice(best, tried, mem, the_cell, cost, budget, limit, spent, shape, len(split.forget))
    return Selection(best.result, best, tried, choice)


def _none_ran(tried: list[Tried], budget: float, limit: float, cost: RetrainCost) -> str:
    """The one-line refusal when no candidate finished within the budget: retrain, or the budget the cheapest
    candidate needs at least (its prediction, or the CPU it had spent when it was stopped)."""
    need = min((max(t.predicted_cpu_s, t.cpu_s, t.needed_cpu_s or 0.0) for t in tried), default=math.nan) / cost.cpu_s
    return (f"--method auto: no candidate ran within --budget {budget:g} ({limit:.1f} CPU s; an estimated retrain: "
            f"{cost.cpu_s:.1f} CPU s): " + "; ".join(f"{t.candidate.label()} {t.status} ({t.reason})" for t in tried)
            + f". Retrain the model on the kept records (about {cost.cpu_s:.0f} CPU s), or give --budget more than "
            f"{min(1.0, math.floor(100 * need) / 100):.2f} (what the cheapest candidate needs at least), or name a "
            "method (--method).")


def _choice(best: Tried, tried: list[Tried], mem: Memorisation, the_cell: Cell, cost: RetrainCost, budget: float,
            limit: float, spent: float, shape: str, n_forget: int) -> dict[str, Any]:
    forgotten = best.verdict.verdict == "forgotten"
    retrain_note = None if forgotten else (
        f"No candidate reads forgotten (the best, {best.candidate.label()}, reads {best.verdict.verdict}): "
        "retrain the model from scratch on the kept records, or give --method auto a larger --budget.")
    runs = "; ".join(f"{t.candidate.label()}: {t.verdict.verdict if t.verdict else t.status} ({t.cpu_s:.1f} CPU s)"
                     for t in tried)
    why = (f"the model fits {mem.train_acc:.1f}% of {mem.n_train} training records against {mem.heldout_acc:.1f}% of "
           f"{mem.n_heldout} held-out ones (memorisation {mem.gap:.1f} points: {mem.level}); a {shape} request of "
           f"{n_forget} records; the rule's candidates, cheapest first within {budget:g} of an estimated retrain "
           f"({limit:.1f} CPU s; the retrain: {cost.cpu_s:.1f}): {runs}; picked {best.candidate.label()} "
           f"({best.verdict.verdict}, distance {best.distance:.2f})" + (f". {retrain_note}" if retrain_note else ""))
    return {"why": why, "source": f"docs/results/auto.md; rule {the_cell.source}",
            "method": best.candidate.method, "params": best.result.params, "label": best.candidate.label(),
            "verdict": best.verdict.verdict, "shape": shape, "n_forget": n_forget, "memorisation": mem.to_dict(),
            "rule": the_cell.to_dict(), "retrain_estimate": cost.to_dict(),
            "budget": {"fraction": budget, "cpu_s": limit, "candidates_cpu_s": sum(t.cpu_s for t in tried),
                       "total_cpu_s": spent, "overhead_cpu_s": spent - sum(t.cpu_s for t in tried),
                       "what": "the budget counts the candidates' own CPU; the overhead (scoring the model, "
                               "the retrain estimate, rating each candidate) is total - candidates"},
            "candidates": [t.to_dict() for t in tried], "recommend_retrain": not forgotten,
            "retrain_note": retrain_note}


__all__ = ["MIN_ALLOWANCE", "MIN_BUDGET_CPU_S", "Memorisation", "OVERRUN", "RANK", "Selection", "Tried",
           "auto_recipe", "best_of", "check_budget", "distance", "measure_memorisation", "rate_candidate",
           "rating_split", "run_candidate", "select_method"]
