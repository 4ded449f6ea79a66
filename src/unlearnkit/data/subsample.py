"""Training subsets and the validation slice V, options every dataset accepts.

``load_dataset(name, train_subset=10000)`` keeps a seeded, stratified subset of the training
set and moves the samples it left out into the validation pool; V is drawn from that pool.
``val_size=N`` asks for a V of N samples (stratified); without a subset (or when the subset is
the whole training set) V is carved out of the training set, which then loses those samples.
Either way V is disjoint from the training set the models see and from the test set, and
``Dataset.val_note`` says where it came from. Both options, and ``subset_seed``, are part of the
dataset's fingerprint, so the model store and the run store keep the variants apart.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch

from unlearnkit.data.dataset import Dataset
from unlearnkit.data.stratify import stratified
from unlearnkit.errors import ConfigError
from unlearnkit.seeding import numpy_rng

#: Options ``load_dataset`` handles itself for every dataset (not passed to the loaders).
SUBSAMPLE_OPTIONS = ("train_subset", "val_size", "subset_seed")


def split_subsample_options(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(subsample options, loader options)`` from one dict of dataset options."""
    mine = {k: v for k, v in options.items() if k in SUBSAMPLE_OPTIONS}
    rest = {k: v for k, v in options.items() if k not in SUBSAMPLE_OPTIONS}
    return mine, rest


def subsample(ds: Dataset, *, train_subset: int | float | None = None, val_size: int | float | None = None,
              subset_seed: int = 0) -> Dataset:
    """A copy of ``ds`` restricted to a stratified training subset, with a validation slice.

    Args:
        ds: the full dataset as its loader returns it.
        train_subset: a count (int >= 1) or a fraction in (0, 1] of the training set, drawn per
            class in proportion to the class sizes; ``None`` keeps every training sample.
        val_size: size of V, a count or a fraction in (0, 1) of the training set the models see.
            ``None``: every sample the subset left out (no V when nothing was left out).
        subset_seed: seeds both draws; fixed per dataset variant, independent of the run seed.

    Returns:
        A new ``Dataset`` (the input is unchanged) whose ``val_x``/``val_y`` hold V.

    Raises:
        ConfigError: a size that is not a positive count or a fraction in range, a subset larger
            than the training set or leaving a class without samples, a V that cannot be drawn.

    Example:
        >>> from unlearnkit.data import load_dataset
        >>> ds = subsample(load_dataset("digits"), train_subset=500, subset_seed=0)
        >>> len(ds.train_y), len(ds.val_y)
        (500, 938)
    """
    n = len(ds.train_y)
    _check_seed(subset_seed)
    if train_subset is None and val_size is None:
        return ds
    y = ds.train_y.numpy()
    keep = np.arange(n)
    if train_subset is not None:
        k = _count(train_subset, n, "train_subset", allow_all=True)
        classes = len(np.unique(y))
        if k < classes:
            raise ConfigError(
                f"The 'train_subset' option {train_subset!r} keeps {k} of the {n} training samples of {ds.name!r}, "
                f"fewer than its {classes} classes: it leaves class(es) without any training sample; ask for at "
                f"least {classes} (a fraction of at least "
                f"{math.ceil(classes / n * 1000) / 1000:g}).")
        keep = stratified(y, k, numpy_rng(subset_seed, "train_subset", ds.name, k), "train_subset", ds.name)
    pool = np.setdiff1d(np.arange(n), keep)
    if val_size is None:
        val = pool
        note = (f"the {len(pool)} training-pool samples that train_subset={train_subset} left out"
                if len(pool) else "")
    elif len(pool):
        k = _count(val_size, len(keep), "val_size", allow_all=False, limit=len(pool))
        if k > len(pool):
            raise ConfigError(
                f"The 'val_size' option asks for {k} samples but train_subset={train_subset} left only {len(pool)} "
                f"samples of the training pool of {ds.name!r} out; ask for at most {len(pool)}."
            )
        val = pool[stratified(y[pool], k, numpy_rng(subset_seed, "val", ds.name, k), "val_size", ds.name)]
        note = f"{k} samples drawn (stratified) from the {len(pool)} that train_subset={train_subset} left out"
    else:
        k = _count(val_size, len(keep), "val_size", allow_all=False)
        if k >= len(keep):
            raise ConfigError(
                f"The 'val_size' option asks for {k} samples, which would leave no training sample of {ds.name!r} "
                f"({len(keep)}); ask for fewer."
            )
        carved = stratified(y[keep], k, numpy_rng(subset_seed, "val", ds.name, k), "val_size", ds.name)
        left = np.setdiff1d(np.arange(len(keep)), carved)
        missing = sorted(set(np.unique(y[keep]).tolist()) - set(np.unique(y[keep][left]).tolist()))
        if missing:
            raise ConfigError(
                f"The 'val_size' option ({k}) would carve every training sample of class {missing[0]} "
                f"({ds.classes[missing[0]]!r}) of {ds.name!r} into V; ask for fewer."
            )
        val = keep[carved]
        keep = keep[left]
        note = f"{k} samples carved (stratified) out of the training set, which keeps {len(keep)}"
    keep, val = np.sort(keep), np.sort(val)
    variant = ",".join(f"{k}={v}" for k, v in (("train_subset", train_subset), ("val_size", val_size),
                                                  ("subset_seed", subset_seed)) if v is not None)
    return ds.restricted(torch.from_numpy(keep), torch.from_numpy(val), val_note=note, variant=variant)


def _check_seed(seed: Any) -> None:
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0 or seed.bit_length() > 63:
        raise ConfigError(f"The 'subset_seed' option must be an int in [0, 2**63). Got {_shown(seed)} instead.")


def _shown(value: Any) -> str:
    """``repr(value)``, or its size for an int too long to print in a message."""
    if isinstance(value, Integral) and not isinstance(value, bool) and abs(int(value)).bit_length() > 200:
        return f"a number of about {int(abs(int(value)).bit_length() * math.log10(2)) + 1} digits"
    return repr(value)


def _count(value: Any, n: int, name: str, *, allow_all: bool, limit: int | None = None) -> int:
    """A count from ``value`` (an int >= 1, or a fraction of ``n``); counts above ``limit`` (default
    ``n``) are left to the caller."""
    upper = "(0, 1]" if allow_all else "(0, 1)"
    form = f"a count of at least 1 or a fraction in {upper}"
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ConfigError(f"The '{name}' option must be {form}. Got {_shown(value)} instead.")
    if isinstance(value, Integral):
        k = int(value)
        if k <= 0:
            raise ConfigError(f"The '{name}' option must be {form}. Got {_shown(value)} instead.")
        if k > n and limit is None:
            raise ConfigError(f"The '{name}' option asks for {_shown(k)} samples but the training set has only {n}.")
        return k
    frac = float(value)
    if not (0 < frac < 1 or (allow_all and frac == 1)):
        raise ConfigError(f"The '{name}' option must be {form}. Got {value!r} instead.")
    return max(1, int(round(frac * n)))
