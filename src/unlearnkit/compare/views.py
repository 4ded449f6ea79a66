"""The numbers of the accuracy, prediction-matrix and attack views, from each model's logits.

Every function returns plain JSON-serialisable data; ``page`` draws it.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from unlearnkit.audit.confidence import logit_scaled_confidence
from unlearnkit.compare.samples import Outputs

#: The sets of the attack view: the records to forget, held-out records of their classes, kept records.
ATTACK_SETS = ("forget", "val_forget", "retain")


def class_accuracy(logits, labels: np.ndarray, num_classes: int) -> list[float | None]:
    """Accuracy (percent) per class; ``None`` for a class without records.

    Example:
        >>> import torch
        >>> class_accuracy(torch.tensor([[2., 0.], [2., 0.], [0., 2.]]), np.array([0, 1, 1]), 3)
        [100.0, 50.0, None]
    """
    pred = np.asarray(logits.argmax(1))
    out: list[float | None] = []
    for c in range(num_classes):
        mask = labels == c
        out.append(round(100.0 * float((pred[mask] == c).mean()), 2) if mask.any() else None)
    return out


def classwise_view(out: Outputs, num_classes: int) -> dict[str, Any]:
    """Per set: the record count of each class and each model's accuracy per class and overall."""
    view: dict[str, Any] = {}
    for name in out.subsets:
        y = out.labels(name)
        view[name] = {
            "counts": np.bincount(y, minlength=num_classes).tolist(),
            "acc": {m: class_accuracy(z[name], y, num_classes) for m, z in out.logits.items()},
            "overall": {m: round(100.0 * float((z[name].argmax(1).numpy() == y).mean()), 2) if len(y) else None
                        for m, z in out.logits.items()},
        }
    return view


def prediction_matrix(logits, labels: np.ndarray, num_classes: int) -> list[list[int]]:
    """Counts of (true class, predicted class): ``matrix[t][p]``.

    Example:
        >>> import torch
        >>> prediction_matrix(torch.tensor([[2., 0.], [2., 0.], [0., 2.]]), np.array([0, 1, 1]), 2)
        [[1, 0], [1, 1]]
    """
    pred = np.asarray(logits.argmax(1))
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (labels, pred), 1)
    return m.tolist()


def matrix_view(out: Outputs, num_classes: int) -> dict[str, list[list[int]]]:
    """The prediction matrix on D_f of every model."""
    y = out.labels("forget")
    return {m: prediction_matrix(z["forget"], y, num_classes) for m, z in out.logits.items()}


def confidences(out: Outputs) -> dict[str, dict[str, np.ndarray]]:
    """Logit-scaled confidence ``z_y − logsumexp_{k≠y} z_k`` (float64) per model and attack set."""
    return {m: {s: logit_scaled_confidence(z[s], out.labels(s)) for s in ATTACK_SETS if s in z}
            for m, z in out.logits.items()}


def attack_view(out: Outputs, scores: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
    """Per model and set, the confidences (3 decimals) the page's histogram and threshold slider use.

    The slider calls a record "member" when its confidence is at least the threshold; the page shows,
    per model, the share of D_f, V_f and D_r so called. ``range`` spans the 0.5th to 99.5th percentile
    of every value, so that one extreme record does not squash the histogram.
    """
    values = np.concatenate([v for per in scores.values() for v in per.values()])
    low, high = (float(np.percentile(values, 0.5)), float(np.percentile(values, 99.5))) if len(values) else (0.0, 1.0)
    if high <= low:
        low, high = low - 1.0, high + 1.0
    return {
        "sets": [s for s in ATTACK_SETS if s in out.subsets],
        "range": [round(low, 3), round(high, 3)],
        "scores": {m: {s: np.round(v, 3).tolist() for s, v in per.items()} for m, per in scores.items()},
    }


def record_ids(out: Outputs, name: str) -> list[str]:
    """The record IDs of a sampled set, or ``train[i]`` / ``val[i]`` positions when the dataset has none."""
    sub = out.subsets[name]
    ids = {"train": sub.dataset.train_ids, "test": sub.dataset.test_ids, "val": sub.dataset.val_ids}[sub.part]
    if ids is None:
        return [f"{sub.part}[{int(i)}]" for i in sub.indices]
    return [str(ids[int(i)]) for i in sub.indices]


def at_risk_view(out: Outputs, scores: dict[str, dict[str, np.ndarray]], subjects: list[str], k: int,
                 thumbnail: Callable[[int], str | None]) -> dict[str, Any]:
    """The ``k`` records of D_f with the highest confidence under each subject model (the most at risk
    of being called members), with their IDs, labels, thumbnails and confidence under every model.

    ``thumbnail(i)`` gives the image of the ``i``-th sampled D_f record as a data URI (``None`` for
    records that are not images).
    """
    ids = record_ids(out, "forget")
    y = out.labels("forget")
    per: dict[str, list[int]] = {}
    for m in subjects:
        order = np.argsort(-scores[m]["forget"], kind="stable")[:k]
        per[m] = [int(i) for i in order]
    shown = sorted({i for rows in per.values() for i in rows})
    records = {str(i): {"id": ids[i], "label": int(y[i]), "thumb": thumbnail(i),
                        "score": {m: round(float(s["forget"][i]), 3) for m, s in scores.items()}} for i in shown}
    return {"top": {m: [str(i) for i in rows] for m, rows in per.items()}, "records": records}


__all__ = ["ATTACK_SETS", "at_risk_view", "attack_view", "class_accuracy", "classwise_view", "confidences",
           "matrix_view", "prediction_matrix", "record_ids"]
