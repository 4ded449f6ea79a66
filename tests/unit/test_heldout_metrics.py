"""Golden-free evidence metrics (METRICS.md), pinned on hand-made logits."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from unlearnkit.data.split import make_split
from unlearnkit.errors import ConfigError
from unlearnkit.metrics.bootstrap import stratified_counts
from unlearnkit.metrics import evaluate
from unlearnkit.metrics import heldout as H
from unlearnkit.metrics.context import EvalContext


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


# ------------------------------------------------------------------ V_f weighted to D_f's classes
def two_class_rows(correct, labels):
    """Logits (2 classes) that predict each label when ``correct`` and the other class otherwise."""
    rows = [[2.0, 0.0] if (y == 0) == bool(c) else [0.0, 2.0] for c, y in zip(correct, labels)]
    return torch.tensor(rows, dtype=torch.float64), torch.tensor(labels, dtype=torch.int64)


def test_weights_give_v_f_the_class_proportions_of_d_f():
    # D_f: 3/4 class 0, 1/4 class 1; V_f: 2 of class 0 (1/4), 6 of class 1 (3/4).
    w = H.heldout_weights([0, 0, 0, 1], [0, 0, 1, 1, 1, 1, 1, 1])
    assert w.tolist() == pytest.approx([3.0, 3.0] + [1 / 3] * 6)  # (3/4)/(1/4) and (1/4)/(3/4)
    assert w.sum() == pytest.approx(8.0)
    assert w.dtype == np.float64


def test_weighted_acc_gap_by_hand():
    # D_f: classes 0,0,0,1, correct 1,1,1,0 -> 75%. V_f: class 0 correct 1,0 (50%); class 1 all 6 correct (100%).
    # Unweighted acc(V_f) = 7/8 = 87.5 (gap -12.5); weighted to D_f's proportions 3/4*50 + 1/4*100 = 62.5 -> gap 12.5.
    zf, yf = two_class_rows([1, 1, 1, 0], [0, 0, 0, 1])
    zv, yv = two_class_rows([1, 0] + [1] * 6, [0, 0] + [1] * 6)
    gap = H.heldout_acc_gap(zf, yf, zv, yv, seed=0, min_size=1, min_forget=1)
    assert gap.value == pytest.approx(12.5)
    assert gap.low <= gap.value <= gap.high
    cls = H.heldout_class_acc(zv, yv, seed=0, weights_v=H.heldout_weights(yf, yv), classes_v=yv.numpy())
    assert cls.value == pytest.approx(62.5)
    # The class-1 records of V_f are all correct: resampled within their class they stay so, and the
    # class-0 pair gives 0, 1/2 or 1; so every resample of the weighted acc is 3/4*{0, 50, 100} + 25.
    assert cls.low >= 25.0 - 1e-9 and cls.high <= 100.0 + 1e-9


def test_weighted_auc_by_hand():
    # D_f losses 1, 2, 3, 4 (classes 0,0,0,1); V_f losses 2.5 (class 0, weight 3) and 0.5, 2, 5 (class 1, weight 1/3).
    # Weight of V_f above each D_f loss (+ half the ties): 1 -> 3 + 2/3; 2 -> 3 + 1/3 + 1/6; 3 -> 1/3; 4 -> 1/3.
    # Sum 47/6 over |D_f| * sum(w) = 4 * 4: AUC = 47/96 (unweighted it would be 7.5/16 = 45/96).
    classes_f, classes_v = [0, 0, 0, 1], [0, 1, 1, 1]
    zf, yf = logits_with_loss([1.0, 2.0, 3.0, 4.0])
    zv, yv = logits_with_loss([2.5, 0.5, 2.0, 5.0])
    est = H.heldout_auc(zf, yf, zv, yv, seed=0, classes_f=classes_f, classes_v=classes_v, min_size=1, min_forget=1)
    assert est.value == pytest.approx(47 / 96, abs=1e-12)
    assert H.mann_whitney_auc([1.0, 2.0, 3.0, 4.0], [2.5, 0.5, 2.0, 5.0]) == pytest.approx(45 / 96)
    assert est.low <= est.value <= est.high


def test_float64_scores_from_logits_do_not_tie_where_rounded_probabilities_would():
    # p_y of logits (40, 0) and (30, 0) both round to 1 in float32, so losses from probabilities tie (AUC 0.5).
    # From the logits in float64 the losses are e^-40 and e^-30 (to first order): every D_f loss is lower, AUC 1.
    zf = torch.tensor([[40.0, 0.0]] * 30, dtype=torch.float32)
    zv = torch.tensor([[30.0, 0.0]] * 30, dtype=torch.float32)
    y = torch.zeros(30, dtype=torch.int64)
    assert float(torch.softmax(zf, 1)[0, 0]) == float(torch.softmax(zv, 1)[0, 0]) == 1.0
    lf, lv = H.loss_scores(zf, y), H.loss_scores(zv, y)
    assert lf[0] == pytest.approx(math.exp(-40), rel=1e-9) and lv[0] == pytest.approx(math.exp(-30), rel=1e-9)
    assert H.heldout_auc(zf, y, zv, y, seed=0).value == 1.0
    assert H.heldout_auc(zf, y, zf.clone(), y, seed=0).value == 0.5  # equal logits: true ties count a half
    # logit-scaled confidence z_y - logsumexp_{k != y} z_k: 40 - 0 and, for three classes, 40 - log 2
    assert H.logit_confidence(zf[:1], y[:1])[0] == 40.0
    assert H.logit_confidence([[40.0, 0.0, 0.0]], [0])[0] == pytest.approx(40.0 - math.log(2.0), abs=1e-12)


def test_bootstrap_resamples_v_f_within_its_classes_and_is_seeded():
    strata = np.array([0] * 3 + [1] * 5)
    counts = stratified_counts(strata, np.random.default_rng(0), 20)
    assert (counts[:, :3].sum(axis=1) == 3).all() and (counts[:, 3:].sum(axis=1) == 5).all()
    rng = np.random.default_rng(3)
    lf, lv = rng.normal(size=40), rng.normal(0.5, size=60)
    w, s = np.where(np.arange(60) < 20, 2.0, 0.5), (np.arange(60) < 20).astype(int)
    a = H.auc_lower_is_member(lf, lv, seed=1, weights_v=w, strata_v=s)
    assert a == H.auc_lower_is_member(lf, lv, seed=1, weights_v=w, strata_v=s)
    assert a != H.auc_lower_is_member(lf, lv, seed=2, weights_v=w, strata_v=s)
    assert a.low < a.value < a.high


def test_a_held_out_slice_lacking_a_class_of_d_f_is_named():
    with pytest.raises(ConfigError, match=r"no record of class 2 \('two'\), which D_f has"):
        H.heldout_positions([0, 2, 2], [0, 1, 1, 0], class_names=["zero", "one", "two"])
    zf, yf = two_class_rows([1] * 40, [0] * 20 + [1] * 20)
    zv, yv = two_class_rows([1] * 40, [0] * 40)
    with pytest.raises(ConfigError, match="no record of class 1"):
        H.heldout_acc_gap(zf, yf, zv, yv)
    assert H.heldout_positions([1, 1], [0, 1, 2, 1]).tolist() == [1, 3]


def test_evaluate_uses_every_held_out_record_of_d_f_s_classes(val_random_split, val_class_split, val_original):
    for split in (val_random_split, val_class_split):
        ctx = EvalContext(val_original, split, seed=0)
        classes_f = split.dataset.train_y[split.forget]
        expected = int(torch.isin(split.dataset.val_y, classes_f).sum())
        assert len(ctx.logits("val_forget")) == expected
        if split.kind == "random":  # every class is in D_f: V_f is all of V, more than the |D_f| drawn before
            assert expected == len(split.dataset.val_y) > len(split.forget)
        cf, cv = ctx.heldout_classes()
        report = evaluate(val_original, split, metrics=["heldout_acc_gap"], seed=0)
        zf, zv = ctx.logits("forget"), ctx.logits("val_forget")
        direct = H.heldout_acc_gap(zf, ctx.labels("forget"), zv, ctx.labels("val_forget"), seed=0, classes_f=cf,
                                   classes_v=cv)
        assert report["heldout_acc_gap"] == pytest.approx(direct.value, abs=1e-12)
        assert report.intervals["unlearned"]["heldout_acc_gap"] == pytest.approx((direct.low, direct.high))


def test_a_split_whose_v_lacks_a_class_of_d_f_reports_the_metric_absent_with_the_class(digits_val, val_original):
    keep = torch.nonzero(digits_val.val_y != 3).flatten()
    ds = dataclasses.replace(digits_val, val_x=digits_val.val_x[keep], val_y=digits_val.val_y[keep])
    split = make_split(ds, "class:3", seed=0)
    report = evaluate(val_original, split, metrics=["heldout_acc_gap", "heldout_class_acc"], seed=0)
    assert "no record of class 3" in report.absent["heldout_acc_gap"]
    assert "no record of class 3" in report.absent["heldout_class_acc"]
