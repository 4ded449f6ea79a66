"""Tabular classification data from CSV files (RFC 4180, as written by pandas or a spreadsheet).

The first row must be a header. One column (``label_column``, default ``label``) holds the class
of each row -- integers or strings; every other column is a numeric feature. Files::

    <data_dir>/train.csv      required
    <data_dir>/test.csv       optional; the same columns in any order

or a single file given with the ``path`` option. Without ``test.csv`` the test set is the fixed
stratified hold-out of ``data/holdout.py``. Classes are the sorted distinct labels (numerically
when every label is an integer). Features are stored as float32 (N, F) and normalised with the
per-feature mean and std of the training rows (a constant feature gets std 1).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np
import torch

from unlearnkit.data.class_order import parse_classes, shown
from unlearnkit.data.dataset import Dataset
from unlearnkit.data.holdout import HOLDOUT_FRACTION, stratified_holdout
from unlearnkit.data.registry import DATASETS
from unlearnkit.errors import ConfigError, DataError


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_table(path: str | Path, label_column: str = "label") -> tuple[list[str], np.ndarray, list[str]]:
    """Read one CSV file into (feature column names, float64 features (N, F), label strings).

    Blank lines are skipped; line numbers in errors count the header as line 1.

    Raises:
        DataError: naming the file, line and column, for a missing header or label column, a
            row with the wrong number of fields, or a feature that is not a finite number.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
        >>> _ = p.write_text("a,b,label\\n1,2,cat\\n3,4,dog\\n")
        >>> names, x, y = read_table(p)
        >>> names, x.shape, y
        (['a', 'b'], (2, 2), ['cat', 'dog'])
    """
    names, x, labels, _ = read_table_with_ids(path, label_column)
    return names, x, labels


def read_table_with_ids(path: str | Path, label_column: str = "label",
                        id_column: str | None = None) -> tuple[list[str], np.ndarray, list[str], list[str] | None]:
    """``read_table`` that also returns the ``id_column`` (record IDs as strings, or ``None`` without one).

    The ID column is not a feature. A missing ID column, or an empty ID, is a ``DataError``.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
        >>> _ = p.write_text("id,a,label\\nu1,1,cat\\nu2,3,dog\\n")
        >>> read_table_with_ids(p, id_column="id")[3]
        ['u1', 'u2']
    """
    path = Path(path)
    f = _open_csv(path)
    with f:
        reader = csv.reader(f)
        try:
            header = [h.strip() for h in next(reader, [])]
            columns = _column_indices(path, header, label_column, id_column)
            rows, labels, ids = _read_rows(reader, path, header, columns, label_column, id_column)
        except csv.Error as e:
            raise DataError(f"CSV file {path}, line {reader.line_num}: {e}") from None
        except UnicodeDecodeError as e:
            raise DataError(f"CSV file {path} is not UTF-8 text: {e}") from None
    if not rows:
        raise DataError(f"CSV file {path} has a header but no data rows.")
    names = [header[i] for i in columns.features]
    return names, np.asarray(rows, dtype=np.float64), labels, (ids if columns.id >= 0 else None)


class _Columns(NamedTuple):
    """Where the label, the record IDs (-1 without an ID column) and the features sit in a row."""

    label: int
    id: int
    features: list[int]


def _open_csv(path: Path) -> IO[str]:
    """``path`` opened as UTF-8 text for ``csv.reader`` (a leading BOM is dropped)."""
    try:
        return open(path, newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"CSV file {path} does not exist.") from None
    except OSError as e:
        raise DataError(f"Cannot open CSV file {path}: {e}") from None


def _column_indices(path: Path, header: list[str], label_column: str, id_column: str | None) -> _Columns:
    """Check the header row (present, not all numbers, no duplicates, label / ID columns there and
    distinct, at least one feature) and locate its columns."""
    if not any(header):
        raise DataError(f"CSV file {path} is empty; expected a header row naming the columns.")
    if all(_is_number(h) for h in header):
        raise DataError(
            f"CSV file {path} has no header row (its first line is all numbers); the first line must "
            f"name the columns, one of them {label_column!r}."
        )
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise DataError(f"CSV file {path}: duplicate column names {shown(map(repr, dupes))}.")
    if label_column not in header:
        raise DataError(
            f"CSV file {path} has no label column {label_column!r}; columns are {shown(header)}. "
            "Choose one with label_column=."
        )
    li = header.index(label_column)
    if id_column is not None and id_column not in header:
        raise DataError(
            f"CSV file {path} has no ID column {id_column!r}; columns are {shown(header)}. "
            "Choose one with id_column=."
        )
    ii = header.index(id_column) if id_column is not None else -1
    if ii == li:
        raise DataError(f"CSV file {path}: the ID column and the label column are both {label_column!r}.")
    feature_idx = [i for i in range(len(header)) if i not in (li, ii)]
    if not feature_idx:
        raise DataError(f"CSV file {path} has no feature columns besides {label_column!r}.")
    return _Columns(li, ii, feature_idx)


def _read_rows(reader: Any, path: Path, header: list[str], columns: _Columns, label_column: str,
               id_column: str | None) -> tuple[list[list[float]], list[str], list[str]]:
    """(feature rows, labels, record IDs) of the data rows after the header; blank lines are skipped."""
    rows: list[list[float]] = []
    labels: list[str] = []
    ids: list[str] = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        line = reader.line_num
        if len(row) != len(header):
            raise DataError(
                f"CSV file {path}, line {line}: {len(row)} fields, but the header has {len(header)}."
            )
        values = _row_features(path, line, row, header, columns.features, label_column)
        label = row[columns.label].strip()
        if not label:
            raise DataError(f"CSV file {path}, line {line}: the label column {label_column!r} is empty.")
        if columns.id >= 0:
            record_id = row[columns.id].strip()
            if not record_id:
                raise DataError(f"CSV file {path}, line {line}: the ID column {id_column!r} is empty.")
            ids.append(record_id)
        rows.append(values)
        labels.append(label)
    return rows, labels, ids


def _row_features(path: Path, line: int, row: list[str], header: list[str], feature_idx: list[int],
                  label_column: str) -> list[float]:
    """The feature cells of one row as floats; a cell that is not a finite number is a ``DataError``."""
    values = []
    for i in feature_idx:
        cell = row[i].strip()
        try:
            v = float(cell)
        except ValueError:
            v = math.nan
        if not math.isfinite(v):
            raise DataError(
                f"CSV file {path}, line {line}, column {header[i]!r}: {cell!r} is not a finite number "
                f"(every column except {label_column!r} must be numeric)."
            )
        values.append(v)
    return values


def _as_ints(labels: list[str]) -> list[int] | None:
    """The labels as ints when every one is an integer (so classes sort numerically), else None."""
    try:
        ints = [int(v) for v in labels]
    except ValueError:
        return None
    return ints


def _label_index(raw: list[str], test_raw: list[str], classes: Any, train_file: Path) -> tuple[list, list, dict, list[str]]:
    """(train keys, test keys, key -> class index, class names): the given ``classes`` order, else sorted labels."""
    if classes is not None:
        names = parse_classes(classes)
        index: dict = {n: k for k, n in enumerate(names)}
        unknown = sorted(set(raw) - set(index))
        if unknown:
            raise DataError(f"{train_file} has label(s) the 'classes' option does not list: "
                            f"{shown(map(repr, unknown))}; the model's classes are {shown(map(repr, names))}.")
        return raw, test_raw, index, names
    # Integer labels (in both files) are compared and sorted as numbers, so "10" follows "2".
    ints = _as_ints(raw + test_raw)
    keys: list = ints[: len(raw)] if ints is not None else raw
    test_keys: list = ints[len(raw) :] if ints is not None else test_raw
    ordered = sorted(set(keys))
    return keys, test_keys, {k: i for i, k in enumerate(ordered)}, [str(k) for k in ordered]


def _csv_files(path: str | Path | None, data_dir: Path | None) -> tuple[Path, Path | None]:
    """(train file, test file or None) from ``path`` (a file or folder), else ``data_dir`` (a folder)."""
    target = Path(path) if path is not None else (Path(data_dir) if data_dir is not None else None)
    if target is None:
        raise DataError("Dataset 'csv' needs path= (a .csv file) or --data-dir / data_dir= (a folder with train.csv).")
    if target.is_dir():
        train_file, test_file = target / "train.csv", target / "test.csv"
        if not train_file.is_file():
            raise DataError(
                f"Dataset 'csv': train.csv not found in {target}. Expected train.csv and optionally test.csv."
            )
        if not test_file.is_file():
            test_file = None
    elif target.is_file():
        train_file, test_file = target, None
    else:
        raise DataError(f"Dataset 'csv': {target} does not exist (expected a .csv file or a folder with train.csv).")
    return train_file, test_file


def _read_test_table(test_file: Path | None, train_file: Path, names: list[str], label_column: str,
                     id_column: str | None) -> tuple[np.ndarray | None, list[str], list[str] | None]:
    """(test features in the training column order, test labels, test IDs); (None, [], None) without a
    test file. The test file must have the training file's feature columns, in any order."""
    if test_file is None:
        return None, [], None
    test_names, tx, test_raw, test_ids = read_table_with_ids(test_file, label_column, id_column)
    if sorted(test_names) != sorted(names):
        raise DataError(
            f"{test_file} has feature columns {sorted(test_names)}, but {train_file} has {sorted(names)}."
        )
    order = [test_names.index(n) for n in names]
    return tx[:, order], test_raw, test_ids


def _test_targets(test_keys: list, test_raw: list[str], index: dict, classes: list[str], test_file: Path,
                  train_file: Path) -> np.ndarray:
    """The test labels as class indices; a label the training file lacks is a ``DataError``."""
    unknown = [n for n, k in enumerate(test_keys) if k not in index]
    if unknown:
        n = unknown[0]
        raise DataError(
            f"{test_file}: label {test_raw[n]!r} (data row {n + 1}) does not occur in {train_file}; "
            f"known classes: {shown(classes)}."
        )
    return np.array([index[k] for k in test_keys], dtype=np.int64)


def _feature_stats(train_x: np.ndarray, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std of the training rows (std 1 for a constant feature or no rows)."""
    mean = train_x.mean(axis=0) if len(train_x) else np.zeros(n_features)
    std = train_x.std(axis=0) if len(train_x) else np.ones(n_features)
    std = np.where(std > 1e-12, std, 1.0)
    return mean, std


@DATASETS.register("csv")
def load_csv(
    data_dir: Path | None = None,
    download: bool = False,
    *,
    path: str | Path | None = None,
    label_column: str = "label",
    id_column: str | None = None,
    classes: Any = None,
) -> Dataset:
    """A CSV table (header row, numeric features, one label column) as a ``Dataset``.

    Args:
        data_dir: folder with ``train.csv`` and optionally ``test.csv``.
        download: not available; must be False.
        path: a single CSV file (test set = fixed stratified hold-out) or a folder like ``data_dir``;
            takes precedence over ``data_dir``.
        label_column: name of the column holding the class labels.
        id_column: name of a column of record IDs (not a feature); they become ``train_ids`` /
            ``test_ids``, so forget specs can name records (``ids:FILE``).
        classes: the label values in the model's logit order: a list, ``a,b,c`` or a file with
            one per line; default the sorted labels (numerically when all are integers).

    Example:
        >>> ds = load_csv(path="iris.csv", label_column="species")  # doctest: +SKIP
        >>> ds.input_shape, ds.classes  # doctest: +SKIP
        ((4,), ['setosa', 'versicolor', 'virginica'])
    """
    if download:
        raise ConfigError("Dataset 'csv' has no download source; pass path= or --data-dir with train.csv.")
    label_column = str(label_column)
    train_file, test_file = _csv_files(path, data_dir)
    id_column = None if id_column is None else str(id_column)
    names, x, raw_labels, ids = read_table_with_ids(train_file, label_column, id_column)
    tx, test_raw, test_ids = _read_test_table(test_file, train_file, names, label_column, id_column)

    keys, test_keys, index, classes = _label_index(raw_labels, test_raw, classes, train_file)
    y = np.array([index[k] for k in keys], dtype=np.int64)
    if tx is not None:
        ty = _test_targets(test_keys, test_raw, index, classes, test_file, train_file)
        train_x, train_y, test_x, test_y = x, y, tx, ty
        train_ids = ids
        note = f"official test split ({test_file.name})"
    else:
        tr, te = stratified_holdout(y)
        train_x, train_y, test_x, test_y = x[tr], y[tr], x[te], y[te]
        train_ids = None if ids is None else [ids[i] for i in tr]
        test_ids = None if ids is None else [ids[i] for i in te]
        note = f"fixed stratified {int(HOLDOUT_FRACTION * 100)}% hold-out (no test.csv)"
    mean, std = _feature_stats(train_x, x.shape[1])
    return Dataset(
        name="csv",
        train_x=torch.from_numpy(train_x.astype(np.float32)),
        train_y=torch.from_numpy(train_y),
        test_x=torch.from_numpy(test_x.astype(np.float32)),
        test_y=torch.from_numpy(test_y),
        classes=classes,
        scale=1.0,
        mean=tuple(float(m) for m in mean),
        std=tuple(float(s) for s in std),
        test_note=note,
        source=str(train_file),
        train_ids=train_ids,
        test_ids=test_ids,
    )
