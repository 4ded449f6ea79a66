"""How much CPU a retrain from scratch would cost, estimated without retraining.

``--method auto`` spends a fraction (``--budget``) of a retrain's CPU time. For a user's own model
nobody has measured that retrain, so it is estimated: a few training steps of the model on D_r
with the model's training recipe (``--recipe`` / ``--set``, else the dataset's preset,
``training.default_recipe_name``) are timed in process CPU seconds, and

    retrain CPU ≈ (CPU of one step) × recipe.epochs × ⌈|D_r| / recipe.batch_size⌉.

The first step is not counted (allocation and warm-up); the next ``steps`` are. The steps run on a
copy of the model, through the library's one training loop (the recipe's optimiser and
augmentation), so they cost what a retrain's steps cost. What the estimate leaves out: evaluation
and data loading outside the loop (a retrain has none here) and a fresh model's initialisation
(negligible).

Example:
    >>> import torch
    >>> from unlearnkit.training import Recipe
    >>> est = estimate_retrain_cpu(torch.nn.Linear(4, 2), retain, Recipe(epochs=10))  # doctest: +SKIP
    >>> est.cpu_s == est.step_cpu_s * 10 * est.steps_per_epoch  # doctest: +SKIP
    True
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass
from typing import Any

from torch import nn

from unlearnkit.data.dataset import Subset
from unlearnkit.seeding import torch_generator
from unlearnkit.training.loop import Step, cross_entropy_loss, observe_steps, run_loop
from unlearnkit.training.recipe import Recipe

#: Training steps timed after the first (warm-up) one.
MEASURED_STEPS = 3


@dataclass(frozen=True)
class RetrainCost:
    """The estimate and what it rests on.

    Attributes:
        cpu_s: the estimated process CPU seconds of a retrain on D_r.
        step_cpu_s: measured CPU seconds of one training step.
        steps_measured: how many steps were timed.
        steps_per_epoch: ⌈|D_r| / batch_size⌉.
        epochs, batch_size: the recipe's.
        n_retain: |D_r|.
        recipe: the recipe (a dict) and ``recipe_source``: where it came from.
    """

    cpu_s: float
    step_cpu_s: float
    steps_measured: int
    steps_per_epoch: int
    epochs: int
    batch_size: int
    n_retain: int
    recipe: dict[str, Any]
    recipe_source: str

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "how": (f"{self.step_cpu_s:.4f} CPU s per step (mean of {self.steps_measured} timed "
                                        f"steps) × {self.epochs} epochs × {self.steps_per_epoch} steps per epoch "
                                        f"(⌈{self.n_retain} / {self.batch_size}⌉)")}


class _Enough(Exception):
    """Raised by the step observer once enough steps were timed."""


def estimate_retrain_cpu(model: nn.Module, retain: Subset, recipe: Recipe, *, seed: int = 0,
                         steps: int = MEASURED_STEPS, device: str = "cpu",
                         recipe_source: str = "given") -> RetrainCost:
    """Estimate a retrain's process CPU seconds by timing ``steps`` training steps (see the module).

    Args:
        model: the model (not modified: a copy is trained).
        retain: D_r.
        recipe: the training recipe of a retrain.
        seed: seeds the batches drawn.
        steps: steps timed after the warm-up step (fewer when an epoch has fewer).
        device: where the steps run.
        recipe_source: a few words on where ``recipe`` came from, for the record.

    Returns:
        ``RetrainCost``.
    """
    work = copy.deepcopy(model)
    steps_per_epoch = -(-len(retain) // recipe.batch_size)
    want = max(1, min(steps, steps_per_epoch - 1))
    marks: list[float] = []

    def observe(_model: nn.Module, step: Step) -> None:
        marks.append(time.process_time())
        if len(marks) > want:
            raise _Enough

    start = time.process_time()
    try:
        with observe_steps(observe):
            run_loop(work, {"retain": retain}, cross_entropy_loss("retain", recipe.label_smoothing),
                     recipe.replace(epochs=1), generator=torch_generator(seed, "retrain_cost"), device=device,
                     description="retrain cost estimate")
    except _Enough:
        pass
    if len(marks) >= 2:
        step_cpu = (marks[-1] - marks[0]) / (len(marks) - 1)
        timed = len(marks) - 1
    else:  # one step in all: its own time, warm-up included
        step_cpu = marks[0] - start
        timed = 1
    return RetrainCost(cpu_s=step_cpu * recipe.epochs * steps_per_epoch, step_cpu_s=step_cpu, steps_measured=timed,
                       steps_per_epoch=steps_per_epoch, epochs=recipe.epochs, batch_size=recipe.batch_size,
                       n_retain=len(retain), recipe=recipe.to_dict(), recipe_source=recipe_source)


__all__ = ["MEASURED_STEPS", "RetrainCost", "estimate_retrain_cpu"]
