"""Calibration to held-out data: end a loop method at the state where D_f looks unseen.

Reference: ALGORITHMS.md §6 ("Calibration to held-out data"), a generalisation of the rewinding of
SCRUB+R (Kurmanji et al., "Towards Unbounded Machine Unlearning", NeurIPS 2023).

A model retrained without D_f treats D_f like data it never saw, and the validation slice V is
such data. ``unlearn(..., calibrate="heldout")`` watches every optimiser step of the method's
training loops (``training.loop.observe_steps``), measures the golden-free statistic on D_f and V
every ``calibrate_every`` steps, keeps the best state in memory (one copy, never every
checkpoint) and hands back that state. The method itself never sees V, nor D_t.

The distance to "indistinguishable" **(reading)**, each term in [0, 1]:

- random, sub-class and index scenarios: |acc(D_f) − acc(V_f)|/100 + |AUC − 0.5|, where AUC is
  ``heldout_auc``'s Mann–Whitney statistic of the per-sample losses (the accuracy gap is the
  primary target; the AUC catches over-forgetting, which the accuracy gap alone misses);
- class scenarios: (acc(D_f) + acc(V_f))/200, since a model that never saw a class never predicts it;
- both: + max(0, acc(θ_o, V_r) − acc(θ, V_r))/100, the held-out accuracy lost on V_r (V outside
  V_f, at most as many samples), so that destroying the model does not pass for forgetting;
- both: + max(0, acc(θ_o, R) − acc(θ, R))/100 on R, a seeded sample of D_r as large as V_f: the
  retrained model fits D_r as the original did, and a model that loosened its fit of D_r shifts
  every membership attack, whose members are drawn from D_r (measured: a fine-tune that lost 4.6
  points of D_r accuracy matched V_f's accuracy on D_f, and the SVC attack then called all of D_f
  "non-member", against 19% for the golden model).

The initial state (before the first step) is a candidate too: a method that only moves away from
"unseen" ends where it started, which the report then marks as having done nothing. Training
stops early after ``calibrate_patience`` checks without improvement, if asked (by default it runs to the
end: on the memorising benchmark, stopping after 4 checks cut methods short that were still
approaching "unseen", docs/results/random-deletion.md).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from unlearnkit.config import Interval, OptionalOf, Options
from unlearnkit.data.dataset import Subset, detach_subset
from unlearnkit.errors import ConfigError
from unlearnkit.metrics.context import compute_logits
from unlearnkit.metrics.heldout import MIN_HELDOUT, mann_whitney_auc, per_sample_correct, per_sample_loss
from unlearnkit.seeding import torch_generator
from unlearnkit.training.loop import Step

#: Valid values of ``calibrate`` (``None`` = no calibration).
CALIBRATIONS = ("heldout",)
#: Checks per epoch when ``calibrate_every`` is not given.
CHECKS_PER_EPOCH = 4
#: At most this many samples of each set (D_f, V_f, V_r, R) are scored at every check (seeded draw).
CALIBRATION_SAMPLES = 500

CALIBRATE_CONSTRAINTS = {
    "calibrate": OptionalOf(Options(CALIBRATIONS)),
    "calibrate_every": OptionalOf(Interval(int, 1, None, closed="left")),
    "calibrate_patience": OptionalOf(Interval(int, 1, None, closed="left")),
}


class CalibrationStop(Exception):
    """Raised by the calibration observer to end a method's training early."""


def check_calibration(method: Any, split, calibrate: str | None, calibrate_every: int | None = None,
                      calibrate_patience: int | None = None) -> None:
    """Raise ``ConfigError`` unless ``method`` on ``split`` can be calibrated as asked (before any work)."""
    name = type(method).__name__
    for key, value in (("calibrate", calibrate), ("calibrate_every", calibrate_every),
                       ("calibrate_patience", calibrate_patience)):
        constraint = CALIBRATE_CONSTRAINTS[key]
        if not constraint.accepts(value):
            raise ConfigError(f"The '{key}' parameter of unlearn must be {constraint.description}. Got {value!r} instead.")
    if calibrate is None:
        return
    if not getattr(method, "calibratable", False):
        from unlearnkit.methods.registry import METHODS

        loops = [n for n, cls in METHODS.items() if getattr(cls, "calibratable", False)]
        raise ConfigError(
            f"calibrate={calibrate!r} needs a method that trains step by step; {name} is not a loop method. "
            f"Loop methods: {', '.join(loops)}."
        )
    if getattr(split, "val_forget", None) is None:
        raise ConfigError(
            f"calibrate={calibrate!r} needs a validation slice V, which dataset {split.dataset.name!r} has not: load it "
            "with the option train_subset=N or val_size=N (--data-option val_size=N, [data_options] in a grid)."
        )
    n_f, n_v = len(split.forget), len(split.val_forget)
    if min(n_f, n_v) < MIN_HELDOUT:
        raise ConfigError(
            f"calibrate={calibrate!r} needs at least {MIN_HELDOUT} samples in D_f and in V_f (held-out samples of "
            f"D_f's classes); got {n_f} and {n_v}. Use a larger validation slice (val_size) or forget set."
        )


@dataclass
class CalibrationSets:
    """The (detached) sets a calibration scores: D_f, V_f, V_r and R (a sample of D_r), each capped at
    ``CALIBRATION_SAMPLES``."""

    forget: Subset
    val_forget: Subset
    val_retain: Subset | None
    class_scenario: bool
    retain_sample: Subset | None = None


def calibration_sets(split, seed: int) -> CalibrationSets:
    """D_f, V_f, V_r and R of ``split`` (V_r: V outside V_f and, in class scenarios, outside the forgotten
    classes, as large as V_f; R: a seeded sample of D_r as large as V_f)."""
    val = split.subset("val")
    in_vf = torch.zeros(len(val), dtype=torch.bool)
    in_vf[split.val_forget] = True
    keep = ~in_vf
    class_scenario = split.kind == "class"
    if class_scenario:
        forgotten = torch.unique(split.subset("forget").labels)
        keep &= ~torch.isin(val.labels, forgotten)
    gen = torch_generator(seed, "calibration")

    def capped(sub: Subset, limit: int = CALIBRATION_SAMPLES) -> Subset:
        if len(sub) > limit:
            sub = sub.take(torch.randperm(len(sub), generator=gen)[:limit].sort().values)
        return detach_subset(sub)

    forget = capped(split.subset("forget"))
    val_forget = capped(split.subset("val_forget"))
    positions = torch.nonzero(keep).flatten()
    val_retain = capped(val.take(positions), len(val_forget)) if len(positions) else None
    retain_sample = capped(split.subset("retain"), len(val_forget))
    return CalibrationSets(forget, val_forget, val_retain, class_scenario, retain_sample)


@dataclass
class HeldoutCalibration:
    """The step observer that keeps the state closest to "D_f looks unseen"; see the module docstring.

    Attributes:
        sets: what is scored.
        every: check every this many steps of a loop (``None``: ``CHECKS_PER_EPOCH`` per epoch;
            ``"epoch"``: only at the end of every epoch); the end of an epoch is always checked.
        patience: stop after this many checks without improvement (``None``: never).
        device: where the model runs.
        criterion: ``"distance"`` (the module docstring's) or ``"acc_gap"``: |acc(D_f) − acc(V_f)|
            alone, SCRUB+R's "forget error closest to the held-out error".
        include_initial: whether the state before the first step is a candidate.
        trace_: one dict per check (step, distance and its parts).
        best_step_: the global step of the state handed back (0 = the state before any step).
    """

    sets: CalibrationSets
    every: int | str | None = None
    patience: int | None = None
    device: str | torch.device = "cpu"
    criterion: str = "distance"
    include_initial: bool = True
    trace_: list[dict[str, float]] = field(default_factory=list)
    best_step_: int = 0
    _best_distance: float = math.inf
    _best_state: dict[str, torch.Tensor] | None = None
    _since_best: int = 0
    _global_step: int = 0
    _ref_acc_r: float | None = None
    _ref_acc_fit: float | None = None

    def begin(self, model: nn.Module) -> None:
        """Score the initial state; it is the first candidate."""
        self._ref_acc_r = self._acc(model, self.sets.val_retain) if self.sets.val_retain is not None else None
        self._ref_acc_fit = self._acc(model, self.sets.retain_sample) if self.sets.retain_sample is not None else None
        if self.include_initial:
            self._check(model)

    def __call__(self, model: nn.Module, step: Step) -> None:
        self._global_step += 1
        if self.every == "epoch":
            every = step.steps_per_epoch
        else:
            every = self.every or max(1, round(step.steps_per_epoch / CHECKS_PER_EPOCH))
        if step.step % every and step.step != step.steps_per_epoch:
            return
        self._check(model)
        if self.patience is not None and self._since_best >= self.patience:
            raise CalibrationStop(f"no improvement in {self.patience} checks")

    def end(self, model: nn.Module) -> dict[str, Any]:
        """Load the best state into ``model``; return what the run log keeps."""
        model.load_state_dict(self._best_state)
        return {"best_step": self.best_step_, "steps": self._global_step, "best_distance": self._best_distance,
                "checks": len(self.trace_), "trace": self.trace_}

    # -- scoring
    def _acc(self, model: nn.Module, sub: Subset) -> float:
        z = compute_logits(model, sub, device=self.device)
        return 100.0 * float(per_sample_correct(z, sub.labels).mean()) if torch.isfinite(z).all() else math.nan

    def _check(self, model: nn.Module) -> None:
        s = self.sets
        zf = compute_logits(model, s.forget, device=self.device)
        zv = compute_logits(model, s.val_forget, device=self.device)
        row: dict[str, float] = {"step": float(self._global_step)}
        if not (torch.isfinite(zf).all() and torch.isfinite(zv).all()):
            row["distance"] = math.inf
        else:
            acc_f = 100.0 * float(per_sample_correct(zf, s.forget.labels).mean())
            acc_v = 100.0 * float(per_sample_correct(zv, s.val_forget.labels).mean())
            row.update(acc_forget=acc_f, acc_val_forget=acc_v)
            if self.criterion == "acc_gap":
                distance = abs(acc_f - acc_v) / 100.0
            elif s.class_scenario:
                distance = (acc_f + acc_v) / 200.0
            else:
                auc = mann_whitney_auc(per_sample_loss(zf, s.forget.labels), per_sample_loss(zv, s.val_forget.labels))
                row["auc"] = auc
                distance = abs(acc_f - acc_v) / 100.0 + abs(auc - 0.5)
            if self._ref_acc_r is not None:
                acc_r = self._acc(model, s.val_retain)
                row["acc_val_retain"] = acc_r
                distance += max(0.0, self._ref_acc_r - acc_r) / 100.0 if np.isfinite(acc_r) else 1.0
            if self._ref_acc_fit is not None:
                acc_fit = self._acc(model, s.retain_sample)
                row["acc_retain"] = acc_fit
                distance += max(0.0, self._ref_acc_fit - acc_fit) / 100.0 if np.isfinite(acc_fit) else 1.0
            row["distance"] = distance
        self.trace_.append(row)
        if row["distance"] < self._best_distance:
            self._best_distance = row["distance"]
            self._best_state = copy.deepcopy(model.state_dict())
            self.best_step_ = self._global_step
            self._since_best = 0
        else:
            self._since_best += 1
