"""Per-sample gradients of the cross-entropy, shared by ``influence`` (WoodFisher) and ``fisher``.

Reference: the per-sample gradients of the WoodFisher step of Jia et al., "Model Sparsity Can
Simplify Machine Unlearning", NeurIPS 2023 (code: github.com/OPTML-Group/Unlearn-Sparse,
``Wfisher``) and of the Fisher information of Golatkar et al., "Eternal Sunshine of the Spotless
Net", CVPR 2020 (code: github.com/AdityaGolatkar/SelectiveForgetting), both of which loop over
the samples one at a time; here ``torch.func.vmap`` computes a batch of them in one call, with the
same result.

Every function runs the model in eval mode (batch-norm running statistics, no dropout), as both
sources do, and restores its mode afterwards; weights, buffers and ``.grad`` are left unchanged.

Example:
    >>> import torch
    >>> model = torch.nn.Linear(3, 2)
    >>> g = per_sample_gradients(model, torch.randn(4, 3), torch.tensor([0, 1, 1, 0]))
    >>> [tuple(t.shape) for t in g]
    [(4, 2, 3), (4, 2)]
"""

from __future__ import annotations

from typing import Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from unlearnkit.data.dataset import Subset


def trainable(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """``(name, parameter)`` for every parameter with ``requires_grad``, in model order."""
    return [(name, p) for name, p in model.named_parameters() if p.requires_grad]


def per_sample_gradients(model: nn.Module, x: torch.Tensor, targets: torch.Tensor) -> list[torch.Tensor]:
    """∇θ CE(f_θ(x_i), t_i) for every sample i, one tensor (B, *shape) per trainable parameter.

    Args:
        model: the classifier (eval mode is set for the call and restored afterwards).
        x: a batch of inputs, on the model's device.
        targets: one class index per sample (the true label, or any class for Fisher sums).
    """
    named = trainable(model)
    names = [name for name, _ in named]
    params = tuple(p.detach() for _, p in named)
    buffers = {name: b for name, b in model.named_buffers()}

    def loss_one(theta: tuple[torch.Tensor, ...], xi: torch.Tensor, ti: torch.Tensor) -> torch.Tensor:
        logits = functional_call(model, ({**dict(zip(names, theta)), **buffers}), (xi.unsqueeze(0),))  # (1, C)
        return F.cross_entropy(logits, ti.unsqueeze(0))

    was_training = model.training
    model.eval()
    try:
        grads = vmap(grad(loss_one), in_dims=(None, 0, 0))(params, x, targets)
    finally:
        model.train(was_training)
    return [g.detach() for g in grads]


def flatten(grads: list[torch.Tensor]) -> torch.Tensor:
    """Per-parameter per-sample gradients (B, *shape) to one matrix (B, P), parameters in model order."""
    return torch.cat([g.reshape(g.shape[0], -1) for g in grads], dim=1)


def iter_flat_gradients(model: nn.Module, data: Subset, positions: torch.Tensor, *, batch_size: int,
                        device: torch.device) -> Iterator[torch.Tensor]:
    """The flattened per-sample gradient (P,) of every sample at ``positions`` of ``data``, in order,
    computed ``batch_size`` samples at a time on the true labels."""
    for chunk in positions.split(batch_size):
        x, y = data.batch(chunk)
        flat = flatten(per_sample_gradients(model, x.to(device), y.to(device)))  # (B, P)
        yield from flat


def summed_gradient(model: nn.Module, data: Subset, *, batch_size: int, device: torch.device) -> torch.Tensor:
    """Σ over every sample of ``data`` of ∇θ CE(θ; x, y), flattened (P,), with the model in eval mode."""
    named = trainable(model)
    total = torch.zeros(sum(p.numel() for _, p in named), device=device)
    was_training = model.training
    model.eval()
    try:
        for pos in torch.arange(len(data)).split(batch_size):
            x, y = data.batch(pos)
            loss = F.cross_entropy(model(x.to(device)), y.to(device), reduction="sum")
            grads = torch.autograd.grad(loss, [p for _, p in named], allow_unused=True)
            total += torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for g, (_, p) in zip(grads, named)])
    finally:
        model.train(was_training)
    return total


def add_flat_(model: nn.Module, delta: torch.Tensor) -> None:
    """θ += delta in place, ``delta`` flattened over the trainable parameters in model order."""
    start = 0
    with torch.no_grad():
        for _, p in trainable(model):
            n = p.numel()
            p.add_(delta[start:start + n].view_as(p))
            start += n
    if start != delta.numel():
        raise ValueError(f"delta has {delta.numel()} entries but the model has {start} trainable weights")
