"""The five models of the theory lab in closed form, and finite-step gradient descent.

Gradient descent on the squared loss L(w) = ‖Xw − y‖² / (2n) started at w0 stays in
w0 + row(X); when X (n × d, n < d) has full row rank it converges to the interpolator closest to
w0, ``gd_limit(X, y, w0) = (I − P)·w0 + X⁺y`` with P = X⁺X the projection onto row(X). Every
model is such a limit:

============  =======================  ==================================================
model         start w0                 data
============  =======================  ==================================================
original      0                        D = D_f ∪ D_r  -> w_o = X⁺y
finetune      w_o                      D_r            -> (I − P_r)·w_o + X_r⁺y_r
golden        0                        D_r            -> X_r⁺y_r
rbm           m_r ⊙ w_o                D_r            -> (I − P_r)(m_r ⊙ w_o) + X_r⁺y_r
fbm           (1 − m_f) ⊙ w_o          D_r            -> (I − P_r)((1 − m_f) ⊙ w_o) + X_r⁺y_r
============  =======================  ==================================================

m_r[j] = 1 iff column j of X_r is non-zero (the coordinates the remaining loss depends on:
S_o ∪ S_r, the retention saliency); m_f[j] = 1 iff column j of X_f is non-zero (S_f ∪ S_o, the
forgetting saliency of SalUn). Because w_o already interpolates D_r, ``finetune`` returns w_o
itself (fine-tuning does not move it) and ``rbm`` returns m_r ⊙ w_o (masking S_f keeps every
remaining prediction); the formulas are computed as written all the same.
"""

from __future__ import annotations

import numpy as np

from unlearnkit.errors import ConfigError
from unlearnkit.theory.data import TheoryData, pseudo_inverse

MODEL_NAMES = ("original", "finetune", "golden", "rbm", "fbm")


def gd_limit(X: np.ndarray, y: np.ndarray, w0: np.ndarray, X_pinv: np.ndarray | None = None) -> np.ndarray:
    """The limit of gradient descent on ‖Xw − y‖² started at ``w0``: (I − P)·w0 + X⁺y.

    Args:
        X: (n, d) design matrix.
        y: (n,) labels.
        w0: (d,) starting point.
        X_pinv: (d, n) X⁺ if already computed.

    Returns:
        (d,) the interpolator of (X, y) nearest to ``w0`` (when X has full row rank).

    Example:
        >>> X = np.array([[1.0, 0.0]]); y = np.array([2.0])
        >>> gd_limit(X, y, np.array([5.0, 7.0])).tolist()   # the first coordinate is refit, the second kept
        [2.0, 7.0]
    """
    X_pinv = pseudo_inverse(X) if X_pinv is None else X_pinv  # (d, n)
    return w0 - X_pinv @ (X @ w0) + X_pinv @ y  # (I − P)w0 + X⁺y without forming the d × d P


def original(data: TheoryData) -> np.ndarray:
    """w_o = X⁺y, the minimum-norm interpolator of D (the limit of gradient descent from 0). (d,)"""
    return data.X_pinv @ data.y


def finetune(data: TheoryData, w_o: np.ndarray | None = None) -> np.ndarray:
    """w_ft = (I − P_r)·w_o + X_r⁺y_r, gradient descent on D_r from w_o run to convergence. (d,)"""
    w_o = original(data) if w_o is None else w_o
    return gd_limit(data.X_r, data.y_r, w_o, data.X_r_pinv)


def golden(data: TheoryData) -> np.ndarray:
    """w_g = X_r⁺y_r, retrained from scratch (from 0) on D_r only. (d,)"""
    return data.X_r_pinv @ data.y_r


def retention_mask(data: TheoryData) -> np.ndarray:
    """(d,) m_r: 1.0 where a column of X_r is non-zero (S_o ∪ S_r), else 0.0."""
    return np.any(data.X_r != 0, axis=0).astype(float)


def forget_mask(data: TheoryData) -> np.ndarray:
    """(d,) m_f: 1.0 where a column of X_f is non-zero (S_f ∪ S_o), else 0.0."""
    return np.any(data.X_f != 0, axis=0).astype(float)


def rbm(data: TheoryData, w_o: np.ndarray | None = None) -> np.ndarray:
    """Retention-based masking: start from m_r ⊙ w_o, fine-tune on D_r to convergence. (d,)

    Closed form (I − P_r)(m_r ⊙ w_o) + X_r⁺y_r. In the distinct case this is exactly w_g.
    """
    w_o = original(data) if w_o is None else w_o
    return gd_limit(data.X_r, data.y_r, retention_mask(data) * w_o, data.X_r_pinv)


def fbm(data: TheoryData, w_o: np.ndarray | None = None) -> np.ndarray:
    """Forgetting-based masking (the SalUn analogue): zero S_f ∪ S_o of w_o, then fine-tune on D_r. (d,)

    Closed form (I − P_r)((1 − m_f) ⊙ w_o) + X_r⁺y_r.
    """
    w_o = original(data) if w_o is None else w_o
    return gd_limit(data.X_r, data.y_r, (1.0 - forget_mask(data)) * w_o, data.X_r_pinv)


def closed_form_models(data: TheoryData) -> dict[str, np.ndarray]:
    """The five models' weights, each (d,), keyed by ``MODEL_NAMES``.

    Example:
        >>> from unlearnkit.theory import TheoryConfig, sample_data
        >>> w = closed_form_models(sample_data(TheoryConfig(d=40, n_f=3, n_r=5, size_f=6, size_o=0, size_r=10)))
        >>> bool(np.allclose(w["rbm"], w["golden"]))   # distinct features: RBM is the golden model
        True
    """
    w_o = original(data)
    return {"original": w_o, "finetune": finetune(data, w_o), "golden": golden(data),
            "rbm": rbm(data, w_o), "fbm": fbm(data, w_o)}


def default_lr(X: np.ndarray) -> float:
    """1 / λ_max(XᵀX / n): the step size ``gradient_descent`` uses when none is given."""
    n = X.shape[0]
    return n / float(np.linalg.norm(X, 2) ** 2)


def gradient_descent(
    X: np.ndarray, y: np.ndarray, w0: np.ndarray, lr: float | None = None, steps: int = 1000
) -> np.ndarray:
    """Finite-step gradient descent on L(w) = ‖Xw − y‖² / (2n), full batch, from ``w0``.

    Each step is w ← w − lr · Xᵀ(Xw − y) / n. For 0 < lr < 2 / λ_max(XᵀX / n) the iterates
    converge linearly to ``gd_limit(X, y, w0)`` = (I − P)·w0 + X⁺y.

    Args:
        X: (n, d) design matrix.
        y: (n,) labels.
        w0: (d,) starting point (not modified).
        lr: step size; default ``default_lr(X)`` = 1 / λ_max(XᵀX / n).
        steps: number of steps (0 returns a copy of ``w0``).

    Returns:
        (d,) the weights after ``steps`` steps.

    Example:
        >>> X = np.array([[1.0, 1.0]]); y = np.array([2.0])
        >>> gradient_descent(X, y, np.zeros(2), steps=50).round(6).tolist()
        [1.0, 1.0]
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ConfigError(f"The 'steps' parameter of gradient_descent must be an int in [0, inf). Got {steps!r} instead.")
    lr = default_lr(X) if lr is None else lr
    if not (isinstance(lr, (int, float)) and not isinstance(lr, bool) and np.isfinite(lr) and lr > 0):
        raise ConfigError(f"The 'lr' parameter of gradient_descent must be a float in (0, inf). Got {lr!r} instead.")
    n = X.shape[0]
    w = np.array(w0, dtype=float)  # (d,)
    for _ in range(steps):
        w -= (lr / n) * (X.T @ (X @ w - y))
    return w


def gd_models(data: TheoryData, steps: int, lr: float | None = None) -> dict[str, np.ndarray]:
    """The five models trained by ``steps`` steps of gradient descent each, instead of to the limit.

    The original model is GD on D from 0; the fine-tuned, RBM and FBM models start from that
    finite-step original (masked for RBM and FBM) and run GD on D_r; the golden model is GD on
    D_r from 0. ``lr`` applies to every run (default: ``default_lr`` of the run's own X). As
    ``steps`` grows each approaches its closed form in ``closed_form_models``.

    Example:
        >>> from unlearnkit.theory import TheoryConfig, sample_data
        >>> data = sample_data(TheoryConfig(d=40, n_f=3, n_r=5, size_f=6, size_o=4, size_r=10))
        >>> exact, approx = closed_form_models(data), gd_models(data, steps=3000)
        >>> max(float(np.abs(approx[m] - exact[m]).max()) for m in MODEL_NAMES) < 1e-6
        True
    """
    d = data.X.shape[1]
    w_o = gradient_descent(data.X, data.y, np.zeros(d), lr, steps)
    on_r = lambda w0: gradient_descent(data.X_r, data.y_r, w0, lr, steps)  # noqa: E731
    return {"original": w_o, "finetune": on_r(w_o), "golden": on_r(np.zeros(d)),
            "rbm": on_r(retention_mask(data) * w_o), "fbm": on_r((1.0 - forget_mask(data)) * w_o)}
