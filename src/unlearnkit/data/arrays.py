"""Arrays to records: checked inputs, labels and parts, and the ``Dataset`` they build.

The checking and conversion behind ``Dataset.from_arrays`` and ``unlearnkit.data.records``:
inputs become float32 tensors (``uint8`` images stay ``uint8``), labels become class indices,
test and held-out parts are checked against the training part, and the held-out slice V is
carved (stratified, seeded) out of the test part when none is given. This module knows the
``Dataset`` class only as the ``cls`` it is handed, so ``data/dataset.py`` can build on it
without an import circle.
"""

from __future__ import annotations

import hashlib
import math
from numbers import Integral, Real
from typing import Any, Sequence

import numpy as np
import torch

from unlearnkit.data.stratify import stratified
from unlearnkit.errors import ConfigError, DataError
from unlearnkit.seeding import numpy_rng

#: The default share of the test part carved out as the held-out slice V when none is given.
DEFAULT_HELDOUT_SIZE = 0.5


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


def _part(spec: Any, what: str, dataset_cls: type | None = None) -> tuple[Any, Any, Any]:
    """``(x, y, ids)`` of a part given as ``(x, y)``, ``(x, y, ids)`` or a ``dataset_cls`` (its training part)."""
    if dataset_cls is not None and isinstance(spec, dataset_cls):
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


def build_dataset(
    cls: type,
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
) -> Any:
    """An instance of ``cls`` (the ``Dataset`` class) from arrays; the work of ``records.from_arrays``.

    The arguments are those of ``unlearnkit.data.records.from_arrays``, which documents them.

    Example:
        >>> from unlearnkit.data.dataset import Dataset
        >>> ds = build_dataset(Dataset, np.zeros((4, 3)), [0, 1, 0, 1], ids=["a", "b", "c", "d"])
        >>> ds.train_ids[:2], ds.num_classes
        (('a', 'b'), 2)
    """
    train_x = _inputs(x, "x")
    raw = {"train": _raw_labels(y, "y")}
    parts = {}
    for key, spec, what in (("test", test, "the test"), ("heldout", heldout, "the held-out")):
        if spec is not None:
            px, py, pids = _part(spec, key, cls)
            parts[key] = (_inputs(px, f"{what} inputs"), pids)
            raw[key] = _raw_labels(py, f"{what} labels")
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
    train_ids = _id_list(ids)
    if "test" in parts:
        test_x, test_ids = parts["test"]
        test = (test_x, labels["test"], _id_list(test_ids))
    else:
        test = (train_x[:0], labels["train"][:0], None)
    (test_x, test_y, test_ids), val, val_note, test_note = _held_out_slice(
        train_x, train_ids, test, parts, labels, heldout_size, seed, name)
    val_x, val_y, val_ids = val
    return cls(
        name=name, train_x=train_x, train_y=labels["train"], test_x=test_x, test_y=test_y, classes=names,
        scale=float(scale), mean=tuple(float(m) for m in mean), std=tuple(float(s) for s in std),
        test_note=test_note, source=source, val_x=val_x, val_y=val_y, val_note=val_note,
        train_ids=train_ids, test_ids=test_ids, val_ids=val_ids,
    )


def _id_list(ids: Any) -> list[str] | None:
    return None if ids is None else [str(i) for i in (ids.tolist() if hasattr(ids, "tolist") else ids)]


def _held_out_slice(train_x: torch.Tensor, train_ids: list[str] | None, test: tuple, parts: dict, labels: dict,
                    heldout_size: Any, seed: int, name: str) -> tuple[tuple, tuple, str, str]:
    """``(test part, V, val_note, test_note)``: V given (checked disjoint), carved from the test part, or none."""
    test_x, test_y, test_ids = test
    val_note, test_note = "", "given test records" if "test" in parts else "none given"
    if "heldout" in parts:
        val_x, hids = parts["heldout"]
        val_ids = _id_list(hids)
        if val_ids is not None and len(val_ids) != len(val_x):
            raise DataError(f"{len(val_ids)} held-out IDs for {len(val_x)} held-out records; give one ID per record.")
        if train_ids is not None and len(train_ids) != len(train_x):
            raise DataError(f"{name}: {len(train_ids)} train IDs for {len(train_x)} train samples; give exactly one "
                            "ID per sample.")
        check_disjoint(train_x, train_ids, val_x, val_ids)
        val_note = f"the {len(val_x)} held-out records given (checked: none shares an ID or an input with a training record)"
        return test, (val_x, labels["heldout"], val_ids), val_note, test_note
    if "test" not in parts or heldout_size is None or not len(test_y):
        return test, (None, None, None), val_note, test_note
    k = _size(heldout_size, len(test_y), "heldout_size")
    carved = stratified(test_y.numpy(), k, numpy_rng(seed, "heldout", name, k), "heldout_size", name)
    rest = np.setdiff1d(np.arange(len(test_y)), carved)
    val = (test_x[carved], test_y[carved], None if test_ids is None else [test_ids[i] for i in carved])
    test = (test_x[rest], test_y[rest], None if test_ids is None else [test_ids[i] for i in rest])
    val_note = (f"{k} records carved (stratified, seed {seed}) out of the {k + len(rest)} test records; "
                f"the test set keeps the other {len(rest)}")
    test_note = f"the {len(rest)} given test records not carved into the held-out slice"
    return test, val, val_note, test_note
