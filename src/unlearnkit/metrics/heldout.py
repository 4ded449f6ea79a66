"""Golden-free evidence (METRICS.md): does D_f look like data the model never saw?

A retrained model never saw D_f, so in random forgetting D_f looks to it like any held-out data.
These statistics compare D_f with V_f (held-out samples of D_f's classes from the validation
slice V) under the model alone; no golden model is needed. Each comes with a seeded bootstrap
95% interval (percentile method, both sets resampled with replacement).

Example:
    >>> import torch
    >>> zf = torch.tensor([[4.0, 0.0], [3.0, 0.0], [2.0, 0.0]]); yf = torch.tensor([0, 0, 0])
    >>> zv = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.0]]); yv = torch.tensor([0, 0, 0])
    >>> heldout_auc(zf, yf, zv, yv, seed=0).value
    1.0
    >>> heldout_acc_gap(zf, yf, zv, yv, seed=0).value
    33.33333333333334
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from unlearnkit.errors import ConfigError
from unlearnkit.metrics._common import as_labels, as_logits
from unlearnkit.metrics.cards import CLASS_SCENARIOS, MetricAbsent, MetricCard, register_metric
from unlearnkit.seeding import numpy_rng

#: Bootstrap resamples of the intervals (METRICS.md: 1,000).
N_BOOTSTRAP = 1000
#: The smallest D_f and V_f for which an interval is reported: below it the bootstrap is meaningless.
MIN_HELDOUT = 30


@dataclass(frozen=True)
class Estimate:
    """A value with its bootstrap 95% interval ``[low, high]``.

    Metric functions may return an ``Estimate`` instead of a float; ``evaluate`` keeps the
    interval in ``Scores.intervals`` and ``Report.intervals``.
    """

    value: float
    low: float
    high: float

    def __float__(self) -> float:
        return float(self.value)


def per_sample_loss(logits, labels) -> np.ndarray:
    """Cross-entropy of every row (float64, computed from logits)."""
    z = as_logits(logits)
    y = as_labels(labels, z.shape[0], z.shape[1])
    return F.cross_entropy(z, y, reduction="none").numpy()


def per_sample_correct(logits, labels) -> np.ndarray:
    """1.0 where the arg-max of a row is its label, else 0.0."""
    z = as_logits(logits)
    y = as_labels(labels, z.shape[0], z.shape[1])
    return (z.argmax(dim=1) == y).to(torch.float64).numpy()


def _check_sizes(n_f: int, n_v: int, what: str) -> None:
    if min(n_f, n_v) < MIN_HELDOUT:
        raise ConfigError(
            f"{what} needs at least {MIN_HELDOUT} samples in D_f and in V_f for its bootstrap interval; "
            f"got {n_f} and {n_v}. Use a larger validation slice (val_size) or forget set."
        )


def _bootstrap_counts(n: int, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    """(n_boot, n) multiplicities of a resample with replacement of n items, per resample."""
    draws = rng.integers(0, n, size=(n_boot, n)) + (np.arange(n_boot) * n)[:, None]
    return np.bincount(draws.ravel(), minlength=n_boot * n).reshape(n_boot, n).astype(np.float64)


def _interval(samples: np.ndarray) -> tuple[float, float]:
    lo, hi = np.percentile(samples, [2.5, 97.5])
    return float(lo), float(hi)


class _PairwiseAUC:
    """P(loss_f < loss_v) + ½·P(equal) for multiplicity weights of both sets, in O(|V_f| + |D_f|) each.

    The V_f losses are sorted once; every D_f loss's position among them is found once.
    """

    def __init__(self, loss_f: np.ndarray, loss_v: np.ndarray):
        self.order = np.argsort(loss_v, kind="stable")
        sorted_v = loss_v[self.order]
        self.left = np.searchsorted(sorted_v, loss_f, side="left")
        self.right = np.searchsorted(sorted_v, loss_f, side="right")

    def __call__(self, w_f: np.ndarray, w_v: np.ndarray) -> np.ndarray:
        # w_f: (B, n_f) and w_v: (B, n_v) multiplicities, w_v in the original order of loss_v.
        w_v = w_v[:, self.order]
        cum = np.concatenate([np.zeros((w_v.shape[0], 1)), np.cumsum(w_v, axis=1)], axis=1)  # (B, n_v + 1)
        greater = cum[:, -1:] - cum[:, self.right]  # (B, n_f): weight of V_f losses above each loss_f
        equal = cum[:, self.right] - cum[:, self.left]
        return ((greater + 0.5 * equal) * w_f).sum(axis=1) / (w_f.sum(axis=1) * cum[:, -1])


def mann_whitney_auc(loss_f, loss_v) -> float:
    """P(loss_f < loss_v) + ½·P(equal) over all pairs (no interval)."""
    loss_f, loss_v = np.asarray(loss_f, dtype=np.float64), np.asarray(loss_v, dtype=np.float64)
    return float(_PairwiseAUC(loss_f, loss_v)(np.ones((1, len(loss_f))), np.ones((1, len(loss_v))))[0])


def auc_lower_is_member(loss_f: np.ndarray, loss_v: np.ndarray, *, seed: int, n_boot: int = N_BOOTSTRAP) -> Estimate:
    """Mann–Whitney AUC P(loss_f < loss_v) + ½·P(equal) over all pairs, with its bootstrap interval."""
    loss_f = np.asarray(loss_f, dtype=np.float64)
    loss_v = np.asarray(loss_v, dtype=np.float64)
    auc = _PairwiseAUC(loss_f, loss_v)
    value = float(auc(np.ones((1, len(loss_f))), np.ones((1, len(loss_v))))[0])
    rng = numpy_rng(seed, "heldout_auc")
    boot = auc(_bootstrap_counts(len(loss_f), rng, n_boot), _bootstrap_counts(len(loss_v), rng, n_boot))
    return Estimate(value, *_interval(boot))


def mean_difference(a: np.ndarray, b: np.ndarray, *, seed: int, tag: str, n_boot: int = N_BOOTSTRAP) -> Estimate:
    """mean(a) − mean(b) with the bootstrap interval of the difference."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    rng = numpy_rng(seed, tag)
    wa, wb = _bootstrap_counts(len(a), rng, n_boot), _bootstrap_counts(len(b), rng, n_boot)
    boot = wa @ a / len(a) - wb @ b / len(b)
    return Estimate(float(a.mean() - b.mean()), *_interval(boot))


def heldout_auc(logits_f, labels_f, logits_v, labels_v, *, seed: int = 0, n_boot: int = N_BOOTSTRAP) -> Estimate:
    """AUC of the per-sample loss separating D_f (lower loss = "member") from V_f.

    0.5: D_f looks unseen. Above: D_f still looks trained on. Below: D_f looks *less* familiar
    than unseen data (over-forgetting, itself a membership signal).
    """
    loss_f, loss_v = per_sample_loss(logits_f, labels_f), per_sample_loss(logits_v, labels_v)
    _check_sizes(len(loss_f), len(loss_v), "heldout_auc")
    return auc_lower_is_member(loss_f, loss_v, seed=seed, n_boot=n_boot)


def heldout_acc_gap(logits_f, labels_f, logits_v, labels_v, *, seed: int = 0, n_boot: int = N_BOOTSTRAP) -> Estimate:
    """acc(θ, D_f) − acc(θ, V_f) in percentage points; 0 in random forgetting, below 0 = over-forgetting."""
    c_f, c_v = per_sample_correct(logits_f, labels_f), per_sample_correct(logits_v, labels_v)
    _check_sizes(len(c_f), len(c_v), "heldout_acc_gap")
    est = mean_difference(c_f, c_v, seed=seed, tag="heldout_acc_gap", n_boot=n_boot)
    return Estimate(100 * est.value, 100 * est.low, 100 * est.high)


def heldout_class_acc(logits_v, labels_v, *, seed: int = 0, n_boot: int = N_BOOTSTRAP) -> Estimate:
    """acc(θ, V_f) in percent; in class forgetting the retrained model's value is about 0."""
    c_v = per_sample_correct(logits_v, labels_v)
    if len(c_v) == 0:
        raise ConfigError("heldout_class_acc needs at least one sample in V_f.")
    rng = numpy_rng(seed, "heldout_class_acc")
    boot = _bootstrap_counts(len(c_v), rng, n_boot) @ c_v / len(c_v)
    lo, hi = _interval(boot)
    return Estimate(100 * float(c_v.mean()), 100 * lo, 100 * hi)


# ================================================================ registration (METRICS)
def _heldout_sets(ctx, what: str):
    zf, zv = ctx.logits("forget"), ctx.logits("val_forget")
    if min(len(zf), len(zv)) < MIN_HELDOUT:
        raise MetricAbsent(
            f"{what} needs at least {MIN_HELDOUT} samples in D_f and V_f for its interval; got {len(zf)} and {len(zv)}"
        )
    return zf, ctx.labels("forget"), zv, ctx.labels("val_forget")


@register_metric(
    MetricCard(
        "heldout_auc",
        "Mann-Whitney AUC of the per-sample cross-entropy separating D_f from V_f (held-out samples of D_f's classes "
        "from the validation slice, drawn to D_f's class proportions): P(loss_f < loss_v) + 1/2 P(equal), with a "
        "seeded bootstrap 95% interval. 0.5 = D_f looks unseen; above = still looks trained on; well below = "
        "over-forgotten (D_f less familiar than unseen data). Needs no golden model",
        "target:0.5",
        "",
    )
)
def _heldout_auc(ctx) -> Estimate:
    return heldout_auc(*_heldout_sets(ctx, "heldout_auc"), seed=ctx.seed)


@register_metric(
    MetricCard(
        "heldout_acc_gap",
        "acc(theta, D_f) - acc(theta, V_f) in percentage points, with a seeded bootstrap 95% interval. 0 = D_f "
        "fitted like unseen data; above = still fitted better; below = over-forgotten. Needs no golden model",
        "target:0",
        "pp",
    )
)
def _heldout_acc_gap(ctx) -> Estimate:
    return heldout_acc_gap(*_heldout_sets(ctx, "heldout_acc_gap"), seed=ctx.seed)


@register_metric(
    MetricCard(
        "heldout_class_acc",
        "acc(theta, V_f): held-out samples of the forgotten class(es), with a seeded bootstrap 95% interval. A model "
        "retrained without a class cannot predict it, so in class forgetting its value is about 0 without "
        "retraining; in sub-class forgetting the super-class stays predictable and the golden model decides",
        "golden",
        "%",
        CLASS_SCENARIOS,
    )
)
def _heldout_class_acc(ctx) -> Estimate:
    return heldout_class_acc(ctx.logits("val_forget"), ctx.labels("val_forget"), seed=ctx.seed)
