"""The seeded samples of D_f, D_r, test, V and V_f that the page shows, and each model's outputs on them.

A page for a 10k-record run stays small and quick to build because each set is sampled
(``Budget``); the page says how many of how many records each view uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from unlearnkit.compare.forward import logits_and_features
from unlearnkit.compare.sources import Collection
from unlearnkit.data.dataset import Subset
from unlearnkit.errors import ConfigError
from unlearnkit.seeding import derive_seed

#: The sets of the page, in display order, with their names on the page.
SET_TITLES = {"forget": "D_f", "retain": "D_r", "test": "test", "val": "V", "val_forget": "V_f"}


@dataclass(frozen=True)
class Budget:
    """How many records of each set the page uses (a seeded sample when a set is larger).

    Attributes:
        records: per set, for class-wise accuracy, the prediction matrix and the attack view.
        embedding: per set (D_f, D_r, V), for the embedding view.
        cka: per set (D_f, D_r), for layer-wise CKA.
        at_risk: records of D_f shown as most at risk, per model.
    """

    records: int = 2000
    embedding: int = 300
    cka: int = 200
    at_risk: int = 12

    def __post_init__(self) -> None:
        for name in ("records", "embedding", "cka", "at_risk"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"The {name!r} sample size of the page must be an int in [1, inf). Got {value!r}.")


@dataclass
class Outputs:
    """Each model's logits and penultimate features on each sampled set.

    Attributes:
        subsets: set name -> the sampled ``Subset``.
        totals: set name -> records in the whole set.
        logits: model label -> set name -> float64 logits ``(n, C)``.
        features: model label -> set name -> features ``(n, d)`` (absent without an ``nn.Linear``).
    """

    subsets: dict[str, Subset]
    totals: dict[str, int]
    logits: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    features: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)

    def labels(self, name: str) -> np.ndarray:
        return self.subsets[name].labels.numpy()


def sample_positions(n: int, k: int, seed: int, tag: str) -> np.ndarray:
    """``min(n, k)`` sorted positions of ``range(n)``, drawn without replacement from ``derive_seed(seed, tag)``.

    Example:
        >>> sample_positions(5, 10, 0, "x").tolist()
        [0, 1, 2, 3, 4]
        >>> a, b = sample_positions(100, 10, 0, "x"), sample_positions(100, 10, 0, "x")
        >>> len(a), bool((a == b).all())
        (10, True)
    """
    if n <= k:
        return np.arange(n)
    rng = np.random.default_rng(derive_seed(seed, "compare", tag))
    return np.sort(rng.choice(n, size=k, replace=False))


def sampled_sets(col: Collection, budget: Budget) -> tuple[dict[str, Subset], dict[str, int]]:
    """The sampled subsets of every set the split has (V and V_f only with a validation slice)."""
    names = ["forget", "retain", "test"] + (["val", "val_forget"] if col.split.val is not None else [])
    subsets, totals = {}, {}
    for name in names:
        full = col.split.subset(name)
        totals[name] = len(full)
        pos = sample_positions(len(full), budget.records, col.seed, name)
        subsets[name] = full.take(torch.as_tensor(pos))
    return subsets, totals


def model_outputs(col: Collection, budget: Budget) -> Outputs:
    """Every model's logits and features on every sampled set (one forward pass per model and set)."""
    subsets, totals = sampled_sets(col, budget)
    out = Outputs(subsets, totals)
    for m in col.models:
        out.logits[m.label], out.features[m.label] = {}, {}
        for name, sub in subsets.items():
            z, feats = logits_and_features(m.model, sub)
            if not bool(torch.isfinite(z).all()):
                raise ConfigError(f"The model {m.label!r} gives NaN or infinite logits on {SET_TITLES[name]}; there is "
                                  "nothing to show for it.")
            out.logits[m.label][name] = z
            if feats is not None:
                out.features[m.label][name] = feats
    return out


__all__ = ["Budget", "Outputs", "SET_TITLES", "model_outputs", "sample_positions", "sampled_sets"]
