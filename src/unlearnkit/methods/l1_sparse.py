"""l1-sparse: fine-tune on the retain set with an L1 penalty on the weights that decays to 0.

Reference: Jia, Liu, Ram, Yao, Liu, Liu, Sharma and Liu, "Model Sparsity Can Simplify Machine
Unlearning", NeurIPS 2023 ("ℓ1-sparse MU"); the schedule of the penalty follows the authors' code
(github.com/OPTML-Group/Unlearn-Sparse, ``FT_l1``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from unlearnkit.config import Interval, store_params
from unlearnkit.methods.base import LOOP_CONSTRAINTS, Access, LoopMethod
from unlearnkit.methods.registry import METHODS


def l1_norm(model: torch.nn.Module) -> torch.Tensor:
    """‖θ‖₁ over every trainable parameter (weights and biases, as in the authors' code)."""
    return sum(p.abs().sum() for p in model.parameters() if p.requires_grad)


@METHODS.register("l1_sparse")
class L1Sparse(LoopMethod):
    """Per step: L = CE(θ; D_r batch) + γ_e·‖θ‖₁, with γ_e = γ·(1 − e/E) in epoch e = 0..E−1.

    The penalty decays linearly with the epoch, as in the authors' ``FT_l1`` (γ is set at the
    start of each epoch): the full γ in the first epoch, γ/E in the last, reaching 0 at the end
    of training. ‖θ‖₁ covers every trainable parameter, biases included, as there. With
    ``gamma=0`` the method is exactly ``finetune`` (the penalty is skipped, not multiplied by 0),
    step for step under the same generator. The γ of each epoch is in ``log["gamma_per_epoch"]``.

    Access: full retain. Defaults: γ = 5e-4 (the table of ALGORITHMS.md); SGD lr 0.01, momentum
    0.9, weight decay 5e-4 (the paper's fine-tuning setting); 3 epochs instead of the paper's 10,
    for the reason ``finetune`` gives (our recipes train for only 6 to 30 epochs), which also
    makes ``l1_sparse`` with γ = 0 the same run as ``finetune`` with its defaults.

    Example:
        >>> from unlearnkit.methods import make_method
        >>> make_method("l1_sparse", {"gamma": 1e-4}).gamma
        0.0001
    """

    access = Access.FULL_RETAIN
    streams = ("retain",)
    _parameter_constraints = {**LOOP_CONSTRAINTS, "gamma": Interval(float, 0, None, closed="left")}

    def __init__(self, *, gamma=5e-4, lr=0.01, epochs=3, batch_size=64, momentum=0.9, weight_decay=5e-4,
                 optimizer="sgd"):
        store_params(self, locals())

    def gamma_schedule(self) -> list[float]:
        """γ_e for each epoch e = 0..epochs−1."""
        return [self.gamma * (1 - e / self.epochs) for e in range(self.epochs)]

    def setup(self, model, *, forget, retain, generator):
        self._schedule = self.gamma_schedule()
        self.gamma_per_step_ = []

    def on_epoch(self, epoch):
        self._gamma = self._schedule[epoch]

    def loss(self, model, batches):
        x, y = batches["retain"]
        self.gamma_per_step_.append(self._gamma)
        loss = F.cross_entropy(model(x), y)
        if self._gamma > 0:
            loss = loss + self._gamma * l1_norm(model)
        return loss

    def run(self, model, *, forget, retain, generator, device):
        out = super().run(model, forget=forget, retain=retain, generator=generator, device=device)
        self.log_["gamma_per_epoch"] = list(self._schedule)
        return out
