"""A fixed, seeded, stratified train/test hold-out for datasets published without a test split."""

from __future__ import annotations

import numpy as np

HOLDOUT_SEED = 20240101
HOLDOUT_FRACTION = 0.2


def stratified_holdout(y: np.ndarray, fraction: float = HOLDOUT_FRACTION, seed: int = HOLDOUT_SEED):
    """Indices ``(train, test)`` with ``fraction`` of every class held out; fixed for a dataset.

    The seed is a constant of the dataset, not of a run: every run sees the same test set.
    """
    rng = np.random.default_rng(seed)
    test = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        test.append(idx[: int(round(fraction * len(idx)))])
    test_idx = np.sort(np.concatenate(test))
    train_idx = np.setdiff1d(np.arange(len(y)), test_idx)
    return train_idx, test_idx
