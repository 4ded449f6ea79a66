"""Checks ``forget`` makes before any work: does the model fit its own records, and do the IDs exist?

**Label order.** Loaders of named classes (image folders, CSV labels) sort the names unless told
the model's order (``classes``). A model trained with another order then meets permuted labels:
it looks like a poor model, the method retrains it on wrong labels, and the evidence reads
"unseen" -- a silent wrong answer. ``check_fit`` refuses such a model, naming both accuracies:

- it is confident (mean top probability on its training records at least half way from uniform
  to 1) and its predictions match the labels far better after relabelling the classes (the best
  one-to-one relabelling, Hungarian matching on the confusion matrix) than as given: at least
  ``PERMUTATION_GAIN`` (25 points) better;
- it is confident yet fits its own training records, averaged over their classes (balanced
  accuracy, so a large class does not hide it), within ``NEAR_CHANCE`` (5 points) of chance
  (one over the number of classes);
- it fits held-out records it never saw ``BELOW_HELDOUT`` (20 points) or more better than its own
  training records (with at least 30 records on each side).

An untrained model (near-uniform outputs) passes: it is at chance, but not because of the labels
(its arg-max still groups similar inputs, so relabelling alone would flag it).

**IDs.** Image-folder IDs are paths relative to the folder (``cat/7.png``); a plain ``7`` or
``7.png`` that matches exactly one file's name gets that path as a hint.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Sequence

import numpy as np
import torch
from torch import nn

from unlearnkit.data.dataset import Dataset, Subset
from unlearnkit.data.records import resolve_ids
from unlearnkit.errors import ConfigError
from unlearnkit.metrics.context import compute_logits
from unlearnkit.seeding import numpy_rng

#: Records of each part checked (a seeded draw when there are more).
MAX_CHECKED = 2048
#: Refuse when relabelling the classes raises the training accuracy by this much.
PERMUTATION_GAIN = 0.25
#: A confident model within this much of the majority-class share on its training records is refused.
NEAR_CHANCE = 0.05
#: Refuse when held-out accuracy exceeds training accuracy by this much.
BELOW_HELDOUT = 0.20
#: Fewest records on each side for the held-out comparison.
MIN_RECORDS = 30


def _draw(n: int, seed: int, part: str) -> torch.Tensor:
    if n <= MAX_CHECKED:
        return torch.arange(n)
    return torch.from_numpy(np.sort(numpy_rng(seed, "preflight", part).choice(n, MAX_CHECKED, replace=False)))


def _best_relabelling(true: np.ndarray, pred: np.ndarray, k: int) -> tuple[float, np.ndarray]:
    """Accuracy under the best one-to-one relabelling of classes, and the logit each data class maps to."""
    from scipy.optimize import linear_sum_assignment

    confusion = np.zeros((k, k), dtype=np.int64)  # (data class, predicted logit)
    np.add.at(confusion, (true, pred), 1)
    rows, cols = linear_sum_assignment(-confusion)
    mapping = np.arange(k)
    mapping[rows] = cols
    return float(confusion[rows, cols].sum()) / max(1, len(true)), mapping


def check_fit(model: nn.Module, data: Dataset, *, seed: int = 0, device: str = "cpu") -> dict[str, float]:
    """Refuse a model that does not fit its own training records as a trained model does.

    Args:
        model: the model the request starts from (not modified).
        data: its training records (and V, the held-out slice, when it has one).
        seed: seeds the draw of checked records when there are more than ``MAX_CHECKED``.
        device: where the forward passes run.

    Returns:
        The accuracies measured: ``train``, ``balanced`` (mean per-class accuracy), ``heldout`` (NaN
        without V), ``chance`` (1 / classes present), ``relabelled``, ``confidence``.

    Raises:
        ConfigError: "wrong label order?", naming the accuracy on the training and held-out
            records and, when a relabelling fits, the class order that fits.

    Example:
        >>> check_fit(model, data)["train"]  # doctest: +SKIP
        0.993
    """
    k = data.num_classes
    train = Subset(data, "train", _draw(len(data.train_y), seed, "train"))
    logits = compute_logits(model, train, device=device)  # (n, k)
    true = train.labels.numpy()
    pred = logits.argmax(dim=1).numpy()
    acc = float((pred == true).mean()) if len(true) else float("nan")
    counts = np.bincount(true, minlength=k)  # (k,)
    present = counts > 0
    hits = np.bincount(true[pred == true], minlength=k)  # (k,)
    balanced = float((hits[present] / counts[present]).mean()) if len(true) else float("nan")
    chance = 1.0 / max(1, int(present.sum()))
    confidence = float(torch.softmax(logits.float(), dim=1).max(dim=1).values.mean()) if len(true) else 0.0
    held = float("nan")
    n_held = 0 if data.val_y is None else len(data.val_y)
    if n_held:
        v = Subset(data, "val", _draw(n_held, seed, "val"))
        held = float((compute_logits(model, v, device=device).argmax(dim=1) == v.labels).float().mean())
        n_held = len(v)
    relabelled, mapping = _best_relabelling(true, pred, k) if len(true) else (acc, np.arange(k))
    found = {"train": acc, "balanced": balanced, "heldout": held, "chance": chance, "relabelled": relabelled,
             "confidence": confidence}
    if len(true) < MIN_RECORDS:
        return found
    why = None
    confident = confidence >= (1 + 1 / k) / 2
    permuted = confident and relabelled - acc >= PERMUTATION_GAIN
    if permuted:
        why = f"with the classes relabelled it would fit {relabelled:.1%}"
    elif confident and balanced <= chance + NEAR_CHANCE:
        why = (f"near chance: {balanced:.1%} averaged over its {int(present.sum())} classes (chance {chance:.1%}), "
               "though the model is confident")
    elif n_held >= MIN_RECORDS and held - acc >= BELOW_HELDOUT:
        why = "far below the held-out records it never saw"
    if why is None:
        return found
    held_text = f"{held:.1%} on {n_held} held-out records" if n_held else "no held-out records"
    order = ""
    if permuted:
        names = [""] * k
        for c, logit in enumerate(mapping):
            names[logit] = data.classes[c]
        from unlearnkit.data.class_order import shown

        order = f" The order that fits its outputs is {shown(names, 8)}."
    raise ConfigError(
        f"Wrong label order? The model fits its own training records at {acc:.1%} ({len(true)} checked), {why}; "
        f"{held_text}.{order} Give the model's class order in logit order (--classes FILE, one name per line, or "
        "--data-option classes=a,b,c), or check that --data holds this model's training records. Nothing was done."
    )


def resolve_request(data: Dataset, ids: Sequence[str]) -> np.ndarray:
    """``resolve_ids`` on the training records, with a hint when a plain name matches one image's file name;
    a request for every record left is refused in one short line.

    Example:
        >>> resolve_request(data, ["cat/7.png"])  # doctest: +SKIP
        array([41])
    """
    try:
        positions = resolve_ids(data, ids)
    except ConfigError as exc:
        hint = _path_hint(data.train_ids or (), ids)
        if not hint:
            raise
        raise ConfigError(f"{exc} {hint}") from None
    if len(positions) == len(data.train_y):
        raise ConfigError(f"The request names every one of the {len(positions)} training records left: nothing would "
                          "be retained, so there is no model to keep. Delete fewer records, or train a new model.")
    return positions


def _path_hint(known: Sequence[str], ids: Sequence[str]) -> str:
    if not known or not all("/" in i for i in known[:50]):
        return ""
    present = set(known)
    missing = [i for i in ids if i not in present and "/" not in i]
    if not missing:
        return ""
    by_name: dict[str, list[str]] = {}
    for rid in known:
        p = PurePosixPath(rid)
        for key in {p.name, p.stem}:
            by_name.setdefault(key, []).append(rid)
    for i in missing:
        matches = by_name.get(i, [])
        if matches:
            more = f" (or {len(matches) - 1} other file(s) of that name)" if len(matches) > 1 else ""
            return (f"Image-folder IDs are paths relative to the data folder: did you mean {matches[0]!r}{more} "
                    f"for {i!r}?")
    return "Image-folder IDs are paths relative to the data folder, such as " + repr(known[0]) + "."
