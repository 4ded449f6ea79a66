"""Tiny-ImageNet-200 from its published folder layout (Stanford CS231n, ``tiny-imagenet-200.zip``).

Layout::

    tiny-imagenet-200/wnids.txt                       the 200 WordNet ids, one per line
    tiny-imagenet-200/words.txt                       "<wnid>\\t<name>, <synonym>, ..." for all of WordNet
    tiny-imagenet-200/train/<wnid>/images/*.JPEG      500 images per class, 64x64
    tiny-imagenet-200/val/val_annotations.txt         "<file>\\t<wnid>\\t<x0>\\t<y0>\\t<x1>\\t<y1>"
    tiny-imagenet-200/val/images/*.JPEG               10000 images, 50 per class

The official test images carry no labels, so ``val`` is used as the test set. Class indices
follow the sorted wnids (as ``ImageFolder`` over ``train/`` numbers them); class names are the
first name of each wnid in ``words.txt``. Some images are greyscale JPEGs; all become RGB.
"""

from __future__ import annotations

from pathlib import Path

import torch

from unlearnkit.data.dataset import Dataset
from unlearnkit.data.imagefolder import is_image_file, read_images
from unlearnkit.data.registry import DATASETS
from unlearnkit.errors import ConfigError, DataError

TINY_FOLDER = "tiny-imagenet-200"
TINY_SIZE = 64
#: Per-channel mean and std of the Tiny-ImageNet training images (the values commonly used).
TINY_MEAN = (0.4802, 0.4481, 0.3975)
TINY_STD = (0.2302, 0.2265, 0.2262)


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError(f"Tiny-ImageNet file {path} is missing.") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"Cannot read {path}: {e}") from None


def read_class_names(words_txt: Path, wnids: list[str]) -> list[str]:
    """Readable names for ``wnids`` from ``words.txt`` (first synonym; made unique with the wnid).

    Example:
        >>> read_class_names(Path("tiny-imagenet-200/words.txt"), ["n01443537"])  # doctest: +SKIP
        ['goldfish']
    """
    words: dict[str, str] = {}
    for n, line in enumerate(_read_lines(words_txt), 1):
        if not line.strip():
            continue
        wnid, sep, names = line.partition("\t")
        if not sep:
            raise DataError(f"{words_txt}, line {n}: expected '<wnid><TAB><names>', got {line[:60]!r}.")
        words[wnid.strip()] = names.split(",")[0].strip() or wnid.strip()
    missing = [w for w in wnids if w not in words]
    if missing:
        raise DataError(f"{words_txt} has no entry for {len(missing)} wnids, e.g. {', '.join(missing[:3])}.")
    names = [words[w] for w in wnids]
    counts = {name: names.count(name) for name in names}
    return [f"{name} ({w})" if counts[name] > 1 else name for name, w in zip(names, wnids)]


@DATASETS.register("tiny-imagenet")
def load_tiny_imagenet(data_dir: Path | None = None, download: bool = False) -> Dataset:
    """Tiny-ImageNet-200: 100000 train / 10000 test (the labelled val set) RGB images, 64x64, 200 classes.

    Args:
        data_dir: the extracted ``tiny-imagenet-200`` folder, or its parent.
        download: not supported (fetch ``tiny-imagenet-200.zip`` yourself); must be False.

    Example:
        >>> ds = load_tiny_imagenet(Path("data"))  # doctest: +SKIP
        >>> ds.input_shape, ds.num_classes  # doctest: +SKIP
        ((3, 64, 64), 200)
    """
    if download:
        raise ConfigError(
            "Dataset 'tiny-imagenet' has no automatic download; extract tiny-imagenet-200.zip and pass --data-dir."
        )
    if data_dir is None:
        raise DataError(
            "Dataset 'tiny-imagenet' needs --data-dir / data_dir= (the extracted tiny-imagenet-200/ or its parent)."
        )
    data_dir = Path(data_dir)
    root = data_dir if (data_dir / "wnids.txt").is_file() else data_dir / TINY_FOLDER
    if not (root / "wnids.txt").is_file():
        raise DataError(
            f"Dataset 'tiny-imagenet': wnids.txt not found in {data_dir} or {data_dir / TINY_FOLDER}. Expected "
            "tiny-imagenet-200/ with wnids.txt, words.txt, train/<wnid>/images/ and val/val_annotations.txt."
        )
    listed = [w.strip() for w in _read_lines(root / "wnids.txt") if w.strip()]
    if not listed or len(set(listed)) != len(listed):
        raise DataError(f"{root / 'wnids.txt'} must list distinct wnids, one per line.")
    wnids = sorted(listed)
    index = {w: i for i, w in enumerate(wnids)}
    classes = read_class_names(root / "words.txt", wnids)

    train_paths: list[Path] = []
    train_labels: list[int] = []
    for w in wnids:
        folder = root / "train" / w / "images"
        if not folder.is_dir():
            raise DataError(f"Tiny-ImageNet training folder {folder} is missing.")
        files = sorted(p for p in folder.iterdir() if is_image_file(p))
        if not files:
            raise DataError(f"Tiny-ImageNet training folder {folder} contains no images.")
        train_paths += files
        train_labels += [index[w]] * len(files)

    annotations = root / "val" / "val_annotations.txt"
    test_paths: list[Path] = []
    test_labels: list[int] = []
    for n, line in enumerate(_read_lines(annotations), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise DataError(f"{annotations}, line {n}: expected '<file><TAB><wnid>...', got {line[:60]!r}.")
        if fields[1] not in index:
            raise DataError(f"{annotations}, line {n}: wnid {fields[1]!r} is not in wnids.txt.")
        test_paths.append(root / "val" / "images" / fields[0])
        test_labels.append(index[fields[1]])
    if not test_paths:
        raise DataError(f"{annotations} lists no images.")

    train_x = read_images(train_paths, None, False)
    test_x = read_images(test_paths, None, False)
    for x, p in ((train_x, train_paths[0]), (test_x, test_paths[0])):
        if x.shape[2:] != (TINY_SIZE, TINY_SIZE):
            raise DataError(f"Tiny-ImageNet images must be {TINY_SIZE}x{TINY_SIZE}; {p} is {x.shape[3]}x{x.shape[2]}.")
    return Dataset(
        name="tiny-imagenet",
        train_x=torch.from_numpy(train_x),
        train_y=torch.tensor(train_labels, dtype=torch.int64),
        test_x=torch.from_numpy(test_x),
        test_y=torch.tensor(test_labels, dtype=torch.int64),
        classes=classes,
        scale=255.0,
        mean=TINY_MEAN,
        std=TINY_STD,
        test_note="official val split used as test (the test split has no labels)",
        source=str(root),
    )
