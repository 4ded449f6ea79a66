"""What the discriminative regularisers share: wrong labels redrawn every epoch, and the KL term.

Reference: Ding et al., "Why Fine-Tuning Struggles with Forgetting in Machine Unlearning?
Theoretical Insights and a Remedial Approach" / "Understanding Fine-tuning in Approximate
Unlearning: A Theoretical Perspective", 2024 (seed 000/001), discriminative regularisation.

``ce_ft``, ``ice_ft``, ``kl_ft`` and ``rbm`` with ``objective="kl_ft"`` subclass
``WrongLabelLoop``. Each forget sample gets an incorrect label y', a class ≠ y drawn uniformly,
redrawn every epoch (an epoch is a pass over D_r, with D_f batches cycled alongside).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from unlearnkit.data.dataset import Subset
from unlearnkit.methods.base import LoopMethod


class PositionLabelled(Subset):
    """``subset`` with each sample's position in place of its label in ``batch``.

    The training loop hands the loss only ``(x, y)``; with positions as ``y`` the loss can look up
    the sample's wrong label for the current epoch. ``labels`` still gives the true labels.
    """

    def __init__(self, subset: Subset):
        super().__init__(subset.dataset, subset.part, subset.indices, subset.label_set)
        self._positions = torch.arange(len(subset))

    def batch(self, positions):
        x, _ = super().batch(positions)
        return x, self._positions[positions]


def smoothed_target_entropy(epsilon: float, num_classes: int) -> float:
    """H(q') of q' = (1 − ε)·onehot + ε/C (0 for ε = 0)."""
    if epsilon == 0:
        return 0.0
    low = epsilon / num_classes
    high = 1.0 - epsilon + low
    return -(high * math.log(high) + (num_classes - 1) * low * math.log(low))


def kl_to_wrong_labels(logits: torch.Tensor, y_wrong: torch.Tensor, epsilon: float) -> torch.Tensor:
    """Batch mean of KL(q' ‖ p_θ(x)), q' = (1 − ε)·onehot(y') + ε/C.

    Computed as CE with label smoothing ε (the cross-entropy to exactly this q') minus the
    constant H(q'); with ε = 0 it is ``F.cross_entropy(logits, y_wrong)``, bit for bit.
    """
    ce = F.cross_entropy(logits, y_wrong, label_smoothing=epsilon)
    h = smoothed_target_entropy(epsilon, logits.shape[1])
    return ce - h if h else ce


class WrongLabelLoop(LoopMethod):
    """A loop over D_r with D_f cycled alongside, where the loss sees D_f with its wrong labels.

    ``setup`` draws from the run's generator an ``(epochs, |D_f|)`` table of wrong labels; in
    ``loss``, ``self.forget_batch(batches)`` returns ``(x_f, y')`` for the current epoch, which
    the training loop announces through ``on_epoch``.
    """

    streams = ("retain", "forget")

    def run(self, model, *, forget, retain, generator, device):
        return super().run(model, forget=PositionLabelled(forget), retain=retain, generator=generator, device=device)

    def setup(self, model, *, forget, retain, generator):
        self.draw_wrong_labels(forget, retain, generator)

    def draw_wrong_labels(self, forget: Subset, retain: Subset, generator: torch.Generator) -> None:
        c = forget.num_classes
        shift = torch.randint(1, c, (self.epochs, len(forget)), generator=generator)
        self._wrong = (forget.labels.unsqueeze(0) + shift) % c  # (epochs, |D_f|), never the true label
        self._epoch = 0

    def on_epoch(self, epoch: int) -> None:
        self._epoch = epoch

    def forget_batch(self, batches) -> tuple[torch.Tensor, torch.Tensor]:
        x, positions = batches["forget"]
        return x, self._wrong[self._epoch].to(positions.device)[positions]
