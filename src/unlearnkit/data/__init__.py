"""Datasets, forget specs and splits.

Importing this package registers every built-in dataset loader.
"""

from unlearnkit.data.dataset import Dataset, Subset
from unlearnkit.data.registry import DATASETS, load_dataset
from unlearnkit.data import digits, mnist5k  # noqa: F401  (registration)

__all__ = ["DATASETS", "Dataset", "Subset", "load_dataset"]
