"""The four losses of the theory lab, all mean squared errors.

- ``remaining`` (RL): on the training set D_r.
- ``unlearning`` (UL): on the forget set D_f (the golden model's UL is the target: a model that
  forgot should predict D_f as badly as a model that never saw it).
- ``gen_remaining``: on fresh samples of the remaining distribution (support S_o ∪ S_r).
- ``gen_forget``: on fresh samples of the forget distribution (support S_f ∪ S_o).

The test labels carry the same label noise as the training labels, so with noise σ the best
possible generalisation loss is about σ².
"""

from __future__ import annotations

import numpy as np

from unlearnkit.theory.data import TheoryData

LOSS_NAMES = ("remaining", "unlearning", "gen_remaining", "gen_forget")


def mse(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Mean squared error of w on (X, y): mean((Xw − y)²). X (m, d), y (m,), w (d,).

    Example:
        >>> mse(np.eye(2), np.array([1.0, 3.0]), np.array([1.0, 1.0]))
        2.0
    """
    r = X @ w - y  # (m,)
    return float(np.mean(r * r))


def all_losses(data: TheoryData, w: np.ndarray) -> dict[str, float]:
    """The four losses of weights ``w`` (d,) on ``data``, keyed by ``LOSS_NAMES``.

    Example:
        >>> from unlearnkit.theory import TheoryConfig, sample_data
        >>> data = sample_data(TheoryConfig(d=30, n_f=2, n_r=3, size_f=4, size_o=0, size_r=5))
        >>> losses = all_losses(data, np.zeros(30))     # the zero model's UL is the mean of y_f²
        >>> bool(np.isclose(losses["unlearning"], np.mean(data.y_f ** 2)))
        True
    """
    return {
        "remaining": mse(data.X_r, data.y_r, w),
        "unlearning": mse(data.X_f, data.y_f, w),
        "gen_remaining": mse(data.Xt_r, data.yt_r, w),
        "gen_forget": mse(data.Xt_f, data.yt_f, w),
    }
