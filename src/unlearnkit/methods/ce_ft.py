"""CE-FT: cross-entropy towards wrong labels on D_f, with a weighted fine-tuning term on D_r.

Reference: Ding et al., "Understanding Fine-tuning in Approximate Unlearning: A Theoretical
Perspective", 2024 (seed 000/001), discriminative regularisation with the CE loss.
"""

from __future__ import annotations

import torch.nn.functional as F

from unlearnkit.config import Interval, store_params
from unlearnkit.methods.base import LOOP_CONSTRAINTS, Access
from unlearnkit.methods.discriminative import WrongLabelLoop
from unlearnkit.methods.registry import METHODS


@METHODS.register("ce_ft")
class CEFT(WrongLabelLoop):
    """Per step: L = CE(θ; D_f batch, y') + α·CE(θ; D_r batch).

    Access: full retain. The weighting is the reverse of ``ice_ft``: α scales the retain term.
    y' is an incorrect label (a class ≠ y, uniform), drawn once per forget sample and epoch from
    the run's generator. An epoch is a pass over D_r with D_f batches cycled alongside.
    α = 0.5 (α ∈ (0, 1]); lr 0.01, SGD momentum 0.9, weight decay 5e-4, 3 epochs (as ``finetune``).

    Example:
        >>> from unlearnkit.methods import make_method
        >>> make_method("ce_ft", {}).alpha
        0.5
    """

    access = Access.FULL_RETAIN
    streams = ("retain", "forget")
    _parameter_constraints = {**LOOP_CONSTRAINTS, "alpha": Interval(float, 0, 1, closed="right")}

    def __init__(self, *, alpha=0.5, lr=0.01, epochs=3, batch_size=64, momentum=0.9, weight_decay=5e-4, optimizer="sgd"):
        store_params(self, locals())

    def loss(self, model, batches):
        xr, yr = batches["retain"]
        xf, y_wrong = self.forget_batch(batches)
        logits_r = model(xr)  # retain first, as in ice_ft / kl_ft (same batch-norm updates)
        return F.cross_entropy(model(xf), y_wrong) + self.alpha * F.cross_entropy(logits_r, yr)
