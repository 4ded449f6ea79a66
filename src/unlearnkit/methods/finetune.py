"""FT: fine-tune the original model on the retain set only.

Reference: Warnecke et al., "Machine Unlearning of Features and Labels", NDSS 2023; the FT
baseline of Jia et al., "Model Sparsity Can Simplify Machine Unlearning", NeurIPS 2023, and of
seed 000/001 (Ding et al., "Understanding Fine-tuning in Approximate Unlearning", 2024).
"""

from __future__ import annotations

import torch.nn.functional as F

from unlearnkit.config import store_params
from unlearnkit.methods.base import LOOP_CONSTRAINTS, Access, LoopMethod
from unlearnkit.methods.registry import METHODS


@METHODS.register("finetune")
class FineTune(LoopMethod):
    """Train on D_r with cross-entropy, starting from the original model.

    Access: full retain. Defaults: SGD, momentum 0.9, weight decay 5e-4, lr 0.01 (the papers'
    CIFAR setting); 3 epochs instead of the papers' 10, because our recipes train for only 6 to
    30 epochs (10 epochs of FT would cost more than retraining on Fashion-MNIST).

    Example:
        >>> from unlearnkit import load_dataset, make_split, build_model, train, get_recipe, unlearn
        >>> split = make_split(load_dataset("digits"), "random:0.1")
        >>> model = train(build_model("mlp", split.dataset), split.subset("train"), get_recipe("fast"))
        >>> unlearn(model, split, "finetune", epochs=1).runtime_s > 0
        True
    """

    access = Access.FULL_RETAIN
    streams = ("retain",)
    _parameter_constraints = dict(LOOP_CONSTRAINTS)

    def __init__(self, *, lr=0.01, epochs=3, batch_size=64, momentum=0.9, weight_decay=5e-4, optimizer="sgd"):
        store_params(self, locals())

    def loss(self, model, batches):
        x, y = batches["retain"]
        return F.cross_entropy(model(x), y)
