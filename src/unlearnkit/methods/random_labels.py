"""RL: train on the forget set with random labels, together with the retain set.

Reference: Golatkar et al., "Eternal Sunshine of the Spotless Net", CVPR 2020 (random-label
baseline); defaults from Fan et al., "SalUn", ICLR 2024 (RL: 10 epochs, lr 0.013).
"""

from __future__ import annotations

import torch.nn.functional as F

from unlearnkit.config import store_params
from unlearnkit.methods.base import LOOP_CONSTRAINTS, Access, LoopMethod
from unlearnkit.methods.registry import METHODS


@METHODS.register("random_labels")
class RandomLabels(LoopMethod):
    """Per step: L = CE(θ; D_f batch, uniformly random labels) + CE(θ; D_r batch, true labels).

    Access: full retain. An epoch is a pass over D_f with D_r batches of the same size drawn
    alongside, so 10 epochs cost about 20·|D_f| sample-steps; labels are redrawn every step and
    may coincide with the true label (uniform, as in SalUn). Defaults: lr 0.013, 10 epochs, SGD
    momentum 0.9, weight decay 5e-4 (SalUn's setting).

    Example:
        >>> from unlearnkit.methods import make_method
        >>> make_method("random_labels", {}).epochs
        10
    """

    access = Access.FULL_RETAIN
    streams = ("forget", "retain")
    _parameter_constraints = dict(LOOP_CONSTRAINTS)

    def __init__(self, *, lr=0.013, epochs=10, batch_size=64, momentum=0.9, weight_decay=5e-4, optimizer="sgd"):
        store_params(self, locals())

    def loss(self, model, batches):
        xf, yf = batches["forget"]
        xr, yr = batches["retain"]
        logits_f = model(xf)  # (B, C)
        y_rand = self.random_labels(yf, logits_f.shape[1], exclude_true=False)
        return F.cross_entropy(logits_f, y_rand) + F.cross_entropy(model(xr), yr)
