"""Per-example ε and the forgetting quality of the NeurIPS 2023 unlearning challenge (METRICS.md).

The inputs are the logit-scaled confidences (see :func:`unlearnkit.audit.logit_scaled_confidence`)
of each forget sample under ``N`` unlearned models (``u``) and ``N`` golden, retrained models
(``r``). For every sample, :func:`per_example_epsilon` runs the two families of decision rules of
METRICS.md step 2 (single thresholds and intervals) over the ``2N`` values and turns the best
rule's false-positive / false-negative rates into an empirical (ε, δ) bound (steps 3-5, the score built
on ε, are in ``unlearnkit.audit.quality``).

How the rules are evaluated (exactly, but fast): a rule only matters through how many values of
each group it accepts, and those counts only change where the rule's threshold crosses one of the
``2N`` observed values. So instead of materialising every rule of a grid, the code counts, for each
gap between consecutive sorted values, how many grid points fall into it (the grid is rebuilt with
the very arithmetic of ``numpy.linspace``, so boundary cases match a literal implementation bit
for bit), evaluates one rule per occupied gap, and looks the ε of its (true-positive,
false-positive) counts up in a precomputed ``(N+1) × (N+1)`` table. The interval family, whose
literal form has about 400 × 400 rules per sample, then costs ``O(400 · 2N)`` per sample and is
batched over samples.
"""

from __future__ import annotations

import numpy as np

from unlearnkit.audit.confidence import _float_array
from unlearnkit.errors import ConfigError

DELTA = 1e-5
"""δ of the (ε, δ) bound (METRICS.md step 2)."""
EPSILON_CAP = 50.0
"""ε is clipped to [0, EPSILON_CAP]; also the value given to samples caught by the 1% range rule."""
THRESHOLDS_PER_UNIT = 100
"""Grid density: ceil(100 × span) points over a span."""
INTERVAL_BUFFER = 2.0
"""The ±2 margins of the interval family's grids."""
NUM_LEFT_ENDS = 400
"""Left ends per right end in the interval family (ceil(2 × 2 × 100))."""
PEAKY_RATIO = 0.01
"""If the smaller range is under this fraction of the larger one, ε = EPSILON_CAP."""

# Elements per (samples × right ends × gaps) block of the interval family; bounds peak memory
# to a few tens of MB whatever the number of samples.
_BLOCK_ELEMENTS = 1 << 20


# ----------------------------------------------------------------------------------- grids
def _grid_values(j, start, stop, num, step=None):
    """``np.linspace(start, stop, num)[j]``, elementwise and bit for bit (``j`` may be any integer).

    numpy computes ``j * ((stop - start) / (num - 1)) + start`` and then overwrites the last point
    with ``stop``; ``num == 1`` gives the single point ``start``. (numpy's special branch for a
    step that underflows to 0 never arises here: every grid with two or more points spans at
    least 1/100.)
    """
    if step is None:
        step = (stop - start) / np.maximum(num - 1, 1)
    v = j * step + start
    return np.where((j == num - 1) & (num > 1), stop, v)


def _grid_count_le(x, start, stop, num):
    """How many points of ``np.linspace(start, stop, num)`` are ``<= x``, elementwise, exactly.

    Arguments broadcast against each other. The grid is non-decreasing (floating-point
    multiplication and addition are monotone), so an arithmetic estimate ``e`` of the last index
    with a grid value ``<= x`` is checked against the exact grid values (``g[e] <= x < g[e+1]``)
    and the few entries where rounding put it off by one are walked to the right index.
    """
    num = np.asarray(num)
    step = (stop - start) / np.maximum(num - 1, 1)
    last = num - 1
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        est = np.floor((x - start) / step)
    est = np.where(num >= 2, est, np.where(x >= start, 0.0, -1.0))
    est = np.nan_to_num(est, nan=-1.0, posinf=np.iinfo(np.int64).max / 2, neginf=-1.0)
    e = np.clip(est, -1, np.maximum(last, -1)).astype(np.int64)
    shape = e.shape
    wrong = ((e + 1 <= last) & (_grid_values(e + 1, start, stop, num, step) <= x)) | (
        (e >= 0) & (_grid_values(e, start, stop, num, step) > x)
    )
    bad = np.nonzero(wrong)
    if bad[0].size:
        xb, sb, ob, nb, pb = (np.broadcast_to(a, shape)[bad] for a in (x, start, stop, num, step))
        eb = e[bad]
        while True:  # move up while the next grid point is still <= x
            up = (eb + 1 <= nb - 1) & (_grid_values(eb + 1, sb, ob, nb, pb) <= xb)
            if not up.any():
                break
            eb = np.where(up, eb + 1, eb)
        while True:  # move down while the current grid point is > x
            down = (eb >= 0) & (_grid_values(eb, sb, ob, nb, pb) > xb)
            if not down.any():
                break
            eb = np.where(down, eb - 1, eb)
        e[bad] = eb
    return e + 1


def _gap_hits(sorted_vals, start, stop, num):
    """For each gap ``(v[k-1], v[k]]`` between sorted values (``k = 0 .. 2N``, with ``v[-1] = −∞``
    and ``v[2N] = +∞``), whether a grid point of ``linspace(start, stop, num)`` falls in it.

    A threshold ``t`` in gap ``k`` has exactly ``k`` values strictly below it.
    ``sorted_vals``: ``(..., 2N)``; ``start``, ``stop``, ``num``: ``(...)``. Returns ``(..., 2N+1)``.
    """
    g = _grid_count_le(sorted_vals, start[..., None], stop[..., None], num[..., None])
    zero = np.zeros(g.shape[:-1] + (1,), dtype=g.dtype)
    total = np.broadcast_to(num[..., None], g.shape[:-1] + (1,)).astype(g.dtype)
    return np.diff(np.concatenate([zero, g, total], axis=-1), axis=-1) > 0


# ----------------------------------------------------------------------------------- ε of a rule
def _epsilon_table(n_pos: int, n_neg: int, delta: float) -> np.ndarray:
    """ε of a rule that accepts ``tp`` of ``n_pos`` positives and ``fp`` of ``n_neg`` negatives.

    Entry ``[tp, fp]``: ``+inf`` when FPR = FNR = 0; 0 when exactly one of them is 0 (the rule is
    discarded, and 0 is the floor of the final maximum anyway); otherwise
    ``max(0, ln(1−δ−FPR) − ln FNR, ln(1−δ−FNR) − ln FPR)``, where a term whose logarithm has a
    non-positive argument (FPR or FNR ≥ 1 − δ, i.e. = 1) is left out, as ``np.nanmax`` does in the
    challenge's code.
    """
    tp = np.arange(n_pos + 1)[:, None]
    fp = np.arange(n_neg + 1)[None, :]
    fn = n_pos - tp
    fpr = fp / n_neg
    fnr = fn / n_pos
    a = 1.0 - delta - fpr
    b = 1.0 - delta - fnr
    with np.errstate(divide="ignore", invalid="ignore"):
        e1 = np.where((a > 0) & (fn > 0), np.log(np.where(a > 0, a, 1.0)) - np.log(np.where(fn > 0, fnr, 1.0)), -np.inf)
        e2 = np.where((b > 0) & (fp > 0), np.log(np.where(b > 0, b, 1.0)) - np.log(np.where(fp > 0, fpr, 1.0)), -np.inf)
    table = np.maximum(0.0, np.maximum(e1, e2))
    table = np.where((fp == 0) != (fn == 0), 0.0, table)
    table = np.where((fp == 0) & (fn == 0), np.inf, table)
    return table


# ----------------------------------------------------------------------------------- families
def _single_threshold_eps(sv, is_pos, n, table):
    """Best ε of the single-threshold family for a batch: ``sv`` (B, 2N) sorted values of both
    groups, ``is_pos`` (B, 2N) 1 where the value belongs to the positive group."""
    lo, hi = sv[:, 0], sv[:, -1]
    num = np.ceil((hi - lo) * THRESHOLDS_PER_UNIT).astype(np.int64)
    hits = _gap_hits(sv, lo, hi, num)  # (B, 2N+1)
    c_pos = np.concatenate([np.zeros((sv.shape[0], 1), np.int64), np.cumsum(is_pos, axis=1)], axis=1)
    k = np.arange(sv.shape[1] + 1)[None, :]
    tp = n - c_pos  # positives with s >= t
    fp = n - (k - c_pos)  # negatives with s >= t
    return np.where(hits, table[tp, fp], 0.0).max(axis=1, initial=0.0)


def _interval_eps(sv, is_peaky, peaky_min, peaky_max, n, table):
    """Best ε of the interval family for a batch (peaky group = positives)."""
    b, m = sv.shape
    w = peaky_max - peaky_min
    r_start = peaky_min + w - INTERVAL_BUFFER
    r_stop = peaky_max + INTERVAL_BUFFER
    n_right = np.ceil((r_stop - r_start) * THRESHOLDS_PER_UNIT).astype(np.int64)
    j = np.arange(int(n_right.max()))[None, :]
    valid = j < n_right[:, None]  # (B, R); rows with fewer right ends are padded
    t_r = _grid_values(j, r_start[:, None], r_stop[:, None], n_right[:, None])
    right_count = (sv[:, None, :] <= t_r[:, :, None]).sum(axis=2)  # values <= t_r, (B, R)
    base = t_r - w[:, None]
    l_start, l_stop = base - INTERVAL_BUFFER, base + INTERVAL_BUFFER
    hits = _gap_hits(sv[:, None, :], l_start, l_stop, np.full(l_start.shape, NUM_LEFT_ENDS))  # (B, R, 2N+1)
    hits &= valid[:, :, None]
    c_k = np.concatenate([np.zeros((b, 1), np.int64), np.cumsum(is_peaky, axis=1)], axis=1)  # (B, 2N+1)
    k = np.arange(m + 1)[None, None, :]
    c_right = np.take_along_axis(c_k, right_count, axis=1)  # peaky values <= t_r, (B, R)
    # values in [t_l, t_r] = (values <= t_r) − (values < t_l); an empty interval (t_l > t_r) gives <= 0.
    tp = np.maximum(c_right[:, :, None] - c_k[:, None, :], 0)
    fp = np.maximum((right_count - c_right)[:, :, None] - (k - c_k[:, None, :]), 0)
    return np.where(hits, table[tp, fp], 0.0).max(axis=(1, 2), initial=0.0)


# ----------------------------------------------------------------------------------- public
def _check_delta(delta) -> float:
    try:
        d = float(delta)
    except (TypeError, ValueError):
        raise ConfigError(f"delta must be a number in [0, 1); got {delta!r}.") from None
    if not (0.0 <= d < 1.0):
        raise ConfigError(f"delta must lie in [0, 1); got {delta!r}.")
    return d


def epsilons(u_matrix, r_matrix, delta: float = DELTA) -> np.ndarray:
    """Per-example ε (METRICS.md "forgetting_quality", step 2) of every forget sample.

    Args:
        u_matrix: ``(N, n)`` logit-scaled confidences of the ``n`` forget samples under ``N``
            unlearned models (one row per model).
        r_matrix: ``(N, n)`` the same under ``N`` golden (retrained) models.
        delta: the δ of the (ε, δ) bound, in ``[0, 1)``; METRICS.md fixes 1e-5.

    Returns:
        float64 array ``(n,)`` of ε values in ``[0, 50]``.

    Raises:
        ConfigError: non-2-D or mismatched shapes, no models or samples, NaN/inf values, bad delta.

    See :func:`per_example_epsilon` for the definition and for the points METRICS.md leaves open.

    Example:
        >>> import numpy as np
        >>> u = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
        >>> epsilons(u, u + np.array([0.0, 10.0])).tolist()  # identical, then separated groups
        [0.0, 50.0]
    """
    u = _float_array(u_matrix, "u_matrix", ndim=2)
    r = _float_array(r_matrix, "r_matrix", ndim=2)
    if u.shape != r.shape:
        raise ConfigError(
            f"u_matrix and r_matrix must have the same shape (models, samples); got {u.shape} and {r.shape}."
        )
    d = _check_delta(delta)
    n_models, n_samples = u.shape
    table = _epsilon_table(n_models, n_models, d)

    # Positive group: the one with the larger median; a tie makes the unlearned group positive
    # (the challenge's code tests `median_r > median_u`).
    r_pos = np.median(r, axis=0) > np.median(u, axis=0)
    pos = np.where(r_pos, r, u).T  # (n, N)
    neg = np.where(r_pos, u, r).T
    range_pos = pos.max(axis=1) - pos.min(axis=1)
    range_neg = neg.max(axis=1) - neg.min(axis=1)
    largest = np.maximum(range_pos, range_neg)
    smallest = np.minimum(range_pos, range_neg)
    safe = np.where(largest > 0, largest, 1.0)
    capped = (largest > 0) & (smallest / safe < PEAKY_RATIO)
    # Interval family: the group with the strictly smaller range is peaky; on a tie the negative one.
    peaky_is_pos = range_pos < range_neg

    out = np.full(n_samples, EPSILON_CAP)
    todo = np.flatnonzero(~capped)
    m = 2 * n_models
    per_sample = (NUM_LEFT_ENDS + 2) * (m + 1)
    chunk = max(1, _BLOCK_ELEMENTS // per_sample)
    for lo in range(0, len(todo), chunk):
        idx = todo[lo : lo + chunk]
        vals = np.concatenate([pos[idx], neg[idx]], axis=1)
        flag = np.concatenate([np.ones((len(idx), n_models), np.int64), np.zeros((len(idx), n_models), np.int64)], axis=1)
        order = np.argsort(vals, axis=1, kind="stable")
        sv = np.take_along_axis(vals, order, axis=1)
        is_pos = np.take_along_axis(flag, order, axis=1)
        pk = peaky_is_pos[idx]
        is_peaky = np.where(pk[:, None], is_pos, 1 - is_pos)
        peaky_min = np.where(pk, pos[idx].min(axis=1), neg[idx].min(axis=1))
        peaky_max = np.where(pk, pos[idx].max(axis=1), neg[idx].max(axis=1))
        e = np.maximum(
            _single_threshold_eps(sv, is_pos, n_models, table),
            _interval_eps(sv, is_peaky, peaky_min, peaky_max, n_models, table),
        )
        out[idx] = np.clip(e, 0.0, EPSILON_CAP)
    return out


def per_example_epsilon(u, r, delta: float = DELTA) -> float:
    """ε of one forget sample from its ``N`` unlearned values ``u`` and ``N`` golden values ``r``.

    Definition (METRICS.md, "forgetting_quality", step 2):

    * The positive group is the one with the larger median. If the smaller of the two ranges
      (max − min) is under 1% of the larger, ε = 50.
    * Single-threshold rules: predict positive when ``s >= t``, for ``t`` on
      ``linspace(lo, hi, ceil(100 · (hi − lo)))``, ``lo``/``hi`` the smallest/largest value of
      both groups.
    * Interval rules: the group with the smaller range is "peaky" and plays the positive role;
      ``w`` is its range; right ends ``t_r`` on ``linspace(min(peaky) + w − 2, max(peaky) + 2,
      ceil(100 · span))``; for each, 400 left ends on ``linspace(t_r − w − 2, t_r − w + 2, 400)``;
      predict peaky when ``t_l <= s <= t_r``.
    * Each rule gives FPR and FNR over the ``N`` + ``N`` models: FPR = FNR = 0 gives ε = ∞;
      exactly one of them 0 discards the rule; otherwise
      ``ε_rule = max(0, ln(1−δ−FPR) − ln FNR, ln(1−δ−FNR) − ln FPR)``.
      ε = the largest ε_rule, clipped to ``[0, 50]``.

    Points METRICS.md leaves open, resolved as the challenge's published code
    (google-deepmind/unlearning_evaluation, ``metric.py``) does unless noted:

    * Median tie: the unlearned group is positive (the code tests ``median(r) > median(u)``).
    * Range tie in the interval family: the negative group (smaller or equal median) is peaky;
      ``w`` is the common range.
    * Both ranges 0 (both groups constant): "0 is under 1% of 0" is false, so the 1% rule does not
      fire and the rules are evaluated. Equal constants: every rule accepts both groups or neither,
      all rules are discarded and ε = 0. Different constants: usually ε = 50 (a rule separates
      them), unless they differ by so little that no grid point falls between them.
    * One range 0, the other not: the ratio is 0 < 1%, so ε = 50.
    * ``ceil(100 · span)`` is evaluated in float64 exactly as written (``np.ceil(span * 100)``),
      so the interval family's right-end grid (span 4 in exact arithmetic) may get 401 points
      through rounding, as in the challenge's code. A span of 0 gives no single-threshold rules;
      a span of at most 0.01 gives one point, ``t = lo`` (``np.linspace(lo, hi, 1)``).
    * An empty interval (``t_l > t_r``, possible when ``w < 2``) accepts nothing.
    * A log term with a non-positive argument (FPR or FNR equal to 1) is left out of the max
      (the code's ``np.nanmax``); if both are, ε_rule = 0 (the code discards that rule, which
      changes nothing because of the floor at 0).
    * No surviving rule at all: ε = 0 (the code stops with an assertion error there).
    * Rates are exact fractions in float64 (the code averaged float32 indicators, so its ε can
      differ in about the 7th significant digit).
    * ``u`` and ``r`` must have the same length ``N`` (the challenge pairs N unlearned with N
      retrained models).

    Args:
        u: the ``N`` logit-scaled confidences of the sample under the unlearned models.
        r: the ``N`` values under the golden models.
        delta: δ, in ``[0, 1)``.

    Returns:
        ε in ``[0, 50]``.

    Raises:
        ConfigError: ``u``/``r`` not 1-D, empty, of different lengths or not finite; bad ``delta``.

    Example:
        >>> per_example_epsilon([0.0, 0.5, 1.0, 1.5], [3.0, 3.4, 3.8, 4.2])  # separable
        50.0
        >>> per_example_epsilon([0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 2.0, 3.0])  # identical
        0.0
    """
    uu = _float_array(u, "u", ndim=1)
    rr = _float_array(r, "r", ndim=1)
    if uu.shape != rr.shape:
        raise ConfigError(f"u and r must have the same number of models; got {uu.shape[0]} and {rr.shape[0]}.")
    return float(epsilons(uu[:, None], rr[:, None], delta)[0])
