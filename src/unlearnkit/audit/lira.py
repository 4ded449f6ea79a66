"""Per-example likelihood-ratio membership test (LiRA) on unlearned models (METRICS.md "lira").

A bank of ``M`` reference models is trained on random halves of the training pool
(:func:`random_halves` draws the halves). For every target sample the logit-scaled confidences of
the models that trained on it ("in") and of those that did not ("out") are each fitted with a
Gaussian; :func:`lira_scores` scores a model under attack by the log likelihood ratio of its own
confidence, and :func:`attack_metrics` / :func:`bootstrap_attack_metrics` turn the scores of
members (the forget set D_f) and of held-out non-members into AUC and TPR at low FPR.
"""

from __future__ import annotations

import numpy as np

from unlearnkit.audit.confidence import _float_array, _to_numpy
from unlearnkit.audit.quality import _check_boot, _check_seed
from unlearnkit.errors import ConfigError
from unlearnkit.seeding import numpy_rng

MIN_STD = 1e-3
"""Default floor on the fitted standard deviations (in logit-scaled-confidence units).

Across reference models the confidence of one sample typically spreads by 0.1 to a few units, so
the floor never touches a genuine fit; it only keeps the ratio finite in degenerate cases (all
"in" or all "out" models giving the same value, e.g. a single model on one side, duplicated
models, or saturated float32 logits). Raise it (e.g. to 0.1) to make such samples less decisive.
"""

METRIC_NAMES = ("auc", "tpr_at_1pct_fpr", "tpr_at_0.1pct_fpr")


def random_halves(n_samples: int, n_models: int, seed: int) -> np.ndarray:
    """Membership masks of a LiRA reference bank: ``out[m, i]`` is True when model ``m`` trains on sample ``i``.

    Scheme (the one of Carlini et al.'s LiRA code): for every sample independently, a uniformly
    random subset of ``floor(M/2)`` of the ``M`` models is "in" (the models are ranked by i.i.d.
    uniform keys from ``numpy_rng(seed, "audit.random_halves")`` and the lowest ``floor(M/2)``
    ranks are taken). So for even ``M`` every sample is in exactly ``M/2`` models and out of
    ``M/2``; for odd ``M``, additionally, each sample independently gets the extra model with
    probability 1/2 (a second draw from the same generator), so it is in ``(M−1)/2`` or
    ``(M+1)/2`` models. Each model trains on about half of the samples (binomial, not exact).

    Args:
        n_samples: number of samples in the pool (>= 1).
        n_models: ``M``, number of reference models (>= 2, so every sample has an "in" and an
            "out" model).
        seed: integer seed; the same seed gives the same masks.

    Returns:
        bool array of shape ``(M, n_samples)``.

    Raises:
        ConfigError: non-integer arguments, ``n_samples < 1`` or ``n_models < 2``.

    Example:
        >>> m = random_halves(5, 4, seed=0)
        >>> m.shape, m.sum(axis=0).tolist()
        ((4, 5), [2, 2, 2, 2, 2])
    """
    s = _check_seed(seed)
    for name, v, least in (("n_samples", n_samples, 1), ("n_models", n_models, 2)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < least:
            raise ConfigError(f"{name} must be an integer >= {least}; got {v!r}.")
    m, n = int(n_models), int(n_samples)
    rng = numpy_rng(s, "audit.random_halves")
    ranks = np.argsort(np.argsort(rng.random((m, n)), axis=0, kind="stable"), axis=0, kind="stable")
    k = np.full(n, m // 2)
    if m % 2:
        k = k + (rng.random(n) < 0.5)
    return ranks < k[None, :]


def _gaussian_fit(values: np.ndarray, mask: np.ndarray, min_std: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and floored population standard deviation (ddof 0, the Gaussian MLE) of
    ``values`` over the rows where ``mask`` is True."""
    cnt = mask.sum(axis=0)
    mu = np.where(mask, values, 0.0).sum(axis=0) / cnt
    var = np.where(mask, (values - mu) ** 2, 0.0).sum(axis=0) / cnt
    return mu, np.maximum(np.sqrt(var), min_std)


def lira_scores(ref_scores, ref_in, target_scores, *, min_std: float = MIN_STD) -> np.ndarray:
    """LiRA log likelihood ratio ``log N(s; μ_in, σ_in) − log N(s; μ_out, σ_out)`` per sample.

    ``μ``/``σ`` are the mean and (population, ddof 0) standard deviation of the sample's reference
    confidences over the "in" models and over the "out" models, each ``σ`` floored at ``min_std``.
    Larger scores mean "more likely a member". Computed in closed form:
    ``log σ_out − log σ_in − (s − μ_in)² / (2σ_in²) + (s − μ_out)² / (2σ_out²)``.

    Args:
        ref_scores: ``(M, n)`` logit-scaled confidences of the ``M`` reference models on the ``n``
            target samples.
        ref_in: ``(M, n)`` bool, True where the sample was in that model's training half (see
            :func:`random_halves`); every sample needs at least one "in" and one "out" model.
        target_scores: ``(n,)`` confidences of the model under attack (or ``(T, n)`` for ``T``
            such models, scored independently).
        min_std: floor on both standard deviations (> 0); see :data:`MIN_STD`.

    Returns:
        float64 array with the shape of ``target_scores``.

    Raises:
        ConfigError: shape mismatches, non-finite values, a non-boolean mask, a sample without
            "in" or without "out" models, or ``min_std <= 0``.

    Example:
        >>> import numpy as np
        >>> ref = np.array([[1.0], [3.0], [-2.0], [0.0]])
        >>> member = np.array([[True], [True], [False], [False]])
        >>> lira_scores(ref, member, [2.0]).tolist()  # N(2; 2, 1) vs N(2; −1, 1): 0 + 9/2
        [4.5]
    """
    ref = _float_array(ref_scores, "ref_scores", ndim=2)
    mask = _to_numpy(ref_in)
    if mask.dtype != np.bool_:
        if not np.issubdtype(mask.dtype, np.number) or not np.all(np.isin(mask, (0, 1))):
            raise ConfigError(f"ref_in must be a boolean mask (or 0/1); got dtype {mask.dtype}.")
        mask = mask.astype(bool)
    if mask.shape != ref.shape:
        raise ConfigError(f"ref_in must have the shape of ref_scores {ref.shape}; got {mask.shape}.")
    tgt = _float_array(target_scores, "target_scores")
    if tgt.ndim not in (1, 2) or tgt.shape[-1] != ref.shape[1]:
        raise ConfigError(
            f"target_scores must have shape (n,) or (T, n) with n = {ref.shape[1]} samples; got {tgt.shape}."
        )
    try:
        floor = float(min_std)
    except (TypeError, ValueError):
        raise ConfigError(f"min_std must be a positive number; got {min_std!r}.") from None
    if not (floor > 0 and np.isfinite(floor)):
        raise ConfigError(f"min_std must be a positive number; got {min_std!r}.")
    n_in = mask.sum(axis=0)
    n_out = mask.shape[0] - n_in
    bad = np.flatnonzero((n_in == 0) | (n_out == 0))
    if bad.size:
        raise ConfigError(
            f"{bad.size} sample(s) (first: {int(bad[0])}) have no 'in' or no 'out' reference model; "
            "each sample needs both to fit the two Gaussians."
        )
    mu_in, sd_in = _gaussian_fit(ref, mask, floor)
    mu_out, sd_out = _gaussian_fit(ref, ~mask, floor)
    return (
        np.log(sd_out)
        - np.log(sd_in)
        - (tgt - mu_in) ** 2 / (2.0 * sd_in**2)
        + (tgt - mu_out) ** 2 / (2.0 * sd_out**2)
    )


def _roc(members: np.ndarray, nonmembers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ROC points (FPR, TPR), one per distinct score plus (0, 0); members are positives and a
    larger score means "member". Tied scores move together (as ``sklearn.metrics.roc_curve`` with
    ``drop_intermediate=False``)."""
    s = np.concatenate([members, nonmembers])
    lab = np.concatenate([np.ones(members.size), np.zeros(nonmembers.size)])
    order = np.argsort(-s, kind="stable")
    s, lab = s[order], lab[order]
    ends = np.r_[np.flatnonzero(s[1:] != s[:-1]), s.size - 1]
    tp = np.cumsum(lab)[ends]
    fp = (ends + 1) - tp
    return np.r_[0.0, fp / nonmembers.size], np.r_[0.0, tp / members.size]


def _metrics(members: np.ndarray, nonmembers: np.ndarray) -> dict[str, float]:
    fpr, tpr = _roc(members, nonmembers)
    auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))
    return {
        "auc": auc,
        "tpr_at_1pct_fpr": float(tpr[fpr <= 0.01].max()),
        "tpr_at_0.1pct_fpr": float(tpr[fpr <= 0.001].max()),
    }


def _check_scores(x, name: str) -> np.ndarray:
    return _float_array(np.ravel(_to_numpy(x)), name, ndim=1, finite=False)


def attack_metrics(scores_members, scores_nonmembers) -> dict[str, float]:
    """AUC and TPR at 1% and 0.1% FPR of a membership attack (larger score = "member").

    Members (the forget set D_f) are the positives, held-out non-members the negatives. The ROC
    has one point per distinct score value (ties are never split) plus (0, 0); the AUC is its
    trapezoidal area, which equals the Mann–Whitney probability that a member outscores a
    non-member with ties counted 1/2. "TPR at FPR ≤ x" is the largest TPR among ROC points whose
    FPR is ≤ x (at least 0, from the (0, 0) point); with fewer than 1/x non-members only FPR = 0
    qualifies.

    Args:
        scores_members: attack scores of the members, 1-D.
        scores_nonmembers: attack scores of the non-members, 1-D.

    Returns:
        ``{"auc": ..., "tpr_at_1pct_fpr": ..., "tpr_at_0.1pct_fpr": ...}``.

    Raises:
        ConfigError: an empty group or NaN scores (±inf is allowed).

    Example:
        >>> attack_metrics([3.0, 4.0], [1.0, 2.0])["auc"]
        1.0
    """
    return _metrics(_check_scores(scores_members, "scores_members"), _check_scores(scores_nonmembers, "scores_nonmembers"))


def bootstrap_attack_metrics(
    scores_members, scores_nonmembers, *, seed: int, n_boot: int = 1000, level: float = 0.95
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of :func:`attack_metrics`.

    Each replicate resamples the members and the non-members separately, each with replacement and
    at its own size (a stratified bootstrap, so both groups keep their sizes), from
    ``numpy_rng(seed, "audit.bootstrap_attack_metrics")``; the interval of each metric is the
    ``(1 − level)/2`` and ``(1 + level)/2`` quantiles of its replicates.

    Args:
        scores_members: attack scores of the members (D_f), 1-D.
        scores_nonmembers: attack scores of the held-out non-members, 1-D.
        seed: integer seed; the same seed gives the same intervals.
        n_boot: number of replicates (>= 1).
        level: coverage in ``(0, 1)``.

    Returns:
        ``{name: (low, high)}`` for the names of :func:`attack_metrics`.

    Raises:
        ConfigError: as :func:`attack_metrics`, or bad ``seed`` / ``n_boot`` / ``level``.

    Example:
        >>> ci = bootstrap_attack_metrics([3.0, 4.0, 5.0], [1.0, 2.0, 3.5], seed=0, n_boot=200)
        >>> ci["auc"][0] <= ci["auc"][1]
        True
    """
    s = _check_seed(seed)
    nb, lv = _check_boot(n_boot, level)
    mem = _check_scores(scores_members, "scores_members")
    non = _check_scores(scores_nonmembers, "scores_nonmembers")
    rng = numpy_rng(s, "audit.bootstrap_attack_metrics")
    reps = {k: np.empty(nb) for k in METRIC_NAMES}
    for b in range(nb):
        im = rng.integers(0, mem.size, size=mem.size)
        inn = rng.integers(0, non.size, size=non.size)
        for k, v in _metrics(mem[im], non[inn]).items():
            reps[k][b] = v
    q = [(1.0 - lv) / 2.0, (1.0 + lv) / 2.0]
    out = {}
    for k in METRIC_NAMES:
        lo, hi = np.quantile(reps[k], q)
        out[k] = (float(lo), float(hi))
    return out
