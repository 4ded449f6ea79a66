"""MSG, "Masked Small Gradients": re-initialise the weights the unlearning gradient barely touches,
then fine-tune on D_r with the other weights slowed down (2nd place, NeurIPS 2023 unlearning
challenge, team "Kookmin Univ").

Reference: Triantafillou et al., "Are we making progress in unlearning? Findings from the first
NeurIPS unlearning competition", 2024 (the challenge and its top entries); the entry's code as
collected in DeepUnlearn (Cadet et al., "Deep Unlearn: Benchmarking Machine Unlearning", 2024;
github.com/xcadet/deepunlearn, ``munl/unlearning/kgltop2.py``, there named MSG), the source of
the facts and defaults below.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from unlearnkit.config import Interval, Options, store_params
from unlearnkit.methods.base import LOOP_CONSTRAINTS, Access, LoopMethod
from unlearnkit.methods.layers import output_layer_name, scale_gradients, weight_layers
from unlearnkit.methods.registry import METHODS

#: Gradient multiplier of the kept (not re-initialised) weights of a selected layer (the entry's 0.1).
KEPT_GRADIENT = 0.1
#: Batch size of the saliency pass (the entry's retain loader for the gradients).
SALIENCY_BATCH = 64


def linear_annealing_factors(epochs: int) -> list[float]:
    """The entry's per-epoch learning-rate factors: a linear ramp up for (E + 1) // 2 scheduler steps,
    then down to 0 at step E + 1 (``LinearAnnealingLR`` stepped once per epoch).

    Example:
        >>> [round(f, 3) for f in linear_annealing_factors(5)]
        [0.333, 0.667, 1.0, 0.667, 0.333]
    """
    up, total = (epochs + 1) // 2, epochs + 1
    factors = []
    for step in range(1, epochs + 1):
        factors.append(step / up if step <= up else (total - step) / (total - up))
    return factors


def selected_layers(model: nn.Module, layers: str) -> list[tuple[str, nn.Module]]:
    """The layers whose weights MSG may re-initialise: ``"conv"`` every convolution; ``"hidden"``
    every convolution and linear layer except the output layer (the last ``nn.Linear``)."""
    head = output_layer_name(model)
    chosen = []
    for name, module in weight_layers(model):
        if layers == "conv" and isinstance(module, nn.Linear):
            continue
        if layers == "hidden" and name == head:
            continue
        chosen.append((name, module))
    return chosen


@METHODS.register("msg")
class MSG(LoopMethod):
    """Re-initialise the weights with the smallest unlearning gradient, then fine-tune on D_r.

    In every selected layer the fraction ``init_rate`` of weights with the smallest unlearning
    gradient is re-initialised; fine-tuning on D_r then slows the others (gradients × 0.1).

    1. **Saliency.** g = Σ over batches of ∇ mean CE on a seeded random |D_f| samples of D_r,
       plus Σ over batches of ∇ (−mean CE) on D_f (batches of 64; the model's parameters at θ_o).
    2. **Re-initialise.** In each selected layer, the round(``init_rate`` · n) weights with the
       smallest |g| (the weights neither set needs) are redrawn from Kaiming-normal (fan-out,
       ReLU gain: N(0, 2 / fan_out)); the rest keep θ_o. Biases are left alone.
    3. **Fine-tune** on D_r with cross-entropy, SGD; in the selected layers the kept weights'
       gradients are multiplied by 0.1 (the re-initialised ones by 1; every other parameter by 1),
       before weight decay is added. The lr of epoch e is lr times the entry's linear
       warm-up / cool-down factor (``linear_annealing_factors``: 1/3, 2/3, 1, 2/3, 1/3 for 5
       epochs).

    Readings: the entry (written for ResNet-18) re-initialises every ``nn.Conv2d``;
    ``layers="hidden"`` (default) re-initialises every convolution and linear layer except the
    output layer, which on a ResNet-18 is the same set and carries the rule over to models with
    fully connected hidden layers (our ``mlp``, ``cnn``, ``vit_tiny``); ``layers="conv"`` is the
    entry's literal rule (a model without convolutions is then only fine-tuned). The saliency
    pass runs in eval mode (the entry leaves the mode as the caller set it). The per-epoch lr
    factor is applied through the gradients (``scale_gradients``, the optimiser's own weight
    decay set to 0 and added there instead): a step equals the entry's except that momentum
    carries the previous epoch's factor for a few steps after each change; Adam would undo such a
    factor, so the optimiser is SGD only (``optimizer="sgd"``). The fraction of re-initialised
    weights is logged.

    Access: full retain. Defaults (the entry's, for ResNet-18 on the challenge's 32×32 face-age
    data): ``init_rate`` 0.3, 5 epochs, SGD lr 1e-3, momentum 0.9, weight decay 5e-4, batch 64.

    Example:
        >>> from unlearnkit.methods import make_method
        >>> make_method("msg", {"init_rate": 0.5}).init_rate
        0.5
    """

    access = Access.FULL_RETAIN
    streams = ("retain",)
    _parameter_constraints = {
        **LOOP_CONSTRAINTS,
        "optimizer": Options(("sgd",)),
        "init_rate": Interval(float, 0, 1, closed="both"),
        "layers": Options(("hidden", "conv")),
    }

    def __init__(self, *, init_rate=0.3, layers="hidden", lr=1e-3, epochs=5, batch_size=64, momentum=0.9,
                 weight_decay=5e-4, optimizer="sgd"):
        store_params(self, locals())

    def recipe(self):
        return super().recipe().replace(weight_decay=0.0)

    def setup(self, model, *, forget, retain, generator):
        device = next(model.parameters()).device
        grads = self._unlearning_gradient(model, forget, retain, generator, device)
        self._factors = linear_annealing_factors(self.epochs)
        self._multipliers: dict[str, torch.Tensor] = {}
        self.reinit_mask_ = {}
        n_reinit = n_total = 0
        with torch.no_grad():
            for name, module in selected_layers(model, self.layers):
                key = f"{name}.weight" if name else "weight"
                w = module.weight
                k = int(math.floor(self.init_rate * w.numel() + 0.5))
                order = torch.sort(grads[key].abs().reshape(-1), stable=True).indices
                mask = torch.zeros(w.numel(), dtype=torch.bool, device=w.device)
                mask[order[:k]] = True
                mask = mask.view_as(w)
                fan_out = w.shape[0] * (w[0, 0].numel() if w.dim() > 2 else 1)
                fresh = torch.randn(w.shape, generator=generator).to(w.device) * math.sqrt(2.0 / fan_out)
                w[mask] = fresh[mask]
                self._multipliers[key] = torch.where(mask, 1.0, KEPT_GRADIENT).to(w.dtype)
                self.reinit_mask_[key] = mask.cpu()
                n_reinit += k
                n_total += w.numel()
        self._reinit_fraction = n_reinit / n_total if n_total else 0.0

    def _unlearning_gradient(self, model, forget, retain, generator, device) -> dict[str, torch.Tensor]:
        named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
        total = {name: torch.zeros_like(p) for name, p in named}
        picked = retain.take(torch.randperm(len(retain), generator=generator)[: len(forget)])
        was_training = model.training
        model.eval()
        try:
            for data, sign in ((picked, 1.0), (forget, -1.0)):
                for pos in torch.arange(len(data)).split(SALIENCY_BATCH):
                    x, y = data.batch(pos)
                    loss = sign * F.cross_entropy(model(x.to(device)), y.to(device))
                    for (name, _), g in zip(named, torch.autograd.grad(loss, [p for _, p in named], allow_unused=True)):
                        if g is not None:
                            total[name] += g
        finally:
            model.train(was_training)
        return total

    def on_epoch(self, epoch):
        self._factor = self._factors[epoch]

    def grad_transform(self, model):
        scale_gradients(model, self._factor, self.weight_decay, self._multipliers)

    def loss(self, model, batches):
        x, y = batches["retain"]
        return F.cross_entropy(model(x), y)

    def run(self, model, *, forget, retain, generator, device):
        out = super().run(model, forget=forget, retain=retain, generator=generator, device=device)
        self.log_["reinit_fraction"] = self._reinit_fraction
        self.log_["lr_factors"] = list(self._factors)
        return out
