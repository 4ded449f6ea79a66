"""Input checks and numerically stable probability helpers shared by the metric functions.

Everything is computed in float64 from logits; callers may pass torch tensors or numpy arrays.
"""

from __future__ import annotations

import numpy as np
import torch

from unlearnkit.errors import ConfigError


def as_logits(logits, name: str = "logits") -> torch.Tensor:
    """``logits`` as a finite float64 CPU tensor of shape (n, C) with C >= 1."""
    t = torch.as_tensor(np.asarray(logits) if not isinstance(logits, torch.Tensor) else logits)
    t = t.detach().to(device="cpu", dtype=torch.float64)
    if t.dim() != 2 or t.shape[1] < 1:
        raise ConfigError(f"{name} must be a 2-D array of shape (samples, classes); got shape {tuple(t.shape)}.")
    if not bool(torch.isfinite(t).all()):
        raise ConfigError(f"{name} contain NaN or infinite values; metrics need finite logits.")
    return t


def as_labels(labels, n: int, num_classes: int, name: str = "labels") -> torch.Tensor:
    """``labels`` as an int64 CPU tensor of length ``n`` with values in ``[0, num_classes)``."""
    y = torch.as_tensor(np.asarray(labels) if not isinstance(labels, torch.Tensor) else labels)
    y = y.detach().to("cpu")
    if y.dim() != 1 or len(y) != n:
        raise ConfigError(f"{name} must be a 1-D array with one label per row of the logits ({n}); got shape {tuple(y.shape)}.")
    if y.dtype.is_floating_point or y.dtype == torch.bool:
        raise ConfigError(f"{name} must be integers; got dtype {y.dtype}.")
    y = y.to(torch.int64)
    if n and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ConfigError(f"{name} must lie in [0, {num_classes - 1}]; found [{int(y.min())}, {int(y.max())}].")
    return y


def require_nonempty(n: int, what: str) -> None:
    if n == 0:
        raise ConfigError(f"{what} is empty; the metric needs at least one sample.")


def log_probs(z: torch.Tensor) -> torch.Tensor:
    """Row-wise log-softmax (float64)."""
    return torch.log_softmax(z, dim=1)


def entropy_rows(z: torch.Tensor) -> torch.Tensor:
    """Shannon entropy (nats) of softmax(z) per row; 0·log 0 counts as 0."""
    logp = log_probs(z)
    p = logp.exp()
    return -(p * logp).sum(dim=1)


def log_one_minus_probs(z: torch.Tensor) -> torch.Tensor:
    """log(1 − p_k) for every entry of p = softmax(z), accurate also when p_k is close to 1.

    For every column that is not the row's arg-max, p_k <= 1/2 and ``log1p(-p_k)`` is accurate.
    For the arg-max column, log(1 − p_k) = logsumexp_{j≠k} z_j − logsumexp_j z_j exactly.
    """
    p = log_probs(z).exp()
    out = torch.log1p(-p)
    rows = torch.arange(z.shape[0])
    k = z.argmax(dim=1)
    masked = z.clone()
    masked[rows, k] = -torch.inf
    out[rows, k] = torch.logsumexp(masked, dim=1) - torch.logsumexp(z, dim=1)
    return out
