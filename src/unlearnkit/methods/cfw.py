"""CFW, "Confuse-Finetune-Weaken": scramble the first layer with Gaussian noise, fine-tune on D_r,
and add a little noise again before the last epoch (3rd place, NeurIPS 2023 unlearning
challenge, Seif Eddine Achour).

Reference: Triantafillou et al., "Are we making progress in unlearning? Findings from the first
NeurIPS unlearning competition", 2024 (the challenge and its top entries); the entry's code as
collected in DeepUnlearn (Cadet et al., "Deep Unlearn: Benchmarking Machine Unlearning", 2024;
github.com/xcadet/deepunlearn, ``munl/unlearning/kgltop3.py``, there named CFW), the source of
the facts and defaults below.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from unlearnkit.config import Interval, Options, store_params
from unlearnkit.errors import ConfigError
from unlearnkit.methods.base import LOOP_CONSTRAINTS, Access, LoopMethod
from unlearnkit.methods.layers import first_layer_name, scale_gradients
from unlearnkit.methods.registry import METHODS


def cosine_epoch_factors(epochs: int) -> list[float]:
    """The lr factor of each epoch under ``CosineAnnealingLR(T_max=epochs)`` stepped once per epoch.

    Example:
        >>> [round(f, 3) for f in cosine_epoch_factors(4)]
        [1.0, 0.854, 0.5, 0.146]
    """
    return [0.5 * (1 + math.cos(math.pi * e / epochs)) for e in range(epochs)]


def balanced_class_weights(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """scikit-learn's ``class_weight="balanced"``: n / (k · n_c) for each of the k classes present; 0 for absent ones.

    Example:
        >>> [round(w, 4) for w in balanced_class_weights(torch.tensor([0, 0, 0, 1]), 3).tolist()]
        [0.6667, 2.0, 0.0]
    """
    counts = torch.bincount(labels, minlength=num_classes).float()
    present = counts > 0
    weights = torch.zeros(num_classes)
    weights[present] = len(labels) / (int(present.sum()) * counts[present])
    return weights


@METHODS.register("cfw")
class CFW(LoopMethod):
    """Noise on the first layer, class-balanced fine-tuning on D_r, a little noise again at the end.

    Adds N(0, σ₁²) to the first layer's weights, fine-tunes on D_r with class-weighted
    cross-entropy and adds N(0, σ₂²) to the same weights before the last epoch.

    1. **Confuse.** The weights of the model's first convolution or linear layer get Gaussian
       noise of standard deviation ``start_std`` (drawn from the run's generator).
    2. **Fine-tune** on D_r for ``epochs`` epochs, SGD, loss mean_i w_{y_i}·CE(x_i, y_i) with
       class weights w (``class_weight="balanced"``: |D_r| / (k·n_c), scikit-learn's rule; or 1),
       lr of epoch e = lr · (1 + cos(π e / E)) / 2 (cosine annealing stepped per epoch).
    3. **Weaken.** Before the last epoch (when there are two or more), the first layer gets
       noise of standard deviation ``final_std``.

    Readings: the entry adds the noise to every top-level child module whose name contains
    "conv", which on the torchvision ResNet-18 it was written for is only the stem ``conv1``;
    here it is the first convolution or linear layer of any model. The entry's class weights
    were hard-coded for the challenge's age data (1 for class 0, 0.05 for the nine others);
    DeepUnlearn replaced them by scikit-learn's "balanced" weights, which we follow. The entry's
    loss multiplies the batch-mean cross-entropy by the batch-mean weight; we weight each sample
    (the two agree when weights are equal, as on balanced data). The per-epoch lr factor is
    applied through the gradients (``scale_gradients``), the optimiser's weight decay set to 0
    and added there instead; momentum carries the previous factor for a few steps after each
    change, where the entry's scheduler rescales it at once. Adam would undo such a factor, so the
    optimiser is SGD only (``optimizer="sgd"``).

    Access: full retain. Defaults (the entry's, for ResNet-18 on 32×32 face images, where batch
    norm after ``conv1`` absorbs the scale of the noise): σ₁ = 0.6 (``start_std``), σ₂ = 0.005
    (``final_std``), 4 epochs, SGD lr 7e-4, momentum 0.9, weight decay 5e-4, batch 64,
    ``class_weight="balanced"``.

    Example:
        >>> from unlearnkit.methods import make_method
        >>> make_method("cfw", {"start_std": 0.1}).start_std
        0.1
    """

    access = Access.FULL_RETAIN
    streams = ("retain",)
    _parameter_constraints = {
        **LOOP_CONSTRAINTS,
        "optimizer": Options(("sgd",)),
        "start_std": Interval(float, 0, None, closed="left"),
        "final_std": Interval(float, 0, None, closed="left"),
        "class_weight": Options(("balanced", "none")),
    }

    def __init__(self, *, start_std=0.6, final_std=0.005, class_weight="balanced", lr=7e-4, epochs=4,
                 batch_size=64, momentum=0.9, weight_decay=5e-4, optimizer="sgd"):
        store_params(self, locals())

    def recipe(self):
        return super().recipe().replace(weight_decay=0.0)

    def _confuse(self, std: float) -> None:
        if std > 0:
            with torch.no_grad():
                w = self._layer.weight
                w.add_(torch.randn(w.shape, generator=self._generator).to(w.device) * std)

    def setup(self, model, *, forget, retain, generator):
        name = first_layer_name(model)
        if name is None:
            raise ConfigError("CFW needs a model with a convolution or linear layer to add noise to; this one has none.")
        self._layer: nn.Module = dict(model.named_modules())[name]
        self._factors = cosine_epoch_factors(self.epochs)
        device = next(model.parameters()).device
        if self.class_weight == "balanced":
            self._weights = balanced_class_weights(retain.labels, retain.num_classes).to(device)
        else:
            self._weights = torch.ones(retain.num_classes, device=device)
        self.confused_layer_ = name
        self._confuse(self.start_std)

    def on_epoch(self, epoch):
        self._factor = self._factors[epoch]
        if epoch == self.epochs - 1 and epoch >= 1:
            self._confuse(self.final_std)

    def grad_transform(self, model):
        scale_gradients(model, self._factor, self.weight_decay)

    def loss(self, model, batches):
        x, y = batches["retain"]
        return (self._weights[y] * F.cross_entropy(model(x), y, reduction="none")).mean()

    def run(self, model, *, forget, retain, generator, device):
        out = super().run(model, forget=forget, retain=retain, generator=generator, device=device)
        self.log_["confused_layer"] = self.confused_layer_
        self.log_["lr_factors"] = list(self._factors)
        return out
