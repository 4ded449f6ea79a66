"""Issue 15, evaluation cost: the faster evaluation gives the same numbers as the plain one.

The SVC's predictions are the same when split over threads and deduplicated; the background
scoring (SVC attack members first, the rest of D_r while the SVC is fitted) gives bitwise the
logits of one plain pass per set, so every metric keeps its value.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from unlearnkit.metrics import HEADLINE, METRICS, evaluate, score_model
from unlearnkit.metrics import mia
from unlearnkit.metrics.context import EvalContext, compute_logits
from unlearnkit.metrics.evaluate import _score_context


def test_split_and_deduplicated_prediction_is_the_svc_prediction(monkeypatch):
    from sklearn.svm import SVC

    rng = np.random.default_rng(0)
    members, nonmembers = rng.beta(5, 1, 3000), rng.beta(3, 2, 3000)
    target = np.concatenate([rng.beta(4, 2, 4000), np.full(500, 0.75), np.zeros(300)])  # with repeated values
    x = np.concatenate([members, nonmembers]).reshape(-1, 1)
    y = np.concatenate([np.ones(3000), np.zeros(3000)])
    clf = SVC(**mia.SVC_PARAMS).fit(x, y)
    plain = clf.predict(target.reshape(-1, 1))
    for threads in (1, 2, 3):
        monkeypatch.setattr(torch, "get_num_threads", lambda t=threads: t)
        assert np.array_equal(mia._predict(clf, target), plain), threads
    assert 0 < plain.mean() < 1


def test_compute_logits_returns_an_ordinary_tensor(digits, class_split, original):
    z = compute_logits(original, class_split.subset("forget"))
    assert not z.is_inference() and not z.requires_grad
    z[0, 0] = 1.0  # usable in place, outside inference mode


def _plain_scores(model, split, names):
    """Each set scored in one plain pass, metrics in the order given: the evaluation before issue 15."""
    ctx = EvalContext(model, split, seed=0)
    for name in ("forget", "retain", "test_star", "test_forget"):
        ctx._load(name)
    values = {}
    for name in names:
        try:
            values[name] = float(METRICS.get(name).compute(ctx))
        except Exception as exc:  # noqa: BLE001 - compared as text
            values[name] = repr(exc)
    return ctx, values


@pytest.mark.parametrize("split_name", ["class_split", "random_split"])
def test_background_scoring_gives_the_plain_logits_and_values(request, original, split_name):
    split = request.getfixturevalue(split_name)
    names = ["ua", "ra", "ta", "mia_efficacy", "mia_efficacy_entropy", "mia_efficacy_mentropy",
             "mia_efficacy_correct", "mia_entropy_member_rate"]
    if split.kind == "class":
        names.append("ta_forget")
    plain_ctx, plain = _plain_scores(original, split, names)
    fast = EvalContext(original, split, seed=0)
    scores = _score_context(fast, names)
    assert fast._members is not None, "the attack's members were scored before the rest of D_r"
    for name in ("forget", "retain", "test_star"):
        assert torch.equal(fast.logits(name), plain_ctx.logits(name)), name
    assert scores.values == plain and list(scores.values) == names


def test_members_first_then_the_rest_of_retain_is_bitwise_one_pass(class_split, original):
    ctx = EvalContext(original, class_split, seed=3)
    zm, ym = ctx.member_logits()
    assert "retain" not in ctx._logits
    whole = compute_logits(original, class_split.subset("retain"))
    positions = ctx.mia_member_positions()
    assert torch.equal(zm, whole[positions]) and torch.equal(ym, class_split.subset("retain").labels[positions])
    assert torch.equal(ctx.logits("retain"), whole)


class _NaNOn(nn.Module):
    """The logits of ``base``, but NaN for one given input."""

    def __init__(self, base: nn.Module, bad: torch.Tensor):
        super().__init__()
        self.base, self.bad = base, bad

    def forward(self, x):
        out = self.base(x)
        hit = (x.flatten(1) == self.bad.flatten()).all(dim=1)
        return torch.where(hit[:, None], torch.full_like(out, float("nan")), out)


def test_an_attack_is_absent_with_retains_reason_when_retain_has_nan_outside_the_members(class_split, original):
    """As before the change: D_r's NaN logits make the attack absent, also when no member is affected."""
    retain = class_split.subset("retain")
    members = set(EvalContext(original, class_split, seed=0).mia_member_positions().tolist())
    outside = next(i for i in range(len(retain)) if i not in members)
    model = _NaNOn(original, retain.batch(slice(outside, outside + 1))[0][0])
    report = evaluate(model, class_split, metrics=["mia_efficacy", "ua"], seed=0)
    assert report.absent["mia_efficacy"] == "the model's logits on D_r contain NaN or inf"
    assert "ua" in report.rows["unlearned"]


def test_scores_keep_the_order_of_the_metrics_asked(class_split, original):
    scores = score_model(original, class_split, seed=0)
    assert list(scores.values) == [n for n in ("ua", "ra", "ta", "ta_forget", "mia_efficacy", "runtime_s")
                                   if n in scores.values]
    report = evaluate(original, class_split, reference=original, metrics=HEADLINE, seed=0)
    assert report.rows["unlearned"] == report.rows["golden"], "the same model scores the same, prefetched or not"


def test_a_samples_logits_do_not_depend_on_its_batch(class_split, original):
    """Batches of a dozen samples or fewer round differently; a small tail joins the batch before."""
    from unlearnkit.metrics.context import MIN_TAIL, _batches

    train = class_split.subset("train")
    whole = compute_logits(original, train)
    for n in (MIN_TAIL, 40, 513, 515, 520, 600, 1025):
        idx = torch.arange(n) + 7
        assert torch.equal(compute_logits(original, train.take(idx)), whole[idx]), n
    assert all(stop - start >= MIN_TAIL for start, stop in _batches(1027, 512))
