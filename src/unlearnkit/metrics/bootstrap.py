"""Weighted two-sample statistics with seeded bootstrap intervals (the golden-free metrics' engine).

The two samples are D_f (every record weight 1) and V_f (each record weighted to D_f's class
proportions, see ``unlearnkit.metrics.heldout.heldout_weights``). A bootstrap resample draws D_f
with replacement and V_f with replacement *within each class* (``strata``), so every resample keeps
V_f's class counts and its weights stay exact. Intervals are percentile 95% intervals.

Example:
    >>> import numpy as np
    >>> weighted_auc(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0]))  # (4 pairs below + 1 tie / 2) / 6
    0.75
    >>> weighted_auc(np.array([1.0]), np.array([0.0, 2.0]), np.array([3.0, 1.0]))  # P(1 < loss_v), weighted
    0.25
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unlearnkit.seeding import numpy_rng

#: Bootstrap resamples of the intervals (METRICS.md: 1,000).
N_BOOTSTRAP = 1000
#: Resamples scored together: bounds the (chunk, |V_f|) arrays to a few tens of MB for a V_f of 50,000.
_CHUNK = 50


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


def _bootstrap_counts(n: int, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    """(n_boot, n) multiplicities of a resample with replacement of n items, per resample."""
    draws = rng.integers(0, n, size=(n_boot, n)) + (np.arange(n_boot) * n)[:, None]
    return np.bincount(draws.ravel(), minlength=n_boot * n).reshape(n_boot, n).astype(np.float64)


def stratified_counts(strata: np.ndarray, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    """(n_boot, n) multiplicities of a resample with replacement within each stratum (class).

    Every row keeps each stratum's size. Example:
        >>> c = stratified_counts(np.array([0, 0, 1]), np.random.default_rng(0), 4)
        >>> c[:, :2].sum(axis=1).tolist(), c[:, 2].tolist()
        ([2.0, 2.0, 2.0, 2.0], [1.0, 1.0, 1.0, 1.0])
    """
    strata = np.asarray(strata)
    out = np.zeros((n_boot, len(strata)), dtype=np.float64)
    for c in np.unique(strata):
        cols = np.flatnonzero(strata == c)
        out[:, cols] = _bootstrap_counts(len(cols), rng, n_boot)
    return out


def _interval(samples: np.ndarray) -> tuple[float, float]:
    lo, hi = np.percentile(samples, [2.5, 97.5])
    return float(lo), float(hi)


def _prepare(b: np.ndarray, weights: np.ndarray | None, strata: np.ndarray | None):
    weights = np.ones(len(b)) if weights is None else np.asarray(weights, dtype=np.float64)
    strata = np.zeros(len(b), dtype=np.int64) if strata is None else np.asarray(strata)
    if len(weights) != len(b) or len(strata) != len(b):
        raise ValueError(f"weights and strata need one entry per sample ({len(b)}); got {len(weights)} and {len(strata)}")
    return weights, strata


class _PairwiseAUC:
    """P(loss_f < loss_v) + ½·P(equal) for weights of both sets, in O(|V_f| + |D_f|) per resample.

    The V_f losses are sorted once; every D_f loss's position among them is found once.
    """

    def __init__(self, loss_f: np.ndarray, loss_v: np.ndarray):
        self.order = np.argsort(loss_v, kind="stable")
        sorted_v = loss_v[self.order]
        self.left = np.searchsorted(sorted_v, loss_f, side="left")
        self.right = np.searchsorted(sorted_v, loss_f, side="right")

    def __call__(self, w_f: np.ndarray, w_v: np.ndarray) -> np.ndarray:
        # w_f: (B, n_f) and w_v: (B, n_v) weights, w_v in the original order of loss_v.
        w_v = w_v[:, self.order]
        cum = np.concatenate([np.zeros((w_v.shape[0], 1)), np.cumsum(w_v, axis=1)], axis=1)  # (B, n_v + 1)
        greater = cum[:, -1:] - cum[:, self.right]  # (B, n_f): weight of V_f losses above each loss_f
        equal = cum[:, self.right] - cum[:, self.left]
        return ((greater + 0.5 * equal) * w_f).sum(axis=1) / (w_f.sum(axis=1) * cum[:, -1])


def weighted_auc(loss_f, loss_v, weights_v=None) -> float:
    """Σ_ij w_j [1(loss_f,i < loss_v,j) + ½·1(equal)] / (|D_f| · Σ_j w_j): the weighted Mann–Whitney AUC."""
    loss_f, loss_v = np.asarray(loss_f, dtype=np.float64), np.asarray(loss_v, dtype=np.float64)
    weights_v, _ = _prepare(loss_v, weights_v, None)
    return float(_PairwiseAUC(loss_f, loss_v)(np.ones((1, len(loss_f))), weights_v[None, :])[0])


def auc_lower_is_member(loss_f, loss_v, *, seed: int, n_boot: int = N_BOOTSTRAP, weights_v=None,
                        strata_v=None) -> Estimate:
    """The weighted Mann–Whitney AUC of ``weighted_auc`` with its seeded bootstrap interval.

    D_f is resampled with replacement, V_f with replacement within each of ``strata_v`` (its classes).
    """
    loss_f, loss_v = np.asarray(loss_f, dtype=np.float64), np.asarray(loss_v, dtype=np.float64)
    weights_v, strata_v = _prepare(loss_v, weights_v, strata_v)
    auc = _PairwiseAUC(loss_f, loss_v)
    value = float(auc(np.ones((1, len(loss_f))), weights_v[None, :])[0])
    rng = numpy_rng(seed, "heldout_auc")
    boot = np.concatenate([
        auc(_bootstrap_counts(len(loss_f), rng, b), stratified_counts(strata_v, rng, b) * weights_v)
        for b in _chunks(n_boot)
    ])
    return Estimate(value, *_interval(boot))


def mean_difference(a, b, *, seed: int, tag: str, n_boot: int = N_BOOTSTRAP, weights_b=None,
                    strata_b=None) -> Estimate:
    """mean(a) − (weighted) mean(b), with the bootstrap interval of the difference.

    ``a`` (D_f's per-sample values) is resampled with replacement, ``b`` (V_f's) within each of
    ``strata_b``; ``weights_b`` weight b's samples (default: equal).

    Example:
        >>> mean_difference([1.0, 1.0], [0.0, 1.0, 1.0], seed=0, tag="t", weights_b=[1.0, 0.5, 0.5]).value
        0.5
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    weights_b, strata_b = _prepare(b, weights_b, strata_b)
    value = float(a.mean() - weights_b @ b / weights_b.sum())
    rng = numpy_rng(seed, tag)
    boot = []
    for n in _chunks(n_boot):
        wa = _bootstrap_counts(len(a), rng, n)
        wb = stratified_counts(strata_b, rng, n) * weights_b
        boot.append(wa @ a / len(a) - wb @ b / wb.sum(axis=1))
    return Estimate(value, *_interval(np.concatenate(boot)))


def weighted_mean(values, *, seed: int, tag: str, n_boot: int = N_BOOTSTRAP, weights=None, strata=None) -> Estimate:
    """The weighted mean of ``values`` with its bootstrap interval (resampled within ``strata``).

    Example:
        >>> weighted_mean([1.0, 0.0], seed=0, tag="t", weights=[3.0, 1.0]).value
        0.75
    """
    v = np.asarray(values, dtype=np.float64)
    weights, strata = _prepare(v, weights, strata)
    rng = numpy_rng(seed, tag)
    boot = []
    for n in _chunks(n_boot):
        w = stratified_counts(strata, rng, n) * weights
        boot.append(w @ v / w.sum(axis=1))
    return Estimate(float(weights @ v / weights.sum()), *_interval(np.concatenate(boot)))


def _chunks(n_boot: int) -> list[int]:
    """Sizes of the resample chunks: ``n_boot`` split into pieces of at most ``_CHUNK``."""
    return [min(_CHUNK, n_boot - start) for start in range(0, n_boot, _CHUNK)]
