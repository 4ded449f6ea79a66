"""IU, influence unlearning: one Newton-like step θ ← θ + α·H⁻¹·∇L(D_f), H⁻¹ by WoodFisher.

Reference: Koh and Liang, "Understanding Black-box Predictions via Influence Functions", ICML 2017
and Izzo et al., "Approximate Data Deletion from Machine Learning Models", AISTATS 2021 (the
influence step); as implemented for deep networks, with the WoodFisher inverse-Hessian-vector
product of Singh and Alistarh, "WoodFisher", NeurIPS 2020, by Jia et al., "Model Sparsity Can
Simplify Machine Unlearning", NeurIPS 2023 (the "IU" baseline; code:
github.com/OPTML-Group/Unlearn-Sparse, ``Wfisher``), reused unchanged by SalUn (Fan et al., ICLR
2024). The facts below are those of that code.
"""

from __future__ import annotations

import torch

from unlearnkit.config import Interval, store_params
from unlearnkit.methods import per_sample
from unlearnkit.methods.base import Access, Method
from unlearnkit.methods.registry import METHODS
from unlearnkit.progress import progress_bar


def woodfisher_product(v: torch.Tensor, grads, n: int) -> torch.Tensor:
    """The WoodFisher recursion of the Unlearn-Sparse code, approximating F⁻¹·v.

    F is the empirical Fisher (1/n)·Σ g gᵀ of the per-sample gradients ``grads`` (an iterable of
    flat (P,) tensors, in order). The first gradient only starts the recursion (o = g₁); each
    later g updates, with t = o·g:  k ← k − (k·g / (n + t))·o  and then  o ← o − (t / (n + t))·o.

    Args:
        v: the vector (P,) to multiply; not modified.
        grads: the per-sample gradients of the retain samples, in the order they are used.
        n: the constant of the recursion (the code's ``N``, also its number of samples).

    Returns:
        k, the approximation of F⁻¹·v, shape (P,).
    """
    k = v.clone()
    o = None
    for g in grads:
        if o is None:
            o = g.clone()
            continue
        t = torch.dot(o, g)
        k -= (torch.dot(k, g) / (n + t)) * o
        o -= (t / (n + t)) * o
    return k


@METHODS.register("influence")
class Influence(Method):
    """One step θ ← θ_o + α·k, k = WoodFisher(v), v = (n_f/n)·(ḡ_f − ḡ_r); no training.

    1. ḡ_f and ḡ_r are the mean gradients of the cross-entropy over all of D_f and all of D_r
       at θ_o (eval mode); n_f = |D_f|, n = |D_f| + |D_r|. The code writes v as
       Σ_f ∇ℓ / n − (n_f / (n·n_r))·Σ_r ∇ℓ, which is the same vector.
    2. k approximates F⁻¹·v with ``woodfisher_product`` over the per-sample gradients of
       ``n_samples`` retain samples (``N`` = ``n_samples`` is also the constant of the
       recursion, as in the code, where both are 1000).
    3. Every trainable parameter moves by α·k (its slice); buffers (batch-norm statistics) are
       unchanged.

    Readings: the code takes the first N + 2 retain samples in dataset order (its loop stops
    after index N + 1); here a seeded random N of them (all when |D_r| ≤ N), used in retain-set
    order, so the approximation does not depend on how the retain set happens to be sorted.
    Per-sample gradients are computed ``batch_size`` at a time with ``torch.func`` (the code
    uses batches of 1); ``batch_size`` changes memory and speed, not the result (beyond float
    rounding). The logs hold ‖v‖, ‖α·k‖ and the number of retain samples used.

    Access: full retain. Defaults: α = 0.2 (``alpha``, the code's default ``--alpha``; the papers
    tune α per setting and publish no value), N = 1000 (the code's), batch 256 (the code's
    ``--batch_size`` for the gradient sums).

    Example:
        >>> from unlearnkit.methods import make_method
        >>> make_method("influence", {"alpha": 1.0}).alpha
        1.0
    """

    access = Access.FULL_RETAIN
    _parameter_constraints = {
        "alpha": Interval(float, 0, None, closed="neither"),
        "n_samples": Interval(int, 2, None, closed="left"),
        "batch_size": Interval(int, 1, None, closed="left"),
    }

    def __init__(self, *, alpha=0.2, n_samples=1000, batch_size=256):
        store_params(self, locals())

    def run(self, model, *, forget, retain, generator, device):
        if retain is None:
            raise ValueError("Influence needs the retain set, which the front door did not give")
        model.to(device)
        n_f, n_r = len(forget), len(retain)
        n = n_f + n_r
        sum_f = per_sample.summed_gradient(model, forget, batch_size=self.batch_size, device=device)
        sum_r = per_sample.summed_gradient(model, retain, batch_size=self.batch_size, device=device)
        v = sum_f / n - sum_r * (n_f / (n * n_r))
        if n_r > self.n_samples:
            positions = torch.randperm(n_r, generator=generator)[: self.n_samples].sort().values
        else:
            positions = torch.arange(n_r)
        with progress_bar("Influence (WoodFisher)", len(positions)) as advance:
            def grads():
                for g in per_sample.iter_flat_gradients(model, retain, positions, batch_size=self.batch_size,
                                                        device=device):
                    advance(1)
                    yield g

            k = woodfisher_product(v, grads(), self.n_samples)
        step = self.alpha * k
        per_sample.add_flat_(model, step)
        self.log_ = {"v_norm": float(v.norm()), "step_norm": float(step.norm()), "n_fisher_samples": len(positions)}
        return model
