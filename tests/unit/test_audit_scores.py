"""Unit tests of unlearnkit.audit: per-example ε, forgetting quality, challenge score, LiRA.

Every expected value is worked out in the test from METRICS.md ("Per-example audits"); a literal,
slow implementation of step 2 (every rule of both grids materialised) cross-checks the fast one.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from unlearnkit.audit import (
    attack_metrics,
    bootstrap_attack_metrics,
    bootstrap_interval,
    challenge_score,
    epsilons,
    forgetting_quality,
    lira_scores,
    logit_scaled_confidence,
    per_example_epsilon,
    random_halves,
)
from unlearnkit.errors import ConfigError
from unlearnkit.seeding import numpy_rng

DELTA = 1e-5


# =================================================================================== oracle
def literal_epsilon(u, r, delta=DELTA):
    """METRICS.md step 2 word for word: build every rule of both grids, score each one."""
    u, r = np.asarray(u, float), np.asarray(r, float)
    n = len(u)
    pos, neg = (r, u) if np.median(r) > np.median(u) else (u, r)
    range_pos, range_neg = np.ptp(pos), np.ptp(neg)
    largest, smallest = max(range_pos, range_neg), min(range_pos, range_neg)
    if largest > 0 and smallest / largest < 0.01:
        return 50.0
    counts = []  # (accepted positives, accepted negatives) per rule
    lo, hi = min(pos.min(), neg.min()), max(pos.max(), neg.max())
    t = np.linspace(lo, hi, int(np.ceil((hi - lo) * 100)))
    counts += zip((pos[None] >= t[:, None]).sum(1), (neg[None] >= t[:, None]).sum(1))
    peaky, other = (pos, neg) if range_pos < range_neg else (neg, pos)
    w = np.ptp(peaky)
    a, b = peaky.min() + w - 2, peaky.max() + 2
    t_r = np.repeat(np.linspace(a, b, int(np.ceil((b - a) * 100))), 400)
    t_l = np.concatenate([np.linspace(x - w - 2, x - w + 2, 400) for x in np.unique(t_r)])
    inside = lambda v: ((v[None] >= t_l[:, None]) & (v[None] <= t_r[:, None])).sum(1)  # noqa: E731
    counts += zip(inside(peaky), inside(other))
    best = 0.0
    for tp, fp in counts:
        fpr, fnr = fp / n, (n - tp) / n
        if fpr == 0 and fnr == 0:
            best = math.inf
        elif fpr > 0 and fnr > 0:
            if 1 - delta - fpr > 0:
                best = max(best, math.log(1 - delta - fpr) - math.log(fnr))
            if 1 - delta - fnr > 0:
                best = max(best, math.log(1 - delta - fnr) - math.log(fpr))
    return min(best, 50.0)


# =================================================================================== confidence
def test_logit_scaled_confidence_hand_value():
    # p = softmax([ln 3, 0, 0]) = (3/5, 1/5, 1/5): s = log(0.6 / 0.4) = ln 1.5
    s = logit_scaled_confidence([[math.log(3.0), 0.0, 0.0]], [0])
    assert s.shape == (1,) and s.dtype == np.float64
    assert s[0] == pytest.approx(math.log(0.6 / 0.4), abs=1e-12)
    # label 1: p_y = 1/5, rest 4/5: s = ln(1/4)
    assert logit_scaled_confidence([[math.log(3.0), 0.0, 0.0]], [1])[0] == pytest.approx(math.log(0.25), abs=1e-12)


def test_logit_scaled_confidence_is_stable_at_both_extremes():
    z = np.array([[1000.0, 0.0, 0.0], [-1000.0, 0.0, 0.0]])
    s = logit_scaled_confidence(z, [0, 0])
    # s = z_y − logsumexp_{k≠y} z_k = ±1000 − ln 2 exactly; naive log p − log(1 − p) gives ±inf / nan
    assert s == pytest.approx([1000.0 - math.log(2.0), -1000.0 - math.log(2.0)], abs=1e-9)


def test_logit_scaled_confidence_on_a_stack_of_models_and_torch_input():
    rng = numpy_rng(0, "test", "stack")
    z = rng.normal(size=(3, 5, 4))
    y = rng.integers(0, 4, size=5)
    stack = logit_scaled_confidence(z, y)
    assert stack.shape == (3, 5)
    for m in range(3):
        np.testing.assert_allclose(stack[m], logit_scaled_confidence(z[m], y), rtol=0, atol=0)
    p = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    p_y = np.take_along_axis(p, np.broadcast_to(y, (3, 5))[..., None], -1)[..., 0]
    np.testing.assert_allclose(stack, np.log(p_y) - np.log(1 - p_y), atol=1e-10)
    np.testing.assert_allclose(logit_scaled_confidence(torch.tensor(z, dtype=torch.float32), torch.tensor(y)), stack, atol=1e-5)


@pytest.mark.parametrize(
    "logits, labels",
    [
        ([[1.0], [2.0]], [0, 0]),  # one class: the sum over k != y is empty
        ([[1.0, 2.0]], [2]),  # label out of range
        ([[1.0, 2.0]], [0.0]),  # float labels
        ([[1.0, float("nan")]], [0]),
        ([[1.0, 2.0], [0.0, 1.0]], [0, 1, 0]),  # one label too many
        ([1.0, 2.0], [0]),  # 1-D logits
    ],
)
def test_logit_scaled_confidence_rejects_bad_inputs(logits, labels):
    with pytest.raises(ConfigError):
        logit_scaled_confidence(logits, labels)


# =================================================================================== per-example ε
def test_epsilon_separable_groups_is_cap():
    # every u < every r, both spread (ranges 1.5 and 1.2, ratio 0.8). r has the larger median and
    # is positive. Threshold grid: linspace(0, 4.2, 420), spacing 4.2/419 ≈ 0.01, so some t lies in
    # (1.5, 3]: it accepts all 4 r (FNR 0) and no u (FPR 0) -> ε = ∞ -> clipped to 50.
    u, r = [0.0, 0.5, 1.0, 1.5], [3.0, 3.4, 3.8, 4.2]
    assert per_example_epsilon(u, r) == 50.0
    assert per_example_epsilon(r, u) == 50.0  # roles swapped: same answer
    assert literal_epsilon(u, r) == 50.0


def test_epsilon_identical_groups_is_zero():
    # u = r: equal medians (unlearned positive), equal ranges. Every rule accepts the same number a
    # of each group, so FPR = a/4 and FNR = 1 − a/4. a = 0 or 4: one rate is 0 -> discarded.
    # a = 1, 2, 3: ln(1−δ−a/4) − ln(1−a/4) < 0 and ln(a/4−δ) − ln(a/4) < 0 -> ε_rule = 0. So ε = 0.
    v = [0.0, 1.0, 2.0, 3.0]
    assert per_example_epsilon(v, v) == 0.0
    assert literal_epsilon(v, v) == 0.0


def test_epsilon_one_overlapping_pair_hand_value():
    # u = (0, 1, 2, 3.05), r = (3, 4, 5, 6): r positive (median 4.5 > 1.5). Sorted: 0u 1u 2u 3r 3.05u 4r 5r 6r.
    # Threshold t in (3, 3.05] (the grid linspace(0, 6, 600) has 300·6/599 ≈ 3.005 there) accepts
    # r = 4, 5, 6 and u = 3.05: FNR = 1/4, FPR = 1/4 -> ε = ln(1−δ−1/4) − ln(1/4).
    # No rule does better: FPR = FNR = 0 would need an interval/threshold holding 3..6 but not 3.05;
    # rules with one rate 0 are discarded; and ε_rule decreases in both FP and FN counts, so
    # (1, 1) is the best pair with both non-zero (interval rules, peaky = r, reach the same pair).
    u, r = [0.0, 1.0, 2.0, 3.05], [3.0, 4.0, 5.0, 6.0]
    expected = math.log(1 - DELTA - 0.25) - math.log(0.25)
    assert per_example_epsilon(u, r) == pytest.approx(expected, abs=1e-9)
    assert literal_epsilon(u, r) == pytest.approx(expected, abs=1e-9)


def test_epsilon_smaller_range_under_one_percent_is_cap():
    # u's range 0.0015 is 0.15% of r's range 1.0 -> ε = 50, although u sits inside r's values.
    assert per_example_epsilon([0.5, 0.5005, 0.501, 0.5015], [0.0, 0.3, 0.7, 1.0]) == 50.0
    # one group constant (range 0), the other not: 0 < 1% -> 50
    assert per_example_epsilon([2.0, 2.0, 2.0], [0.0, 2.0, 4.0]) == 50.0


def test_epsilon_just_above_one_percent_is_computed():
    # r = (0, 5, 10), range 10. u = (4.975, 5, 5.025): range 0.05 = 0.5% < 1% -> 50.
    assert per_example_epsilon([4.975, 5.0, 5.025], [0.0, 5.0, 10.0]) == 50.0
    # u = (4.9, 5, 5.1): range 0.2 = 2% -> the rules run. Medians tie (5 = 5): u positive.
    # Thresholds: t in (4.9, 5] -> TP 2, FP 2 (FNR 1/3, FPR 2/3); t in (5, 5.1] -> TP 1, FP 1;
    # t in (5.1, 10] -> TP 0, FP 1: all give ε_rule = 0; t <= 4.9 accepts all u (FNR 0): discarded.
    # Intervals (peaky = u, w = 0.2): [t_l, t_r] with 4.9 < t_l <= 5 <= t_r < 5.1 holds u = 5, 5.1
    # and r = 5: TP 2, FP 1 -> FNR 1/3, FPR 1/3 -> ε = ln(1−δ−1/3) − ln(1/3) (left ends are 0.01
    # apart, so one lands in (4.9, 5]). Excluding r = 5 while keeping u = 5 is impossible.
    expected = math.log(1 - DELTA - 1 / 3) - math.log(1 / 3)
    assert per_example_epsilon([4.9, 5.0, 5.1], [0.0, 5.0, 10.0]) == pytest.approx(expected, abs=1e-9)


def test_epsilon_constant_groups():
    # both ranges 0: the 1% rule does not fire (0 < 1% of 0 is false)
    assert per_example_epsilon([1.0, 1.0, 1.0], [1.0, 1.0, 1.0]) == 0.0  # every rule discarded
    assert per_example_epsilon([1.0, 1.0, 1.0], [2.0, 2.0, 2.0]) == 50.0  # a threshold separates


def test_fast_epsilon_matches_literal_definition():
    rng = numpy_rng(0, "test", "oracle")
    us, rs = [], []
    for i in range(10):
        if i % 2:
            u, r = rng.normal(0, 1, 4), rng.normal(rng.uniform(-1, 2), rng.uniform(0.3, 2), 4)
        else:  # coarse values: ties and values sitting on grid points
            u, r = rng.integers(-15, 15, 4) / 10, rng.integers(-10, 20, 4) / 10
        us.append(u)
        rs.append(r)
    fast = epsilons(np.array(us).T, np.array(rs).T)
    slow = np.array([literal_epsilon(u, r) for u, r in zip(us, rs)])
    np.testing.assert_array_equal(fast, slow)
    assert len(set(np.round(slow, 6))) > 2  # the cases are not all trivial


def test_epsilons_matches_per_example_and_stays_in_range():
    rng = numpy_rng(0, "test", "matrix")
    u = rng.normal(0, 1, (8, 30))
    r = rng.normal(0.5, 1, (8, 30))
    eps = epsilons(u, r)
    assert eps.shape == (30,)
    assert np.all((eps >= 0) & (eps <= 50))
    for i in (0, 7, 29):
        assert eps[i] == per_example_epsilon(u[:, i], r[:, i])


@pytest.mark.parametrize(
    "u, r, kwargs",
    [
        (np.zeros((4, 3)), np.zeros((4, 2)), {}),
        (np.zeros(4), np.zeros(4), {}),
        (np.zeros((4, 0)), np.zeros((4, 0)), {}),
        (np.array([[np.nan]]), np.array([[0.0]]), {}),
        (np.zeros((4, 2)), np.zeros((4, 2)), {"delta": 1.0}),
    ],
)
def test_epsilons_rejects_bad_inputs(u, r, kwargs):
    with pytest.raises(ConfigError):
        epsilons(u, r, **kwargs)
    with pytest.raises(ConfigError):
        per_example_epsilon([0.0, 1.0], [0.0, 1.0, 2.0])


# =================================================================================== forgetting quality
def test_forgetting_quality_buckets_for_16_models():
    # N = 16: ceil(ln 15) = ceil(2.708) = 3 -> buckets [0,.5) [.5,1) [1,1.5) [1.5,2) [2,2.5) [2.5,3)
    # worth 1, 1/2, 1/4, 1/8, 1/16, 1/32; ε >= 3 earns 0.
    eps = [0.0, 0.49, 0.5, 1.2, 2.99, 3.0, 50.0]
    expected = (1 + 1 + 0.5 + 0.25 + 1 / 32 + 0 + 0) / 7
    assert forgetting_quality(eps, n_models=16) == pytest.approx(expected, abs=1e-15)
    assert forgetting_quality([1.75, 2.25], n_models=16) == pytest.approx((1 / 8 + 1 / 16) / 2)


def test_forgetting_quality_bucket_count_follows_n():
    # N = 3: ceil(ln 2) = 1 -> two buckets; ε = 1 earns 0.
    assert forgetting_quality([0.7, 1.0], n_models=3) == pytest.approx(0.25)
    # N = 64: ceil(ln 63) = 5 -> ten buckets; ε = 4.9 is in the last, worth 2^-9.
    assert forgetting_quality([4.9, 5.0], n_models=64) == pytest.approx(2.0**-9 / 2)
    assert forgetting_quality(np.zeros(5), 16) == 1.0 and forgetting_quality([50.0, math.inf], 16) == 0.0


@pytest.mark.parametrize("eps, n", [([0.1], 2), ([0.1], 1), ([], 16), ([-0.1], 16), ([float("nan")], 16), ([0.1], 16.0)])
def test_forgetting_quality_rejects_bad_inputs(eps, n):
    with pytest.raises(ConfigError):
        forgetting_quality(eps, n)


def test_challenge_score_multiplies_mean_ratios():
    # 0.5 × (91 / 100) × (80 / 80)
    assert challenge_score(0.5, [90.0, 92.0], [100.0], [80.0], [80.0, 80.0]) == pytest.approx(0.455)
    assert challenge_score(1.0, 50.0, 100.0, 30.0, 60.0) == pytest.approx(0.25)
    with pytest.raises(ConfigError):
        challenge_score(1.5, 1.0, 1.0, 1.0, 1.0)
    with pytest.raises(ConfigError):
        challenge_score(0.5, 1.0, 0.0, 1.0, 1.0)
    with pytest.raises(ConfigError):
        challenge_score(0.5, [], 1.0, 1.0, 1.0)


def test_bootstrap_interval_is_seeded_and_contains_the_estimate():
    rng = numpy_rng(0, "test", "boot")
    eps = rng.uniform(0, 3.5, 200)
    stat = lambda e: forgetting_quality(e, n_models=16)  # noqa: E731
    point = stat(eps)
    a = bootstrap_interval(eps, stat, seed=3, n_boot=300)
    assert a == bootstrap_interval(eps, stat, seed=3, n_boot=300)
    assert a != bootstrap_interval(eps, stat, seed=4, n_boot=300)
    assert a[0] < point < a[1]
    narrow = bootstrap_interval(eps, stat, seed=3, n_boot=300, level=0.5)
    assert a[0] <= narrow[0] <= narrow[1] <= a[1]
    with pytest.raises(ConfigError):
        bootstrap_interval(eps, stat, seed=None)
    with pytest.raises(ConfigError):
        bootstrap_interval([], stat, seed=0)
    with pytest.raises(ConfigError):
        bootstrap_interval(eps, stat, seed=0, level=1.0)


# =================================================================================== LiRA
def test_lira_score_hand_value():
    ref = np.array([[1.0], [3.0], [-3.0], [1.0]])
    member = np.array([[True], [True], [False], [False]])
    # in: (1, 3) -> μ 2, σ 1; out: (−3, 1) -> μ −1, σ 2 (population std).
    # s = 2: log N(2; 2, 1) − log N(2; −1, 2) = (−ln 1 − 0) − (−ln 2 − 9/8) = ln 2 + 9/8
    assert lira_scores(ref, member, [2.0])[0] == pytest.approx(math.log(2.0) + 9 / 8, abs=1e-12)
    # several target models at once
    np.testing.assert_allclose(lira_scores(ref, member, [[2.0], [-1.0]])[:, 0], [math.log(2) + 9 / 8, math.log(2) - 4.5])


def test_lira_std_floor():
    ref = np.array([[1.0], [1.0], [0.0], [2.0]])  # in-models agree exactly: σ_in = 0 -> floored
    member = np.array([[True], [True], [False], [False]])
    # out: μ 1, σ 1. s = 1.1 with floor 0.1: ln 1 − ln 0.1 − 0.01/0.02 + 0.01/2 = ln 10 − 0.5 + 0.005
    assert lira_scores(ref, member, [1.1], min_std=0.1)[0] == pytest.approx(math.log(10) - 0.495, abs=1e-12)
    assert np.isfinite(lira_scores(ref, member, [1.1])[0])
    with pytest.raises(ConfigError):
        lira_scores(ref, member, [1.1], min_std=0.0)
    with pytest.raises(ConfigError):  # sample never "out"
        lira_scores(ref, np.ones((4, 1), bool), [1.1])
    with pytest.raises(ConfigError):
        lira_scores(ref, member, [1.1, 2.0])


def test_random_halves_is_balanced_and_seeded():
    m = random_halves(300, 8, seed=1)
    assert m.shape == (8, 300) and m.dtype == np.bool_
    assert np.all(m.sum(axis=0) == 4)
    assert np.all(np.abs(m.sum(axis=1) - 150) < 50)
    np.testing.assert_array_equal(m, random_halves(300, 8, seed=1))
    assert not np.array_equal(m, random_halves(300, 8, seed=2))
    odd = random_halves(400, 5, seed=0).sum(axis=0)
    assert set(odd.tolist()) == {2, 3}
    with pytest.raises(ConfigError):
        random_halves(10, 1, seed=0)


def test_lira_end_to_end_separates_members():
    # synthetic bank: "in" confidences ~ N(3, 1), "out" ~ N(0, 1) per sample
    n, m = 400, 16
    rng = numpy_rng(0, "test", "lira")
    mask = random_halves(n, m, seed=0)
    ref = np.where(mask, 3.0, 0.0) + rng.normal(size=(m, n))
    target_in = 3.0 + rng.normal(size=n)
    target_out = rng.normal(size=n)
    s_mem = lira_scores(ref, mask, target_in)[:200]
    s_non = lira_scores(ref, mask, target_out)[200:]
    assert attack_metrics(s_mem, s_non)["auc"] > 0.9  # ideal test: Φ(3/√2) ≈ 0.98; fitted σ add noise


def test_attack_metrics_separable_identical_and_low_fpr():
    assert attack_metrics([3.0, 4.0, 5.0], [0.0, 1.0, 2.0]) == {
        "auc": 1.0,
        "tpr_at_1pct_fpr": 1.0,
        "tpr_at_0.1pct_fpr": 1.0,
    }
    rng = numpy_rng(0, "test", "null")
    a, b = rng.normal(size=2000), rng.normal(size=2000)
    assert abs(attack_metrics(a, b)["auc"] - 0.5) < 0.05
    # members 10, 9, 8, −10, −11; non-members: 9.5 and 99 values in [−5, −1].
    # ROC: t=10 -> (FPR 0, TPR .2); t=9.5 -> (.01, .2); t=9 -> (.01, .4); t=8 -> (.01, .6);
    # t=−1 -> (.02, .6) ... so TPR at FPR <= 1% = 0.6, at FPR <= 0.1% = 0.2.
    # AUC = P(member > non-member) = (100 + 99 + 99 + 0 + 0) / 500.
    mem = np.array([10.0, 9.0, 8.0, -10.0, -11.0])
    non = np.r_[9.5, np.linspace(-5, -1, 99)]
    got = attack_metrics(mem, non)
    assert got["tpr_at_1pct_fpr"] == pytest.approx(0.6)
    assert got["tpr_at_0.1pct_fpr"] == pytest.approx(0.2)
    assert got["auc"] == pytest.approx(298 / 500)
    assert got["auc"] == pytest.approx(roc_auc_score(np.r_[np.ones(5), np.zeros(100)], np.r_[mem, non]))
    # ties count one half, as in sklearn
    assert attack_metrics([1.0, 2.0], [1.0, 0.0])["auc"] == pytest.approx(roc_auc_score([1, 1, 0, 0], [1, 2, 1, 0]))
    with pytest.raises(ConfigError):
        attack_metrics([], [1.0])
    with pytest.raises(ConfigError):
        attack_metrics([float("nan")], [1.0])


def test_bootstrap_attack_metrics_is_seeded():
    rng = numpy_rng(0, "test", "bootattack")
    mem, non = rng.normal(1.0, 1.0, 300), rng.normal(0.0, 1.0, 300)
    ci = bootstrap_attack_metrics(mem, non, seed=5, n_boot=200)
    assert ci == bootstrap_attack_metrics(mem, non, seed=5, n_boot=200)
    point = attack_metrics(mem, non)
    assert set(ci) == set(point)
    for k, (lo, hi) in ci.items():
        assert 0.0 <= lo <= hi <= 1.0
    assert ci["auc"][0] < point["auc"] < ci["auc"][1]
