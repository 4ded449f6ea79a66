"""SalUn: random-label unlearning restricted to the weights salient to the forget loss.

Reference: Fan et al., "SalUn: Empowering Machine Unlearning via Gradient-based Weight Saliency",
ICLR 2024; the comparator of seed 000/001 (Ding et al., 2024).
"""

from __future__ import annotations

from unlearnkit.config import Interval, store_params
from unlearnkit.methods import saliency
from unlearnkit.methods.base import LOOP_CONSTRAINTS, Access
from unlearnkit.methods.random_labels import RandomLabels
from unlearnkit.methods.registry import METHODS


@METHODS.register("salun")
class SalUn(RandomLabels):
    """Mask m = the top ``q`` of weights by s = |Σ over D_f batches of ∇θ CE(θ_o)|; then the
    ``random_labels`` loss, CE(D_f, uniformly random labels) + CE(D_r), with gradients × m.

    Access: full retain. The saliency is taken once, at θ_o, in eval mode, ranked globally over all
    parameters; ``mask_`` holds m and ``log_["mask_sparsity"]`` its fraction of ones (= q). Only
    the weights in m move: weight decay is applied inside the mask too (added to the gradient
    before masking, the optimiser's own decay set to 0), whereas SalUn's code lets the optimiser
    decay every weight. Epochs are counted as in ``random_labels`` (a pass over D_f with D_r
    batches of the same size alongside). Defaults: q = 0.5, lr 0.013, 10 epochs, SGD momentum
    0.9, weight decay 5e-4 (SalUn's setting).

    Example:
        >>> from unlearnkit.methods import make_method
        >>> make_method("salun", {"q": 0.3}).q
        0.3
    """

    access = Access.FULL_RETAIN
    streams = ("forget", "retain")
    _parameter_constraints = {**LOOP_CONSTRAINTS, "q": Interval(float, 0, 1, closed="both")}

    def __init__(self, *, q=0.5, lr=0.013, epochs=10, batch_size=64, momentum=0.9, weight_decay=5e-4, optimizer="sgd"):
        store_params(self, locals())

    def recipe(self):
        return super().recipe().replace(weight_decay=0.0)

    def setup(self, model, *, forget, retain, generator):
        device = next(model.parameters()).device
        s = saliency.gradient_saliency(model, forget, self.batch_size, device)
        mask = saliency.top_fraction_mask(s, self.q)
        self.mask_ = {name: m.cpu() for name, m in mask.items()}
        self._frozen = {name: ~m for name, m in mask.items()}

    def grad_transform(self, model):
        saliency.freeze_gradients(model, self._frozen, self.weight_decay)

    def run(self, model, *, forget, retain, generator, device):
        model = super().run(model, forget=forget, retain=retain, generator=generator, device=device)
        self.log_["mask_sparsity"] = saliency.mask_sparsity(self.mask_)
        return model
