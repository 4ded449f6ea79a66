"""CIFAR-10 and CIFAR-100 from the published "python version" pickle batches (A. Krizhevsky).

Layout, as extracted from ``cifar-10-python.tar.gz`` / ``cifar-100-python.tar.gz``
(www.cs.toronto.edu/~kriz/cifar.html)::

    cifar-10-batches-py/data_batch_1 .. data_batch_5, test_batch, batches.meta
    cifar-100-python/train, test, meta

Each file is a Python 2 pickle of a dict with byte-string keys: ``b'data'`` (uint8 array of shape
(N, 3072), the red, green and blue 32x32 planes in row-major order), ``b'labels'`` (CIFAR-10) or
``b'fine_labels'`` and ``b'coarse_labels'`` (CIFAR-100); the meta files hold ``b'label_names'``
or ``b'fine_label_names'`` and ``b'coarse_label_names'``.

Pickles can run arbitrary code when loaded, so these files are read with ``SafeUnpickler``, which
only reconstructs numpy arrays, dtypes and scalars and refuses every other global.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from unlearnkit.data import download as dl
from unlearnkit.data.dataset import Dataset
from unlearnkit.data.registry import DATASETS
from unlearnkit.errors import DataError

CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")
#: Archive name and its published MD5.
CIFAR10_ARCHIVE = ("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a")
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)

CIFAR100_FOLDER = "cifar-100-python"
CIFAR100_FILES = ("train", "test", "meta")
#: Archive name and its published MD5.
CIFAR100_ARCHIVE = ("cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85")
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)


def _multiarray() -> Any:
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray
    return multiarray


def _numeric() -> Any:
    try:
        from numpy._core import numeric  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import numeric
    return numeric


def _latin1_encode(obj: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    # Python 3 writes bytes into protocol-2 pickles as _codecs.encode(str, 'latin1'); allow only that.
    if not isinstance(obj, str) or encoding.lower().replace("-", "") != "latin1" or errors != "strict":
        raise pickle.UnpicklingError("_codecs.encode is only allowed as encode(<str>, 'latin1')")
    return obj.encode("latin1")


#: (module, name) -> resolver of the only globals a CIFAR pickle may reference.
_ALLOWED_GLOBALS: dict[tuple[str, str], Callable[[], Any]] = {
    ("numpy.core.multiarray", "_reconstruct"): lambda: _multiarray()._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): lambda: _multiarray()._reconstruct,
    ("numpy.core.multiarray", "scalar"): lambda: _multiarray().scalar,
    ("numpy._core.multiarray", "scalar"): lambda: _multiarray().scalar,
    ("numpy.core.numeric", "_frombuffer"): lambda: _numeric()._frombuffer,
    ("numpy._core.numeric", "_frombuffer"): lambda: _numeric()._frombuffer,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("_codecs", "encode"): lambda: _latin1_encode,
}


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds numpy arrays and plain containers, and nothing else.

    ``find_class`` resolves only numpy's array/dtype/scalar reconstructors (and a latin-1-only
    ``_codecs.encode``, which Python 3 uses for bytes in protocol-2 pickles); any other global --
    ``os.system``, ``builtins.eval``, a class -- raises ``pickle.UnpicklingError``, so a hostile
    file cannot run code. Byte strings from Python 2 pickles stay ``bytes`` (``encoding="bytes"``).

    Example:
        >>> import io, pickle
        >>> blob = pickle.dumps({b"data": np.zeros((2, 3), np.uint8)}, protocol=2)
        >>> SafeUnpickler(io.BytesIO(blob)).load()[b"data"].shape
        (2, 3)
    """

    def __init__(self, file: io.BufferedIOBase, **kwargs: Any):
        kwargs.setdefault("encoding", "bytes")
        super().__init__(file, **kwargs)

    def find_class(self, module: str, name: str) -> Any:
        resolver = _ALLOWED_GLOBALS.get((module, name))
        if resolver is None:
            raise pickle.UnpicklingError(
                f"global '{module}.{name}' is forbidden (only numpy array reconstruction is allowed)"
            )
        return resolver()


def load_pickle(path: str | Path) -> dict:
    """Load one CIFAR batch/meta file with ``SafeUnpickler``; it must hold a dict.

    Raises:
        DataError: naming the file, when it is missing, truncated, not a pickle, references a
            forbidden global, or does not hold a dict.

    Example:
        >>> meta = load_pickle("data/cifar-10-batches-py/batches.meta")  # doctest: +SKIP
        >>> meta[b"label_names"][:2]  # doctest: +SKIP
        [b'airplane', b'automobile']
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            obj = SafeUnpickler(f).load()
    except FileNotFoundError:
        raise DataError(f"CIFAR file {path} does not exist.") from None
    except pickle.UnpicklingError as e:
        raise DataError(f"Refusing to load {path}: {e}. It is not a genuine CIFAR batch file.") from None
    except Exception as e:  # truncated or garbled pickles raise many types (EOFError, ValueError, ...)
        raise DataError(f"Cannot read {path} as a CIFAR pickle batch: {type(e).__name__}: {e}") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path} holds a {type(obj).__name__}, not the dict a CIFAR batch file contains.")
    return obj


def _get(d: dict, key: str, path: Path) -> Any:
    for k in (key.encode(), key):
        if k in d:
            return d[k]
    raise DataError(f"{path} has no {key!r} entry; found keys {sorted(str(k) for k in d)}.")


def _names(d: dict, key: str, path: Path) -> list[str]:
    names = _get(d, key, path)
    return [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names]


def _images(d: dict, path: Path) -> np.ndarray:
    data = _get(d, "data", path)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        shape = getattr(data, "shape", None)
        raise DataError(
            f"{path}: 'data' must be a uint8 array of shape (N, 3072); found {type(data).__name__} {shape}."
        )
    return data.reshape(-1, 3, 32, 32)


def _labels(d: dict, key: str, path: Path, n: int, num_classes: int) -> np.ndarray:
    y = np.asarray(_get(d, key, path))
    if y.ndim != 1 or len(y) != n or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{path}: {key!r} must be {n} integer labels; found {y.dtype} {y.shape}.")
    if n and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise DataError(f"{path}: {key!r} has labels outside 0..{num_classes - 1}.")
    return y.astype(np.int64)


def _locate(name: str, data_dir: Path | None, folder: str, files: tuple[str, ...], download: bool,
            archive: tuple[str, str], base_url: str | None) -> Path:
    """The folder holding ``files``: ``data_dir`` itself or ``data_dir/folder``; download if allowed."""
    if data_dir is None:
        raise DataError(
            f"Dataset {name!r} is read from its python pickle batches: pass --data-dir / data_dir= "
            f"(the extracted {folder}/ or its parent); add --download / download=True to fetch {archive[0]} there."
        )
    data_dir = Path(data_dir)
    for candidate in (data_dir, data_dir / folder):
        if all((candidate / f).is_file() for f in files):
            return candidate
    if download:
        archive_name, md5 = archive
        paths = dl.ensure_files(
            data_dir, {archive_name: (dl.base_url(name, base_url) + archive_name, f"md5:{md5}")}, True, dataset=name
        )
        dl.extract_tar(paths[archive_name], data_dir)
        if all((data_dir / folder / f).is_file() for f in files):
            return data_dir / folder
        raise DataError(f"{name}: {archive_name} did not contain {folder}/ with {', '.join(files)}.")
    where = data_dir / folder if (data_dir / folder).is_dir() else data_dir
    missing = [f for f in files if not (where / f).is_file()]
    raise DataError(
        f"Dataset {name!r}: {', '.join(missing)} not found in {where}. Expected {folder}/ with "
        f"{', '.join(files)} (pass that folder or its parent). Pass --download / download=True to fetch {archive[0]}."
    )


@DATASETS.register("cifar10")
def load_cifar10(data_dir: Path | None = None, download: bool = False, *, base_url: str | None = None) -> Dataset:
    """CIFAR-10: 50000 train / 10000 test colour images, 32x32, 10 classes.

    Args:
        data_dir: the extracted ``cifar-10-batches-py`` folder, or its parent.
        download: fetch and safely extract ``cifar-10-python.tar.gz`` (MD5-checked) into ``data_dir``.
        base_url: mirror to download from instead of www.cs.toronto.edu/~kriz/.

    Example:
        >>> ds = load_cifar10("data", download=True)  # doctest: +SKIP
        >>> ds.input_shape, ds.classes[:2]  # doctest: +SKIP
        ((3, 32, 32), ['airplane', 'automobile'])
    """
    root = _locate("cifar10", data_dir, CIFAR10_FOLDER, CIFAR10_FILES, download, CIFAR10_ARCHIVE, base_url)
    classes = _names(load_pickle(root / "batches.meta"), "label_names", root / "batches.meta")
    xs, ys = [], []
    for f in CIFAR10_FILES[:5]:
        d = load_pickle(root / f)
        x = _images(d, root / f)
        xs.append(x)
        ys.append(_labels(d, "labels", root / f, len(x), len(classes)))
    t = load_pickle(root / "test_batch")
    test_x = _images(t, root / "test_batch")
    test_y = _labels(t, "labels", root / "test_batch", len(test_x), len(classes))
    return Dataset(
        name="cifar10",
        train_x=torch.from_numpy(np.concatenate(xs)),
        train_y=torch.from_numpy(np.concatenate(ys)),
        test_x=torch.from_numpy(np.ascontiguousarray(test_x)),
        test_y=torch.from_numpy(test_y),
        classes=classes,
        scale=255.0,
        mean=CIFAR10_MEAN,
        std=CIFAR10_STD,
        test_note="official test split (test_batch)",
        source=str(root),
    )


@DATASETS.register("cifar100")
def load_cifar100(data_dir: Path | None = None, download: bool = False, *, base_url: str | None = None) -> Dataset:
    """CIFAR-100: 50000 train / 10000 test colour images, 32x32, 100 fine and 20 coarse classes.

    Args:
        data_dir: the extracted ``cifar-100-python`` folder, or its parent.
        download: fetch and safely extract ``cifar-100-python.tar.gz`` (MD5-checked) into ``data_dir``.
        base_url: mirror to download from instead of www.cs.toronto.edu/~kriz/.

    Example:
        >>> ds = load_cifar100("data")  # doctest: +SKIP
        >>> ds.num_classes, len(ds.coarse_classes)  # doctest: +SKIP
        (100, 20)
    """
    root = _locate("cifar100", data_dir, CIFAR100_FOLDER, CIFAR100_FILES, download, CIFAR100_ARCHIVE, base_url)
    meta = load_pickle(root / "meta")
    fine = _names(meta, "fine_label_names", root / "meta")
    coarse = _names(meta, "coarse_label_names", root / "meta")
    parts = {}
    for part in ("train", "test"):
        d = load_pickle(root / part)
        x = _images(d, root / part)
        parts[part] = (
            torch.from_numpy(np.ascontiguousarray(x)),
            torch.from_numpy(_labels(d, "fine_labels", root / part, len(x), len(fine))),
            torch.from_numpy(_labels(d, "coarse_labels", root / part, len(x), len(coarse))),
        )
    return Dataset(
        name="cifar100",
        train_x=parts["train"][0],
        train_y=parts["train"][1],
        test_x=parts["test"][0],
        test_y=parts["test"][1],
        classes=fine,
        coarse_train_y=parts["train"][2],
        coarse_test_y=parts["test"][2],
        coarse_classes=coarse,
        scale=255.0,
        mean=CIFAR100_MEAN,
        std=CIFAR100_STD,
        test_note="official test split (test)",
        source=str(root),
    )
