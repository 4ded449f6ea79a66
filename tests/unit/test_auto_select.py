"""``--method auto`` that looks (issue 21): the budget, the retrain estimate, the candidates' ratings
and the pick, on a tiny MLP that memorised random labels (train 99%, held-out ~33%)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from unlearnkit import make_split
from unlearnkit.deletion.auto_rule import RULE, Candidate, Cell, cell, memorisation_level
from unlearnkit.deletion.auto_select import Tried, best_of, check_budget, distance, select_method
from unlearnkit.deletion.margins import Margins
from unlearnkit.deletion.retrain_cost import estimate_retrain_cpu
from unlearnkit.deletion.verdict import Question, Stat, Verdict
from unlearnkit.errors import ConfigError
from unlearnkit.methods import make_method
from unlearnkit.metrics.heldout import Estimate

from tests.memorised import RECIPE, memorised_mlp

KEEP = Candidate("finetune", {"lr": 1e-6, "epochs": 1}, passes=1.0)  # leaves the model as it was: not forgotten
# k=2 of 2 layers: a retrain of 30 epochs (about 0.3 of the recipe's 100), predicted generously
RETRAIN_ALL = Candidate("eu_k", {"k": 2, "schedule": "short", "epochs": 30}, cost=0.4)


@pytest.fixture(scope="module")
def memorised():
    model, ds = memorised_mlp(0)
    return model, make_split(ds, "random:0.2", seed=0)


def rule_of(*cands: Candidate) -> dict:
    return {("high", "scattered"): Cell("high", "scattered", cands, "test rule")}


def weights(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.state_dict().values()]


# ------------------------------------------------------------------------------------ budget
@pytest.mark.parametrize("good, value", [("0.25", 0.25), (1, 1.0), (0.1, 0.1), (" 0.5", 0.5)])
def test_budget_in_range_is_accepted(good, value):
    assert check_budget(good) == value


@pytest.mark.parametrize("bad", [0, -0.1, 1.5, "abc", "", float("nan"), float("inf"), True, None, [0.1]])
def test_bad_budget_is_one_line_naming_the_range(bad):
    with pytest.raises(ConfigError, match=r"budget .*\(0, 1\]") as info:
        check_budget(bad)
    assert "\n" not in str(info.value)


def test_bad_budget_is_refused_before_any_work(memorised):
    model, split = memorised
    with pytest.raises(ConfigError, match="budget"):
        select_method(model, split, shape="scattered", recipe=RECIPE, budget=2, rule=rule_of(KEEP))


# ------------------------------------------------------------------------------------ ranking
def verdict(name: str, gap: float, loss: float = 0.0) -> Verdict:
    m = Margins(acc_gap=2.0, auc=0.05, class_acc=2.0, retained_acc_lost=2.0, retained_conf_lost=2.0, heldout_acc_lost=2.0,
                min_heldout=10, source="hand-made")
    f = Question("forget", name, (Stat("acc_gap", Estimate(gap, gap - 1, gap + 1), 2.0, "both", 100),))
    k = Question("kept", "kept", (Stat("retained_acc_lost", Estimate(loss, loss - 1, loss + 1), 2.0, "upper", 100),))
    return Verdict(name, f, k, (), "golden-free", m)


def tried(name: str, gap: float, loss: float = 0.0, cpu: float = 1.0) -> Tried:
    return Tried(Candidate(f"{name}-{gap}"), "rated", 1.0, 1.0, cpu_s=cpu, verdict=verdict(name, gap, loss))


def test_distance_is_in_margins_and_counts_only_losses_on_kept_records():
    assert distance(verdict("forgotten", -1.0)) == pytest.approx(0.5)
    assert distance(verdict("forgotten", 1.0, loss=-3.0)) == pytest.approx(0.5), "a gain on kept records is no loss"
    assert distance(verdict("forgotten", 1.0, loss=1.0)) == pytest.approx(1.0)


def test_forgotten_beats_inconclusive_beats_the_rest_then_distance_then_cpu():
    far_forgotten, near_forgotten = tried("forgotten", 1.8), tried("forgotten", 0.4)
    assert best_of([tried("not_forgotten", 0.1), tried("inconclusive", 0.2), far_forgotten]) is far_forgotten
    assert best_of([far_forgotten, near_forgotten]) is near_forgotten
    incon = tried("inconclusive", 3.0)
    assert best_of([tried("damaged", 0.0), incon, tried("over_forgotten", -0.1)]) is incon
    cheap, dear = tried("forgotten", 0.5, cpu=1.0), tried("forgotten", 0.5, cpu=2.0)
    assert best_of([dear, cheap]) is cheap


# ------------------------------------------------------------------------------------ selection
def test_every_candidate_is_recorded_and_the_best_rated_is_picked(memorised):
    model, split = memorised
    before = weights(model)
    cands = (KEEP, RETRAIN_ALL, Candidate("eu_k", {"k": 1, "schedule": "short", "epochs": 30}, cost=0.4))
    sel = select_method(model, split, shape="scattered", recipe=RECIPE, budget=1.0, rule=rule_of(*cands))
    c = sel.choice
    assert all(torch.equal(a, b) for a, b in zip(before, weights(model))), "the caller's model is not modified"
    assert sorted(t["label"] for t in c["candidates"]) == sorted(x.label() for x in cands)
    for t in c["candidates"]:
        assert t["status"] == "rated" and t["cpu_s"] > 0 and t["verdict"] and {"acc_gap", "loss_auc"} <= set(t["stats"])
    assert c["memorisation"]["level"] == "high" and c["memorisation"]["gap"] > 50
    by_label = {t.candidate.label(): t for t in sel.tried}
    assert by_label[KEEP.label()].verdict.verdict == "not_forgotten"
    assert c["label"] == best_of(sel.tried).candidate.label() == sel.best.candidate.label()
    assert c["label"] != KEEP.label(), "the untouched model rates worst"
    assert sel.result.method == c["method"] and sel.result.model is not model
    assert c["recommend_retrain"] == (c["verdict"] != "forgotten")
    assert c["why"] and c["source"].startswith("docs/results/auto.md") and c["budget"]["total_cpu_s"] > c["budget"]["candidates_cpu_s"] > 0


def test_retraining_is_recommended_when_no_candidate_reads_forgotten(memorised):
    model, split = memorised
    sel = select_method(model, split, shape="scattered", recipe=RECIPE, budget=1.0, rule=rule_of(KEEP))
    c = sel.choice
    assert c["verdict"] == "not_forgotten" and c["recommend_retrain"] is True
    assert "No candidate reads forgotten" in c["retrain_note"] and "retrain the model from scratch" in c["why"]


def test_the_budget_is_respected(memorised):
    model, split = memorised
    runaway = Candidate("finetune", {"epochs": 100000}, cost=0.001)  # predicted cheap, runs for ever
    too_dear = Candidate("finetune", {"epochs": 5}, passes=1e5)  # predicted at 1000 retrains
    sel = select_method(model, split, shape="scattered", recipe=RECIPE, budget=1.0,
                        rule=rule_of(runaway, KEEP, too_dear))
    c = sel.choice
    status = {t["label"]: t for t in c["candidates"]}
    assert [t["label"] for t in c["candidates"]] == [runaway.label(), KEEP.label(), too_dear.label()], "cheapest first"
    assert status[runaway.label()]["status"] == "stopped" and status[too_dear.label()]["status"] == "skipped"
    assert status[KEEP.label()]["status"] == "rated" and c["label"] == KEEP.label()
    step = c["retrain_estimate"]["step_cpu_s"]
    assert status[runaway.label()]["cpu_s"] <= status[runaway.label()]["allowance_cpu_s"] + 20 * step + 0.05
    assert c["budget"]["candidates_cpu_s"] <= c["budget"]["cpu_s"] + 20 * step + 0.05


def test_no_candidate_within_the_budget_is_one_line_naming_the_budget_needed(memorised):
    model, split = memorised
    with pytest.raises(ConfigError, match=r"no candidate ran within --budget 0.01 .*Retrain the model .*--budget more than") as info:
        select_method(model, split, shape="scattered", recipe=RECIPE, budget=0.01,
                      rule=rule_of(Candidate("finetune", {"epochs": 5}, passes=1e5)))
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------------------------ estimate and rule
def test_retrain_estimate_is_steps_times_epochs_and_leaves_the_model_alone(memorised):
    model, split = memorised
    before = weights(model)
    retain = split.subset("retain")
    est = estimate_retrain_cpu(model, retain, RECIPE, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(before, weights(model)))
    assert est.steps_per_epoch == math.ceil(len(retain) / 32) and est.steps_measured == 3
    assert est.cpu_s == pytest.approx(est.step_cpu_s * 100 * est.steps_per_epoch) and est.cpu_s > 0
    assert "per step" in est.to_dict()["how"]


def test_the_rule_covers_every_cell_with_valid_candidates():
    assert memorisation_level(10.0) == "high" and memorisation_level(1.0) == "low"
    for level in ("low", "high"):
        for shape in ("class", "scattered"):
            c = cell(level, shape)
            assert c.candidates and c.source
            for cand in c.candidates:
                make_method(cand.method, dict(cand.params))
                assert cand.predicted_fraction(30) > 0
    assert len(RULE) == 4


def test_a_stopped_candidate_says_what_it_would_need_and_the_refusal_uses_it(memorised):
    model, split = memorised
    slow = Candidate("finetune", {"epochs": 4000}, cost=0.001)  # predicted cheap; costs tens of retrains
    with pytest.raises(ConfigError) as info:
        select_method(model, split, shape="scattered", recipe=RECIPE, budget=0.2, rule=rule_of(slow))
    msg = str(info.value)
    assert "stopped" in msg and "% of its steps (it would need about" in msg
    need = float(msg.split("--budget more than ")[1].split(" ")[0])
    assert need >= 1.0, "4000 epochs over D_r cost more than the 100-epoch retrain (capped at 1)"
