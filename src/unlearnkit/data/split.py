"""``make_split``: turn a dataset and a forget spec into index sets forget / retain / test."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from unlearnkit.data.dataset import Dataset, Subset
from unlearnkit.data.forget import ForgetSpec
from unlearnkit.errors import ConfigError
from unlearnkit.seeding import numpy_rng

SUBSET_NAMES = ("forget", "retain", "train", "test", "test_forget", "test_retain", "val", "val_forget")


@dataclass(frozen=True, eq=False)
class Split:
    """The index sets of one forget scenario.

    ``forget`` and ``retain`` are sorted train indices, disjoint and together covering the train
    set; ``test`` is every test index; in class and sub-class scenarios ``test_forget`` holds the
    test samples of the forgotten classes and ``test_retain`` the rest. When the dataset has a
    validation slice V, ``val`` indexes all of it and ``val_forget`` is V_f of METRICS.md: the
    samples of V whose (fine) class is one of D_f's, drawn (seeded, stratified) to D_f's class
    proportions, at most |D_f| of them; both are ``None`` otherwise. Two splits are equal when
    their fingerprints are (same dataset variant, label set and forget indices).
    """

    dataset: Dataset
    spec: ForgetSpec
    seed: int
    label_set: str
    forget: torch.Tensor
    retain: torch.Tensor
    test: torch.Tensor
    test_forget: torch.Tensor | None
    test_retain: torch.Tensor | None
    fingerprint: str
    val: torch.Tensor | None = None
    val_forget: torch.Tensor | None = None

    @property
    def kind(self) -> str:
        """The scenario: ``random``, ``class``, ``subclass`` or ``indices`` (an ``ids`` spec names indices)."""
        return "indices" if self.spec.kind == "ids" else self.spec.kind

    def ids(self, name: str) -> tuple[str, ...]:
        """The record IDs of one index set (``forget``, ``retain``, ``val_forget``...), when the dataset has IDs."""
        sub = self.subset(name)
        known = self.dataset.ids(sub.part)
        return tuple(known[int(i)] for i in sub.indices)

    @property
    def num_classes(self) -> int:
        return len(self.dataset.class_names(self.label_set))

    @property
    def test_star_name(self) -> str:
        """``"test_retain"`` in class / sub-class scenarios (D_t,r), else ``"test"`` (D_t)."""
        return "test_retain" if self.test_retain is not None else "test"

    def subset(self, name: str) -> Subset:
        """A ``Subset`` view of one index set, labelled with this split's label set."""
        if name not in SUBSET_NAMES:
            raise ConfigError(f"Unknown subset {name!r}. Valid subsets: {', '.join(SUBSET_NAMES)}.")
        if name == "train":
            idx = torch.arange(len(self.dataset.train_y))
        else:
            idx = getattr(self, name)
        if idx is None:
            if name.startswith("val"):
                raise ConfigError(
                    f"Subset {name!r} needs a validation slice, which dataset {self.dataset.name!r} has not: load it "
                    "with the option train_subset=N or val_size=N (--data-option val_size=N)."
                )
            raise ConfigError(f"Subset {name!r} exists only in class and sub-class scenarios, not {self.kind!r}.")
        part = "test" if name.startswith("test") else "val" if name.startswith("val") else "train"
        return Subset(self.dataset, part, idx, self.label_set)

    def describe(self) -> dict:
        """A JSON-serialisable summary (sizes, spec, fingerprint) for run records."""
        out = {
            "dataset": self.dataset.name,
            "spec": str(self.spec),
            "seed": self.seed,
            "label_set": self.label_set,
            "fingerprint": self.fingerprint,
            "n_forget": len(self.forget),
            "n_retain": len(self.retain),
            "n_test": len(self.test),
        }
        if self.test_forget is not None:
            out["n_test_forget"] = len(self.test_forget)
            out["n_test_retain"] = len(self.test_retain)
        if self.dataset.variant:
            out["variant"] = self.dataset.variant
        if self.val is not None:
            out["n_val"] = len(self.val)
            out["n_val_forget"] = len(self.val_forget)
            out["val_note"] = self.dataset.val_note
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Split) and other.fingerprint == self.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __repr__(self) -> str:
        return (
            f"Split({self.dataset.name}, {self.spec}, seed={self.seed}, forget={len(self.forget)}, "
            f"retain={len(self.retain)}, fingerprint={self.fingerprint})"
        )


def make_split(dataset: Dataset, spec: str | ForgetSpec, *, seed: int = 0) -> Split:
    """Resolve a forget spec against a dataset.

    Args:
        dataset: the dataset.
        spec: a forget spec string (see ``unlearnkit.data.forget``) or a parsed ``ForgetSpec``.
        seed: seeds the draw of ``random:`` specs; class, sub-class and index specs ignore it.

    Returns:
        The ``Split``.

    Raises:
        ConfigError: unknown class, bad indices file, or a spec that would forget every sample.

    Example:
        >>> from unlearnkit.data import load_dataset
        >>> split = make_split(load_dataset("digits"), "class:3")
        >>> split.kind, len(split.forget) + len(split.retain) == len(split.dataset.train_y)
        ('class', True)
    """
    if isinstance(spec, str):
        spec = ForgetSpec.parse(spec)
    n_train = len(dataset.train_y)
    label_set = "coarse" if spec.kind == "subclass" else "fine"
    test_forget = test_retain = None
    if spec.kind == "random":
        forget = _draw_random(dataset.train_y.numpy(), spec, seed)
    elif spec.kind in ("class", "subclass"):
        classes = [_resolve_class(dataset, c, spec) for c in spec.classes]
        forget = np.flatnonzero(np.isin(dataset.train_y.numpy(), classes))
        test_mask = np.isin(dataset.test_y.numpy(), classes)
        test_forget = torch.from_numpy(np.flatnonzero(test_mask))
        test_retain = torch.from_numpy(np.flatnonzero(~test_mask))
        if spec.kind == "subclass":
            dataset.labels("train", "coarse")  # raises when the dataset has no coarse labels
    elif spec.kind == "ids":
        from unlearnkit.data.records import read_ids_file, resolve_ids

        forget = resolve_ids(dataset, spec.ids if spec.ids is not None else read_ids_file(spec.path))
    else:
        forget = _read_indices(spec.path, n_train)
    forget = np.sort(np.asarray(forget, dtype=np.int64))
    if len(forget) == 0:
        raise ConfigError(f"Forget spec {str(spec)!r} selects no training sample of {dataset.name!r}.")
    if len(forget) >= n_train:
        raise ConfigError(
            f"Forget spec {str(spec)!r} would forget the whole training set of {dataset.name!r} "
            f"({n_train} samples); nothing would remain to retrain on."
        )
    retain = np.setdiff1d(np.arange(n_train), forget)
    val = val_forget = None
    if dataset.has_val:
        val = torch.arange(len(dataset.val_y))
        val_forget = torch.from_numpy(draw_val_forget(dataset.train_y.numpy()[forget], dataset.val_y.numpy(), seed))
    return Split(
        dataset=dataset,
        spec=spec,
        seed=seed,
        label_set=label_set,
        forget=torch.from_numpy(forget),
        retain=torch.from_numpy(retain),
        test=torch.arange(len(dataset.test_y)),
        test_forget=test_forget,
        test_retain=test_retain,
        fingerprint=_fingerprint(dataset, label_set, forget),
        val=val,
        val_forget=val_forget,
    )


def draw_val_forget(forget_labels: np.ndarray, val_labels: np.ndarray, seed: int) -> np.ndarray:
    """V_f: positions in V of samples of D_f's classes, drawn (seeded) to D_f's class proportions.

    The size m is the largest at most |D_f| for which every class's share, ``round(m · n_c / |D_f|)``
    by largest remainder, is available in V; a class of D_f absent from V leaves V_f empty.

    Example:
        >>> draw_val_forget(np.array([0, 0, 1, 1]), np.array([0, 0, 0, 1, 1, 2]), seed=0).tolist()
        [0, 1, 3, 4]
    """
    classes, counts = np.unique(forget_labels, return_counts=True)
    available = np.array([(val_labels == c).sum() for c in classes])
    if (available == 0).any():
        return np.empty(0, dtype=np.int64)
    n_f = len(forget_labels)
    m = min(n_f, int(np.floor((available * n_f / counts).min())))
    quota = counts * (m / n_f)
    take = np.floor(quota).astype(int)
    order = np.argsort(-(quota - take), kind="stable")
    for i in order[: m - int(take.sum())]:
        take[i] += 1
    take = np.minimum(take, available)
    rng = numpy_rng(seed, "val_forget")
    picked = [rng.choice(np.flatnonzero(val_labels == c), size=t, replace=False) for c, t in zip(classes, take) if t]
    return np.sort(np.concatenate(picked)) if picked else np.empty(0, dtype=np.int64)


def _draw_random(y: np.ndarray, spec: ForgetSpec, seed: int) -> np.ndarray:
    n = len(y)
    rng = numpy_rng(seed, "split", str(spec))
    if spec.count is not None and spec.count >= n:
        raise ConfigError(
            f"Forget spec {str(spec)!r} asks for {spec.count} samples but the training set has {n}; "
            "that would forget the whole training set."
        )
    if not spec.stratified:
        k = spec.count if spec.count is not None else max(1, int(round(spec.fraction * n)))
        return rng.choice(n, size=k, replace=False)
    fraction = spec.fraction if spec.fraction is not None else spec.count / n
    picked = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        k = min(len(idx), int(round(fraction * len(idx))))
        picked.append(rng.choice(idx, size=k, replace=False))
    return np.concatenate(picked)


def _resolve_class(dataset: Dataset, token: int | str, spec: ForgetSpec) -> int:
    names = dataset.classes
    if isinstance(token, int):
        if token >= len(names):
            raise ConfigError(
                f"Class {token} does not exist in {dataset.name!r}: valid class indices are 0..{len(names) - 1} "
                f"({', '.join(names)})."
            )
        return token
    if token in names:
        return names.index(token)
    raise ConfigError(
        f"Class {token!r} does not exist in {dataset.name!r}. Valid classes: {', '.join(names)} "
        f"(or an index 0..{len(names) - 1})."
    )


def _read_indices(path: str, n_train: int) -> np.ndarray:
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"Indices file {path!r} is a directory; give a file (one integer per line, or a 1-D .npy).")
    if not p.is_file():
        raise ConfigError(f"Indices file {path!r} does not exist.")
    if p.suffix == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except (ValueError, EOFError, OSError) as exc:
            raise ConfigError(f"Indices file {path!r} is not a plain .npy array ({exc or 'empty file'}).") from None
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
            raise ConfigError(f"Indices file {path!r} must hold a 1-D integer array; got {arr.dtype} of shape {arr.shape}.")
        values = arr.astype(np.int64)
    else:
        values_list = []
        try:
            text_lines = p.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            raise ConfigError(f"Indices file {path!r} is not a text file (one integer per line) nor a .npy file.") from None
        for lineno, line in enumerate(text_lines, start=1):
            text = line.strip()
            if not text:
                continue
            try:
                values_list.append(int(text))
            except ValueError:
                raise ConfigError(
                    f"Indices file {path!r}, line {lineno}: {text!r} is not an integer (one integer per line)."
                ) from None
        too_big = [v for v in values_list if not -2**63 <= v < 2**63]
        if too_big:
            raise ConfigError(f"Indices file {path!r} has {len(too_big)} index(es) outside 0..{n_train - 1}, "
                              f"e.g. one of {len(str(too_big[0]))} digits.")
        values = np.asarray(values_list, dtype=np.int64)
    if len(values) == 0:
        raise ConfigError(f"Indices file {path!r} holds no index.")
    bad = values[(values < 0) | (values >= n_train)]
    if len(bad):
        raise ConfigError(
            f"Indices file {path!r} has {len(bad)} index(es) outside 0..{n_train - 1}, e.g. {int(bad[0])}."
        )
    uniq, counts = np.unique(values, return_counts=True)
    if (counts > 1).any():
        raise ConfigError(f"Indices file {path!r} lists index {int(uniq[counts > 1][0])} more than once.")
    return values


def _fingerprint(dataset: Dataset, label_set: str, forget: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(f"{dataset.name}|{label_set}|{len(dataset.train_y)}|{len(dataset.test_y)}|".encode())
    if dataset.variant:
        h.update(f"{dataset.variant}|{dataset.fingerprint()}|".encode())
    h.update(np.ascontiguousarray(forget, dtype="<i8").tobytes())
    return h.hexdigest()[:16]
