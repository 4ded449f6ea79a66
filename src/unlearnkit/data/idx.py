"""MNIST and Fashion-MNIST from their published idx files (Y. LeCun's format), gzipped or plain.

An idx file is a big-endian header -- two zero bytes, a type code (0x08 = unsigned byte), the
number of dimensions, then one 32-bit size per dimension -- followed by the values in C order.
Labels are ``0x00000801`` (1-d, ubyte) and images ``0x00000803`` (3-d, ubyte). Both datasets ship
four files: ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``
and ``t10k-labels-idx1-ubyte``, each optionally with ``.gz``.

Sources: MNIST from the PyTorch S3 mirror of yann.lecun.com; Fashion-MNIST from Zalando Research
(github.com/zalandoresearch/fashion-mnist), also packaged by Debian as ``dataset-fashion-mnist``
(``/usr/share/datasets/fashion-mnist/``, used when no ``data_dir`` is given). Fashion-MNIST also
gets four coarse super-classes (``FASHION_COARSE``) for sub-class forgetting.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np
import torch

from unlearnkit.data import download as dl
from unlearnkit.data.dataset import Dataset
from unlearnkit.data.registry import DATASETS
from unlearnkit.errors import DataError

LABELS_MAGIC = 0x00000801
IMAGES_MAGIC = 0x00000803

#: idx type code -> numpy dtype (big-endian for multi-byte types, as the format stores them).
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

#: The four files of an MNIST-style dataset, without the optional ``.gz``.
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

#: Published MD5 checksums of the gzipped MNIST files (as on the ossci-datasets mirror).
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}

#: Published MD5 checksums of the gzipped Fashion-MNIST files (Zalando's README). Debian's
#: package re-compresses the files, so its ``.gz`` bytes differ while the data is identical.
FASHION_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
FASHION_MEAN, FASHION_STD = 0.2860, 0.3530

#: Where Debian's ``dataset-fashion-mnist`` package installs the four gzipped idx files.
FASHION_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")

FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip

FASHION_COARSE_CLASSES = ["tops", "bottoms-and-dresses", "footwear", "bags"]

FASHION_COARSE: tuple[int, ...] = (0, 1, 0, 1, 0, 2, 0, 2, 3, 2)
"""Fashion-MNIST fine label -> coarse label (index into ``FASHION_COARSE_CLASSES``).

- 0 ``tops``: T-shirt/top (0), Pullover (2), Coat (4), Shirt (6)
- 1 ``bottoms-and-dresses``: Trouser (1), Dress (3)
- 2 ``footwear``: Sandal (5), Sneaker (7), Ankle boot (9)
- 3 ``bags``: Bag (8)
"""


def read_idx(path: str | Path, expected_magic: int | None = None) -> np.ndarray:
    """Read one idx file (gzip is detected from the content, not the name) into a numpy array.

    Args:
        path: the ``.gz`` or plain idx file.
        expected_magic: ``LABELS_MAGIC`` or ``IMAGES_MAGIC`` to insist on; None accepts any
            valid idx header.

    Returns:
        An array of the stored shape, in native byte order.

    Raises:
        DataError: naming the file, when it is not gzip/idx, has the wrong magic number, a size
            header that does not match its length (truncated or with trailing bytes).

    Example:
        >>> path = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"
        >>> labels = read_idx(path, LABELS_MAGIC)  # doctest: +SKIP
        >>> labels.shape, labels.dtype  # doctest: +SKIP
        ((10000,), dtype('uint8'))
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise DataError(f"idx file {path} does not exist.") from None
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"idx file {path} is not a readable gzip file (truncated download?): {e}") from None
    if len(raw) < 4:
        raise DataError(f"idx file {path} is truncated: {len(raw)} bytes, shorter than the 4-byte magic number.")
    magic = int.from_bytes(raw[:4], "big")
    type_code, ndim = raw[2], raw[3]
    if raw[:2] != b"\x00\x00" or type_code not in IDX_DTYPES or ndim == 0:
        raise DataError(f"idx file {path} has an invalid magic number 0x{magic:08x}; it is not an idx file.")
    if expected_magic is not None and magic != expected_magic:
        kind = {LABELS_MAGIC: "labels", IMAGES_MAGIC: "images"}.get(expected_magic, "data")
        raise DataError(
            f"idx file {path} has magic number 0x{magic:08x}; expected 0x{expected_magic:08x} ({kind}). "
            "Are the image and label files swapped?"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"idx file {path} is truncated inside its header ({len(raw)} of {header} bytes).")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = IDX_DTYPES[type_code]
    expected = math.prod(dims) * dtype.itemsize
    found = len(raw) - header
    if found < expected:
        raise DataError(
            f"idx file {path} is truncated: its header promises shape {dims} ({expected} bytes of data), "
            f"but only {found} bytes follow."
        )
    if found > expected:
        raise DataError(f"idx file {path} has {found - expected} unexpected bytes after the {dims} data.")
    arr = np.frombuffer(raw, dtype=dtype, count=expected // dtype.itemsize, offset=header)
    return arr.reshape(dims).astype(dtype.newbyteorder("="), copy=True)


def _find(directory: Path, base: str) -> Path | None:
    for name in (base, base + ".gz"):
        if (directory / name).is_file():
            return directory / name
    return None


def _idx_dataset(
    name: str,
    data_dir: Path | None,
    download: bool,
    *,
    extra_dirs: tuple[str, ...],
    md5: dict[str, str],
    base_url: str | None,
    classes: list[str],
    mean: float,
    std: float,
    coarse: tuple[tuple[int, ...], list[str]] | None = None,
) -> Dataset:
    if data_dir is None:
        raise DataError(
            f"Dataset {name!r} is read from its idx files: pass --data-dir / data_dir= (a folder with "
            f"{', '.join(IDX_FILES)}, each optionally .gz); add --download / download=True to fetch them there."
        )
    data_dir = Path(data_dir)
    # Accept the folder itself, or torchvision's <root>/<Name>/raw layout below it.
    candidates = [data_dir] + [data_dir / d for d in extra_dirs]
    folder = next((d for d in candidates if any(_find(d, b) for b in IDX_FILES)), data_dir)
    missing = [b for b in IDX_FILES if _find(folder, b) is None]
    if missing:
        if not download:
            raise DataError(
                f"Dataset {name!r}: {', '.join(missing)}[.gz] not found in {folder}. Expected the four files "
                f"{', '.join(IDX_FILES)} (each optionally .gz). Pass --download / download=True to fetch them."
            )
        root = dl.base_url(name, base_url)
        dl.ensure_files(
            folder,
            {b + ".gz": (root + b + ".gz", "md5:" + md5[b + ".gz"]) for b in missing},
            download=True,
            dataset=name,
        )
    paths = {b: _find(folder, b) for b in IDX_FILES}
    parts = {}
    for part, prefix in (("train", "train"), ("test", "t10k")):
        x = read_idx(paths[f"{prefix}-images-idx3-ubyte"], IMAGES_MAGIC)
        y = read_idx(paths[f"{prefix}-labels-idx1-ubyte"], LABELS_MAGIC)
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28):
            raise DataError(
                f"{paths[f'{prefix}-images-idx3-ubyte']}: expected unsigned-byte images of shape (N, 28, 28), "
                f"found {x.dtype} {x.shape}."
            )
        if y.dtype != np.uint8 or y.ndim != 1 or len(y) != len(x):
            raise DataError(
                f"{paths[f'{prefix}-labels-idx1-ubyte']}: expected {len(x)} unsigned-byte labels to match the "
                f"images, found {y.dtype} {y.shape}."
            )
        if len(y) and int(y.max()) >= len(classes):
            raise DataError(
                f"{paths[f'{prefix}-labels-idx1-ubyte']}: label {int(y.max())} is out of range 0..{len(classes) - 1}."
            )
        parts[part] = (torch.from_numpy(x.reshape(-1, 1, 28, 28)), torch.from_numpy(y.astype(np.int64)))
    extra = {}
    if coarse is not None:
        mapping = torch.tensor(coarse[0], dtype=torch.int64)
        extra = dict(
            coarse_train_y=mapping[parts["train"][1]],
            coarse_test_y=mapping[parts["test"][1]],
            coarse_classes=list(coarse[1]),
        )
    return Dataset(
        name=name,
        train_x=parts["train"][0],
        train_y=parts["train"][1],
        test_x=parts["test"][0],
        test_y=parts["test"][1],
        classes=list(classes),
        scale=255.0,
        mean=(mean,),
        std=(std,),
        test_note="official test split (t10k files)",
        source=str(folder),
        **extra,
    )


@DATASETS.register("mnist")
def load_mnist(data_dir: Path | None = None, download: bool = False, *, base_url: str | None = None) -> Dataset:
    """MNIST handwritten digits: 60000 train / 10000 test, 28x28 grey, 10 classes.

    Args:
        data_dir: folder with the four idx files (or torchvision's ``<root>/MNIST/raw`` under it).
        download: fetch missing files from ``base_url`` (default: ``BASE_URLS['mnist']``) and
            check their published MD5.
        base_url: mirror to download from instead of the canonical one.

    Example:
        >>> ds = load_mnist("data/mnist", download=True)  # doctest: +SKIP
        >>> ds.input_shape, len(ds.train_y)  # doctest: +SKIP
        ((1, 28, 28), 60000)
    """
    return _idx_dataset(
        "mnist", data_dir, download,
        extra_dirs=("MNIST/raw",), md5=MNIST_MD5, base_url=base_url,
        classes=[str(i) for i in range(10)], mean=MNIST_MEAN, std=MNIST_STD,
    )  # fmt: skip


@DATASETS.register("fashion-mnist")
def load_fashion_mnist(data_dir: Path | None = None, download: bool = False, *, base_url: str | None = None) -> Dataset:
    """Fashion-MNIST (Zalando): 60000 train / 10000 test, 28x28 grey, 10 classes, 4 coarse classes.

    With no ``data_dir``, Debian's ``/usr/share/datasets/fashion-mnist/`` is used when it exists.
    Coarse labels follow ``FASHION_COARSE`` (tops, bottoms-and-dresses, footwear, bags).

    Args:
        data_dir: folder with the four idx files (or torchvision's ``<root>/FashionMNIST/raw``).
        download: fetch missing files from ``base_url`` (default: ``BASE_URLS['fashion-mnist']``)
            and check their published MD5.
        base_url: mirror to download from instead of the canonical one.

    Example:
        >>> ds = load_fashion_mnist()  # doctest: +SKIP
        >>> ds.coarse_classes  # doctest: +SKIP
        ['tops', 'bottoms-and-dresses', 'footwear', 'bags']
    """
    if data_dir is None and FASHION_DEBIAN_DIR.is_dir():
        data_dir = FASHION_DEBIAN_DIR
    return _idx_dataset(
        "fashion-mnist", data_dir, download,
        extra_dirs=("FashionMNIST/raw",), md5=FASHION_MD5, base_url=base_url,
        classes=FASHION_CLASSES, mean=FASHION_MEAN, std=FASHION_STD,
        coarse=(FASHION_COARSE, FASHION_COARSE_CLASSES),
    )  # fmt: skip
