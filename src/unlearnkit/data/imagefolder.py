"""Any image-classification set stored as one sub-folder of images per class (``imagefolder``).

The layout torchvision's ``ImageFolder`` reads, used by many published sets such as the
PinsFaceRecognition face-identity set (``105_classes_pins_dataset/pins_<Name>/*.jpg``)::

    <data_dir>/<class a>/xxx.jpg            one folder per class; classes sorted by folder name
    <data_dir>/<class b>/yyy.png

or, when the set has an official split, ``<data_dir>/train/<class>/...`` and
``<data_dir>/test/<class>/...``. Without ``train/`` and ``test/`` the test set is the fixed
stratified hold-out of ``data/holdout.py``. Images are decoded with Pillow, centre-cropped to a
square and resized to ``image_size``; files without an image extension are skipped. Every image's
record ID is its path relative to ``data_dir`` (``"pins_Alice/1.jpg"``, ``"train/cat/7.png"``).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from unlearnkit.data.class_order import class_index, parse_classes, shown
from unlearnkit.data.dataset import Dataset
from unlearnkit.data.holdout import stratified_holdout
from unlearnkit.data.registry import DATASETS
from unlearnkit.errors import ConfigError, DataError

#: File extensions (lower case) read as images; anything else in a class folder is skipped.
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".ppm", ".pgm", ".pbm", ".tif", ".tiff", ".webp"}
)


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise DataError("Reading image files needs Pillow: pip install pillow") from None
    return Image


def is_image_file(path: Path) -> bool:
    """True for a visible file name with an image extension (case-insensitive); name only, no disk access.

    Example:
        >>> is_image_file(Path("a/B.JPEG")), is_image_file(Path("a/notes.txt")), is_image_file(Path(".x.png"))
        (True, False, False)
    """
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def read_image(path: str | Path, size: int | None = None, grayscale: bool = False) -> np.ndarray:
    """Decode one image to a uint8 array (C, H, W), C = 1 (grey) or 3 (RGB).

    Args:
        path: image file in any format Pillow reads.
        size: if given, centre-crop to a square and resize to ``size`` x ``size`` (bilinear).
        grayscale: convert to one luminance channel instead of RGB.

    Raises:
        DataError: naming the file when it is missing or cannot be decoded.

    Example:
        >>> read_image("faces/pins_Alice/1.jpg", size=32).shape  # doctest: +SKIP
        (3, 32, 32)
    """
    Image = _pil()
    try:
        with Image.open(path) as img:
            img = img.convert("L" if grayscale else "RGB")
            if size is not None:
                w, h = img.size
                side = min(w, h)
                left, top = (w - side) // 2, (h - side) // 2
                img = img.crop((left, top, left + side, top + side))
                if side != size:
                    img = img.resize((size, size), Image.Resampling.BILINEAR)
            arr = np.asarray(img, dtype=np.uint8)
    except FileNotFoundError:
        raise DataError(f"Image file {path} does not exist.") from None
    except Exception as e:  # Pillow raises UnidentifiedImageError, OSError, SyntaxError, ... on bad files
        raise DataError(f"Cannot decode image {path}: {e}") from None
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def read_images(paths: Sequence[Path], size: int | None = None, grayscale: bool = False) -> np.ndarray:
    """Decode many images in parallel threads into one uint8 array (N, C, H, W), in ``paths`` order.

    With ``size=None`` images are not resized and must all have the size of the first one.

    Raises:
        DataError: naming the first file that cannot be decoded or has a different size.

    Example:
        >>> read_images(sorted(Path("faces/pins_Alice").glob("*.jpg")), size=32).shape  # doctest: +SKIP
        (86, 3, 32, 32)
    """
    if not paths:
        return np.zeros((0, 1 if grayscale else 3, size or 0, size or 0), dtype=np.uint8)
    first = read_image(paths[0], size, grayscale)
    out = np.empty((len(paths),) + first.shape, dtype=np.uint8)
    out[0] = first

    def fill(i: int) -> None:
        arr = read_image(paths[i], size, grayscale)
        if arr.shape != first.shape:
            raise DataError(
                f"Image {paths[i]} is {arr.shape[2]}x{arr.shape[1]}, but {paths[0]} is "
                f"{first.shape[2]}x{first.shape[1]}; all images of this dataset must have the same size."
            )
        out[i] = arr

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for _ in pool.map(fill, range(1, len(paths))):
            pass
    return out


def channel_stats(
    x: torch.Tensor, scale: float = 255.0, chunk: int = 1024
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of ``x / scale`` over (N, H, W), in float64 and in chunks.

    A channel with zero spread gets std 1.0 so normalising never divides by zero.

    Example:
        >>> channel_stats(torch.full((2, 1, 2, 2), 255, dtype=torch.uint8))
        ((1.0,), (1.0,))
    """
    c = x.shape[1]
    total = torch.zeros(c, dtype=torch.float64)
    total_sq = torch.zeros(c, dtype=torch.float64)
    count = 0
    for i in range(0, len(x), chunk):
        b = x[i : i + chunk].to(torch.float64) / scale
        total += b.sum(dim=(0, 2, 3))
        total_sq += (b * b).sum(dim=(0, 2, 3))
        count += b.numel() // c
    if count == 0:
        return (0.0,) * c, (1.0,) * c
    mean = total / count
    std = (total_sq / count - mean * mean).clamp_min(0).sqrt()
    return tuple(float(m) for m in mean), tuple(float(s) if s > 1e-8 else 1.0 for s in std)


def scan_class_folders(root: Path, within: Path | None = None) -> dict[str, list[Path]]:
    """Class name -> sorted image files, for every visible sub-folder of ``root`` (sorted by name).

    Args:
        root: the folder of class sub-folders.
        within: the data directory every folder and image must resolve into (default ``root``): a
            symbolic link out of it is refused, so that only the folder's own images are read.

    Raises:
        DataError: ``root`` missing, no class sub-folders, a class folder without images, or a
            folder or file that resolves outside ``within``.

    Example:
        >>> scan_class_folders(Path("faces"))  # doctest: +SKIP
        {'pins_Alice': [PosixPath('faces/pins_Alice/1.jpg'), ...], ...}
    """
    if not root.is_dir():
        raise DataError(f"Image folder {root} does not exist or is not a directory.")
    base = (within if within is not None else root).resolve()
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not class_dirs:
        raise DataError(f"No class sub-folders in {root}: expected one folder of images per class.")
    classes = {}
    for d in class_dirs:
        _check_inside(d, base)
        files = sorted(p for p in d.iterdir() if is_image_file(p) and p.is_file())
        for f in files:
            _check_inside(f, base)
        if not files:
            hint = ""
            if any(p.is_dir() for p in d.iterdir()):
                hint = f" It holds sub-folders: did you mean --data-dir {d}?"
            raise DataError(
                f"Class folder {d} contains no image files ({', '.join(sorted(IMAGE_EXTENSIONS))}).{hint}"
            )
        classes[d.name] = files
    return classes


def _check_inside(path: Path, base: Path) -> None:
    """Refuse ``path`` when it resolves (through symbolic links) outside the folder ``base``."""
    target = path.resolve()
    if target != base and base not in target.parents:
        raise DataError(f"{path} resolves to {target}, outside the data directory {base} (a symbolic link); image "
                        "folders read only files inside the folder. Copy the file in, or remove the link.")


def relative_ids(paths: Sequence[Path], root: Path) -> list[str]:
    """Record IDs of image files: their paths relative to ``root``, with ``/`` separators.

    Example:
        >>> relative_ids([Path("faces/pins_Alice/1.jpg")], Path("faces"))
        ['pins_Alice/1.jpg']
    """
    return [p.relative_to(root).as_posix() for p in paths]


def _flatten(classes: dict[str, list[Path]], index: dict[str, int]) -> tuple[list[Path], np.ndarray]:
    paths = [p for name in classes for p in classes[name]]
    labels = np.array([index[name] for name in classes for _ in classes[name]], dtype=np.int64)
    return paths, labels


def _as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        return value.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ConfigError(f"The {name!r} option of imagefolder must be a boolean. Got {value!r} instead.")


def _size_and_fraction(image_size: Any, test_fraction: Any) -> tuple[int, float]:
    """The ``image_size`` and ``test_fraction`` options of ``imagefolder``, checked."""
    try:
        size = int(image_size)
        fraction = float(test_fraction)
    except (TypeError, ValueError):
        raise ConfigError(
            f"imagefolder options image_size (int) and test_fraction (float) got {image_size!r}, {test_fraction!r}."
        ) from None
    if size < 1 or size != float(image_size):
        raise ConfigError(
            f"The 'image_size' option of imagefolder must be an int in [1, inf). Got {image_size!r} instead."
        )
    if not 0.0 < fraction < 1.0:
        raise ConfigError(
            f"The 'test_fraction' option of imagefolder must be a float in (0, 1). Got {test_fraction!r} instead."
        )
    return size, fraction


@DATASETS.register("imagefolder")
def load_imagefolder(
    data_dir: Path | None = None,
    download: bool = False,
    *,
    image_size: int = 32,
    test_fraction: float = 0.2,
    grayscale: bool = False,
    classes: Any = None,
) -> Dataset:
    """A folder of class sub-folders of images, e.g. PinsFaceRecognition, as a ``Dataset``.

    Args:
        data_dir: the folder holding one sub-folder per class (or ``train/`` and ``test/``).
        download: not available (there is no canonical source); must be False.
        image_size: side of the square images after centre-crop and resize.
        test_fraction: share of every class held out as the test set (seeded, fixed) when
            there are no ``train/`` and ``test/`` sub-folders.
        grayscale: one luminance channel instead of RGB.
        classes: the class names (folder names) in the model's logit order: a list, ``a,b,c`` or
            a file with one name per line (``unlearnkit.data.class_order``); default sorted by name.
            Every class folder must be listed; the model may know classes that have no folder.

    Example:
        >>> ds = load_imagefolder(Path("105_classes_pins_dataset"), image_size=64)  # doctest: +SKIP
        >>> ds.input_shape  # doctest: +SKIP
        (3, 64, 64)
    """
    if download:
        raise ConfigError("Dataset 'imagefolder' has no download source; pass the folder with --data-dir / data_dir=.")
    if data_dir is None:
        raise DataError("Dataset 'imagefolder' needs --data-dir / data_dir= (a folder with one sub-folder per class).")
    size, fraction = _size_and_fraction(image_size, test_fraction)
    grey = _as_bool(grayscale, "grayscale")
    order = None if classes is None else parse_classes(classes)
    root = Path(data_dir)

    if (root / "train").is_dir() and (root / "test").is_dir():
        train_classes = scan_class_folders(root / "train", root)
        index = class_index(list(train_classes), order, str(root / "train"))
        test_classes = scan_class_folders(root / "test", root)
        unknown = sorted(set(test_classes) - set(index))
        if unknown:
            raise DataError(f"{root / 'test'} has class folders that {root / 'train'} lacks: {shown(unknown)}.")
        train_paths, train_y = _flatten(train_classes, index)
        test_paths, test_y = _flatten(test_classes, index)
        train_x = read_images(train_paths, size, grey)
        test_x = read_images(test_paths, size, grey)
        train_ids, test_ids = relative_ids(train_paths, root), relative_ids(test_paths, root)
        note = "official split (train/ and test/ folders)"
    else:
        found = scan_class_folders(root, root)
        index = class_index(list(found), order, str(root))
        paths, y = _flatten(found, index)
        x = read_images(paths, size, grey)
        tr, te = stratified_holdout(y, fraction=fraction)
        train_x, train_y, test_x, test_y = x[tr], y[tr], x[te], y[te]
        all_ids = relative_ids(paths, root)
        train_ids, test_ids = [all_ids[i] for i in tr], [all_ids[i] for i in te]
        note = f"fixed stratified {fraction:.0%} hold-out (no train/ and test/ folders)"
    train_t = torch.from_numpy(np.ascontiguousarray(train_x))
    mean, std = channel_stats(train_t)
    return Dataset(
        name="imagefolder",
        train_x=train_t,
        train_y=torch.from_numpy(train_y),
        test_x=torch.from_numpy(np.ascontiguousarray(test_x)),
        test_y=torch.from_numpy(test_y),
        classes=list(order) if order is not None else list(index),
        scale=255.0,
        mean=mean,
        std=std,
        test_note=note,
        source=str(root),
        train_ids=train_ids,
        test_ids=test_ids,
    )
