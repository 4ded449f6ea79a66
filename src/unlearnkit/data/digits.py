"""scikit-learn's bundled 8x8 digits (1797 images, 10 classes): the default, offline dataset."""

from __future__ import annotations

import numpy as np
import torch

from unlearnkit.data.dataset import Dataset
from unlearnkit.data.holdout import HOLDOUT_FRACTION, stratified_holdout
from unlearnkit.data.registry import DATASETS


@DATASETS.register("digits")
def load_digits(data_dir=None, download=False) -> Dataset:
    """scikit-learn digits: 1797 grey 8x8 images, 10 classes, bundled (the default dataset).

    Digits has no official test split: a fixed stratified 20% hold-out (seed 20240101) is the test set.
    """
    from sklearn.datasets import load_digits as sk_load

    bunch = sk_load()
    x = np.asarray(bunch.images, dtype=np.uint8).reshape(-1, 1, 8, 8)  # (1797, 1, 8, 8), values 0..16
    y = np.asarray(bunch.target, dtype=np.int64)
    tr, te = stratified_holdout(y)
    train_x = torch.from_numpy(x[tr])
    mean = float(train_x.float().div(16).mean())
    std = float(train_x.float().div(16).std())
    return Dataset(
        name="digits",
        train_x=train_x,
        train_y=torch.from_numpy(y[tr]),
        test_x=torch.from_numpy(x[te]),
        test_y=torch.from_numpy(y[te]),
        classes=[str(i) for i in range(10)],
        scale=16.0,
        mean=(mean,),
        std=(std,),
        test_note=f"fixed stratified {int(HOLDOUT_FRACTION * 100)}% hold-out (no official test split)",
        source="sklearn.datasets.load_digits",
    )
