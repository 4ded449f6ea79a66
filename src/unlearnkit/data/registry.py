"""The dataset registry and ``load_dataset``, the one way to get a ``Dataset`` by name."""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Callable

from unlearnkit.data.dataset import Dataset
from unlearnkit.data.subsample import SUBSAMPLE_OPTIONS, split_subsample_options, subsample
from unlearnkit.errors import ConfigError
from unlearnkit.registry import Registry

#: name -> loader ``(data_dir: Path | None, download: bool, **options) -> Dataset``
DATASETS: Registry[Callable[..., Dataset]] = Registry("dataset")

_CACHE: dict[tuple, Dataset] = {}


def load_dataset(name: str, *, data_dir: str | os.PathLike | None = None, download: bool = False, **options) -> Dataset:
    """Load a registered dataset by name.

    Args:
        name: a name from ``DATASETS`` (``unlearnkit list datasets``).
        data_dir: where the dataset's files are, for datasets read from local files.
        download: fetch the files first when the dataset has a canonical public URL.
        **options: loader-specific options (e.g. ``label_column`` for ``csv``), and the options
            every dataset takes: ``train_subset`` (a count or a fraction of the training set,
            stratified), ``val_size`` (the validation slice V) and ``subset_seed``; see
            ``unlearnkit.data.subsample``.

    Returns:
        The ``Dataset``; loading the same arguments twice in one process returns the cached object.

    Example:
        >>> ds = load_dataset("digits")
        >>> ds.num_classes, ds.input_shape
        (10, (1, 8, 8))
    """
    loader = DATASETS.get(name)
    valid = [p.name for p in inspect.signature(loader).parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    for key in options:
        if key not in valid and key not in SUBSAMPLE_OPTIONS:
            raise ConfigError(
                f"Unknown option {key!r} for dataset {name!r}. Valid options: {', '.join(valid + list(SUBSAMPLE_OPTIONS))}."
            )
    sub_options, loader_options = split_subsample_options(options)
    dir_key = str(data_dir) if data_dir is not None else None
    full_key = (name, dir_key, download, tuple(sorted(loader_options.items())))
    if full_key not in _CACHE:
        _CACHE[full_key] = loader(Path(data_dir) if data_dir is not None else None, download, **loader_options)
    if not sub_options:
        return _CACHE[full_key]
    key = full_key + (tuple(sorted(sub_options.items())),)
    if key not in _CACHE:
        _CACHE[key] = subsample(_CACHE[full_key], **sub_options)
    return _CACHE[key]
