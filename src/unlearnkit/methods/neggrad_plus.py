"""NegGrad+: descend on the retain set while ascending on the forget set, in one loss.

Reference: Kurmanji et al., "Towards Unbounded Machine Unlearning" (SCRUB), NeurIPS 2023, which
introduces NegGrad+ as a baseline.
"""

from __future__ import annotations

import torch.nn.functional as F

from unlearnkit.config import Interval, store_params
from unlearnkit.methods.base import LOOP_CONSTRAINTS, Access, LoopMethod
from unlearnkit.methods.registry import METHODS


@METHODS.register("neggrad_plus")
class NegGradPlus(LoopMethod):
    """Per step: L = (1 − β)·CE(θ; D_r batch) − β·CE(θ; D_f batch).

    Access: full retain. β = 0.05 is the mixing weight 0.95 on the retain loss of the source
    setting (the loss is written as a convex mix, so β = 0 is plain fine-tuning). An epoch is a
    pass over D_r with D_f batches cycled alongside. lr 0.01, 3 epochs (as ``finetune``).

    Example:
        >>> from unlearnkit.methods import make_method
        >>> make_method("neggrad_plus", {"beta": 0.1}).beta
        0.1
    """

    access = Access.FULL_RETAIN
    streams = ("retain", "forget")
    _parameter_constraints = {**LOOP_CONSTRAINTS, "beta": Interval(float, 0, 1, closed="both")}

    def __init__(self, *, beta=0.05, lr=0.01, epochs=3, batch_size=64, momentum=0.9, weight_decay=5e-4, optimizer="sgd"):
        store_params(self, locals())

    def loss(self, model, batches):
        xr, yr = batches["retain"]
        xf, yf = batches["forget"]
        return (1 - self.beta) * F.cross_entropy(model(xr), yr) - self.beta * F.cross_entropy(model(xf), yf)
