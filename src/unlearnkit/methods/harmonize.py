"""Gradient harmonisation: remove the part of one gradient that conflicts with another.

Reference: the Gradient Harmonization step of LTU (Huang et al., "Learning to Unlearn for Robust
Machine Unlearning", ECCV 2024; seed 003), a projection in the style of PCGrad (Yu et al.,
"Gradient Surgery for Multi-Task Learning", NeurIPS 2020) for the symmetric form.
"""

from __future__ import annotations

import torch

from unlearnkit.errors import ConfigError

MODES = ("one_sided", "symmetric")


def _project_out(g: torch.Tensor, onto: torch.Tensor, dot: torch.Tensor) -> torch.Tensor:
    """g − (⟨g, onto⟩ / ‖onto‖²)·onto; g itself when ``onto`` is zero."""
    norm_sq = onto.dot(onto)
    if norm_sq == 0:
        return g
    return g - (dot / norm_sq) * onto


def harmonize(g_f: torch.Tensor, g_r: torch.Tensor, mode: str = "one_sided") -> tuple[torch.Tensor, torch.Tensor]:
    """Resolve a conflict between a forgetting gradient ``g_f`` and a remembering gradient ``g_r``.

    When ⟨g_f, g_r⟩ < 0 (the two disagree), ``one_sided`` replaces g_f by its projection onto the
    normal plane of g_r, g_f − (⟨g_f, g_r⟩ / ‖g_r‖²)·g_r, and keeps g_r, so the update g_r + g_f
    no longer undoes remembering; ``symmetric`` also projects g_r onto the normal plane of the
    original g_f. Aligned or orthogonal gradients (⟨g_f, g_r⟩ ≥ 0) and zero vectors are returned
    unchanged.

    Args:
        g_f: flattened forgetting gradient, shape (P,).
        g_r: flattened remembering gradient, shape (P,).
        mode: ``"one_sided"`` (LTU's rule) or ``"symmetric"``.

    Returns:
        ``(g_f', g_r')``, new tensors of shape (P,).

    Example:
        >>> import torch
        >>> harmonize(torch.tensor([1.0, -1.0]), torch.tensor([0.0, 1.0]))
        (tensor([1., 0.]), tensor([0., 1.]))
    """
    if mode not in MODES:
        raise ConfigError(f"Unknown harmonisation mode {mode!r}. Valid modes: {', '.join(MODES)}.")
    if g_f.shape != g_r.shape or g_f.dim() != 1:
        raise ValueError(f"harmonize needs two flat gradients of the same length; got {tuple(g_f.shape)} and {tuple(g_r.shape)}")
    dot = g_f.dot(g_r)
    if dot >= 0:
        return g_f.clone(), g_r.clone()
    new_f = _project_out(g_f, g_r, dot)
    new_r = _project_out(g_r, g_f, dot) if mode == "symmetric" else g_r.clone()
    return new_f, new_r
