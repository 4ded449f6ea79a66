"""Unit tests of unlearnkit.metrics: every metric pinned on hand-made logits, plus evaluate end to end."""

from __future__ import annotations

import copy
import hashlib
import json
import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from unlearnkit.data import Subset, load_dataset
from unlearnkit.errors import ConfigError
from unlearnkit.metrics import (
    HEADLINE,
    METRICS,
    MetricCard,
    Report,
    Scores,
    compute_logits,
    evaluate,
    score_model,
)
from unlearnkit.metrics import accuracy as acc
from unlearnkit.metrics import divergence as div
from unlearnkit.metrics import mia
from unlearnkit.metrics.context import random_init_copy

LN2 = math.log(2.0)
LN3 = math.log(3.0)
LN9 = math.log(9.0)

ALL_METRICS = {
    "ua", "ra", "ta", "ta_forget", "mia_efficacy", "mia_efficacy_entropy", "mia_efficacy_mentropy",
    "mia_efficacy_correct", "runtime_s", "speedup", "avg_gap", "mia_entropy_member_rate",
    "mia_loss_cv_accuracy", "indiscernibility", "js_to_golden", "zrf", "forget_entropy", "weight_distance",
    "cpu_s", "cpu_speedup", "heldout_auc", "heldout_acc_gap", "heldout_class_acc", "mia_member_recall",
}


# =================================================================================== registry
def test_every_metric_of_metrics_md_is_registered_with_a_card():
    assert set(METRICS.names()) == ALL_METRICS
    assert HEADLINE == ("ua", "ra", "ta", "ta_forget", "mia_efficacy", "runtime_s", "speedup", "avg_gap")
    for name in METRICS:
        card = METRICS.get(name).card
        assert card.name == name and card.definition and card.direction_text
        json.dumps(card.to_dict())
    assert METRICS.get("ua").card.direction == "golden"
    assert METRICS.get("avg_gap").card.direction == "lower"
    assert METRICS.get("speedup").card.direction == "higher"
    assert METRICS.get("indiscernibility").card.target == 1.0
    assert METRICS.get("ta_forget").card.scenarios == ("class", "subclass")
    assert "test_size=0.2" in METRICS.get("mia_loss_cv_accuracy").card.definition
    assert "CAVEAT" in METRICS.get("weight_distance").card.definition


def test_metric_card_rejects_bad_direction_and_scenario():
    with pytest.raises(ConfigError, match="direction"):
        MetricCard("x", "d", "sideways", "")
    with pytest.raises(ConfigError, match="direction"):
        MetricCard("x", "d", "target:abc", "")
    with pytest.raises(ConfigError, match="scenarios"):
        MetricCard("x", "d", "lower", "", ("moon",))
    assert MetricCard("x", "d", "target:50", "%").direction_text == "closer to 50 is better"


# =================================================================================== accuracy
def test_accuracy_on_hand_made_logits():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0], [0.0, 1.0]])  # argmax 0, 1, 0, 1
    labels = torch.tensor([0, 1, 1, 1])  # 3 of 4 right
    assert acc.accuracy(logits, labels) == 75.0
    assert acc.unlearning_accuracy(logits, labels) == 25.0
    assert acc.remaining_accuracy(logits, labels) == 75.0
    assert acc.test_accuracy(logits.numpy(), labels.numpy()) == 75.0
    assert acc.test_forget_accuracy(logits, labels) == 75.0
    assert acc.accuracy([[1.0, 1.0]], [0]) == 100.0  # ties: lowest index wins


def test_accuracy_rejects_bad_input():
    with pytest.raises(ConfigError, match="empty"):
        acc.accuracy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.int64))
    with pytest.raises(ConfigError, match="one label per row"):
        acc.accuracy(torch.zeros(2, 3), torch.zeros(3, dtype=torch.int64))
    with pytest.raises(ConfigError, match=r"\[0, 2\]"):
        acc.accuracy(torch.zeros(1, 3), torch.tensor([3]))
    with pytest.raises(ConfigError, match="NaN"):
        acc.accuracy(torch.tensor([[float("nan"), 0.0]]), torch.tensor([0]))


# ============================================================================== MIA features
def test_confidence_entropy_and_correctness_features():
    logits = torch.tensor([[LN3, 0.0], [0.0, 0.0]], dtype=torch.float64)  # p = (.75, .25) and (.5, .5)
    np.testing.assert_allclose(mia.true_label_confidence(logits, [0, 1]), [0.75, 0.5], rtol=1e-12)
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    np.testing.assert_allclose(mia.entropy(logits), [h, LN2], rtol=1e-12)
    np.testing.assert_allclose(mia.correctness(logits, [0, 1]), [1.0, 0.0])  # row 2 ties -> predicts 0
    np.testing.assert_allclose(mia.per_sample_loss(logits, [0, 1]), [-math.log(0.75), LN2], rtol=1e-12)


def test_modified_entropy_uses_each_rows_own_label():
    p = np.array([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2]])
    labels = [1, 0]
    expected = [
        -(1 - 0.3) * math.log(0.3) - 0.5 * math.log(0.5) - 0.2 * math.log(0.8),
        -(1 - 0.5) * math.log(0.5) - 0.3 * math.log(0.7) - 0.2 * math.log(0.8),
    ]
    np.testing.assert_allclose(mia.modified_entropy(np.log(p), labels), expected, rtol=1e-12)


def test_modified_entropy_is_stable_for_saturated_logits():
    # Confidently wrong: p_1 = 1 - 2e^-100 (rounds to 1.0); true value -(1-p_0) log p_0 - p_1 log(1-p_1) ~ 200 - ln 2.
    # Confidently right: ~ 0. A naive log(1 - p) would give -inf / nan here.
    m = mia.modified_entropy(torch.tensor([[0.0, 100.0, 0.0], [100.0, 0.0, 0.0]]), [0, 0])
    assert np.all(np.isfinite(m))
    assert m[0] == pytest.approx(200.0 - LN2, abs=1e-9)
    assert m[1] == pytest.approx(0.0, abs=1e-30)


def test_modified_entropy_matches_the_naive_formula_on_moderate_logits():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(50, 5))
    y = rng.integers(0, 5, size=50)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    naive = []
    for row, label in zip(p, y):
        v = -(1 - row[label]) * np.log(row[label])
        v -= sum(row[k] * np.log(1 - row[k]) for k in range(5) if k != label)
        naive.append(v)
    np.testing.assert_allclose(mia.modified_entropy(z, y), naive, rtol=1e-10)


def test_unknown_attack_feature_is_a_config_error():
    with pytest.raises(ConfigError, match="confidence"):
        mia.attack_feature([[0.0, 1.0]], [0], "loss")


# ============================================================================== SVC attacks
def test_select_members_first_random_and_sizes():
    assert mia.select_members(10, 3, seed=0, members="first").tolist() == [0, 1, 2]
    a = mia.select_members(100, 30, seed=1)
    assert len(a) == 30 and len(set(a.tolist())) == 30 and a.min() >= 0 and a.max() < 100
    assert a.tolist() == sorted(a.tolist())
    assert a.tolist() == mia.select_members(100, 30, seed=1).tolist()  # same seed, same members
    assert a.tolist() != mia.select_members(100, 30, seed=2).tolist()
    assert mia.select_members(5, 30, seed=1).tolist() == [0, 1, 2, 3, 4]  # min(|D_t*|, |D_r|)
    with pytest.raises(ConfigError, match="'random', 'first'"):
        mia.select_members(5, 3, seed=0, members="last")


def test_svc_attack_on_separable_features():
    # members at 0.9, non-members at 0.1: a target at 0.9 is a member, at 0.1 a non-member.
    assert mia.svc_attack([0.9] * 5, [0.1] * 5, [0.9, 0.9, 0.1, 0.9]) == 25.0
    assert mia.svc_attack([0.9] * 5, [0.1] * 5, [0.1, 0.1]) == 100.0
    with pytest.raises(ConfigError, match="empty"):
        mia.svc_attack([], [0.1], [0.1])


def test_svc_member_recall_sees_a_collapsed_attack():
    # separable: the attack calls every member a member
    assert mia.svc_member_recall([0.9] * 5, [0.1] * 5) == 100.0
    # members and non-members drawn from one distribution, non-members the majority: the SVC
    # collapses to "everything non-member"; mia_efficacy then reads 100 for any D_f, members included
    rng = np.random.default_rng(0)
    same = rng.uniform(0.8, 1.0, size=400)
    members, nonmembers = same[:180], same[180:]
    clf = mia.fit_svc_attack(members, nonmembers)
    assert mia.svc_member_recall(members, nonmembers, clf=clf) == 0.0
    assert mia.svc_attack(members, nonmembers, members, clf=clf) == 100.0
    assert mia.svc_attack(members, nonmembers, [0.99, 0.95], clf=clf) == 100.0


def test_mia_member_recall_fits_the_attack_once_and_leaves_mia_efficacy_unchanged(trio, monkeypatch):
    split, original, golden, unlearned = trio["random"]
    alone = evaluate(unlearned, split, reference=golden, metrics=["mia_efficacy"], seed=4)
    fits = []
    real_fit = mia.fit_svc_attack
    monkeypatch.setattr(mia, "fit_svc_attack", lambda m, n: fits.append(1) or real_fit(m, n))
    both = evaluate(unlearned, split, metrics=["mia_efficacy", "mia_member_recall"], seed=4)
    assert len(fits) == 1
    assert both.rows["unlearned"]["mia_efficacy"] == alone.rows["unlearned"]["mia_efficacy"]
    assert 0.0 <= both.rows["unlearned"]["mia_member_recall"] <= 100.0


def test_select_nonmembers_equal_classes():
    assert mia.select_nonmembers(10, 3, seed=0).tolist() == [0, 1, 2]  # |D_t*| <= |D_r|: all of D_t*
    b = mia.select_nonmembers(30, 100, seed=1)
    assert len(b) == 30 and len(set(b.tolist())) == 30 and b.tolist() == sorted(b.tolist()) and b.max() < 100
    assert b.tolist() == mia.select_nonmembers(30, 100, seed=1).tolist()
    assert b.tolist() != mia.select_nonmembers(30, 100, seed=2).tolist()
    assert len(mia.select_members(30, 100, seed=1)) == len(b)


def test_equal_classes_keep_the_attack_from_collapsing():
    # 100 members of D_r: 70 at p_y = 0.99, 30 at 0.6. 200 test rows: 90 at 0.99, 110 at 0.6. Members are
    # clearly more confident (70% against 45% at 0.99), but fitted on all 200 non-members the SVC sees more
    # non-members than members at both values and calls everything non-member: recall 0, mia_efficacy 100.
    hi, mid = [math.log(99.0), 0.0], [math.log(1.5), 0.0]  # p_y = 0.99 and 0.6 for label 0
    retain, test = [hi] * 70 + [mid] * 30, [hi] * 90 + [mid] * 110
    zr, zt = torch.tensor(retain), torch.tensor(test)
    yr, yt = torch.zeros(100, dtype=torch.int64), torch.zeros(200, dtype=torch.int64)
    fr, ft = mia.attack_feature(zr, yr), mia.attack_feature(zt, yt)
    unequal = mia.fit_svc_attack(fr, ft)
    assert mia.svc_member_recall(fr, ft, clf=unequal) == 0.0
    # Equal classes: 100 non-members drawn from the test rows. Worked out from the draw: the SVC calls
    # 0.99 a member when the members outnumber the drawn non-members there, and 0.6 a non-member.
    picked = mia.select_nonmembers(100, 200, seed=5)
    n_hi = int((picked < 90).sum())
    assert 30 < n_hi < 70  # the draw holds between 30 and 70 of the 90 confident test rows (here ~45)
    recall = mia.mia_member_recall(zr, yr, zt, yt, seed=5)
    assert recall == 70.0  # the 70 confident members are called members, the 30 at 0.6 are not
    forget = [hi] * 3 + [mid]  # D_f: three look like members, one like a non-member
    assert mia.mia_efficacy(zr, yr, zt, yt, forget, [0] * 4, seed=5) == 25.0
    assert mia.mia_efficacy(zr, yr, zt, yt, forget, [0] * 4, seed=5, members="first") == 25.0


def test_the_registry_fits_the_svc_on_equal_classes(trio, monkeypatch):
    _, _, _, unlearned = trio["random"]
    split = random_split(trio["random"][0].dataset, fraction=0.9)  # |D_r| < |D_t|: non-members are drawn
    assert len(split.retain) < len(split.test)
    sizes = []
    real_fit = mia.fit_svc_attack
    monkeypatch.setattr(mia, "fit_svc_attack", lambda m, n: sizes.append((len(m), len(n))) or real_fit(m, n))
    report = evaluate(unlearned, split, metrics=["mia_efficacy", "mia_member_recall"], seed=4)
    n_r, n_t = len(split.retain), len(split.test)
    assert sizes == [(min(n_r, n_t), min(n_r, n_t))]
    zr, yr = compute_logits(unlearned, split.subset("retain")), split.subset("retain").labels
    zt, yt = compute_logits(unlearned, split.subset("test")), split.subset("test").labels
    zf, yf = compute_logits(unlearned, split.subset("forget")), split.subset("forget").labels
    monkeypatch.setattr(mia, "fit_svc_attack", real_fit)
    assert report["mia_efficacy"] == mia.mia_efficacy(zr, yr, zt, yt, zf, yf, seed=4)
    assert report["mia_member_recall"] == mia.mia_member_recall(zr, yr, zt, yt, seed=4)


HI = [LN9, 0.0]  # label 0: p_y = 0.9, correct, low entropy
LO = [0.0, LN9]  # label 0: p_y = 0.1, wrong
CONF = [5.0, 0.0]  # label 0: confident and right (low entropy, low modified entropy)
FLAT = [0.0, 0.0]  # entropy ln 2
WRONG = [0.0, 5.0]  # label 0: confident and wrong (modified entropy ~ 10)


@pytest.mark.parametrize(
    "feature, member_row, nonmember_row, forget_rows, expected",
    [
        ("confidence", HI, LO, [HI, LO, LO, LO], 75.0),
        ("entropy", CONF, FLAT, [CONF, CONF, FLAT], 100.0 / 3),
        ("mentropy", CONF, WRONG, [CONF, WRONG], 50.0),
        ("correct", HI, LO, [HI, HI, HI, LO], 25.0),
    ],
)
@pytest.mark.parametrize("members", ["random", "first"])
def test_mia_efficacy_variants_on_forced_answers(feature, member_row, nonmember_row, forget_rows, expected, members):
    # D_r: 12 identical member-like rows (so any choice of members gives the same features);
    # D_t*: 6 non-member-like rows; the score is the percent of forget rows that look like D_t*.
    score = mia.mia_efficacy(
        [member_row] * 12, [0] * 12, [nonmember_row] * 6, [0] * 6, forget_rows, [0] * len(forget_rows),
        seed=3, members=members, feature=feature,
    )
    assert score == pytest.approx(expected, abs=1e-12)


def test_mia_efficacy_first_members_take_the_first_retain_rows():
    # The first 4 retain rows are member-like, the rest look like the test set. With members="first"
    # the attack learns "0.9 = member", so a forget row at p_y = 0.9 is judged a member (score 0).
    retain = [HI] * 4 + [LO] * 40
    score = mia.mia_efficacy(retain, [0] * 44, [LO] * 4, [0] * 4, [HI, HI], [0, 0], seed=0, members="first")
    assert score == 0.0


def test_mia_efficacy_is_deterministic_under_seed():
    rng = np.random.default_rng(0)
    zr, zt, zf = rng.normal(size=(300, 3)) * 2, rng.normal(size=(80, 3)), rng.normal(size=(50, 3)) * 1.5
    yr, yt, yf = rng.integers(0, 3, 300), rng.integers(0, 3, 80), rng.integers(0, 3, 50)
    a = mia.mia_efficacy(zr, yr, zt, yt, zf, yf, seed=7)
    assert a == mia.mia_efficacy(zr, yr, zt, yt, zf, yf, seed=7)
    assert 0.0 <= a <= 100.0


def test_entropy_member_rate_on_forced_answer():
    # Balanced logistic regression on entropy: D_r entropy ~0.04 (member), D_t* ln 2; by symmetry the
    # boundary is the midpoint, so CONF rows are members and FLAT rows are not.
    assert mia.entropy_member_rate([CONF] * 8, [FLAT] * 4, [CONF, FLAT, FLAT, FLAT]) == 25.0
    assert mia.entropy_member_rate([CONF] * 8, [FLAT] * 4, [CONF, CONF]) == 100.0


def test_loss_cv_accuracy_and_indiscernibility_forced():
    # Separable losses (0.0067 vs 5.0067): every split is classified perfectly -> 100 %, indiscernibility 0.
    sep = mia.loss_cv_accuracy([CONF] * 20, [0] * 20, [WRONG] * 30, [0] * 30, seed=0)
    assert sep == 100.0
    assert mia.indiscernibility(sep) == 0.0
    # Identical losses: every balanced test fold (4 + 4) gets one class for all -> exactly 50 %.
    same = mia.loss_cv_accuracy([FLAT] * 20, [0] * 20, [FLAT] * 20, [1] * 20, seed=0)
    assert same == 50.0
    assert mia.indiscernibility(same) == 1.0
    assert mia.indiscernibility(75.0) == 0.5 and mia.indiscernibility(25.0) == 0.5
    with pytest.raises(ConfigError, match="at least 3"):
        mia.loss_cv_accuracy([FLAT] * 2, [0] * 2, [FLAT] * 20, [0] * 20, seed=0)
    with pytest.raises(ConfigError, match=r"\[0, 100\]"):
        mia.indiscernibility(101.0)


def test_loss_cv_accuracy_is_deterministic_under_seed():
    rng = np.random.default_rng(1)
    zf, zt = rng.normal(size=(40, 4)) * 2, rng.normal(size=(90, 4))
    yf, yt = rng.integers(0, 4, 40), rng.integers(0, 4, 90)
    a = mia.loss_cv_accuracy(zf, yf, zt, yt, seed=5)
    assert a == mia.loss_cv_accuracy(zf, yf, zt, yt, seed=5)
    assert 0.0 <= a <= 100.0


# ================================================================================ divergences
def test_js_divergence_textbook_values():
    js = div.js_divergence_probs([[1.0, 0.0], [1.0, 0.0], [0.3, 0.7]], [[0.0, 1.0], [0.5, 0.5], [0.3, 0.7]])
    # [1,0] vs [.5,.5]: m = [.75,.25]; KL(p||m) = ln 4/3, KL(q||m) = .5 ln 2/3 + .5 ln 2 = .5 ln 4/3.
    np.testing.assert_allclose(js.numpy(), [LN2, 0.75 * math.log(4 / 3), 0.0], atol=1e-15)
    # From logits (a -1000 logit is a probability of exactly 0 in float64); symmetric.
    a = div.js_divergence(torch.tensor([[0.0, -1000.0]]), torch.tensor([[0.0, 0.0]]))
    b = div.js_divergence(torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, -1000.0]]))
    assert float(a[0]) == pytest.approx(0.75 * math.log(4 / 3), abs=1e-15) and float(a[0]) == float(b[0])


def test_js_to_golden_zrf_and_forget_entropy():
    u = torch.tensor([[0.0, -1000.0], [1.0, 2.0]])
    g = torch.tensor([[-1000.0, 0.0], [1.0, 2.0]])  # JS = ln 2 on row 1, 0 on row 2
    assert div.js_to_golden(u, g) == pytest.approx(LN2 / 2, abs=1e-15)
    assert div.zrf(u, g) == pytest.approx(1 - LN2 / 2, abs=1e-15)
    assert div.zrf(u, u) == 1.0
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert div.forget_entropy(torch.tensor([[0.0, 0.0], [LN3, 0.0]], dtype=torch.float64)) == pytest.approx((LN2 + h) / 2, abs=1e-15)
    with pytest.raises(ConfigError, match="same shape"):
        div.js_to_golden(torch.zeros(2, 3), torch.zeros(2, 2))


def test_weight_distance():
    assert div.weight_distance({"w": torch.tensor([3.0, 4.0])}, {"w": torch.tensor([0.0, 4.0])}) == 0.75
    g = nn.Linear(3, 2)
    with torch.no_grad():
        g.weight.fill_(1.0)
        g.bias.fill_(1.0)  # ||theta_g|| = sqrt(8)
    u = copy.deepcopy(g)
    with torch.no_grad():
        u.bias.add_(torch.tensor([2.0, 0.0]))  # ||theta_u - theta_g|| = 2
    assert div.weight_distance(u, g) == pytest.approx(2 / math.sqrt(8), rel=1e-12)
    assert div.weight_distance(g, g) == 0.0
    with pytest.raises(ConfigError, match="same architecture"):
        div.weight_distance(nn.Linear(3, 2), nn.Sequential(nn.Linear(3, 2)))
    with pytest.raises(ConfigError, match="shape"):
        div.weight_distance(nn.Linear(3, 2), nn.Linear(4, 2))


# ============================================================================= evaluate end to end
@dataclass
class FakeSplit:
    """A hand-made stand-in for ``unlearnkit.data.split.Split`` with the same interface."""

    dataset: object
    kind: str
    forget: torch.Tensor
    retain: torch.Tensor
    test: torch.Tensor
    test_forget: torch.Tensor | None = None
    test_retain: torch.Tensor | None = None
    label_set: str = "fine"
    val_forget: torch.Tensor | None = None
    val: torch.Tensor | None = None

    def __post_init__(self):
        if getattr(self.dataset, "val_y", None) is not None and self.val is None:
            self.val = torch.arange(len(self.dataset.val_y))
        if getattr(self.dataset, "val_y", None) is not None and self.val_forget is None:
            from unlearnkit.data.split import draw_val_forget

            picked = draw_val_forget(self.dataset.train_y[self.forget].numpy(), self.dataset.val_y.numpy(), 0)
            self.val_forget = torch.from_numpy(picked)

    @property
    def num_classes(self) -> int:
        return self.dataset.num_classes

    @property
    def fingerprint(self) -> str:
        h = hashlib.sha256(self.kind.encode())
        for t in (self.forget, self.retain, self.test, self.test_forget, self.test_retain):
            h.update(b"|" + (b"" if t is None else t.numpy().tobytes()))
        return h.hexdigest()[:16]

    @property
    def test_star_name(self) -> str:
        return "test_retain" if self.kind in ("class", "subclass") else "test"

    def subset(self, name: str) -> Subset:
        part = "test" if name.startswith("test") else "val" if name.startswith("val") else "train"
        idx = getattr(self, name)
        if idx is None:
            raise ValueError(f"{name} does not exist in a {self.kind} split")
        return Subset(self.dataset, part, idx, self.label_set)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def random_split(ds, fraction=0.1, seed=0):
    perm = torch.from_numpy(np.random.default_rng(seed).permutation(len(ds.train_y)))
    k = int(fraction * len(perm))
    return FakeSplit(ds, "random", perm[:k].sort().values, perm[k:].sort().values, torch.arange(len(ds.test_y)))


def class_split(ds, cls=3):
    tr, te = ds.train_y == cls, ds.test_y == cls
    return FakeSplit(
        ds, "class", torch.nonzero(tr).flatten(), torch.nonzero(~tr).flatten(), torch.arange(len(ds.test_y)),
        torch.nonzero(te).flatten(), torch.nonzero(~te).flatten(),
    )


def linear_model(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 10))


def fit(model, subset, steps=60, lr=0.05):
    x, y = subset.tensors()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model


@pytest.fixture(scope="module")
def trio(digits_val):
    """original (all train), golden (retain only, same init), unlearned (original fine-tuned on retain) per scenario;
    digits with a validation slice V, so that the golden-free metrics can be computed too."""
    digits = digits_val
    out = {}
    for name, split in (("random", random_split(digits)), ("class", class_split(digits))):
        full = Subset(digits, "train", torch.arange(len(digits.train_y)))
        original = fit(linear_model(0), full)
        golden = fit(linear_model(0), split.subset("retain"))
        unlearned = fit(copy.deepcopy(original), split.subset("retain"), steps=10, lr=0.01)
        out[name] = (split, original, golden, unlearned)
    return out


def test_compute_logits_restores_modes_and_checks_arguments(digits):
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.Dropout(0.5), nn.Linear(32, 10))
    model.train()
    model[2].eval()  # mixed modes must come back exactly
    sub = Subset(digits, "test", torch.arange(37))
    logits = compute_logits(model, sub, batch_size=10)
    assert logits.shape == (37, 10) and not logits.requires_grad
    assert [m.training for m in model.modules()] == [True, True, True, False, True]
    # eval mode: dropout off, so logits equal a single full batch pass in eval mode
    model.eval()
    with torch.no_grad():
        expected = model(sub.tensors()[0])
    torch.testing.assert_close(logits, expected)
    assert compute_logits(model, Subset(digits, "test", torch.arange(0))).shape == (0, 10)
    with pytest.raises(ConfigError, match="batch_size"):
        compute_logits(model, sub, batch_size=0)


def test_random_init_copy_is_seeded_and_leaves_global_rng_alone():
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 3))
    state = torch.random.get_rng_state()
    a, b, c = random_init_copy(model, 0), random_init_copy(model, 0), random_init_copy(model, 1)
    assert torch.equal(torch.random.get_rng_state(), state)
    for pa, pb, pm in zip(a.parameters(), b.parameters(), model.parameters()):
        assert torch.equal(pa, pb)
    assert not torch.equal(a[0].weight, model[0].weight)
    assert not torch.equal(a[0].weight, c[0].weight)


def test_evaluate_headline_random_scenario(trio):
    split, original, golden, unlearned = trio["random"]
    before = copy.deepcopy(unlearned.state_dict())
    unlearned.train()
    report = evaluate(unlearned, split, reference=golden, original=original, seed=0, runtime_s=0.5, reference_runtime_s=2.0)
    assert isinstance(report, Report) and report.metrics == HEADLINE
    # the caller's model is untouched
    assert unlearned.training and all(torch.equal(v, before[k]) for k, v in unlearned.state_dict().items())
    u, g, o = report.rows["unlearned"], report.rows["golden"], report.rows["original"]
    # ta_forget is absent (with a reason), never 0
    assert "ta_forget" not in u and "class" in report.absent["ta_forget"]
    # values agree with the pure functions on the model's own logits
    xf, yf = split.subset("forget").tensors()
    with torch.no_grad():
        assert u["ua"] == pytest.approx(acc.unlearning_accuracy(unlearned.eval()(xf), yf))
    unlearned.train()
    assert report.speedup == 4.0 and g["speedup"] == 1.0 and "speedup" not in o
    assert u["runtime_s"] == 0.5 and g["runtime_s"] == 2.0
    four = ("ua", "ra", "ta", "mia_efficacy")
    assert report.avg_gap == pytest.approx(sum(abs(u[m] - g[m]) for m in four) / 4)
    assert o["avg_gap"] == pytest.approx(sum(abs(o[m] - g[m]) for m in four) / 4)
    assert g["avg_gap"] == 0.0
    assert report.gaps["ua"] == abs(u["ua"] - g["ua"])
    assert set(report.cards) == set(HEADLINE)
    json.dumps(report.to_dict())
    assert "| ua [%] |" in report.to_markdown()


def test_evaluate_is_deterministic_and_scores_can_stand_in_for_models(trio):
    split, original, golden, unlearned = trio["random"]
    names = ["ua", "ra", "ta", "mia_efficacy", "mia_efficacy_entropy", "mia_loss_cv_accuracy", "zrf", "js_to_golden", "avg_gap"]
    r1 = evaluate(unlearned, split, reference=golden, original=original, metrics=names, seed=4)
    r2 = evaluate(unlearned, split, reference=golden, original=original, metrics=names, seed=4)
    assert r1.to_dict() == r2.to_dict()
    g_scores = score_model(golden, split, metrics=names, seed=4)
    o_scores = score_model(original, split, metrics=names, seed=4, golden_model=golden)
    r3 = evaluate(unlearned, split, reference=g_scores, original=o_scores, metrics=names, seed=4)
    for row in ("golden", "original"):
        for m in names:
            if m != "js_to_golden":
                assert r3.rows[row][m] == r1.rows[row][m], (row, m)
    assert r3.rows["original"]["js_to_golden"] == r1.rows["original"]["js_to_golden"]
    # js_to_golden needs the golden module: with Scores it is absent with a reason
    assert "js_to_golden" not in r3.rows["unlearned"] and "nn.Module" in r3.absent["js_to_golden"]
    assert r3.rows["unlearned"]["avg_gap"] == r1.rows["unlearned"]["avg_gap"]


def test_scores_from_another_seed_or_split_are_rejected(trio, digits):
    split, _, golden, unlearned = trio["random"]
    scores = score_model(golden, split, metrics=["ua"], seed=1)
    with pytest.raises(ConfigError, match="seed"):
        evaluate(unlearned, split, reference=scores, metrics=["ua"], seed=2)
    with pytest.raises(ConfigError, match="split"):
        evaluate(unlearned, random_split(digits, seed=9), reference=scores, metrics=["ua"], seed=1)
    # a metric the Scores lack is absent in the golden row, with a reason
    r = evaluate(unlearned, split, reference=scores, metrics=["ua", "ra"], seed=1)
    assert "ra" not in r.rows["golden"] and "score_model" in r.row_absent["golden"]["ra"]


def test_evaluate_all_metrics_class_scenario(trio):
    split, original, golden, unlearned = trio["class"]
    report = evaluate(unlearned, split, reference=golden, original=original, metrics=METRICS.names(),
                      runtime_s=1.0, reference_runtime_s=3.0, cpu_s=2.0, reference_cpu_s=5.0)
    u, g = report.rows["unlearned"], report.rows["golden"]
    assert set(u) == ALL_METRICS, report.absent
    assert not report.absent
    # golden never saw class 3: it gets the forget set wrong; ta is on D_t,r
    assert g["ua"] == 100.0 and g["ta_forget"] == 0.0
    xt, yt = split.subset("test_retain").tensors()
    with torch.no_grad():
        assert u["ta"] == pytest.approx(acc.accuracy(unlearned.eval()(xt), yt))
    assert g["js_to_golden"] == 0.0 and g["weight_distance"] == 0.0
    assert u["js_to_golden"] > 0 and u["weight_distance"] > 0
    assert 1 - LN2 <= u["zrf"] <= 1.0
    assert u["indiscernibility"] == pytest.approx(1 - abs(u["mia_loss_cv_accuracy"] / 100 - 0.5) / 0.5)
    assert report.speedup == 3.0 and u["cpu_speedup"] == 2.5
    assert g["heldout_class_acc"] == 0.0  # golden never predicts the class it never saw, on V_f either
    json.dumps(report.to_dict())


def test_absent_not_zero_without_reference_or_runtimes(trio):
    split, _, _, unlearned = trio["random"]
    report = evaluate(unlearned, split, metrics=["ua", "runtime_s", "speedup", "avg_gap", "js_to_golden", "weight_distance"])
    assert set(report.rows["unlearned"]) == {"ua"}
    assert report.rows["golden"] == {} and report.gaps == {}
    assert "runtime_s=" in report.absent["runtime_s"]
    assert "golden" in report.absent["speedup"] and "golden" in report.absent["avg_gap"]
    assert "reference" in report.absent["js_to_golden"] and "reference" in report.absent["weight_distance"]
    assert report.avg_gap is None and report.speedup is None
    with pytest.raises(KeyError, match="absent"):
        report["speedup"]
    assert set(report.row_absent["golden"]) == set(report.metrics)


def test_non_finite_logits_make_metrics_absent(trio):
    split, _, golden, _ = trio["random"]
    broken = linear_model(0)
    with torch.no_grad():
        broken[1].weight.fill_(float("nan"))
    report = evaluate(broken, split, reference=golden, metrics=["ua", "mia_efficacy"])
    assert report.rows["unlearned"] == {} and "NaN" in report.absent["ua"]
    assert "ua" in report.rows["golden"]


def test_unknown_metric_and_bad_arguments_are_config_errors(trio):
    split, _, golden, unlearned = trio["random"]
    with pytest.raises(ConfigError, match="Unknown metric 'mia'.*mia_efficacy"):
        evaluate(unlearned, split, metrics=["mia"])
    with pytest.raises(ConfigError, match="at least one"):
        evaluate(unlearned, split, metrics=[])
    with pytest.raises(ConfigError, match="runtime_s"):
        evaluate(unlearned, split, runtime_s=-1.0)
    with pytest.raises(ConfigError, match="mia_members"):
        evaluate(unlearned, split, mia_members="last")
    with pytest.raises(ConfigError, match="reference"):
        evaluate(unlearned, split, reference="golden.pt")
    with pytest.raises(ConfigError, match="seed"):
        evaluate(unlearned, split, seed=1.5)


def test_scores_container():
    s = Scores(values={"ua": 5.0}, absent={"ta_forget": "random scenario"}, seed=0, split_fingerprint="x")
    assert s["ua"] == 5.0 and s.get("ta_forget") is None
    with pytest.raises(KeyError, match="random scenario"):
        s["ta_forget"]
    json.dumps(s.to_dict())


def test_with_make_split_when_available(digits):
    try:
        from unlearnkit.data.split import make_split
    except ImportError:
        pytest.skip("unlearnkit.data.split.make_split is not available yet")
    for spec in ("random:0.1", "class:3"):
        split = make_split(digits, spec, seed=0)
        model = fit(linear_model(0), split.subset("retain"), steps=20)
        report = evaluate(model, split, reference=model, metrics=["ua", "ta", "ta_forget", "mia_efficacy"])
        assert report.gaps.get("ua") == 0.0
        assert ("ta_forget" in report.rows["unlearned"]) == (split.kind == "class")
