"""RBM: retention-based masking, then fine-tuning (or KL-FT) on the retain set.

Reference: Ding et al., "Understanding Fine-tuning in Approximate Unlearning: A Theoretical
Perspective", 2024 (seed 000/001), retention-based masking (RBM); the saliency of Fan et al.,
"SalUn", ICLR 2024, computed on the retain set instead of the forget set.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from unlearnkit.config import Interval, Options, store_params
from unlearnkit.methods import saliency
from unlearnkit.methods.base import LOOP_CONSTRAINTS, Access
from unlearnkit.methods.discriminative import WrongLabelLoop, kl_to_wrong_labels
from unlearnkit.methods.kl_ft import KL_CONSTRAINTS
from unlearnkit.methods.registry import METHODS

#: Modules whose parameters (and buffers) the reset mode leaves at θ_o.
NORM_LAYERS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm)


@METHODS.register("rbm")
class RBM(WrongLabelLoop):
    """Retention mask m_r = the top ``q`` of weights by s = |Σ over D_r batches of ∇θ CE(θ_o)|.

    Access: full retain. The saliency is taken once, at θ_o, in eval mode, ranked globally over all
    parameters; ``mask_`` holds m_r and ``log_["mask_sparsity"]`` its fraction of ones (= q).

    - ``mode="restricted"`` (default): start from θ_o and train with the gradients multiplied by
      (1 − m_r), so only the weights unimportant to D_r move. Weight decay is applied inside the
      mask too (added to the gradient before masking, the optimiser's own decay set to 0; the
      same coupled L2 for the moving weights), so every weight in m_r stays bit-identical to θ_o.
      Batch-norm running statistics (buffers, not weights) still update in training mode.
    - ``mode="reset"``: θ₀ = m_r ⊙ θ_o, except normalisation layers (BatchNorm, LayerNorm,
      GroupNorm: parameters and buffers), which keep θ_o; then train with no mask.

    ``objective="ft"`` (default) trains with CE on D_r (``finetune``); ``objective="kl_ft"`` with
    the ``kl_ft`` loss, CE(D_r) + α·KL(q' ‖ p_θ) on D_f batches (``alpha``, ``target_smoothing``
    as in ``kl_ft``; ignored with ``"ft"``). Defaults: q = 0.5; lr 0.01, SGD momentum 0.9, weight
    decay 5e-4, 3 epochs (as ``finetune``).

    Example:
        >>> from unlearnkit import load_dataset, make_split, build_model, train, get_recipe, unlearn
        >>> split = make_split(load_dataset("digits"), "class:3")
        >>> model = train(build_model("mlp", split.dataset), split.subset("train"), get_recipe("fast"))
        >>> unlearn(model, split, "rbm", epochs=1).log["mask_sparsity"]
        0.5
    """

    access = Access.FULL_RETAIN
    _parameter_constraints = {
        **LOOP_CONSTRAINTS,
        **KL_CONSTRAINTS,
        "mode": Options(("restricted", "reset")),
        "objective": Options(("ft", "kl_ft")),
        "q": Interval(float, 0, 1, closed="both"),
    }

    def __init__(self, *, mode="restricted", objective="ft", q=0.5, alpha=0.5, target_smoothing=0.1, lr=0.01, epochs=3,
                 batch_size=64, momentum=0.9, weight_decay=5e-4, optimizer="sgd"):
        store_params(self, locals())

    @property
    def streams(self):
        return ("retain", "forget") if self.objective == "kl_ft" else ("retain",)

    def recipe(self):
        recipe = super().recipe()
        return recipe.replace(weight_decay=0.0) if self.mode == "restricted" else recipe

    def setup(self, model, *, forget, retain, generator):
        device = next(model.parameters()).device
        s = saliency.gradient_saliency(model, retain, self.batch_size, device)
        mask = saliency.top_fraction_mask(s, self.q)
        self.mask_ = {name: m.cpu() for name, m in mask.items()}
        self._frozen = mask if self.mode == "restricted" else None
        if self.mode == "reset":
            reset_unmasked(model, mask)
        if self.objective == "kl_ft":
            self.draw_wrong_labels(forget, retain, generator)

    def grad_transform(self, model):
        if self._frozen is not None:
            saliency.freeze_gradients(model, self._frozen, self.weight_decay)

    def loss(self, model, batches):
        xr, yr = batches["retain"]
        if self.objective == "ft":
            return F.cross_entropy(model(xr), yr)
        xf, y_wrong = self.forget_batch(batches)
        return F.cross_entropy(model(xr), yr) + self.alpha * kl_to_wrong_labels(model(xf), y_wrong, self.target_smoothing)

    def run(self, model, *, forget, retain, generator, device):
        model = super().run(model, forget=forget, retain=retain, generator=generator, device=device)
        self.log_["mask_sparsity"] = saliency.mask_sparsity(self.mask_)
        return model


def norm_parameter_names(model: nn.Module) -> set[str]:
    """Names of the parameters that belong to normalisation layers."""
    return {f"{prefix}.{name}" if prefix else name
            for prefix, module in model.named_modules() if isinstance(module, NORM_LAYERS)
            for name, _ in module.named_parameters(recurse=False)}


@torch.no_grad()
def reset_unmasked(model: nn.Module, mask: saliency.Mask) -> None:
    """θ ← m ⊙ θ for every masked parameter outside the normalisation layers."""
    skip = norm_parameter_names(model)
    for name, p in model.named_parameters():
        if name in mask and name not in skip:
            p.masked_fill_(~mask[name], 0.0)
