"""The verdict of a request from its models: per-sample scores of each part, then ``verdict``.

``request_verdict`` runs the models on the parts of a ``Split`` that the verdict needs (D_f, V_f =
every held-out record of D_f's classes, a seeded sample of D_r, the held-out records of the kept
classes) and hands float64 per-sample scores to ``unlearnkit.deletion.verdict``. ``check_heldout``
refuses, before anything runs, a held-out slice that cannot carry the verdict.

Example:
    >>> v = request_verdict(unlearned, split, before=original)  # doctest: +SKIP
    >>> v.verdict, v.forget.stats[0].est  # doctest: +SKIP
    ('forgotten', Estimate(value=0.8, low=-1.9, high=3.4))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from unlearnkit.data.dataset import Subset
from unlearnkit.deletion.margins import Margins, load_margins
from unlearnkit.deletion.verdict import Verdict, golden_free_verdict, golden_verdict
from unlearnkit.errors import ConfigError
from unlearnkit.metrics.context import compute_logits
from unlearnkit.metrics.heldout import heldout_positions, heldout_weights, loss_scores, per_sample_correct
from unlearnkit.seeding import numpy_rng

#: Retained records the "kept" question looks at (a seeded sample of D_r when it is larger).
RETAIN_SAMPLE = 2000


@dataclass(frozen=True)
class Parts:
    """Index sets of the verdict: positions in the training set (``forget``, ``retain``) and in V."""

    forget: torch.Tensor
    retain: torch.Tensor
    val_forget: torch.Tensor
    weights_v: np.ndarray
    val_kept: torch.Tensor
    whole_class: bool = False


def check_heldout(split, margins: Margins | None = None) -> None:
    """Refuse a held-out slice that cannot carry the verdict (raises ``ConfigError``).

    V must hold every class of D_f (the missing one is named) and at least ``margins.min_heldout``
    records of D_f's classes: with fewer, V_f's own sampling noise hides even a model that forgot
    nothing (on the benchmark, the original model's gap) behind the accuracy-gap margin.
    """
    margins = margins or load_margins()
    ds = split.dataset
    if ds.val_y is None or not len(ds.val_y):
        raise ConfigError("The verdict needs a held-out slice V (records the model never trained on); none was given.")
    y_f = ds.train_y[split.forget].numpy()
    pos = heldout_positions(y_f, ds.val_y.numpy(), ds.classes)
    if len(pos) < margins.min_heldout:
        raise ConfigError(
            f"The held-out slice has {len(pos)} record(s) of the deleted records' classes; the verdict needs at least "
            f"{margins.min_heldout} (with fewer, their own noise hides even a model that forgot nothing). "
            "Give more held-out records (--heldout, or a larger test part)."
        )


def verdict_parts(split, seed: int = 0, retain_sample: int = RETAIN_SAMPLE) -> Parts:
    """D_f, a seeded sample of at most ``retain_sample`` D_r records, V_f with its weights, and V of
    the kept classes (the classes that keep retained records)."""
    ds = split.dataset
    y_f = ds.train_y[split.forget].numpy()
    val_y = ds.val_y.numpy()
    pos = heldout_positions(y_f, val_y, ds.classes)
    weights = heldout_weights(y_f, val_y[pos])
    retain = split.retain
    if len(retain) > retain_sample:
        pick = np.sort(numpy_rng(seed, "verdict_retain").choice(len(retain), size=retain_sample, replace=False))
        retain = retain[torch.from_numpy(pick)]
    kept = torch.unique(ds.train_y[split.retain])
    val_kept = torch.nonzero(torch.isin(ds.val_y, kept)).flatten()
    return Parts(split.forget, retain, torch.from_numpy(pos), weights, val_kept, split.kind == "class")


def _scores(model: nn.Module, subset, device) -> dict[str, np.ndarray]:
    if not len(subset):
        return {"correct": np.zeros(0), "loss": np.zeros(0), "conf": np.zeros(0)}
    z = compute_logits(model, subset, device=device)  # (n, C)
    loss = loss_scores(z, subset.labels)
    return {"correct": per_sample_correct(z, subset.labels), "loss": loss, "conf": np.exp(-loss)}


def model_scores(model: nn.Module, split, parts: Parts, device: str | torch.device = "cpu") -> dict[str, dict]:
    """Float64 per-sample scores (correct, loss, confidence p_y) of ``model`` on each part."""
    ds, ls = split.dataset, split.label_set
    return {"forget": _scores(model, Subset(ds, "train", parts.forget, ls), device),
            "retain": _scores(model, Subset(ds, "train", parts.retain, ls), device),
            "val_forget": _scores(model, Subset(ds, "val", parts.val_forget, ls), device),
            "val_kept": _scores(model, Subset(ds, "val", parts.val_kept, ls), device)}


def verdict_from_scores(after: dict, reference: dict, parts: Parts, *, margins: Margins, seed: int = 0,
                        golden: bool = False) -> Verdict:
    """The verdict from ``model_scores`` of θ_u (``after``) and of its reference (θ_o, or θ_g with
    ``golden=True``)."""
    retained = (reference["retain"]["correct"], after["retain"]["correct"], reference["retain"]["conf"],
                after["retain"]["conf"])
    heldout = (reference["val_kept"]["correct"], after["val_kept"]["correct"])
    if golden:
        return golden_verdict(reference["forget"]["correct"], after["forget"]["correct"], retained, heldout,
                              margins=margins, seed=seed)
    forget = (after["forget"]["correct"], after["val_forget"]["correct"], parts.weights_v, after["forget"]["loss"],
              after["val_forget"]["loss"])
    return golden_free_verdict(forget, retained, heldout, margins=margins, seed=seed, whole_class=parts.whole_class)


def request_verdict(after: nn.Module, split, *, before: nn.Module, golden: nn.Module | None = None,
                    margins: Margins | None = None, seed: int = 0, device: str | torch.device = "cpu") -> Verdict:
    """The verdict of ``after`` on the request ``split``: golden-free against ``before``, or, when
    ``golden`` is given, against the retrained model."""
    margins = margins or load_margins()
    check_heldout(split, margins)
    parts = verdict_parts(split, seed)
    ref = model_scores(golden if golden is not None else before, split, parts, device)
    return verdict_from_scores(model_scores(after, split, parts, device), ref, parts, margins=margins, seed=seed,
                               golden=golden is not None)


__all__ = ["Parts", "RETAIN_SAMPLE", "check_heldout", "model_scores", "request_verdict", "verdict_from_scores",
           "verdict_parts"]
