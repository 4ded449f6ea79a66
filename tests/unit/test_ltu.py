"""LTU and its parts (issue 6): gradient harmonisation, membership-inference guides, partial access."""

from __future__ import annotations

import pytest
import torch
from sklearn.metrics import roc_auc_score

from unlearnkit import build_model, get_recipe, train
from unlearnkit.data.dataset import detach_subset
from unlearnkit.errors import ConfigError
from unlearnkit.methods import METHODS, make_method, unlearn
from unlearnkit.methods import ltu as ltu_module
from unlearnkit.methods.harmonize import harmonize
from unlearnkit.methods.mi_guides import MembershipGuides, guide_features
from unlearnkit.metrics.context import compute_logits
from unlearnkit.seeding import torch_generator

# --- harmonize ------------------------------------------------------------------------------


def t(*values):
    return torch.tensor(values, dtype=torch.float64)


def test_conflicting_gradients_one_sided():
    g_f, g_r = t(1.0, -2.0), t(0.0, 1.0)  # <g_f, g_r> = -2 < 0
    new_f, new_r = harmonize(g_f, g_r)
    assert torch.allclose(new_f, t(1.0, 0.0))
    assert torch.equal(new_r, g_r)
    assert new_f.dot(g_r) == pytest.approx(0.0)


def test_conflicting_gradients_symmetric_projects_both_on_the_originals():
    g_f, g_r = t(1.0, -2.0), t(0.0, 1.0)
    new_f, new_r = harmonize(g_f, g_r, "symmetric")
    assert torch.allclose(new_f, t(1.0, 0.0))
    # g_r − (<g_r, g_f> / ‖g_f‖²)·g_f = (0, 1) + (2/5)·(1, −2) = (0.4, 0.2)
    assert torch.allclose(new_r, t(0.4, 0.2))
    assert new_r.dot(g_f) == pytest.approx(0.0)


@pytest.mark.parametrize("mode", ["one_sided", "symmetric"])
@pytest.mark.parametrize("g_f, g_r", [
    (t(1.0, 2.0), t(2.0, 4.0)),    # aligned
    (t(1.0, 1.0), t(3.0, 0.5)),    # acute angle
    (t(1.0, 0.0), t(0.0, 5.0)),    # orthogonal
    (t(0.0, 0.0), t(1.0, -1.0)),   # zero forgetting gradient
    (t(1.0, -1.0), t(0.0, 0.0)),   # zero remembering gradient
])
def test_non_conflicting_or_zero_gradients_are_unchanged(g_f, g_r, mode):
    new_f, new_r = harmonize(g_f, g_r, mode)
    assert torch.equal(new_f, g_f) and torch.equal(new_r, g_r)
    assert new_f is not g_f and new_r is not g_r


def test_harmonize_input_errors():
    with pytest.raises(ConfigError, match="Unknown harmonisation mode 'both'. Valid modes: one_sided, symmetric"):
        harmonize(t(1.0), t(1.0), "both")
    with pytest.raises(ValueError, match="same length"):
        harmonize(t(1.0, 2.0), t(1.0))


def test_harmonised_update_never_decreases_remembering_progress():
    gen = torch.Generator().manual_seed(0)
    for _ in range(50):
        g_f, g_r = torch.randn(20, generator=gen, dtype=torch.float64), torch.randn(20, generator=gen, dtype=torch.float64)
        new_f, new_r = harmonize(g_f, g_r)
        assert (new_f + new_r).dot(g_r) >= g_r.dot(g_r) - 1e-9


# --- membership-inference guides -----------------------------------------------------------


def test_guide_features():
    p = torch.tensor([[0.1, 0.7, 0.2]])
    assert torch.allclose(guide_features(p, "sorted"), torch.tensor([[0.7, 0.2, 0.1]]))
    assert guide_features(p, "top3").shape == (1, 3)
    assert torch.allclose(guide_features(p, "log_sorted"), torch.tensor([[0.7, 0.2, 0.1]]).log())
    with pytest.raises(ConfigError, match="Valid feature sets: sorted, top3, log_sorted"):
        guide_features(p, "raw")


def test_guides_separate_members_of_an_overfit_model(digits):
    """An MLP trained long on 150 samples is overconfident on them: guides fit on half of the
    members and non-members tell the other halves apart (AUC > 0.5)."""
    from unlearnkit.data.dataset import Subset

    members = Subset(digits, "train", torch.arange(150))
    others = Subset(digits, "test", torch.arange(len(digits.test_y)))
    model = train(build_model("mlp", digits, seed=0), members, get_recipe("digits").replace(epochs=200), seed=0)
    p_in = torch.softmax(compute_logits(model, members), 1)
    p_out = torch.softmax(compute_logits(model, others), 1)
    guides = MembershipGuides(n_guides=3, steps=300, seed=0).fit(p_in[:75], p_out[: len(p_out) // 2])
    scores = torch.cat([guides.score(p_in[75:]), guides.score(p_out[len(p_out) // 2:])])
    labels = [1] * 75 + [0] * (len(p_out) - len(p_out) // 2)
    auc = roc_auc_score(labels, scores.numpy())
    assert auc > 0.6, auc


def test_guides_loss_is_differentiable_in_the_probabilities_and_frozen_in_themselves():
    gen = torch.Generator().manual_seed(0)
    guides = MembershipGuides(n_guides=2, steps=20).fit(torch.softmax(5 * torch.randn(40, 4, generator=gen), 1),
                                                         torch.softmax(torch.randn(40, 4, generator=gen), 1))
    logits = torch.randn(8, 4, generator=gen, requires_grad=True)
    guides.nonmember_loss(torch.softmax(logits, 1)).backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    assert all(not p.requires_grad for net in guides.attackers_ for p in net.parameters())


def test_guides_errors():
    with pytest.raises(RuntimeError, match="not fitted"):
        MembershipGuides().score(torch.ones(2, 3) / 3)
    with pytest.raises(ValueError, match="at least one member"):
        MembershipGuides().fit(torch.ones(0, 3), torch.ones(2, 3) / 3)
    with pytest.raises(ConfigError, match="n_guides"):
        MembershipGuides(n_guides=0)


# --- partial access and the holdout set ----------------------------------------------------


def test_ltu_gets_rho_of_the_retain_set_and_the_test_set(original, class_split, monkeypatch):
    seen = {}

    def spy(self, model, *, forget, retain, generator, device, holdout=None):
        seen.update(forget=forget, retain=retain, holdout=holdout)
        return model

    monkeypatch.setattr(ltu_module.LTU, "run", spy)
    unlearn(original, class_split, "ltu", seed=4)
    assert len(seen["retain"]) == round(0.3 * len(class_split.retain))
    assert len(seen["retain"].dataset.train_y) == len(seen["retain"]), "only D̂_r is reachable"
    assert len(seen["holdout"]) == len(class_split.subset(class_split.test_star_name))
    unlearn(original, class_split, "ltu", rho=0.5)
    assert len(seen["retain"]) == round(0.5 * len(class_split.retain))
    unlearn(original, class_split, "ltu", retain_fraction=0.1)
    assert len(seen["retain"]) == round(0.1 * len(class_split.retain)), "a budget overrides rho"


def test_only_methods_that_ask_get_the_holdout_set():
    holdout = [n for n, cls in METHODS.items() if cls.uses_holdout]
    assert holdout == ["heldout_match", "ltu", "scrub_r"]
    # the two that calibrate on it never take D_t* in its place
    assert [n for n in holdout if METHODS.get(n).needs_validation] == ["heldout_match", "scrub_r"]


# --- the outer step -----------------------------------------------------------------------


def test_support_and_query_retain_batches_are_class_disjoint(original, class_split):
    est = make_method("ltu", {})
    retain = detach_subset(class_split.subset("retain"))
    est._generator = torch_generator(0, "t")
    est.setup(original, forget=detach_subset(class_split.subset("forget")), retain=retain,
              generator=torch_generator(0, "t"))
    for _ in range(10):
        support, queries = est._retain_batches()
        assert len(queries) == est.m_queries
        s_classes = set(retain.labels[support].tolist())
        q_classes = set(torch.cat([retain.labels[q] for q in queries]).tolist())
        assert s_classes and q_classes and not s_classes & q_classes


def _params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_ablations_and_second_order_change_the_update(original, class_split):
    common = dict(seed=0, epochs=1)
    base = _params(unlearn(original, class_split, "ltu", **common).model)
    for option in ({"meta": False}, {"harmonize": False}, {"second_order": True}, {"harmonize_mode": "symmetric"}):
        other = _params(unlearn(original, class_split, "ltu", **common, **option).model)
        assert not torch.equal(base, other), option
    # without the meta step, the virtual step size does not matter; with it, it does
    a = _params(unlearn(original, class_split, "ltu", meta=False, inner_lr=0.01, **common).model)
    b = _params(unlearn(original, class_split, "ltu", meta=False, inner_lr=0.5, **common).model)
    assert torch.equal(a, b)
    c = _params(unlearn(original, class_split, "ltu", inner_lr=0.5, **common).model)
    assert not torch.equal(base, c)


def test_harmonize_false_never_projects(original, class_split, monkeypatch):
    calls = []
    real = ltu_module.harmonize
    monkeypatch.setattr(ltu_module, "harmonize", lambda *a: calls.append(1) or real(*a))
    result = unlearn(original, class_split, "ltu", epochs=1, harmonize=False)
    assert calls == [] and result.log["steps"] > 0
    unlearn(original, class_split, "ltu", epochs=1)
    assert len(calls) == result.log["steps"]


def test_log_reports_losses_guides_and_conflicts(original, class_split):
    log = unlearn(original, class_split, "ltu", epochs=2, seed=0).log
    assert len(log["rem_loss"]) == len(log["mi_loss"]) == len(log["guide_member_rate"]) == 2
    assert 0 <= log["conflicts"] <= log["steps"]
    assert "D_t*" in log["holdout"]  # the class split has no validation slice
    assert "epoch_loss" not in log
