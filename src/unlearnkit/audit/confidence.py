"""Logit-scaled confidence, the per-model statistic of the per-example audits (METRICS.md step 1).

Everything is plain numpy in float64; torch tensors are accepted and copied to the CPU first.
"""

from __future__ import annotations

import numpy as np

from unlearnkit.errors import ConfigError


def _to_numpy(x) -> np.ndarray:
    """``x`` as a numpy array; torch tensors (any device) are detached and copied to the CPU."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _float_array(x, name: str, *, ndim: int | None = None, finite: bool = True, nonempty: bool = True) -> np.ndarray:
    """``x`` as a float64 array, checked for its number of dimensions, emptiness and NaN/inf."""
    a = _to_numpy(x)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        raise ConfigError(f"{name} must be numeric; got dtype {a.dtype}.")
    a = a.astype(np.float64, copy=False)
    if ndim is not None and a.ndim != ndim:
        raise ConfigError(f"{name} must be a {ndim}-D array; got shape {a.shape}.")
    if nonempty and a.size == 0:
        raise ConfigError(f"{name} is empty; at least one value is needed.")
    if finite and not np.all(np.isfinite(a)):
        raise ConfigError(f"{name} contain NaN or infinite values.")
    if not finite and np.any(np.isnan(a)):
        raise ConfigError(f"{name} contain NaN values.")
    return a


def logit_scaled_confidence(logits, labels) -> np.ndarray:
    """Logit-scaled confidence ``s = log p_y − log Σ_{k≠y} p_k`` of every row, computed stably.

    With ``p = softmax(z)`` the normaliser cancels, so ``s = z_y − logsumexp_{k≠y} z_k`` exactly;
    this is what is computed (float64), so ``s`` stays finite and accurate when ``p_y → 1`` (large
    positive ``s``) and when ``p_y → 0`` (large negative ``s``), where the textbook
    ``log(p) − log(1 − p)`` overflows or cancels.

    Args:
        logits: array of shape ``(..., n, C)`` with ``C >= 2`` classes, e.g. ``(n, C)`` for one model
            or ``(N, n, C)`` for a stack of ``N`` models; numpy or torch, any float dtype.
        labels: integer labels in ``[0, C)``, shape ``(n,)`` or any shape that broadcasts to
            ``logits.shape[:-1]``.

    Returns:
        float64 array of shape ``logits.shape[:-1]``.

    Raises:
        ConfigError: fewer than two classes, non-finite logits, non-integer labels, labels out of
            range, or shapes that do not broadcast.

    Example:
        >>> import math
        >>> s = logit_scaled_confidence([[math.log(3.0), 0.0, 0.0]], [0])
        >>> round(float(s[0]), 12) == round(math.log(0.6 / 0.4), 12)
        True
    """
    z = _float_array(logits, "logits", nonempty=False)
    if z.ndim < 2:
        raise ConfigError(f"logits must have shape (..., samples, classes); got shape {z.shape}.")
    num_classes = z.shape[-1]
    if num_classes < 2:
        raise ConfigError(
            f"logits need at least 2 classes for a logit-scaled confidence (the sum over k != y is empty); got {num_classes}."
        )
    y = _to_numpy(labels)
    if y.dtype == np.bool_ or not np.issubdtype(y.dtype, np.integer):
        raise ConfigError(f"labels must be integers; got dtype {y.dtype}.")
    try:
        y = np.broadcast_to(y.astype(np.int64), z.shape[:-1])
    except ValueError:
        raise ConfigError(
            f"labels of shape {y.shape} do not match logits of shape {z.shape} (need one label per row)."
        ) from None
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ConfigError(f"labels must lie in [0, {num_classes - 1}]; found [{int(y.min())}, {int(y.max())}].")

    idx = y[..., None]
    z_y = np.take_along_axis(z, idx, axis=-1)[..., 0]
    others = z.copy()
    np.put_along_axis(others, idx, -np.inf, axis=-1)
    m = others.max(axis=-1)  # finite: at least one other class
    lse_others = m + np.log(np.exp(others - m[..., None]).sum(axis=-1))
    return z_y - lse_others
