"""Golden-free evidence (METRICS.md): does D_f look like data the model never saw?

A retrained model never saw D_f, so in random forgetting D_f looks to it like any held-out data.
These statistics compare D_f with V_f under the model alone; no golden model is needed. V_f is
**every** record of the validation slice V whose class (the fine class in sub-class scenarios) is
one of D_f's, each weighted so that the classes carry D_f's class proportions
(``heldout_weights``). Per-sample scores are float64 functions of the logits (``loss_scores``,
``logit_confidence``), never of rounded probabilities. Each statistic comes with a seeded bootstrap
95% interval (``unlearnkit.metrics.bootstrap``: D_f resampled, V_f resampled within each class).

For code that builds on these (the deletion verdict): ``heldout_positions`` picks V_f out of V,
``heldout_weights`` weights it, ``heldout_scores`` returns every per-sample score and the weights
at once, and ``mean_difference`` / ``auc_lower_is_member`` / ``weighted_mean`` take the weights.

Example:
    >>> import torch
    >>> zf = torch.tensor([[4.0, 0.0], [3.0, 0.0], [2.0, 0.0]]); yf = torch.tensor([0, 0, 0])
    >>> zv = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.0]]); yv = torch.tensor([0, 0, 0])
    >>> heldout_auc(zf, yf, zv, yv, seed=0, min_size=1, min_forget=1).value
    1.0
    >>> round(heldout_acc_gap(zf, yf, zv, yv, seed=0, min_size=1, min_forget=1).value, 6)
    33.333333
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from unlearnkit.errors import ConfigError
from unlearnkit.metrics._common import as_labels, as_logits
from unlearnkit.metrics.cards import CLASS_SCENARIOS, MetricAbsent, MetricCard, register_metric
from unlearnkit.metrics.bootstrap import (  # noqa: F401  (re-exported: the public names of this module)
    N_BOOTSTRAP,
    Estimate,
    _bootstrap_counts,
    _interval,
    _PairwiseAUC,
    auc_lower_is_member,
    mean_difference,
    weighted_auc,
    weighted_mean,
)

#: The smallest V_f for which an interval is reported: below it the bootstrap is meaningless.
MIN_HELDOUT = 30
#: The smallest D_f for which an interval is reported (the smallest deletion request of issue 20).
MIN_FORGET = 10


# ---------------------------------------------------------------------------------- per sample
def _checked(logits, labels):
    z = as_logits(logits)
    return z, as_labels(labels, z.shape[0], z.shape[1])


def loss_scores(logits, labels) -> np.ndarray:
    """Cross-entropy of every row in float64: logsumexp(z) − z_y.

    Computed as log(1 + exp(−s)) from the logit-scaled confidence s (``logit_confidence``), the same
    number without the cancellation of logsumexp(z) − z_y: a loss of 1e-18 stays 1e-18, so two
    confident rows tie only when their logits do.

    Example:
        >>> [f"{v:.4e}" for v in loss_scores([[40.0, 0.0], [30.0, 0.0]], [0, 0])]  # float32 p_y: both 1
        ['4.2484e-18', '9.3576e-14']
    """
    s = torch.from_numpy(logit_confidence(logits, labels))
    return torch.nn.functional.softplus(-s).numpy()


#: The name the callers know: the per-sample cross-entropy.
per_sample_loss = loss_scores


def logit_confidence(logits, labels) -> np.ndarray:
    """Logit-scaled confidence of every row in float64: z_y − logsumexp_{k≠y} z_k (= log p_y − log(1 − p_y)).

    +inf for a one-class model (nothing else to predict).

    Example:
        >>> import math
        >>> round(float(logit_confidence([[math.log(3.0), 0.0, 0.0]], [0])[0]), 6)  # p_y = 0.6: log(0.6/0.4)
        0.405465
    """
    z, y = _checked(logits, labels)
    rows = torch.arange(len(y))
    others = z.clone()
    others[rows, y] = -torch.inf
    return (z[rows, y] - torch.logsumexp(others, dim=1)).numpy()


def per_sample_correct(logits, labels) -> np.ndarray:
    """1.0 where the arg-max of a row is its label, else 0.0."""
    z, y = _checked(logits, labels)
    return (z.argmax(dim=1) == y).to(torch.float64).numpy()


# --------------------------------------------------------------------------------- V_f and weights
def _class_name(c: int, class_names: Sequence[str] | None) -> str:
    return f"{c} ({class_names[c]!r})" if class_names is not None and 0 <= c < len(class_names) else str(c)


def heldout_positions(forget_classes, val_classes, class_names: Sequence[str] | None = None) -> np.ndarray:
    """V_f: the positions in V of every record whose class is one of D_f's (sorted).

    Args:
        forget_classes: the class of every D_f record (the fine class in sub-class scenarios).
        val_classes: the class of every V record, the same label set.
        class_names: names for the error message.

    Raises:
        ConfigError: a class of D_f has no record in V (it is named).

    Example:
        >>> heldout_positions([0, 0, 1], [2, 1, 0, 0, 1]).tolist()
        [1, 2, 3, 4]
    """
    f, v = np.asarray(forget_classes).reshape(-1), np.asarray(val_classes).reshape(-1)
    missing = np.setdiff1d(np.unique(f), np.unique(v))
    if len(missing):
        names = ", ".join(_class_name(int(c), class_names) for c in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise ConfigError(
            f"The held-out slice V has no record of class {names}{more}, which D_f has: V_f must hold every class of "
            "D_f. Give held-out records of that class (a larger val_size or --heldout)."
        )
    return np.flatnonzero(np.isin(v, f)).astype(np.int64)


def heldout_weights(forget_classes, vf_classes) -> np.ndarray:
    """The weight of every V_f record: share of its class in D_f / share of its class in V_f.

    The weights sum to |V_f|, and V_f's classes then carry D_f's proportions.

    Raises:
        ConfigError: V_f lacks a class of D_f, or holds a class D_f has not.

    Example:
        >>> heldout_weights([0, 0, 0, 1], [0, 1, 1, 1]).tolist()  # D_f 3/4 class 0; V_f 1/4 class 0
        [3.0, 0.3333333333333333, 0.3333333333333333, 0.3333333333333333]
    """
    f, v = np.asarray(forget_classes).reshape(-1), np.asarray(vf_classes).reshape(-1)
    heldout_positions(f, v)  # every class of D_f is in V_f
    extra = np.setdiff1d(np.unique(v), np.unique(f))
    if len(extra):
        raise ConfigError(f"V_f holds records of class {', '.join(map(str, extra[:5]))}, which D_f has not; pick V_f "
                          "with heldout_positions.")
    classes, share_f = np.unique(f, return_counts=True)
    share_v = np.array([(v == c).sum() for c in classes])
    ratio = (share_f / len(f)) / (share_v / len(v))  # one per class
    return ratio[np.searchsorted(classes, v)].astype(np.float64)


@dataclass(frozen=True)
class HeldoutScores:
    """Float64 per-sample scores of D_f and V_f under one model, with V_f's weights and classes.

    ``loss_*``: cross-entropy; ``confidence_*``: logit-scaled confidence; ``correct_*``: 1.0 / 0.0;
    ``weights_v``: ``heldout_weights``; ``strata_v``: V_f's classes (the bootstrap resamples within them).
    """

    loss_f: np.ndarray
    loss_v: np.ndarray
    confidence_f: np.ndarray
    confidence_v: np.ndarray
    correct_f: np.ndarray
    correct_v: np.ndarray
    weights_v: np.ndarray
    strata_v: np.ndarray


def heldout_scores(logits_f, labels_f, logits_v, labels_v, *, classes_f=None, classes_v=None,
                   min_size: int = MIN_HELDOUT, min_forget: int = MIN_FORGET) -> HeldoutScores:
    """Every per-sample score of D_f and V_f, and V_f's weights, checked.

    Args:
        logits_f, labels_f: the model's logits and labels on D_f.
        logits_v, labels_v: on V_f (every held-out record of D_f's classes, ``heldout_positions``).
        classes_f, classes_v: the classes that set the weights (the fine labels in sub-class
            scenarios); default the labels.
        min_size, min_forget: the smallest V_f and D_f accepted.

    Raises:
        ConfigError: V_f below ``min_size`` or D_f below ``min_forget`` records (the minimum is said),
            or V_f lacking a class of D_f (named).

    Example:
        >>> s = heldout_scores([[2.0, 0.0]] * 2, [0, 1], [[2.0, 0.0]] * 3, [0, 1, 1], min_size=1, min_forget=1)
        >>> s.weights_v.tolist(), s.correct_v.tolist()
        ([1.5, 0.75, 0.75], [1.0, 0.0, 0.0])
    """
    zf, yf = _checked(logits_f, labels_f)
    zv, yv = _checked(logits_v, labels_v)
    cf = yf.numpy() if classes_f is None else np.asarray(classes_f).reshape(-1)
    cv = yv.numpy() if classes_v is None else np.asarray(classes_v).reshape(-1)
    if len(cf) != len(yf) or len(cv) != len(yv):
        raise ConfigError(f"classes_f and classes_v need one class per record ({len(yf)}, {len(yv)}); "
                          f"got {len(cf)} and {len(cv)}.")
    check_sizes(len(yf), len(yv), min_size=min_size, min_forget=min_forget)
    weights = heldout_weights(cf, cv)
    return HeldoutScores(
        loss_f=loss_scores(zf, yf), loss_v=loss_scores(zv, yv), confidence_f=logit_confidence(zf, yf),
        confidence_v=logit_confidence(zv, yv), correct_f=per_sample_correct(zf, yf),
        correct_v=per_sample_correct(zv, yv), weights_v=weights, strata_v=cv,
    )


def check_sizes(n_f: int, n_v: int, *, min_size: int = MIN_HELDOUT, min_forget: int = MIN_FORGET) -> None:
    """``ConfigError`` (one line, naming the minimum) when D_f or V_f is too small for an interval."""
    if n_v < min_size:
        raise ConfigError(
            f"The held-out slice is too small: V_f (held-out records of D_f's classes) has {n_v}, the minimum for "
            f"an interval is {min_size}. Give more held-out records (val_size, --heldout)."
        )
    if n_f < min_forget:
        raise ConfigError(f"D_f has {n_f} records; the minimum for an interval is {min_forget}.")


# ----------------------------------------------------------------------------------- statistics
def heldout_auc(logits_f, labels_f, logits_v, labels_v, *, seed: int = 0, n_boot: int = N_BOOTSTRAP,
                classes_f=None, classes_v=None, min_size: int = MIN_HELDOUT, min_forget: int = MIN_FORGET) -> Estimate:
    """Weighted Mann–Whitney AUC of the per-sample loss separating D_f (lower loss = "member") from V_f.

    P(loss_f < loss_v) + ½·P(equal) over all pairs, V_f's records weighted to D_f's class
    proportions. 0.5: D_f looks unseen. Above: D_f still looks trained on. Below: D_f looks *less*
    familiar than unseen data (over-forgetting, itself a membership signal).
    """
    s = heldout_scores(logits_f, labels_f, logits_v, labels_v, classes_f=classes_f, classes_v=classes_v,
                       min_size=min_size, min_forget=min_forget)
    return auc_lower_is_member(s.loss_f, s.loss_v, seed=seed, n_boot=n_boot, weights_v=s.weights_v,
                               strata_v=s.strata_v)


def heldout_acc_gap(logits_f, labels_f, logits_v, labels_v, *, seed: int = 0, n_boot: int = N_BOOTSTRAP,
                    classes_f=None, classes_v=None, min_size: int = MIN_HELDOUT,
                    min_forget: int = MIN_FORGET) -> Estimate:
    """acc(θ, D_f) − weighted acc(θ, V_f) in percentage points; 0 in random forgetting, below 0 = over-forgetting."""
    s = heldout_scores(logits_f, labels_f, logits_v, labels_v, classes_f=classes_f, classes_v=classes_v,
                       min_size=min_size, min_forget=min_forget)
    est = mean_difference(s.correct_f, s.correct_v, seed=seed, tag="heldout_acc_gap", n_boot=n_boot,
                          weights_b=s.weights_v, strata_b=s.strata_v)
    return Estimate(100 * est.value, 100 * est.low, 100 * est.high)


def heldout_class_acc(logits_v, labels_v, *, seed: int = 0, n_boot: int = N_BOOTSTRAP, weights_v=None,
                      classes_v=None) -> Estimate:
    """Weighted acc(θ, V_f) in percent; in class forgetting the retrained model's value is about 0, in
    sub-class forgetting the golden model's value is the target."""
    c_v = per_sample_correct(logits_v, labels_v)
    if len(c_v) == 0:
        raise ConfigError("heldout_class_acc needs at least one sample in V_f.")
    est = weighted_mean(c_v, seed=seed, tag="heldout_class_acc", n_boot=n_boot, weights=weights_v, strata=classes_v)
    return Estimate(100 * est.value, 100 * est.low, 100 * est.high)


def mann_whitney_auc(loss_f, loss_v) -> float:
    """P(loss_f < loss_v) + ½·P(equal) over all pairs, unweighted (no interval)."""
    return weighted_auc(loss_f, loss_v)


# ================================================================ registration (METRICS)
def _context_scores(ctx) -> HeldoutScores:
    """D_f's and V_f's scores under the context's model, once per context; ``MetricAbsent`` with the reason."""

    def compute(c) -> HeldoutScores:
        zf, zv = c.logits("forget"), c.logits("val_forget")
        classes_f, classes_v = c.heldout_classes()
        try:
            return heldout_scores(zf, c.labels("forget"), zv, c.labels("val_forget"), classes_f=classes_f,
                                  classes_v=classes_v)
        except ConfigError as e:
            raise MetricAbsent(str(e).rstrip(".")) from None

    return ctx.cached("heldout_scores", compute)


_VF = ("V_f = every held-out record of D_f's classes (fine classes in sub-class scenarios) from the validation "
       "slice, weighted to D_f's class proportions")


@register_metric(
    MetricCard(
        "heldout_auc",
        "Weighted Mann-Whitney AUC of the per-sample cross-entropy (float64, from the logits) separating D_f from "
        f"V_f ({_VF}): P(loss_f < loss_v) + 1/2 P(equal), with a seeded bootstrap 95% interval (V_f resampled within "
        "its classes). 0.5 = D_f looks unseen; above = still looks trained on; well below = over-forgotten (D_f less "
        "familiar than unseen data). Needs no golden model",
        "target:0.5",
        "",
    )
)
def _heldout_auc(ctx) -> Estimate:
    s = _context_scores(ctx)
    return auc_lower_is_member(s.loss_f, s.loss_v, seed=ctx.seed, weights_v=s.weights_v, strata_v=s.strata_v)


@register_metric(
    MetricCard(
        "heldout_acc_gap",
        f"acc(theta, D_f) - acc(theta, V_f) in percentage points ({_VF}), with a seeded bootstrap 95% interval. "
        "0 = D_f fitted like unseen data; above = still fitted better; below = over-forgotten. Needs no golden model",
        "target:0",
        "pp",
    )
)
def _heldout_acc_gap(ctx) -> Estimate:
    s = _context_scores(ctx)
    est = mean_difference(s.correct_f, s.correct_v, seed=ctx.seed, tag="heldout_acc_gap", weights_b=s.weights_v,
                          strata_b=s.strata_v)
    return Estimate(100 * est.value, 100 * est.low, 100 * est.high)


@register_metric(
    MetricCard(
        "heldout_class_acc",
        f"acc(theta, V_f) ({_VF}), with a seeded bootstrap 95% interval. A model retrained without a class cannot "
        "predict it, so in class forgetting its value is about 0 without retraining; in sub-class forgetting the "
        "super-class stays predictable, and the target is the golden model's value, not 0",
        "golden",
        "%",
        CLASS_SCENARIOS,
    )
)
def _heldout_class_acc(ctx) -> Estimate:
    zv, yv = ctx.logits("val_forget"), ctx.labels("val_forget")
    classes_f, classes_v = ctx.heldout_classes()
    return heldout_class_acc(zv, yv, seed=ctx.seed, weights_v=heldout_weights(classes_f, classes_v), classes_v=classes_v)
