"""SSD: selective synaptic dampening, a retraining-free edit of the weights most specific to D_f.

Reference: Foster, Schoepf and Brintrup, "Fast Machine Unlearning Without Retraining Through
Selective Synaptic Dampening", AAAI 2024. Defaults λ = 1, α = 10 from the paper and its code
(``ParameterPerturber``), which the JiT paper (seed 002) reuses as a baseline.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from unlearnkit.config import Interval, store_params
from unlearnkit.data.dataset import Subset, relabelled_union
from unlearnkit.methods.base import Access, Method
from unlearnkit.methods.registry import METHODS
from unlearnkit.progress import progress_bar
from unlearnkit.training.loop import shuffled_positions


def diagonal_fisher(model: nn.Module, data: Subset, *, batch_size: int, generator: torch.Generator,
                    device: torch.device, description: str = "importances") -> dict[str, torch.Tensor]:
    """The diagonal Fisher importance of every parameter on ``data``: the mean over batches of the
    squared gradient of the batch's mean cross-entropy (the SSD code's estimate).

    The model runs in eval mode (batch-norm statistics and dropout fixed) and its gradients are
    cleared afterwards.
    """
    model.to(device).eval()
    params = {name: p for name, p in model.named_parameters() if p.requires_grad}
    imp = {name: torch.zeros_like(p) for name, p in params.items()}
    batches = list(shuffled_positions(len(data), batch_size, generator))
    with progress_bar(description, len(batches)) as advance:
        for pos in batches:
            x, y = data.batch(pos)
            model.zero_grad(set_to_none=True)
            F.cross_entropy(model(x.to(device)), y.to(device)).backward()
            for name, p in params.items():
                if p.grad is not None:
                    imp[name] += p.grad.detach() ** 2
            advance(1)
    model.zero_grad(set_to_none=True)
    return {name: v / len(batches) for name, v in imp.items()}


def dampen(model: nn.Module, imp_full: dict[str, torch.Tensor], imp_forget: dict[str, torch.Tensor], *,
           alpha: float, lam: float) -> dict[str, int]:
    """Multiply each parameter with imp_f > α·imp_D by min(λ·imp_D / imp_f, 1), in place.

    Returns:
        The number of dampened entries per parameter name.
    """
    counts: dict[str, int] = {}
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name not in imp_full:
                continue
            full, forget = imp_full[name], imp_forget[name]
            selected = forget > alpha * full  # same shape as p
            factor = (lam * full[selected] / forget[selected]).clamp(max=1.0)
            p[selected] = p[selected] * factor
            counts[name] = int(selected.sum())
    return counts


@METHODS.register("ssd")
class SSD(Method):
    """Dampen the parameters that matter far more to D_f than to the whole training set.

    Importances are diagonal Fisher estimates (``diagonal_fisher``) on D = D_f ∪ D_r (shuffled
    together) and on D_f, with the same batch size, so the two are comparable. Every parameter
    entry with imp_f > α·imp_D is multiplied by min(λ·imp_D / imp_f, 1); the rest is untouched.
    No gradient step is taken: the cost is one forward and backward pass over D and one over
    D_f. The fraction of dampened entries is logged as ``dampened_fraction``.

    Access: full retain (D_r is read only to compute imp_D). Defaults: λ = 1 (``lam``, the
    dampening constant) and α = 10 (the selection weighting) from the paper; batch 64 (ours).

    Example:
        >>> from unlearnkit import load_dataset, make_split, build_model, train, get_recipe, unlearn
        >>> split = make_split(load_dataset("digits"), "class:3")
        >>> model = train(build_model("mlp", split.dataset), split.subset("train"), get_recipe("fast"))
        >>> 0 < unlearn(model, split, "ssd").log["dampened_fraction"] < 1
        True
    """

    access = Access.FULL_RETAIN
    _parameter_constraints = {
        "alpha": Interval(float, 0, None, closed="neither"),
        "lam": Interval(float, 0, None, closed="neither"),
        "batch_size": Interval(int, 1, None, closed="left"),
    }

    def __init__(self, *, alpha=10.0, lam=1.0, batch_size=64):
        store_params(self, locals())

    def run(self, model, *, forget, retain, generator, device):
        if retain is None:
            raise ValueError("SSD needs the retain set, which the front door did not give")
        full = relabelled_union(forget, forget.labels, retain)
        imp_full = diagonal_fisher(model, full, batch_size=self.batch_size, generator=generator, device=device,
                                   description="SSD importances on D")
        imp_forget = diagonal_fisher(model, forget, batch_size=self.batch_size, generator=generator, device=device,
                                     description="SSD importances on D_f")
        counts = dampen(model, imp_full, imp_forget, alpha=self.alpha, lam=self.lam)
        total = sum(v.numel() for v in imp_full.values())
        self.importances_ = {"full": imp_full, "forget": imp_forget}
        self.log_ = {"dampened": counts, "dampened_fraction": sum(counts.values()) / max(total, 1)}
        return model
