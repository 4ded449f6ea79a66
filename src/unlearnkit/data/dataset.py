"""The ``Dataset`` object every loader returns, and ``Subset``, the view methods and loops use."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from unlearnkit.data.arrays import build_dataset
from unlearnkit.errors import DataError


@dataclass
class Dataset:
    """A classification dataset held in memory as raw tensors plus how to normalise them.

    Raw inputs keep their stored dtype (``uint8`` images stay ``uint8``) to save memory; ``inputs``
    converts a batch to normalised ``float32``: ``(raw / scale - mean) / std`` per channel.

    Attributes:
        name: registry name, e.g. ``"digits"``.
        train_x: raw training inputs, shape (N, C, H, W) for images or (N, F) for tabular data.
        train_y: fine labels, int64, shape (N,).
        test_x, test_y: the same for the test set.
        classes: names of the fine classes; ``len(classes) == num_classes``.
        coarse_train_y, coarse_test_y: optional super-class labels (for ``subclass:`` forgetting).
        coarse_classes: names of the super-classes, when coarse labels exist.
        scale: divisor applied to raw values first (255 for 8-bit images).
        mean, std: per-channel (or per-feature) normalisation after scaling.
        test_note: how the test set was obtained (official split, or a seeded hold-out).
        val_x, val_y, coarse_val_y: the validation slice V (``None`` when the dataset has none):
            held-out samples of the training distribution, never trained on, disjoint from the test
            set; made by the ``train_subset`` / ``val_size`` options (``unlearnkit.data.subsample``).
        val_note: where V came from.
        variant: the subsampling options that made this dataset from the loader's, e.g.
            ``"train_subset=10000,subset_seed=0"``; empty for the dataset as loaded.
        train_ids, test_ids, val_ids: optional record IDs (strings, unique within a part), one per
            sample, for datasets whose records have names (``Dataset.from_arrays(x, y, ids=...)``,
            image folders, a CSV id column). Forget specs can name them (``ids:FILE``). They do not
            enter the fingerprint: they do not change what a model learns.

    Example:
        >>> import torch
        >>> ds = Dataset(name="toy", train_x=torch.zeros(4, 1, 2, 2), train_y=torch.tensor([0, 1, 0, 1]),
        ...              test_x=torch.zeros(2, 1, 2, 2), test_y=torch.tensor([0, 1]), classes=["a", "b"])
        >>> ds.num_classes, ds.input_shape
        (2, (1, 2, 2))
    """

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: list[str]
    coarse_train_y: torch.Tensor | None = None
    coarse_test_y: torch.Tensor | None = None
    coarse_classes: list[str] | None = None
    scale: float = 1.0
    mean: Sequence[float] = (0.0,)
    std: Sequence[float] = (1.0,)
    test_note: str = "official test split"
    source: str = ""
    val_x: torch.Tensor | None = None
    val_y: torch.Tensor | None = None
    coarse_val_y: torch.Tensor | None = None
    val_note: str = ""
    variant: str = ""
    train_ids: Sequence[str] | None = field(default=None, repr=False)
    test_ids: Sequence[str] | None = field(default=None, repr=False)
    val_ids: Sequence[str] | None = field(default=None, repr=False)
    _mean_t: torch.Tensor = field(init=False, repr=False)
    _std_t: torch.Tensor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.train_y = torch.as_tensor(self.train_y, dtype=torch.int64)
        self.test_y = torch.as_tensor(self.test_y, dtype=torch.int64)
        if len(self.train_x) != len(self.train_y) or len(self.test_x) != len(self.test_y):
            raise DataError(
                f"{self.name}: inputs and labels differ in length "
                f"(train {len(self.train_x)} vs {len(self.train_y)}, test {len(self.test_x)} vs {len(self.test_y)})"
            )
        if tuple(self.train_x.shape[1:]) != tuple(self.test_x.shape[1:]):
            raise DataError(f"{self.name}: train and test inputs differ in shape")
        for part, y in (("train", self.train_y), ("test", self.test_y)):
            if len(y) and (int(y.min()) < 0 or int(y.max()) >= len(self.classes)):
                raise DataError(
                    f"{self.name}: {part} labels must lie in [0, {len(self.classes) - 1}]; "
                    f"found [{int(y.min())}, {int(y.max())}]"
                )
        if (self.coarse_train_y is None) != (self.coarse_test_y is None) or (
            self.coarse_train_y is not None and self.coarse_classes is None
        ):
            raise DataError(f"{self.name}: coarse labels need train, test and class names together")
        if self.coarse_train_y is not None:
            self.coarse_train_y = torch.as_tensor(self.coarse_train_y, dtype=torch.int64)
            self.coarse_test_y = torch.as_tensor(self.coarse_test_y, dtype=torch.int64)
        if (self.val_x is None) != (self.val_y is None):
            raise DataError(f"{self.name}: the validation slice needs inputs and labels together")
        if self.val_y is not None:
            self.val_y = torch.as_tensor(self.val_y, dtype=torch.int64)
            if len(self.val_x) != len(self.val_y) or tuple(self.val_x.shape[1:]) != tuple(self.train_x.shape[1:]):
                raise DataError(f"{self.name}: validation inputs and labels differ in length or shape from the training set")
            if (self.coarse_val_y is None) != (self.coarse_train_y is None):
                raise DataError(f"{self.name}: coarse labels need the validation slice's coarse labels too")
        for part, n in (("train", len(self.train_y)), ("test", len(self.test_y)),
                        ("val", 0 if self.val_y is None else len(self.val_y))):
            setattr(self, f"{part}_ids", _check_ids(self.name, part, getattr(self, f"{part}_ids"), n))
        channel_shape = (-1,) + (1,) * (self.train_x.dim() - 2)
        self._mean_t = torch.tensor(self.mean, dtype=torch.float32).reshape(channel_shape)
        self._std_t = torch.tensor(self.std, dtype=torch.float32).reshape(channel_shape)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @classmethod
    def from_arrays(cls, x, y, ids=None, **kwargs) -> "Dataset":
        """A dataset from in-memory arrays and record IDs; see ``unlearnkit.data.records.from_arrays``.

        Example:
            >>> import numpy as np
            >>> ds = Dataset.from_arrays(np.zeros((4, 3)), [0, 1, 0, 1], ids=["a", "b", "c", "d"])
            >>> ds.train_ids[:2], ds.num_classes
            (('a', 'b'), 2)
        """
        return build_dataset(cls, x, y, ids, **kwargs)

    def ids(self, part: str = "train") -> tuple[str, ...]:
        """The record IDs of ``part`` (``"train"``, ``"test"`` or ``"val"``); ``DataError`` when it has none."""
        if part not in ("train", "test", "val"):
            raise ValueError(f"part must be 'train', 'test' or 'val', got {part!r}")
        ids = getattr(self, f"{part}_ids")
        if ids is None:
            raise DataError(
                f"Dataset {self.name!r} has no record IDs for its {part} part: give them with "
                "Dataset.from_arrays(x, y, ids=...), an id column (id_column=) or an image folder."
            )
        return ids

    @property
    def has_val(self) -> bool:
        """Whether the dataset carries a validation slice V."""
        return self.val_y is not None and len(self.val_y) > 0

    def restricted(self, train_index: torch.Tensor, val_index: torch.Tensor, *, val_note: str,
                   variant: str) -> "Dataset":
        """A copy training on ``train_index`` only, with V = the training samples at ``val_index``."""
        coarse = self.coarse_train_y
        return Dataset(
            name=self.name, train_x=self.train_x[train_index], train_y=self.train_y[train_index],
            test_x=self.test_x, test_y=self.test_y, classes=list(self.classes),
            coarse_train_y=None if coarse is None else coarse[train_index], coarse_test_y=self.coarse_test_y,
            coarse_classes=self.coarse_classes, scale=self.scale, mean=self.mean, std=self.std,
            test_note=self.test_note, source=self.source,
            val_x=self.train_x[val_index] if len(val_index) else None,
            val_y=self.train_y[val_index] if len(val_index) else None,
            coarse_val_y=None if coarse is None or not len(val_index) else coarse[val_index],
            val_note=val_note, variant=variant,
            train_ids=None if self.train_ids is None else _take_ids(self.train_ids, train_index),
            test_ids=self.test_ids,
            val_ids=None if self.train_ids is None or not len(val_index) else _take_ids(self.train_ids, val_index),
        )

    def fingerprint(self) -> str:
        """SHA-256 (16 hex digits) of the inputs and labels: tells apart two ``csv`` files, say."""
        cached = self.__dict__.get("_fingerprint")
        if cached is None:
            h = hashlib.sha256(self.name.encode())
            parts = [self.train_x, self.train_y, self.test_x, self.test_y]
            if self.val_y is not None:
                parts += [self.val_x, self.val_y]
            for t in parts:
                h.update(str(tuple(t.shape)).encode())
                h.update(t.contiguous().numpy().tobytes())
            cached = self.__dict__["_fingerprint"] = h.hexdigest()[:16]
        return cached

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train_x.shape[1:])

    @property
    def is_image(self) -> bool:
        return self.train_x.dim() == 4

    def inputs(self, part: str, index: torch.Tensor | np.ndarray | slice) -> torch.Tensor:
        """Normalised float32 inputs of ``part`` (``"train"`` or ``"test"``) at ``index``."""
        raw = self._raw(part)[index]
        x = raw.to(torch.float32)
        if self.scale != 1.0:
            x = x / self.scale
        return (x - self._mean_t) / self._std_t

    def labels(self, part: str, label_set: str = "fine") -> torch.Tensor:
        """All labels of ``part`` (``"train"``, ``"test"`` or ``"val"``); ``label_set="coarse"`` gives the super-classes."""
        if label_set == "coarse":
            if self.coarse_train_y is None:
                raise DataError(f"Dataset {self.name!r} has no coarse labels, so sub-class forgetting is not available.")
            return {"train": self.coarse_train_y, "test": self.coarse_test_y, "val": self.coarse_val_y}[part]
        return {"train": self.train_y, "test": self.test_y, "val": self.val_y}[part]

    def class_names(self, label_set: str = "fine") -> list[str]:
        return list(self.coarse_classes) if label_set == "coarse" else list(self.classes)

    def _raw(self, part: str) -> torch.Tensor:
        if part == "train":
            return self.train_x
        if part == "test":
            return self.test_x
        if part == "val" and self.val_x is not None:
            return self.val_x
        raise ValueError(f"part must be 'train', 'test' or 'val' (when the dataset has V), got {part!r}")


def _check_ids(name: str, part: str, ids, n: int) -> tuple[str, ...] | None:
    """``ids`` as a tuple of strings, checked: one per sample, no duplicates, none empty."""
    if ids is None:
        return None
    if isinstance(ids, (str, bytes)):
        raise DataError(f"{name}: {part} IDs must be a sequence of strings, one per sample; got a single string.")
    out = tuple(str(i) for i in (ids.tolist() if hasattr(ids, "tolist") else ids))
    if len(out) != n:
        raise DataError(f"{name}: {len(out)} {part} IDs for {n} {part} samples; give exactly one ID per sample.")
    if any(not i.strip() for i in out):
        first = next(k for k, i in enumerate(out) if not i.strip())
        raise DataError(f"{name}: {part} ID at position {first} is empty; every record needs a non-blank ID.")
    if len(set(out)) != len(out):
        seen: set[str] = set()
        dup = next(i for i in out if i in seen or seen.add(i))
        raise DataError(f"{name}: {part} ID {dup!r} occurs more than once; record IDs must be unique.")
    return out


def _take_ids(ids: Sequence[str], index) -> tuple[str, ...]:
    return tuple(ids[int(i)] for i in np.asarray(index).reshape(-1))


class Subset:
    """Indices into one part of a ``Dataset`` with the labels to train on; the unit methods receive.

    ``len(subset)`` samples; ``subset.batch(i)`` returns ``(x, y)`` for positions ``i`` of the
    subset (not dataset indices); ``subset.tensors()`` returns all of them at once.

    Example:
        >>> from unlearnkit.data import load_dataset
        >>> ds = load_dataset("digits")
        >>> s = Subset(ds, "train", torch.arange(10))
        >>> x, y = s.tensors(); x.shape
        torch.Size([10, 1, 8, 8])
    """

    def __init__(self, dataset: Dataset, part: str, indices: torch.Tensor | np.ndarray, label_set: str = "fine"):
        self.dataset = dataset
        self.part = part
        self.indices = torch.as_tensor(np.asarray(indices), dtype=torch.int64)
        self.label_set = label_set
        self._labels = dataset.labels(part, label_set)[self.indices]

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def labels(self) -> torch.Tensor:
        return self._labels

    @property
    def num_classes(self) -> int:
        return len(self.dataset.class_names(self.label_set))

    def batch(self, positions: torch.Tensor | slice) -> tuple[torch.Tensor, torch.Tensor]:
        return self.dataset.inputs(self.part, self.indices[positions]), self._labels[positions]

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.batch(slice(None))

    def take(self, positions: torch.Tensor) -> "Subset":
        """A smaller subset made of ``positions`` of this one."""
        return Subset(self.dataset, self.part, self.indices[positions], self.label_set)

    def __repr__(self) -> str:
        return f"Subset({self.dataset.name}/{self.part}, n={len(self)}, labels={self.label_set})"


def detach_subset(subset: Subset) -> Subset:
    """A copy of ``subset`` that holds only its own samples, so nothing else is reachable from it.

    The unlearning front door hands methods detached subsets: a forget-only method given the
    forget set cannot walk ``subset.dataset`` back to the retain samples.
    """
    ds = subset.dataset
    raw = ds._raw(subset.part)[subset.indices]
    names = ds.class_names(subset.label_set)
    detached = Dataset(
        name=ds.name,
        train_x=raw,
        train_y=subset.labels.clone(),
        test_x=raw[:0],
        test_y=subset.labels[:0].clone(),
        classes=names,
        scale=ds.scale,
        mean=tuple(ds.mean),
        std=tuple(ds.std),
        test_note="none (detached subset)",
        source=ds.source,
    )
    return Subset(detached, "train", torch.arange(len(raw)))


def relabelled_union(forget: Subset, forget_labels: torch.Tensor, retain: Subset,
                     retain_labels: torch.Tensor | None = None) -> Subset:
    """One subset holding D_f with ``forget_labels`` followed by D_r with ``retain_labels``
    (its own labels when ``None``).

    Raw inputs are concatenated and keep the dataset's normalisation, so nothing is copied to
    float32 up front.
    """
    a, b = forget.dataset, retain.dataset
    if (a.scale, tuple(a.mean), tuple(a.std)) != (b.scale, tuple(b.mean), tuple(b.std)):
        raise ValueError("the forget and retain sets must come from the same dataset (same normalisation)")
    raw_f = a._raw(forget.part)[forget.indices]
    raw_r = b._raw(retain.part)[retain.indices]
    raw = torch.cat([raw_f, raw_r.to(raw_f.dtype)])
    second = retain.labels if retain_labels is None else retain_labels.to(torch.int64).cpu()
    labels = torch.cat([forget_labels.to(torch.int64).cpu(), second])
    names = a.class_names(forget.label_set)
    ds = Dataset(name=a.name, train_x=raw, train_y=labels, test_x=raw[:0], test_y=labels[:0], classes=names,
                 scale=a.scale, mean=tuple(a.mean), std=tuple(a.std), test_note="none (relabelled union)")
    return Subset(ds, "train", torch.arange(len(raw)))
