"""Your records from files, with IDs: ``.npz``, CSV, Parquet and image folders.

``read_records(path)`` reads one input; ``load_records(data, heldout=...)`` turns the model's
training data (and optional held-out records) into a ``Dataset`` with ``from_arrays``.

========================  ==========================================================================
input                     what it holds
========================  ==========================================================================
``data.npz``              arrays ``x``, ``y``, ``ids`` (strings or ints); optionally ``x_test``,
                          ``y_test`` [``ids_test``] (a test part) and ``classes`` (names in logit
                          order). Read without pickle: an object array is refused.
``data.csv``              a header row; the ``id_column`` (default ``id``), the ``label_column``
                          (default ``label``), every other column a numeric feature
``data.parquet``          the same columns (needs ``pip install 'unlearnkit[parquet]'``)
a folder                  ``train.csv`` [+ ``test.csv``], or ``train.parquet`` [+ ``test.parquet``];
                          else an image folder: one sub-folder per class, or ``train/`` and
                          ``test/`` each with one sub-folder per class; the ID of an image is its
                          path relative to the folder
========================  ==========================================================================

Every record of ``data`` is a training record of the model (``train.*`` / ``train/`` when there is
a test part). Images are decoded with Pillow and kept as ``uint8`` (divided by ``scale``, 255 by
default, when given to the model); ``image_size`` resizes them (centre crop), ``grayscale``
converts to one channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from unlearnkit.data.class_order import class_index, parse_classes, shown
from unlearnkit.data.dataset import Dataset
from unlearnkit.data.records import DEFAULT_HELDOUT_SIZE, from_arrays
from unlearnkit.errors import ConfigError, DataError

#: Options ``read_records`` / ``load_records`` accept (``--data-option key=value`` on the command line).
RECORD_OPTIONS = ("id_column", "label_column", "image_size", "grayscale", "scale", "mean", "std", "classes")


@dataclass
class Records:
    """Records read from one input: inputs, labels (indices or names), IDs, and an optional test part."""

    x: np.ndarray
    y: list
    ids: list[str] | None
    source: str
    kind: str
    classes: list[str] | None = None
    test: "Records | None" = None


def read_records(path: str | Path, *, id_column: str = "id", label_column: str = "label",
                 image_size: int | None = None, grayscale: bool = False, require_ids: bool = True) -> Records:
    """Read one input (``.npz``, ``.csv``, ``.parquet`` or a folder) into ``Records``.

    Args:
        path: the file or folder.
        id_column, label_column: the columns of a CSV or Parquet table.
        image_size: resize images to this square size (centre crop); ``None`` keeps their size.
        grayscale: read images as one channel.
        require_ids: a ``.npz`` without ``ids`` (or a table without the ID column) is an error.

    Raises:
        DataError: a missing or malformed input, naming the file and what is wrong.

    Example:
        >>> import numpy as np, tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "d.npz")
        >>> np.savez(p, x=np.zeros((3, 2)), y=np.array([0, 1, 0]), ids=np.array(["a", "b", "c"]))
        >>> r = read_records(p); r.kind, r.ids
        ('npz', ['a', 'b', 'c'])
    """
    p = Path(path)
    if p.is_dir():
        for ext in ("csv", "parquet"):
            train = p / f"train.{ext}"
            if train.is_file():
                test = p / f"test.{ext}"
                rec = _read_table(train, ext, id_column, label_column, require_ids)
                rec.test = _read_table(test, ext, id_column, label_column, require_ids) if test.is_file() else None
                return rec
        return _read_images(p, image_size, grayscale)
    if not p.exists():
        raise DataError(f"Data input {str(path)!r} does not exist.")
    suffix = p.suffix.lower()
    if suffix == ".npz":
        return _read_npz(p, require_ids)
    if suffix in (".csv", ".parquet"):
        return _read_table(p, suffix[1:], id_column, label_column, require_ids)
    raise DataError(
        f"Data input {str(path)!r} is not a .npz, .csv or .parquet file nor a folder (of train.csv, train.parquet "
        "or class sub-folders of images)."
    )


def _read_npz(p: Path, require_ids: bool) -> Records:
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise DataError(f"{p} holds object arrays, which would need pickle; store IDs and labels as string or "
                            "integer arrays (np.array(ids, dtype=str)).") from None
        raise DataError(f"{p} is not a valid .npz file ({exc}).") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{p} is not a valid .npz file ({exc or 'empty file'}).") from None
    missing = [k for k in ("x", "y") + (("ids",) if require_ids else ()) if k not in arrays]
    if missing:
        raise DataError(f"{p} has no array {missing[0]!r}; a data .npz holds x, y and ids (and optionally x_test, "
                        f"y_test, ids_test, classes). It has: {', '.join(sorted(arrays)) or 'nothing'}.")
    unknown = sorted(set(arrays) - {"x", "y", "ids", "x_test", "y_test", "ids_test", "classes"})
    if unknown:
        raise DataError(f"{p} has unknown array(s) {', '.join(map(repr, unknown))}; valid: x, y, ids, x_test, "
                        "y_test, ids_test, classes.")
    classes = [str(c) for c in arrays["classes"].tolist()] if "classes" in arrays else None
    rec = Records(arrays["x"], arrays["y"].tolist(), _ids(arrays.get("ids")), str(p), "npz", classes)
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise DataError(f"{p}: x_test and y_test go together.")
    if "x_test" in arrays:
        rec.test = Records(arrays["x_test"], arrays["y_test"].tolist(), _ids(arrays.get("ids_test")), str(p), "npz",
                           classes)
    elif "ids_test" in arrays:
        raise DataError(f"{p}: ids_test without x_test and y_test.")
    return rec


def _ids(arr: np.ndarray | None) -> list[str] | None:
    if arr is None:
        return None
    if arr.ndim != 1:
        raise DataError(f"ids must be a 1-D array, one ID per record; got shape {arr.shape}.")
    return [str(i) for i in arr.tolist()]


def _read_table(p: Path, ext: str, id_column: str, label_column: str, require_ids: bool) -> Records:
    if ext == "csv":
        from unlearnkit.data.csv_table import read_table_with_ids

        try:
            _, x, labels, ids = read_table_with_ids(p, label_column, id_column)
        except DataError as exc:
            if not require_ids and f"no ID column {id_column!r}" in str(exc):
                _, x, labels, ids = read_table_with_ids(p, label_column, None)
            else:
                raise
        return Records(x, labels, ids, str(p), "csv")
    return _read_parquet(p, id_column, label_column, require_ids)


def _read_parquet(p: Path, id_column: str, label_column: str, require_ids: bool) -> Records:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"Reading {p} needs pyarrow: pip install 'unlearnkit[parquet]'.") from None
    try:
        table = pq.read_table(p)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... on bad files
        raise DataError(f"{p} is not a valid Parquet file ({exc}).") from None
    columns = table.column_names
    for col, what in ((label_column, "label"), (id_column, "ID")):
        if col not in columns and (what == "label" or require_ids):
            raise DataError(f"Parquet file {p} has no {what} column {col!r}; columns are {shown(columns)}. "
                            f"Choose one with {what.lower()}_column=.")
    features = [c for c in columns if c not in (label_column, id_column)]
    if not features:
        raise DataError(f"Parquet file {p} has no feature columns besides {label_column!r} and {id_column!r}.")
    cols = []
    for c in features:
        arr = table.column(c).to_numpy(zero_copy_only=False)
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
            raise DataError(f"Parquet file {p}, column {c!r}: {arr.dtype} values; every column except "
                            f"{label_column!r} and {id_column!r} must be numeric.")
        arr = arr.astype(np.float64)
        if not np.isfinite(arr).all():
            raise DataError(f"Parquet file {p}, column {c!r}: a missing or non-finite value.")
        cols.append(arr)
    labels = table.column(label_column).to_pylist()
    if any(v is None for v in labels):
        raise DataError(f"Parquet file {p}: the label column {label_column!r} has a missing value.")
    ids = None
    if id_column in columns:
        ids = [str(v) if v is not None else "" for v in table.column(id_column).to_pylist()]
    return Records(np.stack(cols, axis=1), labels, ids, str(p), "parquet")


def _read_images(root: Path, image_size: int | None, grayscale: bool) -> Records:
    from unlearnkit.data.imagefolder import read_images, relative_ids, scan_class_folders

    def folder(d: Path, classes: list[str] | None) -> Records:
        found = scan_class_folders(d, root)
        paths = [f for name in found for f in found[name]]
        labels = [name for name in found for _ in found[name]]
        x = read_images(paths, image_size, grayscale)
        return Records(x, labels, relative_ids(paths, root), str(root), "images", classes or list(found))

    if (root / "train").is_dir() and (root / "test").is_dir():
        rec = folder(root / "train", None)
        rec.test = folder(root / "test", rec.classes)
        unknown = sorted(set(rec.test.y) - set(rec.classes))
        if unknown:
            raise DataError(f"{root / 'test'} has class folders that {root / 'train'} lacks: {shown(unknown)}.")
        return rec
    return folder(root, None)


def _floats(value: Any, name: str) -> tuple[float, ...]:
    parts = value if isinstance(value, (list, tuple)) else str(value).split(",")
    try:
        out = tuple(float(v) for v in parts)
    except ValueError:
        raise ConfigError(f"The {name!r} option must be a number or comma-separated numbers; got {value!r}.") from None
    if not out or (name in ("scale", "std") and any(v <= 0 for v in out)):
        raise ConfigError(f"The {name!r} option must be positive; got {value!r}.")
    return out


def load_records(data: str | Path, *, heldout: str | Path | None = None,
                 heldout_size: int | float | None = DEFAULT_HELDOUT_SIZE, seed: int = 0,
                 **options: Any) -> Dataset:
    """The ``Dataset`` of a model's training records (and held-out records) from files.

    Args:
        data: the model's training data (``read_records``): every record is a training record,
            except a test part (``x_test``/``y_test``, ``test.csv``, ``test/``).
        heldout: records the model never trained on, for the evidence (V). Without it, V is carved
            (``heldout_size``, stratified, seeded) out of the test part.
        heldout_size: see ``from_arrays``.
        seed: seeds the carving.
        **options: ``id_column`` (default ``id``), ``label_column`` (``label``), ``image_size``,
            ``grayscale``, the input normalisation ``scale`` (images 255, else 1), ``mean``,
            ``std`` (numbers or comma-separated per channel / feature), and ``classes``: the class
            names in the model's logit order (a list, ``a,b,c`` or a file with one per line;
            default a ``.npz``'s ``classes`` array, else the sorted names).

    Raises:
        ConfigError: an unknown option. DataError: see ``read_records`` and ``from_arrays``.

    Example:
        >>> ds = load_records("data.npz", heldout="heldout.npz")  # doctest: +SKIP
    """
    unknown = [k for k in options if k not in RECORD_OPTIONS]
    if unknown:
        raise ConfigError(f"Unknown data option {unknown[0]!r}. Valid options: {', '.join(RECORD_OPTIONS)}.")
    read = {k: options[k] for k in ("id_column", "label_column", "grayscale") if k in options}
    if options.get("image_size") is not None:
        size = options["image_size"]
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigError(f"The 'image_size' option must be an int in [1, inf). Got {size!r} instead.")
        read["image_size"] = size
    if "grayscale" in read and not isinstance(read["grayscale"], bool):
        raise ConfigError(f"The 'grayscale' option must be true or false. Got {read['grayscale']!r} instead.")
    train = read_records(data, **read)
    held = read_records(heldout, require_ids=False, **read) if heldout is not None else None
    if held is not None and held.test is not None:
        raise DataError(f"The held-out input {heldout} has a test part; give the held-out records alone.")
    images = train.kind == "images"
    scale = _floats(options.get("scale", 255.0 if images else 1.0), "scale")
    if len(scale) != 1:
        raise ConfigError(f"The 'scale' option is one number; got {options.get('scale')!r}.")
    classes = _classes(options.get("classes"), train, held)
    test = None if train.test is None else (train.test.x, train.test.y, train.test.ids)
    return from_arrays(
        train.x, train.y, train.ids, classes=classes, test=test,
        heldout=None if held is None else (held.x, held.y, held.ids), heldout_size=heldout_size, seed=seed,
        name=Path(data).name, scale=scale[0], mean=_floats(options.get("mean", 0.0), "mean"),
        std=_floats(options.get("std", 1.0), "std"), source=str(data),
    )


def _classes(value: Any, train: Records, held: Records | None) -> list[str] | None:
    """The class order: the ``classes`` option (checked against the names the data holds), else the input's own."""
    if value is None:
        return train.classes
    order = parse_classes(value)
    if train.classes is not None and train.kind == "npz" and list(train.classes) != order:
        raise ConfigError(f"The 'classes' option ({shown(order)}) differs from the classes array of {train.source} "
                          f"({shown(train.classes)}); give one of them.")
    for rec in (train, train.test, held):
        if rec is None:
            continue
        names = sorted({v for v in rec.y if isinstance(v, str)})
        if rec.kind == "images" or any(v not in order for v in names):
            class_index(names, order, rec.source)
    return order
