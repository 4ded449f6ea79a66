"""Records with IDs: a ``Dataset`` from your own arrays, a torch dataset or files, and ID look-ups.

A deployed model's training data is a set of *records*, each with an ID that deletion requests
name. This module builds a ``Dataset`` whose ``train_ids`` are those IDs:

- ``from_arrays(x, y, ids, test=..., heldout=...)``: numpy arrays, torch tensors or lists;
- ``from_torch_dataset(ds, ids=...)``: any map-style ``torch.utils.data.Dataset`` of ``(x, y)``
  (or ``(x, y, id)``) items;
- ``read_records(path)`` (in ``unlearnkit.data.record_files``): ``.npz``, CSV or Parquet with an
  ID column, and image folders (the relative path is the ID).

Inputs are handed to the model as stored, as float32 (``uint8`` images divided by ``scale``):
preprocess them the way the model was trained, or give ``scale``, ``mean`` and ``std``.

**The held-out slice V.** Golden-free evidence (METRICS.md) compares the deleted records with
records the model never trained on. They are the ``heldout`` records you give (checked: no ID and no
input shared with a training record), or, by default, a stratified, seeded part
(``heldout_size``, half unless told) carved out of the test part; the rest of the test part stays
the test set. ``Dataset.val_note`` says which. A model's *training* records are never used as V:
the model saw them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import torch

from unlearnkit.data.arrays import (
    DEFAULT_HELDOUT_SIZE, _as_array, _inputs, _part, _raw_labels, build_dataset, check_disjoint, row_digests,
)
from unlearnkit.data.dataset import Dataset
from unlearnkit.errors import ConfigError, DataError

__all__ = [
    "DEFAULT_HELDOUT_SIZE", "check_disjoint", "check_request_ids", "drop_train", "from_arrays", "from_torch_dataset",
    "read_ids_file", "resolve_ids", "row_digests", "with_heldout",
]


# ------------------------------------------------------------------------------------- IDs
def check_request_ids(ids: Iterable[Any], what: str = "The deletion request") -> tuple[str, ...]:
    """IDs of a request as strings, checked: at least one, none blank, none repeated.

    Example:
        >>> check_request_ids(["u1", 7])
        ('u1', '7')
    """
    if isinstance(ids, (str, bytes)):
        raise ConfigError(f"{what} must be a list of record IDs, not a single string ({str(ids)[:40]!r}).")
    out = tuple(str(i).strip() for i in ids)
    if not out:
        raise ConfigError(f"{what} is empty: it names no record ID.")
    blank = [k for k, i in enumerate(out) if not i]
    if blank:
        raise ConfigError(f"{what} has a blank ID (entry {blank[0] + 1}).")
    seen: dict[str, int] = {}
    for k, i in enumerate(out):
        if i in seen:
            raise ConfigError(f"{what} names ID {i!r} twice (entries {seen[i] + 1} and {k + 1}); each ID once.")
        seen[i] = k
    return out


def read_ids_file(path: str | Path) -> tuple[str, ...]:
    """Record IDs from a text file, one per line (surrounding spaces and blank lines ignored).

    Raises:
        ConfigError: a missing or non-text file, an empty file, or an ID listed twice (with its lines).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "request.txt"
        >>> _ = p.write_text("u17\\n\\n u42 \\n")
        >>> read_ids_file(p)
        ('u17', 'u42')
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"ID file {str(path)!r} does not exist" + (" (it is a directory)." if p.is_dir() else "."))
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"ID file {str(path)!r} is not UTF-8 text (one record ID per line).") from None
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1)]
    ids = [(n, i) for n, i in lines if i]
    if not ids:
        raise ConfigError(f"ID file {str(path)!r} is empty: it names no record ID (one ID per line).")
    first: dict[str, int] = {}
    for n, i in ids:
        if i in first:
            raise ConfigError(f"ID file {str(path)!r} lists ID {i!r} twice (lines {first[i]} and {n}); each ID once.")
        first[i] = n
    return tuple(i for _, i in ids)


def resolve_ids(dataset: Dataset, ids: Sequence[str], part: str = "train") -> np.ndarray:
    """Positions in ``part`` of the records named by ``ids`` (in the order given).

    Raises:
        ConfigError: the dataset has no IDs, or some ID does not exist (the first few are named).

    Example:
        >>> ds = Dataset.from_arrays(np.zeros((3, 2)), [0, 1, 0], ids=["a", "b", "c"])
        >>> resolve_ids(ds, ["c", "a"]).tolist()
        [2, 0]
    """
    known = dataset.ids(part)
    index = {i: k for k, i in enumerate(known)}
    ids = check_request_ids(ids)
    missing = [i for i in ids if i not in index]
    if missing:
        shown = ", ".join(repr(i) for i in missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise ConfigError(
            f"{len(missing)} of the {len(ids)} IDs do not exist among the {len(known)} {part} records of "
            f"{dataset.name!r}: {shown}."
        )
    return np.asarray([index[i] for i in ids], dtype=np.int64)


# --------------------------------------------------------------------------- building
def from_arrays(
    x: Any,
    y: Any,
    ids: Sequence[Any] | None = None,
    *,
    classes: Sequence[str] | None = None,
    test: Any = None,
    heldout: Any = None,
    heldout_size: int | float | None = DEFAULT_HELDOUT_SIZE,
    seed: int = 0,
    name: str = "arrays",
    scale: float = 1.0,
    mean: Sequence[float] = (0.0,),
    std: Sequence[float] = (1.0,),
    source: str = "",
) -> Dataset:
    """A ``Dataset`` of your own records: the training data of your model, with IDs.

    Args:
        x: inputs, one row per record: (N, F) features or (N, C, H, W) images; numpy, torch or
            nested lists. ``uint8`` stays ``uint8`` (divided by ``scale`` when used); anything else
            becomes float32.
        y: labels, (N,): class indices (ints) or class names (strings, sorted into indices unless
            ``classes`` gives the order).
        ids: record IDs, one per record, unique (strings; ints are turned into strings).
        classes: class names in logit order; default the indices' names, or the sorted names.
        test: test records the model never trained on, ``(x, y)`` or ``(x, y, ids)``.
        heldout: the held-out slice V, records the model never trained on, ``(x, y[, ids])`` or a
            ``Dataset`` (its training part). Checked: no shared ID or input with ``x``.
        heldout_size: without ``heldout``, carve V (stratified, seeded) out of ``test``: a count or
            a fraction of it; ``None`` carves nothing (no V).
        seed: seeds the carving of V.
        name: the dataset's name in messages and reports.
        scale, mean, std: inputs given to the model are ``(raw / scale - mean) / std`` per channel
            (images) or per feature (tabular); the defaults give raw values as float32.
        source: where the records came from (a file name), for reports.

    Returns:
        The ``Dataset``: training part = ``x``; test part = ``test`` minus V; V with ``val_note``.

    Raises:
        DataError: mismatched lengths or shapes, bad labels, repeated or blank IDs, a held-out
            record that is also a training record.
        ConfigError: a bad ``heldout_size``.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> ds = from_arrays(rng.normal(size=(100, 4)), rng.integers(0, 3, 100), ids=[f"r{i}" for i in range(100)],
        ...                  test=(rng.normal(size=(40, 4)), rng.integers(0, 3, 40)))
        >>> len(ds.train_y), len(ds.test_y), len(ds.val_y), ds.train_ids[0]
        (100, 20, 20, 'r0')
    """
    return build_dataset(
        Dataset, x, y, ids, classes=classes, test=test, heldout=heldout, heldout_size=heldout_size, seed=seed,
        name=name, scale=scale, mean=mean, std=std, source=source,
    )


def from_torch_dataset(dataset: Any, ids: Sequence[Any] | None = None, **kwargs: Any) -> Dataset:
    """A ``Dataset`` from any map-style ``torch.utils.data.Dataset`` of ``(x, y)`` or ``(x, y, id)`` items.

    Every item is read once (``len(dataset)`` items by index) and stacked; ``test=`` and
    ``heldout=`` may be torch datasets too. Other keyword arguments are those of ``from_arrays``.

    Args:
        dataset: indexable, with ``len()``; each item ``(x, y)`` or ``(x, y, id)`` (tensors, arrays or numbers).
        ids: record IDs, one per item; default the items' third element, else none.

    Example:
        >>> import torch
        >>> tds = torch.utils.data.TensorDataset(torch.zeros(6, 3), torch.tensor([0, 1, 0, 1, 0, 1]))
        >>> from_torch_dataset(tds, ids=[f"r{i}" for i in range(6)]).train_ids[-1]
        'r5'
    """
    x, y, found = _stack(dataset, "the dataset")
    for key in ("test", "heldout"):
        part = kwargs.get(key)
        if part is not None and not isinstance(part, (tuple, list, Dataset)):
            px, py, pids = _stack(part, f"the {key} dataset")
            kwargs[key] = (px, py) if pids is None else (px, py, pids)
    return from_arrays(x, y, ids if ids is not None else found, **kwargs)


def _stack(dataset: Any, what: str) -> tuple[np.ndarray, list, list | None]:
    try:
        n = len(dataset)
    except TypeError:
        raise ConfigError(f"{what} must be a map-style torch Dataset (with len() and indexing); got "
                          f"{type(dataset).__name__}.") from None
    xs, ys, ids = [], [], []
    for k in range(n):
        item = dataset[k]
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            raise DataError(f"Item {k} of {what} must be (x, y) or (x, y, id); got {type(item).__name__}"
                            + (f" of length {len(item)}" if isinstance(item, (tuple, list)) else "") + ".")
        xs.append(_as_array(item[0], f"item {k}'s input"))
        label = item[1]
        ys.append(label.item() if isinstance(label, torch.Tensor) else label)
        if len(item) == 3:
            ids.append(item[2])
    if ids and len(ids) != n:
        raise DataError(f"Some items of {what} carry an ID and some do not.")
    shapes = {a.shape for a in xs}
    if len(shapes) > 1:
        raise DataError(f"The inputs of {what} differ in shape: {sorted(shapes)[:2]}.")
    x = np.stack(xs) if xs else np.zeros((0, 1), dtype=np.float32)
    return x, ys, (ids or None)


def drop_train(dataset: Dataset, positions: Sequence[int] | np.ndarray) -> Dataset:
    """A copy of ``dataset`` without the training records at ``positions`` (test part and V kept).

    Example:
        >>> ds = Dataset.from_arrays(np.zeros((3, 2)), [0, 1, 0], ids=["a", "b", "c"])
        >>> drop_train(ds, [1]).train_ids
        ('a', 'c')
    """
    drop = np.zeros(len(dataset.train_y), dtype=bool)
    drop[np.asarray(positions, dtype=np.int64)] = True
    keep = torch.from_numpy(np.flatnonzero(~drop))
    coarse = dataset.coarse_train_y
    return dataclasses.replace(
        dataset, train_x=dataset.train_x[keep], train_y=dataset.train_y[keep],
        coarse_train_y=None if coarse is None else coarse[keep],
        train_ids=None if dataset.train_ids is None else _take(dataset.train_ids, keep),
    )


def _take(ids: Sequence[str], index: torch.Tensor) -> tuple[str, ...]:
    return tuple(ids[int(i)] for i in index)


def with_heldout(dataset: Dataset, heldout: Any) -> Dataset:
    """A copy of ``dataset`` whose validation slice V is ``heldout``: ``(x, y)``, ``(x, y, ids)`` or a
    ``Dataset`` (its training records), labelled with ``dataset``'s class indices (or names).

    Raises:
        DataError: a held-out record shares an ID or an input with a training record, or its
            shape or labels do not fit the dataset.

    Example:
        >>> ds = Dataset.from_arrays(np.eye(3), [0, 1, 0], ids=["a", "b", "c"])
        >>> len(with_heldout(ds, (np.ones((2, 3)), [1, 0])).val_y)
        2
    """
    hx, hy, hids = _part(heldout, "heldout", Dataset)
    x = _inputs(hx, "the held-out inputs")
    names = dataset.classes
    index: dict = {n: k for k, n in enumerate(names)}
    index.update({k: k for k in range(len(names))})
    labels = []
    for v in _raw_labels(hy, "the held-out labels"):
        key = v
        if isinstance(v, str) and v not in index:
            try:
                key = int(v.strip())
            except ValueError:
                pass
        if key not in index:
            raise DataError(f"Held-out label {v!r} is neither a class of {dataset.name!r} ({', '.join(names)}) "
                            f"nor an index 0..{len(names) - 1}.")
        labels.append(index[key])
    if tuple(x.shape[1:]) != tuple(dataset.train_x.shape[1:]):
        raise DataError(f"The held-out inputs have shape {tuple(x.shape[1:])} per record; the training inputs have "
                        f"{tuple(dataset.train_x.shape[1:])}.")
    if len(labels) != len(x):
        raise DataError(f"The held-out part has {len(x)} inputs and {len(labels)} labels.")
    ids = None if hids is None else [str(i) for i in (hids.tolist() if hasattr(hids, "tolist") else hids)]
    check_disjoint(dataset.train_x, dataset.train_ids, x, ids)
    if x.dtype != dataset.train_x.dtype:
        x = x.to(dataset.train_x.dtype) if dataset.train_x.dtype.is_floating_point else x
    return dataclasses.replace(
        dataset, val_x=x, val_y=torch.tensor(labels, dtype=torch.int64), val_ids=ids, coarse_val_y=None,
        val_note=f"the {len(x)} held-out records given (checked: none shares an ID or an input with a training record)",
    )
