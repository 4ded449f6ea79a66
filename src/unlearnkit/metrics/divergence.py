"""Divergences and entropies of output distributions, and the weight distance to the golden model.

All in natural log (nats). Pure functions of logits (or of parameter tensors for
``weight_distance``); building the random model for ``zrf`` is ``evaluate``'s job.
"""

from __future__ import annotations

from typing import Mapping

import torch

from unlearnkit.errors import ConfigError
from unlearnkit.metrics._common import as_logits, entropy_rows, require_nonempty


def js_divergence_probs(p, q) -> torch.Tensor:
    """Jensen–Shannon divergence (natural log) between rows of two probability arrays.

    ``JS(p, q) = ½ KL(p ‖ m) + ½ KL(q ‖ m)``, ``m = (p + q) / 2``, with ``0 · log 0 = 0``; each value
    lies in [0, ln 2].

    Example:
        >>> round(float(js_divergence_probs([[1.0, 0.0]], [[0.0, 1.0]])[0]), 6)  # ln 2
        0.693147
    """
    p = torch.as_tensor(p, dtype=torch.float64)
    q = torch.as_tensor(q, dtype=torch.float64)
    if p.shape != q.shape or p.dim() != 2:
        raise ConfigError(f"p and q must be 2-D arrays of equal shape; got {tuple(p.shape)} and {tuple(q.shape)}.")
    m = 0.5 * (p + q)
    kl_pm = (torch.xlogy(p, p) - torch.xlogy(p, m)).sum(dim=1)
    kl_qm = (torch.xlogy(q, q) - torch.xlogy(q, m)).sum(dim=1)
    return (0.5 * (kl_pm + kl_qm)).clamp_min(0.0)


def js_divergence(logits_p, logits_q) -> torch.Tensor:
    """Per-row JS divergence (natural log) between softmax(logits_p) and softmax(logits_q)."""
    zp = as_logits(logits_p, "logits_p")
    zq = as_logits(logits_q, "logits_q")
    if zp.shape != zq.shape:
        raise ConfigError(f"both logits must have the same shape; got {tuple(zp.shape)} and {tuple(zq.shape)}.")
    return js_divergence_probs(torch.softmax(zp, dim=1), torch.softmax(zq, dim=1))


def js_to_golden(forget_logits, golden_forget_logits) -> float:
    """``js_to_golden``: mean over D_f of JS(p_θ(x), p_θg(x)) in nats; 0 is ideal.

    Example:
        >>> js_to_golden([[0.0, 0.0], [1.0, 2.0]], [[0.0, 0.0], [1.0, 2.0]])
        0.0
    """
    js = js_divergence(forget_logits, golden_forget_logits)
    require_nonempty(len(js), "D_f")
    return float(js.mean())


def zrf(forget_logits, random_forget_logits) -> float:
    """``zrf`` (zero retrain forgetting): 1 − mean over D_f of JS(p_θ(x), p_rand(x)).

    Textbook JS with natural log, so the value lies in [1 − ln 2, 1]; 1 means the model answers
    like the randomly initialised one on D_f.

    Example:
        >>> zrf([[0.0, 0.0]], [[0.0, 0.0]])
        1.0
    """
    js = js_divergence(forget_logits, random_forget_logits)
    require_nonempty(len(js), "D_f")
    return 1.0 - float(js.mean())


def forget_entropy(forget_logits) -> float:
    """``forget_entropy``: mean entropy (nats) of p over D_f.

    Example:
        >>> round(forget_entropy([[0.0, 0.0], [0.0, 0.0]]), 6)  # ln 2
        0.693147
    """
    h = entropy_rows(as_logits(forget_logits, "forget logits"))
    require_nonempty(len(h), "D_f")
    return float(h.mean())


def _named_parameters(obj) -> dict[str, torch.Tensor]:
    if isinstance(obj, torch.nn.Module):
        return {k: v.detach() for k, v in obj.named_parameters()}
    if isinstance(obj, Mapping):
        return {str(k): torch.as_tensor(v).detach() for k, v in obj.items()}
    raise ConfigError(f"expected an nn.Module or a mapping name -> tensor; got {type(obj).__name__}.")


def weight_distance(params, golden_params) -> float:
    """``weight_distance`` = ‖θ_u − θ_g‖₂ / ‖θ_g‖₂ over all parameters (buffers excluded).

    Only meaningful when both models started from the same initialisation (otherwise it mostly
    measures the distance between two random initialisations).

    Args:
        params, golden_params: ``nn.Module`` (its ``named_parameters()``) or a mapping name ->
            tensor; names and shapes must match.

    Example:
        >>> import torch
        >>> weight_distance({"w": torch.tensor([3.0, 4.0])}, {"w": torch.tensor([0.0, 4.0])})
        0.75
    """
    a = _named_parameters(params)
    b = _named_parameters(golden_params)
    if a.keys() != b.keys():
        diff = sorted(set(a) ^ set(b))
        raise ConfigError(f"weight_distance needs models of the same architecture; parameters differ: {diff[:5]}.")
    num = torch.zeros((), dtype=torch.float64)
    den = torch.zeros((), dtype=torch.float64)
    for name, ta in a.items():
        tb = b[name]
        if ta.shape != tb.shape:
            raise ConfigError(
                f"weight_distance: parameter {name!r} has shape {tuple(ta.shape)} vs {tuple(tb.shape)} in the golden model."
            )
        ta64 = ta.to(device="cpu", dtype=torch.float64)
        tb64 = tb.to(device="cpu", dtype=torch.float64)
        num += ((ta64 - tb64) ** 2).sum()
        den += (tb64**2).sum()
    if float(den) == 0.0:
        raise ConfigError("weight_distance: the golden model's parameters have zero norm.")
    return float(num.sqrt() / den.sqrt())
