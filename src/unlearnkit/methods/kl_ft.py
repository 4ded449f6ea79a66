"""KL-FT: fine-tune on D_r with a KL pull of the D_f predictions towards (smoothed) wrong labels.

Reference: Ding et al., "Understanding Fine-tuning in Approximate Unlearning: A Theoretical
Perspective", 2024 (seed 000/001), discriminative regularisation (KL-FT).
"""

from __future__ import annotations

import torch.nn.functional as F

from unlearnkit.config import Interval, store_params
from unlearnkit.methods.base import LOOP_CONSTRAINTS, Access
from unlearnkit.methods.discriminative import WrongLabelLoop, kl_to_wrong_labels
from unlearnkit.methods.registry import METHODS

KL_CONSTRAINTS = {
    "alpha": Interval(float, 0, 1, closed="right"),
    "target_smoothing": Interval(float, 0, 1, closed="left"),
}


@METHODS.register("kl_ft")
class KLFT(WrongLabelLoop):
    """Per step: L = CE(θ; D_r batch) + α·KL(q' ‖ p_θ(x)) over the D_f batch.

    Access: full retain. q' = (1 − ε)·onehot(y') + ε/C with ε = ``target_smoothing``; y' is an
    incorrect label (a class ≠ y, uniform), drawn once per forget sample and epoch from the run's
    generator. With ε = 0 the method is ``ice_ft`` (same seed, same weights). An epoch is a pass
    over D_r with D_f batches cycled alongside. α = 0.5 (α ∈ (0, 1]), ε = 0.1 (our reading: the
    papers do not give ε); lr 0.01, SGD momentum 0.9, weight decay 5e-4, 3 epochs (as ``finetune``).

    Example:
        >>> from unlearnkit.methods import make_method
        >>> make_method("kl_ft", {"target_smoothing": 0.0}).target_smoothing
        0.0
    """

    access = Access.FULL_RETAIN
    streams = ("retain", "forget")
    _parameter_constraints = {**LOOP_CONSTRAINTS, **KL_CONSTRAINTS}

    def __init__(self, *, alpha=0.5, target_smoothing=0.1, lr=0.01, epochs=3, batch_size=64, momentum=0.9,
                 weight_decay=5e-4, optimizer="sgd"):
        store_params(self, locals())

    def loss(self, model, batches):
        xr, yr = batches["retain"]
        xf, y_wrong = self.forget_batch(batches)
        return F.cross_entropy(model(xr), yr) + self.alpha * kl_to_wrong_labels(model(xf), y_wrong, self.target_smoothing)
