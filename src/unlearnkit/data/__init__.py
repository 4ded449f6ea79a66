"""Datasets, forget specs and splits.

Importing this package registers every built-in dataset loader.
"""

from unlearnkit.data.dataset import Dataset, Subset
from unlearnkit.data.registry import DATASETS, load_dataset
from unlearnkit.data import cifar, csv_table, digits, idx, imagefolder, mnist5k, tiny_imagenet  # noqa: F401  (registration)

__all__ = ["DATASETS", "Dataset", "Subset", "load_dataset"]

from unlearnkit.data.forget import ForgetSpec  # noqa: E402
from unlearnkit.data.split import Split, make_split  # noqa: E402

__all__ += ["ForgetSpec", "Split", "make_split"]
