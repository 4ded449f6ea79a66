"""Golden-free evidence metrics (METRICS.md), pinned on hand-made logits."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from unlearnkit.errors import ConfigError
from unlearnkit.metrics import evaluate
from unlearnkit.metrics import heldout as H


def logits_with_loss(losses):
    """Two-class logits whose cross-entropy for label 0 is each given loss: z = (0, log(e^l − 1))."""
    losses = torch.as_tensor(losses, dtype=torch.float64)
    z1 = torch.log(torch.expm1(losses))
    return torch.stack([torch.zeros_like(z1), z1], dim=1), torch.zeros(len(losses), dtype=torch.int64)


def test_auc_counts_pairs_and_ties_by_hand():
    # D_f losses 1, 2, 3; V_f losses 2, 4. Pairs with loss_f < loss_v: (1,2) (1,4) (2,4) (3,4) = 4; one tie (2,2).
    value = H.auc_lower_is_member(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0]), seed=0).value
    assert value == pytest.approx((4 + 0.5) / 6)


def test_heldout_auc_from_logits_matches_the_pairwise_definition():
    rng = np.random.default_rng(1)
    lf, lv = rng.exponential(0.5, 40), rng.exponential(1.0, 50)
    zf, yf = logits_with_loss(lf)
    zv, yv = logits_with_loss(lv)
    est = H.heldout_auc(zf, yf, zv, yv, seed=3)
    pairs = (lf[:, None] < lv[None, :]).mean() + 0.5 * (lf[:, None] == lv[None, :]).mean()
    assert est.value == pytest.approx(pairs, abs=1e-12)
    assert est.low <= est.value <= est.high
    assert H.heldout_auc(zf, yf, zv, yv, seed=3) == est


def test_bootstrap_auc_equals_the_auc_of_the_resampled_sets():
    rng = np.random.default_rng(2)
    lf, lv = rng.normal(size=35), rng.normal(0.3, size=33)
    counts_f = H._bootstrap_counts(35, np.random.default_rng(5), 1)[0]
    counts_v = H._bootstrap_counts(33, np.random.default_rng(6), 1)[0]
    rf, rv = np.repeat(lf, counts_f.astype(int)), np.repeat(lv, counts_v.astype(int))
    direct = (rf[:, None] < rv[None, :]).mean() + 0.5 * (rf[:, None] == rv[None, :]).mean()
    order = np.argsort(lv, kind="stable")
    sorted_v = lv[order]
    left, right = np.searchsorted(sorted_v, lf, "left"), np.searchsorted(sorted_v, lf, "right")
    cum = np.concatenate([[0.0], np.cumsum(counts_v[order])])
    fast = ((cum[-1] - cum[right] + 0.5 * (cum[right] - cum[left])) * counts_f).sum() / (counts_f.sum() * cum[-1])
    assert fast == pytest.approx(direct, abs=1e-12)


def test_acc_gap_and_class_acc_by_hand():
    zf = torch.tensor([[2.0, 0.0]] * 30 + [[0.0, 2.0]] * 10)   # 75% correct for label 0
    zv = torch.tensor([[2.0, 0.0]] * 20 + [[0.0, 2.0]] * 20)   # 50% correct
    y40 = torch.zeros(40, dtype=torch.int64)
    gap = H.heldout_acc_gap(zf, y40, zv, y40, seed=0)
    assert gap.value == pytest.approx(25.0)
    assert gap.low < 25.0 < gap.high
    acc = H.heldout_class_acc(zv, y40, seed=0)
    assert acc.value == pytest.approx(50.0) and 0 <= acc.low < 50 < acc.high <= 100


def test_too_few_samples_for_the_interval_names_the_minimum():
    z, y = logits_with_loss([1.0] * 10)
    z40, y40 = logits_with_loss([1.0] * 40)
    with pytest.raises(ConfigError, match=f"V_f .* has 10, the minimum for an interval is {H.MIN_HELDOUT}") as e:
        H.heldout_auc(z40, y40, z, y)
    assert "\n" not in str(e.value)
    z5, y5 = logits_with_loss([1.0] * 5)
    with pytest.raises(ConfigError, match=f"D_f has 5 records; the minimum for an interval is {H.MIN_FORGET}"):
        H.heldout_acc_gap(z5, y5, z40, y40)


def test_evaluate_keeps_the_intervals_and_prints_them(val_random_split, val_original):
    report = evaluate(val_original, val_random_split, metrics=["heldout_auc", "heldout_acc_gap", "ua"], seed=0)
    lo, hi = report.intervals["unlearned"]["heldout_auc"]
    assert lo <= report["heldout_auc"] <= hi
    assert "ua" not in report.intervals["unlearned"]
    assert f"[{lo:.2f}, {hi:.2f}]" in report.to_markdown()
    assert report.to_dict()["intervals"]["unlearned"]["heldout_acc_gap"] == list(report.intervals["unlearned"]["heldout_acc_gap"])
    assert math.isfinite(report["heldout_acc_gap"])
