"""A tiny model that memorised its training records: the fixture of the ``--method auto`` tests."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from unlearnkit import Dataset
from unlearnkit.data.dataset import Subset
from unlearnkit.training import Recipe, train

#: The recipe the memorised MLP was trained with (what auto's retrain estimate should be told).
RECIPE = Recipe(epochs=100, lr=0.05, batch_size=32)


def memorised_mlp(data_seed: int) -> tuple[nn.Module, Dataset]:
    """A 2-layer MLP (8 -> 256 -> 3) trained with ``RECIPE`` on 300 records of random labels (IDs ``r0``...),
    with 400 more held out; the data drawn with ``data_seed``, the model with torch seed 0."""
    torch.set_num_threads(1)
    rng = np.random.default_rng(data_seed)
    x, y = rng.normal(size=(700, 8)).astype(np.float32), rng.integers(0, 3, 700)
    ds = Dataset.from_arrays(x[:300], y[:300], [f"r{i}" for i in range(300)], heldout=(x[300:], y[300:]))
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 256), nn.ReLU(), nn.Linear(256, 3))
    train(model, Subset(ds, "train", torch.arange(300)), RECIPE, seed=0)
    return model, ds
