"""GA: gradient ascent on the forget set.

Reference: Thudi et al., "Unrolling SGD: Understanding Factors Influencing Machine Unlearning",
EuroS&P 2022; defaults from the GA baseline of Jia et al. (NeurIPS 2023) and Fan et al., "SalUn",
ICLR 2024.
"""

from __future__ import annotations

import torch.nn.functional as F

from unlearnkit.config import store_params
from unlearnkit.methods.base import LOOP_CONSTRAINTS, Access, LoopMethod
from unlearnkit.methods.registry import METHODS


@METHODS.register("grad_ascent")
class GradAscent(LoopMethod):
    """Maximise the cross-entropy on D_f (minimise its negative); sees no retain data.

    Access: forget only. Defaults (SalUn's GA setting): lr 1e-4, 5 epochs, SGD momentum 0.9,
    weight decay 5e-4. Unbounded: with a large lr or many epochs it destroys the model.

    Example:
        >>> from unlearnkit import load_dataset, make_split, build_model, train, get_recipe, unlearn
        >>> split = make_split(load_dataset("digits"), "class:3")
        >>> model = train(build_model("mlp", split.dataset), split.subset("train"), get_recipe("fast"))
        >>> unlearn(model, split, "grad_ascent").log["n_retain_seen"]
        0
    """

    access = Access.FORGET_ONLY
    streams = ("forget",)
    _parameter_constraints = dict(LOOP_CONSTRAINTS)

    def __init__(self, *, lr=1e-4, epochs=5, batch_size=64, momentum=0.9, weight_decay=5e-4, optimizer="sgd"):
        store_params(self, locals())

    def loss(self, model, batches):
        x, y = batches["forget"]
        return -F.cross_entropy(model(x), y)
