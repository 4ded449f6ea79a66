"""CF-k (Goel et al. 2022): EU-k's last k layers fine-tuned from θ_o, not re-initialised."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from tests.conftest import accuracy
from tests.unit.test_eu_k import LAST_TWO, NARROW, chain_model, changed, own_parameters, run, toy_sets
from unlearnkit import build_model, unlearn
from unlearnkit.errors import ConfigError
from unlearnkit.methods import make_method
from unlearnkit.models import MODELS


def test_the_last_k_layers_are_fine_tuned_from_the_original_not_redrawn():
    forget, retain = toy_sets()
    model = chain_model()
    tiny_cf = run(make_method("cf_k", {"k": 2, "epochs": 1, "lr": 1e-12}), model, forget, retain)
    tiny_eu = run(make_method("eu_k", {"k": 2, "epochs": 1, "lr": 1e-12}), model, forget, retain)
    for i in (2, 4):
        assert (tiny_cf[i].weight - model[i].weight).abs().max() < 1e-6
        assert (tiny_eu[i].weight - model[i].weight).abs().max() > 1e-3
    est = make_method("cf_k", {"k": 2, "epochs": 3, "batch_size": 8})
    out = run(est, model, forget, retain)
    assert changed(model, out) == {"2.weight", "2.bias", "4.weight", "4.bias"}
    assert est.log_["head"] == "cached" and est.log_["layers"] == ["2", "4"] and est.log_["clip"] == 10.0


@pytest.mark.parametrize("arch", sorted(MODELS.names()))
def test_every_architecture_changes_only_eu_ks_layers(arch, digits, random_split):
    model = build_model(arch, digits, seed=0, **NARROW.get(arch, {}))
    result = unlearn(model, random_split, "cf_k", seed=0, epochs=1, batch_size=256)
    weights, norms = LAST_TWO[arch]
    assert changed(model, result.model) == own_parameters(model, weights + norms)
    assert result.log["layers"] == list(weights) and result.log["norms_trained"] == list(norms)


def test_same_seed_same_model_and_fine_tuning_keeps_the_retain_set(random_split, original):
    a = unlearn(original, random_split, "cf_k", seed=3, epochs=3).model
    b = unlearn(original, random_split, "cf_k", seed=3, epochs=3).model
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert accuracy(a, random_split.subset("retain")) > 95.0


def test_short_schedule_and_its_recipe():
    r = make_method("cf_k", {"schedule": "short"}).training_recipe("digits")
    assert (r.epochs, r.lr, r.schedule) == (20, 0.05, "constant")
    assert make_method("cf_k", {"recipe": "memorise"}).training_recipe("digits").epochs == 30


def test_bad_parameters_are_config_errors():
    forget, retain = toy_sets()
    with pytest.raises(ConfigError, match=r"^The 'k' parameter of CFk must be at most the model's 3 weight layers"):
        run(make_method("cf_k", {"k": 4}), chain_model(), forget, retain)
    with pytest.raises(ConfigError, match="'k' parameter of CFk"):
        make_method("cf_k", {"k": 0})
    with pytest.raises(ConfigError, match="Unknown parameter 'init' for method 'cf_k'"):
        make_method("cf_k", {"init": "kaiming"})


def test_batch_norm_passed_on_the_way_is_trained_and_the_one_below_only_reestimated():
    forget, retain = toy_sets()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 8), nn.BatchNorm1d(8), nn.ReLU(),
                          nn.Linear(8, 3))
    est = make_method("cf_k", {"k": 2, "epochs": 2, "batch_size": 8})
    out = run(est, model, forget, retain)
    assert changed(model, out) == {"3.weight", "3.bias", "4.weight", "4.bias", "6.weight", "6.bias"}
    assert est.log_["norms_trained"] == ["4"]
    assert not torch.equal(out[1].running_mean, model[1].running_mean)  # frozen, statistics re-estimated on D_r
