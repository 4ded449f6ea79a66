"""Weight saliency and saliency masks, shared by ``rbm`` and ``salun``.

Reference: Fan et al., "SalUn: Empowering Machine Unlearning via Gradient-based Weight Saliency",
ICLR 2024 (saliency from the forget loss); Ding et al., "Understanding Fine-tuning in Approximate
Unlearning: A Theoretical Perspective", 2024 (seed 000/001: retention mask from the retain loss).

A mask is a ``dict`` from parameter name (as in ``model.named_parameters()``) to a bool tensor of
the parameter's shape; ``True`` marks a salient weight.

Example:
    >>> import torch
    >>> s = {"a": torch.tensor([3.0, 1.0]), "b": torch.tensor([[2.0, 0.0]])}
    >>> m = top_fraction_mask(s, 0.5)
    >>> m["a"].tolist(), m["b"].tolist(), mask_sparsity(m)
    ([True, False], [[True, False]], 0.5)
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from unlearnkit.data.dataset import Subset

Mask = dict[str, torch.Tensor]


def gradient_saliency(model: nn.Module, subset: Subset, batch_size: int, device: torch.device | str) -> dict[str, torch.Tensor]:
    """s = |Σ over the batches of ``subset`` of ∇θ CE(θ; x, y)|, per trainable parameter.

    The model is put in eval mode (batch-norm running statistics, no dropout) and its mode is
    restored afterwards; its weights, buffers and ``.grad`` are left unchanged. Batches are taken
    in order, so the result does not depend on any random state. Each batch contributes the
    gradient of its *summed* cross-entropy, so s is the gradient of the total loss over the
    subset: independent of ``batch_size`` and, since only the ranking of s is used, the same
    mask as summing batch-mean gradients (SalUn's code) whenever the batches are equal-sized.

    Returns:
        ``{name: saliency}`` for every parameter with ``requires_grad``, on ``device``.
    """
    was_training = model.training
    model.eval()
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    total = [torch.zeros_like(p) for _, p in named]
    try:
        for pos in torch.arange(len(subset)).split(batch_size):
            x, y = subset.batch(pos)
            loss = F.cross_entropy(model(x.to(device)), y.to(device), reduction="sum")
            grads = torch.autograd.grad(loss, [p for _, p in named], allow_unused=True)
            for acc, g in zip(total, grads):
                if g is not None:
                    acc.add_(g)
    finally:
        model.train(was_training)
    return {name: acc.abs_() for (name, _), acc in zip(named, total)}


def top_fraction_mask(saliency: dict[str, torch.Tensor], q: float) -> Mask:
    """The top ``q`` fraction of all weights by saliency, ranked globally over every parameter.

    Exactly ``round(q · N)`` of the N weights are marked (half-up rounding); ties are broken
    deterministically by position: parameters in the order of ``saliency`` (the model's
    ``named_parameters`` order), then flat index within a parameter.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be in [0, 1], got {q!r}")
    names = list(saliency)
    flat = torch.cat([saliency[n].detach().reshape(-1).float() for n in names]) if names else torch.zeros(0)
    k = int(math.floor(q * flat.numel() + 0.5))
    order = torch.sort(flat, descending=True, stable=True).indices
    keep = torch.zeros(flat.numel(), dtype=torch.bool, device=flat.device)
    keep[order[:k]] = True
    mask, start = {}, 0
    for n in names:
        size = saliency[n].numel()
        mask[n] = keep[start:start + size].reshape(saliency[n].shape)
        start += size
    return mask


def mask_sparsity(mask: Mask) -> float:
    """The fraction of weights that are 1 (``True``) in ``mask``."""
    total = sum(m.numel() for m in mask.values())
    return float(sum(int(m.sum()) for m in mask.values())) / total if total else 0.0


def freeze_gradients(model: nn.Module, frozen: Mask, weight_decay: float = 0.0) -> None:
    """Apply L2 weight decay to the gradients, then zero the gradients of ``frozen`` weights.

    Use it as a ``grad_transform`` with the optimiser's own ``weight_decay`` set to 0: the decay
    added here (``grad += weight_decay · θ``, the coupled L2 that SGD and Adam apply) then reaches
    only the weights that move, and a frozen weight gets a gradient of exactly 0 at every step,
    so SGD with momentum and Adam both leave it bit-identical.
    """
    for name, p in model.named_parameters():
        if p.grad is None:
            continue
        if weight_decay:
            p.grad.add_(p.detach(), alpha=weight_decay)
        if name in frozen:
            p.grad.masked_fill_(frozen[name], 0.0)
