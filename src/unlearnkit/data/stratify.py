"""Stratified draws: ``k`` positions of a label vector, per class in proportion to its size."""

from __future__ import annotations

import numpy as np

from unlearnkit.errors import ConfigError


def stratified(y: np.ndarray, k: int, rng: np.random.Generator, name: str, dataset: str) -> np.ndarray:
    """Positions of ``k`` samples of ``y`` drawn per class in proportion (largest remainder), sorted.

    Args:
        y: integer labels, (N,).
        k: how many positions to draw, 1..N.
        rng: the seeded generator of the draw.
        name: the option asking for the draw (``"train_subset"`` refuses to leave a class empty).
        dataset: the dataset's name, for messages.

    Example:
        >>> stratified(np.array([0, 0, 1, 1]), 2, np.random.default_rng(0), "val_size", "toy").shape
        (2,)
    """
    classes, counts = np.unique(y, return_counts=True)
    quota = counts * (k / len(y))
    take = np.floor(quota).astype(int)
    short = k - int(take.sum())
    if short:
        order = np.argsort(-(quota - take), kind="stable")
        take[order[:short]] += 1
    empty = classes[(take == 0) & (counts > 0)]
    if len(empty) and name == "train_subset":
        raise ConfigError(
            f"The 'train_subset' option ({k}) leaves class {int(empty[0])} of {dataset!r} without any training "
            f"sample; ask for at least {len(classes)} samples."
        )
    picked = [rng.choice(np.flatnonzero(y == c), size=t, replace=False) for c, t in zip(classes, take) if t]
    return np.sort(np.concatenate(picked))
