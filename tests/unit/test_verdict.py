"""The deletion verdict (deletion/verdict.py, margins.py, judge.py) on hand-made numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from unlearnkit.deletion.margins import MARGINS_FILE, Margins, load_margins, save_margins
from unlearnkit.deletion.verdict import (Stat, combine, forget_question, golden_free_verdict, golden_verdict,
                                         kept_question, paired_loss, weighted_auc, weighted_gap)
from unlearnkit.errors import ConfigError
from unlearnkit.metrics.heldout import Estimate

M = Margins(acc_gap=5.0, auc=0.05, class_acc=2.0, retained_acc_lost=2.0, retained_conf_lost=3.0,
            heldout_acc_lost=2.0, min_heldout=100, source="hand-made for the tests")


def ones_zeros(ones: int, zeros: int) -> np.ndarray:
    return np.r_[np.ones(ones), np.zeros(zeros)]


# ------------------------------------------------------------------------------ statistics
def test_weighted_gap_value_is_the_weighted_difference():
    # D_f: 3 of 4 right (75%). V_f: class a (weight 2) right, class b (weight 0.5) x4: 1 right -> (2 + 0.5) / 4 = 62.5%
    est = weighted_gap([1, 1, 1, 0], [1, 1, 0, 0, 0], [2.0, 0.5, 0.5, 0.5, 0.5], seed=0)
    assert est.value == pytest.approx(75.0 - 100 * 2.5 / 4.0)
    assert est.low < est.value < est.high


def test_weighted_gap_all_right_still_has_an_interval():
    # 10 deleted records all right: without the pseudo-records the percentile interval would be a point
    est = weighted_gap(np.ones(10), ones_zeros(850, 150), np.ones(1000), seed=0)
    assert est.value == pytest.approx(15.0)
    assert est.low < 0 < 15.0 <= est.high, "10 records cannot show a 15-point gap"
    big = weighted_gap(np.ones(1000), ones_zeros(850, 150), np.ones(1000), seed=0)
    assert 10 < big.low < 15.0 <= big.high < 20


def test_weighted_gap_is_seeded():
    a = weighted_gap(ones_zeros(40, 20), ones_zeros(50, 50), np.ones(100), seed=3)
    assert a == weighted_gap(ones_zeros(40, 20), ones_zeros(50, 50), np.ones(100), seed=3)
    assert a != weighted_gap(ones_zeros(40, 20), ones_zeros(50, 50), np.ones(100), seed=4)


def test_weighted_auc_by_hand():
    # loss_f 0.1: below both V losses (weight 4 of 4); 0.2: below 0.3 only (3 of 4); 0.3: ties 0.3 (1.5 of 4)
    est = weighted_auc([0.1, 0.2, 0.3], [0.15, 0.3], [1.0, 3.0], seed=0)
    assert est.value == pytest.approx((1 + 0.75 + 0.375) / 3)


def test_paired_loss_by_hand():
    est = paired_loss([1, 1, 1, 1, 0], [1, 0, 0, 1, 1], seed=0, tag="t")  # (0 + 1 + 1 + 0 - 1) / 5
    assert est.value == pytest.approx(20.0)
    same = paired_loss(np.ones(50), np.ones(50), seed=0, tag="t")
    assert (same.value, same.low, same.high) == (0.0, 0.0, 0.0)


# ------------------------------------------------------------------------------ positions
def test_an_interval_end_on_a_margin_decides_nothing():
    on_upper = Stat("acc_gap", Estimate(7.0, 5.0, 9.0), 5.0, "both", 100)
    assert on_upper.position() == "straddles", "low == +margin is not beyond it"
    just_above = Stat("acc_gap", Estimate(7.0, 5.0001, 9.0), 5.0, "both", 100)
    assert just_above.position() == "above"
    on_inner = Stat("acc_gap", Estimate(0.0, -5.0, 4.0), 5.0, "both", 100)
    assert on_inner.position() == "straddles", "high/low exactly on the margin is not inside"
    assert Stat("acc_gap", Estimate(0.0, -4.9, 4.9), 5.0, "both", 100).position() == "inside"
    assert Stat("acc_gap", Estimate(-8.0, -9.0, -5.1), 5.0, "both", 100).position() == "below"
    auc = Stat("loss_auc", Estimate(0.40, 0.38, 0.45), 0.05, "lower", 100, "", 0.5)
    assert auc.position() == "straddles"  # high == 0.45 == 0.5 - 0.05
    upper = Stat("retained_acc_lost", Estimate(-3.0, -4.0, -2.0), 2.0, "upper", 100)
    assert upper.position() == "inside", "gaining accuracy is not damage"


def test_records_needed_scales_the_half_width_by_sqrt_n():
    # value 2, margin 5, high 8: the half-width toward the margin is 6, the distance 3 -> (6/3)^2 = 4x
    s = Stat("acc_gap", Estimate(2.0, -4.0, 8.0), 5.0, "both", 100)
    assert s.records_needed() == 400
    assert Stat("acc_gap", Estimate(5.0, 1.0, 9.0), 5.0, "both", 100).records_needed() is None, "on the margin"
    assert Stat("acc_gap", Estimate(0.0, -1.0, 1.0), 5.0, "both", 100).records_needed() is None, "decided"


# ------------------------------------------------------------------------------ questions and verdicts
def forget_scores(acc_f: tuple[int, int], acc_v: tuple[int, int], loss_shift: float = 0.0):
    c_f, c_v = ones_zeros(*acc_f), ones_zeros(*acc_v)
    rng = np.random.default_rng(0)
    return c_f, c_v, np.ones(len(c_v)), rng.exponential(1.0, len(c_f)) + loss_shift, rng.exponential(1.0, len(c_v))


def kept(lost: int = 0, n: int = 2000):
    before = np.ones(n)
    after = ones_zeros(n - lost, lost)
    return (before, after, before * 0.99, after * 0.99), (np.ones(n), ones_zeros(n - lost, lost))


def test_forgotten_not_forgotten_over_forgotten_damaged_inconclusive():
    like = forget_scores((1700, 300), (3400, 600))  # 85% both
    assert golden_free_verdict(like, *kept(), margins=M).verdict == "forgotten"
    fitted = forget_scores((1980, 20), (3400, 600))  # 99% against 85%: 14 points
    assert golden_free_verdict(fitted, *kept(), margins=M).verdict == "not_forgotten"
    over = forget_scores((1000, 1000), (3400, 600))  # 50% against 85%
    assert golden_free_verdict(over, *kept(), margins=M).verdict == "over_forgotten"
    v = golden_free_verdict(like, *kept(lost=400), margins=M)  # 20 points lost on kept records
    assert v.verdict == "damaged" and v.flags == ("damaged",)
    small = forget_scores((9, 1), (3400, 600))  # 10 records: cannot tell
    v = golden_free_verdict(small, *kept(), margins=M)
    assert v.verdict == "inconclusive" and v.needed["deleted"] > 10


def test_the_loss_auc_detects_over_forgetting_alone():
    # same accuracy, but every deleted record's loss is far above the held-out ones
    shifted = forget_scores((1700, 300), (3400, 600), loss_shift=3.0)
    v = golden_free_verdict(shifted, *kept(), margins=M)
    assert v.forget.stats[1].est.high < 0.45 and v.verdict == "over_forgotten"


def test_damage_leads_and_flags_keep_every_decided_problem():
    fitted = forget_scores((1980, 20), (3400, 600))
    v = golden_free_verdict(fitted, *kept(lost=400), margins=M)
    assert v.verdict == "damaged" and v.flags == ("damaged", "not_forgotten")


def test_a_whole_class_still_predicted_on_held_out_records_is_not_forgotten():
    # D_f and V_f both 90% right: the gap is 0, but a model retrained without the class predicts it on none
    still = forget_scores((900, 100), (1800, 200))
    v = golden_free_verdict(still, *kept(), margins=M, whole_class=True)
    assert v.verdict == "not_forgotten" and v.forget.stats[2].name == "heldout_class_acc"
    assert v.forget.stats[2].est.value == pytest.approx(90.0)
    assert golden_free_verdict(still, *kept(), margins=M).verdict == "forgotten", "scattered: no class statistic"
    gone = forget_scores((0, 1000), (0, 2000))
    assert golden_free_verdict(gone, *kept(), margins=M, whole_class=True).verdict == "forgotten"
    few = forget_scores((1, 999), (3, 97))  # 3% of 100 held-out records: straddles the 2% margin
    v = golden_free_verdict(few, *kept(), margins=M, whole_class=True)
    assert v.forget.status == "inconclusive" and v.needed["heldout_forget"] > 100, "more held-out records decide it"


def test_kept_question_needs_every_loss_inside():
    q = kept_question(*kept(lost=40), margins=M, seed=0)  # 2 points lost: on the margin's scale, undecided
    assert q.status == "inconclusive"
    assert kept_question(*kept(), margins=M, seed=0).status == "kept"


def test_golden_verdict_compares_with_the_retrained_model():
    g = ones_zeros(850, 150)
    same = golden_verdict(g, g.copy(), *kept(), margins=M)
    assert same.verdict == "forgotten" and same.basis == "golden"
    still = golden_verdict(g, np.ones(1000), *kept(), margins=M)  # 15 points above the golden on D_f
    assert still.verdict == "not_forgotten"
    less = golden_verdict(g, ones_zeros(500, 500), *kept(), margins=M)
    assert less.verdict == "over_forgotten"


def test_combine_verdict_text_fields_round_trip():
    f = forget_question(*forget_scores((1700, 300), (3400, 600)), margins=M, seed=0)
    v = combine(f, kept_question(*kept(), margins=M, seed=0), margins=M, basis="golden-free")
    d = json.loads(json.dumps(v.to_dict()))
    assert d["verdict"] == "forgotten" and d["margins"]["source"] == M.source
    assert d["forget"]["stats"][0]["position"] == "inside"


# ------------------------------------------------------------------------------ margins
def test_margins_file_has_a_source_and_loads(tmp_path):
    m = load_margins()
    assert m.source and "verdict_errors.py" in m.source and m.min_heldout >= 1
    assert "source:" in m.describe()
    save_margins(M, tmp_path / "m.json")
    assert load_margins(tmp_path / "m.json") == M
    assert MARGINS_FILE.name == "verdict_margins.json"


def test_margins_refuse_bad_values(tmp_path):
    with pytest.raises(ConfigError, match="positive"):
        Margins(acc_gap=-1.0, auc=0.05, class_acc=1.0, retained_acc_lost=2.0, retained_conf_lost=3.0, heldout_acc_lost=2.0,
                min_heldout=100, source="x")
    with pytest.raises(ConfigError, match="source"):
        Margins(acc_gap=1.0, auc=0.05, class_acc=1.0, retained_acc_lost=2.0, retained_conf_lost=3.0, heldout_acc_lost=2.0,
                min_heldout=100, source=" ")
    (tmp_path / "bad.json").write_text('{"acc_gap": 1}')
    with pytest.raises(ConfigError, match="needs acc_gap"):
        load_margins(tmp_path / "bad.json")
