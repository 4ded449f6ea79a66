"""The shape of a deletion request, and the fixed table ``--method auto`` used before it looked.

``forget(..., method="auto")`` now measures the model and tries candidates within a CPU budget
(``unlearnkit.deletion.auto_select``, rule in ``auto_rule``; docs/results/auto.md). The table
``RECOMMENDATIONS`` below remains what ``plan_forget`` reports for a request that has not run yet
(a plan runs nothing, so it cannot rate candidates); each row cites the docs page it rests on.

A request has one of two shapes (``request_shape``):

- ``class``: it deletes every remaining training record of one or more classes, and not all
  classes;
- ``scattered``: anything else (records spread over classes, or part of a class).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Recommendation:
    """A method (with parameters) for one request shape, why, and the docs page it comes from."""

    shape: str
    method: str
    why: str
    source: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"shape": self.shape, "method": self.method, "params": dict(self.params), "why": self.why,
                "source": self.source}


#: shape -> the recommended method. The single place to change when the benchmark's answer changes.
RECOMMENDATIONS: dict[str, Recommendation] = {
    "class": Recommendation(
        shape="class",
        method="kl_ft",
        why=("a whole class: kl_ft forgets it as closely to a retrained model as a second retrain does "
             "(Fashion-MNIST class 3, 3 seeds: avg_gap 0.14 ± 0.01, the same as retrain's), and forgets the whole "
             "class on each of the three classes tried, at 0.4-0.6 points less retain accuracy than finetune"),
        source="docs/baselines.md, docs/finetune-family.md",
    ),
    "scattered": Recommendation(
        shape="scattered",
        method="neggrad_plus",
        why=("scattered records: neggrad_plus comes closest to a retrained model on random 10% deletion from a model "
             "that generalises (Fashion-MNIST 60k, 3 seeds: avg_gap 0.34 ± 0.08, retrain 0.30). On a model that "
             "memorised its training records it closes only a fifth of the gap (avg_gap 5.37 against 6.72 for doing "
             "nothing). There, if most of your model's weights sit in its last layers (a conv net with a wide "
             "classifier), eu_k comes within 1.5 points of retraining (1.47, at 8% of the retrain's CPU): it "
             "retrains the last k layers from scratch on the kept records, so choose k and its epochs for your "
             "model (k 2 of a two-layer MLP is a full retrain). Read the evidence, and retrain when it says the "
             "records were not forgotten"),
        source="docs/baselines.md, docs/random-deletion.md",
    ),
}


def request_shape(train_labels: np.ndarray, forget: np.ndarray) -> tuple[str, list[int]]:
    """``("class", [classes])`` when ``forget`` holds every record of its classes (and not every class), else
    ``("scattered", [])``.

    Args:
        train_labels: labels of the training records that remain (deleted ones already removed).
        forget: positions of the request's records among them.

    Example:
        >>> y = np.array([0, 0, 1, 1, 2])
        >>> request_shape(y, np.array([2, 3])), request_shape(y, np.array([0, 2]))
        (('class', [1]), ('scattered', []))
    """
    y = np.asarray(train_labels)
    forget = np.asarray(forget, dtype=np.int64)
    classes = np.unique(y[forget])
    whole = np.isin(y, classes).sum() == len(forget)
    if whole and len(classes) < len(np.unique(y)):
        return "class", [int(c) for c in classes]
    return "scattered", []


def recommend(shape: str) -> Recommendation:
    """The recommended method for a request shape (``"class"`` or ``"scattered"``)."""
    return RECOMMENDATIONS[shape]
