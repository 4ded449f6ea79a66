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
import hashlib
import math
from numbers import Integral, Real
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import torch

from unlearnkit.data.dataset import Dataset
from unlearnkit.data.subsample import _stratified
from unlearnkit.errors import ConfigError, DataError
from unlearnkit.seeding import numpy_rng

#: The default share of the test part carved out as the held-out slice V when none is given.
DEFAULT_HELDOUT_SIZE = 0.5


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


# ---------------------------------------------------------------------------------- arrays
def _as_array(x: Any, what: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what} cannot be read as an array ({exc}).") from None
    if arr.dtype == object:
        raise DataError(f"{what} must be a numeric array; got Python objects (ragged rows or mixed types?).")
    return arr


def _inputs(x: Any, what: str) -> torch.Tensor:
    arr = _as_array(x, what)
    if arr.ndim < 2:
        raise DataError(f"{what} must have one row per record (shape (N, ...)); got shape {arr.shape}.")
    if arr.dtype == np.uint8:
        return torch.from_numpy(np.ascontiguousarray(arr))
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise DataError(f"{what} must be numeric; got dtype {arr.dtype}.")
    out = arr.astype(np.float32)
    if not np.isfinite(out).all():
        raise DataError(f"{what} holds NaN or infinite values.")
    return torch.from_numpy(np.ascontiguousarray(out))


def _raw_labels(y: Any, what: str) -> list:
    arr = _as_array(y, what) if not isinstance(y, (list, tuple)) else np.asarray(list(y), dtype=object)
    if arr.ndim != 1:
        raise DataError(f"{what} must be one label per record (shape (N,)); got shape {arr.shape}.")
    out = []
    for v in arr.tolist():
        if isinstance(v, bool) or not isinstance(v, (str, Integral, Real)):
            raise DataError(f"{what} must hold integer class indices or class names; got {v!r}.")
        if isinstance(v, Real) and not isinstance(v, Integral):
            if not math.isfinite(v) or v != int(v):
                raise DataError(f"{what} must hold integer class indices or class names; got {v!r}.")
            v = int(v)
        out.append(v)
    return out


def _class_index(parts: list[list], classes: Sequence[str] | None) -> tuple[list[str], dict]:
    """The class names and the label -> index map for labels of all parts.

    Integer labels (or strings that are all integers) are indices themselves; other string labels
    are class names, sorted unless ``classes`` gives their order.
    """
    values = [v for part in parts for v in part]
    if classes is not None:
        names = [str(c) for c in classes]
        if len(set(names)) != len(names):
            raise DataError("classes must not repeat a name.")
        index: dict = {n: k for k, n in enumerate(names)}
        index.update({k: k for k in range(len(names))})
        bad = [v for v in values if (str(v) if isinstance(v, str) else v) not in index]
        if bad:
            raise DataError(f"Label {bad[0]!r} is neither a class of {names} nor an index 0..{len(names) - 1}.")
        return names, index
    as_int = []
    for v in values:
        if isinstance(v, str):
            try:
                v = int(v.strip())
            except ValueError:
                as_int = None
                break
        as_int.append(v)
    if as_int is not None:
        if any(v < 0 for v in as_int):
            raise DataError(f"Integer labels must be class indices >= 0; got {min(as_int)}.")
        n = max(as_int) + 1 if as_int else 0
        index = {v: int(v) if not isinstance(v, str) else int(v.strip()) for v in set(values)}
        return [str(k) for k in range(n)], index
    if any(not isinstance(v, str) for v in values):
        raise DataError("Labels mix class names and integers; give all as one or the other (or pass classes=).")
    names = sorted(set(values))
    return names, {n: k for k, n in enumerate(names)}


def _part(spec: Any, what: str) -> tuple[Any, Any, Any]:
    if isinstance(spec, Dataset):
        return spec.train_x, spec.train_y, spec.train_ids
    if not isinstance(spec, (tuple, list)) or len(spec) not in (2, 3):
        raise ConfigError(f"{what} must be a tuple (x, y) or (x, y, ids), or a Dataset; got {type(spec).__name__}.")
    return spec[0], spec[1], spec[2] if len(spec) == 3 else None


def row_digests(x: torch.Tensor) -> list[bytes]:
    """One SHA-256 digest per row of raw inputs (to find identical records)."""
    flat = x.reshape(len(x), -1).contiguous().numpy()
    return [hashlib.sha256(row.tobytes()).digest() for row in flat]


def check_disjoint(train_x: torch.Tensor, train_ids: Sequence[str] | None, other_x: torch.Tensor,
                   other_ids: Sequence[str] | None, what: str = "held-out") -> None:
    """Refuse ``other`` records that share an ID or an input with a training record.

    A held-out record the model trained on would make D_f look unseen when it is not.

    Raises:
        DataError: naming the first shared ID, or the first record whose input equals a training input.
    """
    if train_ids is not None and other_ids is not None:
        shared = set(train_ids).intersection(other_ids)
        if shared:
            first = next(i for i in other_ids if i in shared)
            raise DataError(
                f"The {what} slice overlaps the training data: {len(shared)} record(s) share an ID with a training "
                f"record, e.g. {first!r}. Held-out records must be records the model never trained on."
            )
    if other_x.dtype != train_x.dtype or tuple(other_x.shape[1:]) != tuple(train_x.shape[1:]):
        return
    seen = set(row_digests(train_x))
    for k, d in enumerate(row_digests(other_x)):
        if d in seen:
            name = f"{other_ids[k]!r}" if other_ids is not None else f"at position {k}"
            raise DataError(
                f"The {what} slice overlaps the training data: record {name} has the same input as a training "
                "record. Held-out records must be records the model never trained on."
            )


def _size(value: Any, n: int, what: str) -> int:
    form = "a count of at least 1 or a fraction in (0, 1]"
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ConfigError(f"{what} must be {form}. Got {value!r} instead.")
    if isinstance(value, Integral):
        if value < 1:
            raise ConfigError(f"{what} must be {form}. Got {value!r} instead.")
        if value > n:
            raise ConfigError(f"{what} asks for {value} records but the test part has only {n}.")
        return int(value)
    if not 0 < value <= 1:
        raise ConfigError(f"{what} must be {form}. Got {value!r} instead.")
    return max(1, int(round(value * n)))


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
    train_x = _inputs(x, "x")
    raw = {"train": _raw_labels(y, "y")}
    parts = {}
    if test is not None:
        tx, ty, tids = _part(test, "test")
        parts["test"] = (_inputs(tx, "the test inputs"), tids)
        raw["test"] = _raw_labels(ty, "the test labels")
    if heldout is not None:
        hx, hy, hids = _part(heldout, "heldout")
        parts["heldout"] = (_inputs(hx, "the held-out inputs"), hids)
        raw["heldout"] = _raw_labels(hy, "the held-out labels")
    channels = train_x.shape[1]
    for what, values in (("mean", mean), ("std", std)):
        if len(tuple(values)) not in (1, channels):
            raise ConfigError(f"{what} must have 1 value or one per channel / feature ({channels}); got {len(tuple(values))}.")
    names, index = _class_index(list(raw.values()), classes)
    labels = {k: torch.tensor([index[v] for v in vals], dtype=torch.int64) for k, vals in raw.items()}
    for part, (px, _) in parts.items():
        if tuple(px.shape[1:]) != tuple(train_x.shape[1:]):
            raise DataError(f"The {part} inputs have shape {tuple(px.shape[1:])} per record; the training inputs "
                            f"have {tuple(train_x.shape[1:])}.")
        if len(px) != len(labels[part]):
            raise DataError(f"The {part} part has {len(px)} inputs and {len(labels[part])} labels.")
    if ids is not None and isinstance(ids, (str, bytes)):
        raise DataError("ids must be a sequence of record IDs, one per record, not a single string.")
    train_ids = None if ids is None else [str(i) for i in (ids.tolist() if hasattr(ids, "tolist") else ids)]

    if "test" in parts:
        test_x, test_ids = parts["test"]
        test_y = labels["test"]
    else:
        test_x, test_ids, test_y = train_x[:0], None, labels["train"][:0]
    test_ids = None if test_ids is None else [str(i) for i in (test_ids.tolist() if hasattr(test_ids, "tolist")
                                                                 else test_ids)]
    val_x = val_y = val_ids = None
    val_note, test_note = "", "given test records" if "test" in parts else "none given"
    if "heldout" in parts:
        val_x, hids = parts["heldout"]
        val_y = labels["heldout"]
        val_ids = None if hids is None else [str(i) for i in (hids.tolist() if hasattr(hids, "tolist") else hids)]
        if val_ids is not None and len(val_ids) != len(val_x):
            raise DataError(f"{len(val_ids)} held-out IDs for {len(val_x)} held-out records; give one ID per record.")
        if train_ids is not None and len(train_ids) != len(train_x):
            raise DataError(f"{name}: {len(train_ids)} train IDs for {len(train_x)} train samples; give exactly one "
                            "ID per sample.")
        check_disjoint(train_x, train_ids, val_x, val_ids)
        val_note = f"the {len(val_x)} held-out records given (checked: none shares an ID or an input with a training record)"
    elif "test" in parts and heldout_size is not None and len(test_y):
        k = _size(heldout_size, len(test_y), "heldout_size")
        carved = _stratified(test_y.numpy(), k, numpy_rng(seed, "heldout", name, k), "heldout_size", name)
        rest = np.setdiff1d(np.arange(len(test_y)), carved)
        val_x, val_y = test_x[carved], test_y[carved]
        val_ids = None if test_ids is None else [test_ids[i] for i in carved]
        test_x, test_y = test_x[rest], test_y[rest]
        test_ids = None if test_ids is None else [test_ids[i] for i in rest]
        val_note = (f"{k} records carved (stratified, seed {seed}) out of the {k + len(rest)} test records; "
                    f"the test set keeps the other {len(rest)}")
        test_note = f"the {len(rest)} given test records not carved into the held-out slice"
    return Dataset(
        name=name, train_x=train_x, train_y=labels["train"], test_x=test_x, test_y=test_y, classes=names,
        scale=float(scale), mean=tuple(float(m) for m in mean), std=tuple(float(s) for s in std),
        test_note=test_note, source=source, val_x=val_x, val_y=val_y, val_note=val_note,
        train_ids=train_ids, test_ids=test_ids, val_ids=val_ids,
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
    hx, hy, hids = _part(heldout, "heldout")
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
