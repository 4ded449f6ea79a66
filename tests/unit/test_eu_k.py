"""EU-k (Goel et al. 2022): only the last k layers change, they are re-initialised (not fine-tuned),
the cached-features path and the full-forward path give the same model, and bad k is refused."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn as nn

from tests.conftest import accuracy
from tests.unit.test_random_deletion_methods import toy_sets as random_deletion_toy_sets
from unlearnkit import build_model, unlearn
from unlearnkit.errors import ConfigError
from unlearnkit.methods import make_method
from unlearnkit.methods.eu_k import head_start, leaf_layers
from unlearnkit.models import MODELS

CPU = torch.device("cpu")


def toy_sets():
    return random_deletion_toy_sets(n_forget=8, n_retain=40, d=6)


def chain_model(seed=1):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))


class Branchy(nn.Module):
    """The same function as ``chain_model``, but its first head layer is called twice per forward
    (once for nothing), so the leaf chain is not the forward and EU-k must run the whole model."""

    def __init__(self, chain: nn.Sequential):
        super().__init__()
        self.body = chain[:3]
        self.mid, self.act, self.out = chain[2], chain[3], chain[4]
        del self.body[2]

    def forward(self, x):
        h = self.body(x)
        self.mid(h)
        return self.out(self.act(self.mid(h)))


def run(est, model, forget, retain, seed=0):
    return est.run(copy.deepcopy(model), forget=forget, retain=retain, generator=torch.Generator().manual_seed(seed),
                   device=CPU)


def test_only_the_last_k_layers_change_and_they_are_reinitialised():
    forget, retain = toy_sets()
    model = chain_model()
    est = make_method("eu_k", {"k": 2, "epochs": 3, "batch_size": 8})
    out = run(est, model, forget, retain)
    assert torch.equal(out[0].weight, model[0].weight) and torch.equal(out[0].bias, model[0].bias)
    assert not torch.equal(out[2].weight, model[2].weight) and not torch.equal(out[4].weight, model[4].weight)
    assert est.log_["head"] == "cached" and est.log_["head_layers"] == ["Linear", "ReLU", "Linear"]
    # re-initialised, not fine-tuned: one step of lr ~0 lands on a fresh init, far from θ_o
    tiny = run(make_method("eu_k", {"k": 1, "epochs": 1, "lr": 1e-12}), model, forget, retain)
    assert (tiny[4].weight - model[4].weight).abs().max() > 1e-3


def test_cached_features_and_full_forward_give_the_same_model():
    forget, retain = toy_sets()
    params = {"k": 2, "epochs": 4, "batch_size": 8}
    cached_est, full_est = make_method("eu_k", params), make_method("eu_k", params)
    cached = run(cached_est, chain_model(), forget, retain)
    full = run(full_est, Branchy(chain_model()), forget, retain)
    assert cached_est.log_["head"] == "cached"
    assert full_est.log_["head"] == "full forward (its first layer is not called once per forward)"
    torch.testing.assert_close(full.out.weight, cached[4].weight, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(full.mid.weight, cached[2].weight, rtol=1e-4, atol=1e-6)
    assert torch.equal(full.body[0].weight, chain_model()[0].weight)  # frozen on the full-forward path too
    assert all(p.requires_grad for p in full.parameters())  # the freeze is undone


def test_same_seed_same_model_and_retraining_fits_the_retain_set(digits, random_split, original):
    a = unlearn(original, random_split, "eu_k", seed=3, epochs=15).model
    b = unlearn(original, random_split, "eu_k", seed=3, epochs=15).model
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert accuracy(a, random_split.subset("retain")) > 95.0


def test_class_forgetting_the_retrained_head_never_predicts_the_class(class_split, original):
    model = unlearn(original, class_split, "eu_k", seed=0, epochs=10).model
    assert accuracy(model, class_split.subset("forget")) < 5.0
    assert accuracy(model, class_split.subset("retain")) > 95.0


def test_k_larger_than_the_model_is_a_config_error():
    forget, retain = toy_sets()
    with pytest.raises(ConfigError, match="'k' parameter of EUk must be at most the model's 3 layers"):
        run(make_method("eu_k", {"k": 4}), chain_model(), forget, retain)
    with pytest.raises(ConfigError, match="'k' parameter"):
        make_method("eu_k", {"k": 0})


def test_a_layer_without_reset_parameters_is_refused():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.s = nn.Parameter(torch.ones(3))

        def forward(self, x):
            return x * self.s

    forget, retain = toy_sets()
    model = nn.Sequential(nn.Linear(6, 3), Scale())
    with pytest.raises(ConfigError, match="cannot re-initialise the layer Scale"):
        run(make_method("eu_k", {"k": 1}), model, forget, retain)
    with pytest.raises(ConfigError, match="cannot re-initialise the layer Scale"):
        make_method("eu_k", {"k": 1}).check_model(model)  # what the front door and run planning call first


def test_leaf_layers_and_head_start_follow_registration_order():
    model = chain_model()
    leaves = leaf_layers(model)
    assert [type(m).__name__ for m in leaves] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert head_start(leaves, 1) == 4 and head_start(leaves, 3) == 0


def test_a_head_that_is_not_a_chain_is_trained_through_the_whole_model():
    class Skip(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = chain_model()

        def forward(self, x):
            h = self.inner[:4](x)  # (N, 8)
            return self.inner[4](h) + h[:, :3]

    forget, retain = toy_sets()
    model = Skip()
    est = make_method("eu_k", {"k": 1, "epochs": 2, "batch_size": 8})
    out = run(est, model, forget, retain)
    assert est.log_["head"] == "full forward (its layers in registration order are not the model's forward)"
    assert torch.equal(out.inner[2].weight, model.inner[2].weight)
    assert not torch.equal(out.inner[4].weight, model.inner[4].weight)


def test_head_inputs_too_large_to_keep_are_recomputed_every_step(monkeypatch):
    import unlearnkit.methods.eu_k as eu_k

    forget, retain = toy_sets()
    cached = run(make_method("eu_k", {"k": 2, "epochs": 2, "batch_size": 8}), chain_model(), forget, retain)
    monkeypatch.setattr(eu_k, "FEATURE_BYTES_LIMIT", 100)
    est = make_method("eu_k", {"k": 2, "epochs": 2, "batch_size": 8})
    out = run(est, chain_model(), forget, retain)
    assert est.log_["head"].startswith("full forward (its inputs on D_r would take")
    torch.testing.assert_close(out[4].weight, cached[4].weight, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("arch", sorted(MODELS.names()))
def test_every_registered_architecture_changes_only_its_head(arch, digits, random_split):
    model = build_model(arch, digits, seed=0)
    result = unlearn(model, random_split, "eu_k", seed=0, epochs=1, k=2)
    head = {id(p) for m in leaf_layers(model)[head_start(leaf_layers(model), 2):] for p in m.parameters(recurse=False)}
    for (name, before), after in zip(model.named_parameters(), result.model.parameters()):
        assert torch.equal(before, after) != (id(before) in head), name
    assert result.log["head"] == "cached" or result.log["head"].startswith("full forward (")
