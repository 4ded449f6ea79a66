"""Forward passes for the page: logits, penultimate features and per-layer Gram matrices.

The penultimate features are the input of the model's last ``nn.Linear`` (its classification head
in every built-in architecture). The layers of the similarity view are the model's ``nn.Linear``
and ``nn.Conv2d`` modules, in module order; each layer's output on a sample becomes a centred
Gram matrix at once, so no activation is kept.
"""

from __future__ import annotations

import torch
from torch import nn

from unlearnkit.data.dataset import Subset

#: Records per forward batch.
BATCH = 256


def last_linear(model: nn.Module) -> nn.Linear | None:
    """The model's last ``nn.Linear`` module in module order (its head), or ``None``.

    Example:
        >>> m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        >>> last_linear(m) is m[2]
        True
    """
    found = None
    for module in model.modules():
        if isinstance(module, nn.Linear):
            found = module
    return found


def layer_names(model: nn.Module) -> list[str]:
    """The names of the layers compared by linear CKA: every ``nn.Linear`` and ``nn.Conv2d``, in order.

    Example:
        >>> layer_names(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)))
        ['0', '2']
    """
    return [name for name, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


@torch.no_grad()
def logits_and_features(model: nn.Module, subset: Subset) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Logits (float64) and penultimate features (float32) of every record of ``subset``.

    Returns:
        ``(logits (n, C), features (n, d))``; features are ``None`` when the model has no ``nn.Linear``.
    """
    head = last_linear(model)
    captured: list[torch.Tensor] = []
    hook = head.register_forward_hook(lambda _m, inp, _out: captured.append(inp[0].detach().flatten(1))) \
        if head is not None else None
    model.eval()
    logits = []
    try:
        for start in range(0, len(subset), BATCH):
            x, _ = subset.batch(slice(start, start + BATCH))  # (B, *input_shape)
            logits.append(model(x).double())  # (B, C)
    finally:
        if hook is not None:
            hook.remove()
    z = torch.cat(logits) if logits else torch.zeros(0, subset.num_classes, dtype=torch.float64)
    feats = torch.cat(captured).float() if captured else None  # (n, d)
    return z, feats


def _centred_gram(x: torch.Tensor) -> torch.Tensor:
    x = x.flatten(1).double()  # (n, D)
    x = x - x.mean(0, keepdim=True)
    return x @ x.T  # (n, n)


@torch.no_grad()
def layer_grams(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Centred Gram matrices ``(n, n)`` of each layer's output (``layer_names``) on inputs ``x``."""
    grams: dict[str, torch.Tensor] = {}
    modules = dict(model.named_modules())
    hooks = []
    for name in layer_names(model):
        def hook(_m, _inp, out, name=name):
            grams[name] = _centred_gram(out)
        hooks.append(modules[name].register_forward_hook(hook))
    model.eval()
    try:
        model(x)
    finally:
        for h in hooks:
            h.remove()
    return grams


def linear_cka(gram_a: torch.Tensor, gram_b: torch.Tensor) -> float:
    """Linear CKA of two representations from their centred Gram matrices (Kornblith et al., 2019).

    CKA = <K_a, K_b>_F / (||K_a||_F ||K_b||_F): 1 for representations equal up to rotation and scale.

    Example:
        >>> x = torch.randn(20, 5, generator=torch.Generator().manual_seed(0))
        >>> round(linear_cka(_centred_gram(x), _centred_gram(2 * x)), 6)
        1.0
    """
    num = float((gram_a * gram_b).sum())
    den = float(gram_a.norm() * gram_b.norm())
    return num / den if den > 0 else float("nan")


__all__ = ["BATCH", "last_linear", "layer_grams", "layer_names", "linear_cka", "logits_and_features"]
