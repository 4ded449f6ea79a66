"""EU-k (Goel et al. 2022), faithful to the authors' code: the last k convolution/linear layers (batch
norms passed on the way trained), kaiming-normal re-initialisation with zero bias, the original
recipe with gradient clipping 10 in train mode; and our shorter schedule as ``schedule="short"``."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn as nn

from tests.conftest import accuracy
from tests.unit.test_random_deletion_methods import toy_sets as random_deletion_toy_sets
from unlearnkit import build_model, unlearn
from unlearnkit.errors import ConfigError
from unlearnkit.methods import make_method
from unlearnkit.methods.layers import last_k_layers
from unlearnkit.models import MODELS

CPU = torch.device("cpu")

#: The authors' counting on our registered architectures: (weight layers, batch norms passed), k=2.
LAST_TWO = {
    "mlp": (("blocks.1.linear", "head"), ()),
    "cnn": (("classifier.1", "classifier.3"), ()),
    "resnet18": (("layer4.1.conv2", "fc"), ("layer4.1.bn2",)),
    "vit_tiny": (("encoder.layers.3.linear2", "head"), ()),
}
#: Narrow widths of the architectures, where the test only needs their layout.
NARROW = {"resnet18": {"width": 8}, "vit_tiny": {"dim": 16, "heads": 2}}


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


def changed(before: nn.Module, after: nn.Module) -> set[str]:
    return {n for (n, p), q in zip(before.named_parameters(), after.parameters()) if not torch.equal(p, q)}


def own_parameters(model: nn.Module, modules) -> set[str]:
    return {f"{m}.{n}" for m in modules for n, _ in dict(model.named_modules())[m].named_parameters(recurse=False)}


@pytest.mark.parametrize("arch", sorted(MODELS.names()))
def test_layer_selection_counts_only_convolutions_and_linear_layers(arch, digits):
    assert set(MODELS.names()) <= set(LAST_TWO), "add the new architecture's expected last layers here"
    model = build_model(arch, digits, seed=0)
    chosen = last_k_layers(model, 2)
    assert (chosen.weights, chosen.norms) == LAST_TWO[arch]
    assert last_k_layers(model, 1).weights == LAST_TWO[arch][0][1:]


def test_resnet_k3_reaches_the_block_and_its_batch_norms(digits):
    chosen = last_k_layers(build_model("resnet18", digits, seed=0), 3)
    assert chosen.weights == ("layer4.1.conv1", "layer4.1.conv2", "fc")
    assert chosen.norms == ("layer4.1.bn1", "layer4.1.bn2")


@pytest.mark.parametrize("arch", sorted(MODELS.names()))
def test_every_architecture_changes_only_the_last_layers_and_the_norms_passed(arch, digits, random_split):
    model = build_model(arch, digits, seed=0, **NARROW.get(arch, {}))
    result = unlearn(model, random_split, "eu_k", seed=0, epochs=1, batch_size=256)
    weights, norms = LAST_TWO[arch]
    assert changed(model, result.model) == own_parameters(model, weights + norms)
    assert result.log["layers"] == list(weights) and result.log["norms_trained"] == list(norms)
    assert result.log["head"] == "cached" or result.log["head"].startswith("full forward (")


def test_train_mode_reestimates_every_batch_norm_under_the_recipe_and_none_below_when_short(digits, random_split):
    model = build_model("resnet18", digits, seed=0, width=4)
    faithful = unlearn(model, random_split, "eu_k", seed=0, epochs=1, batch_size=256)
    short = unlearn(model, random_split, "eu_k", seed=0, epochs=1, batch_size=256, schedule="short")
    stem_mean = "stem.1.running_mean"
    before = dict(model.named_buffers())
    assert not torch.equal(dict(faithful.model.named_buffers())[stem_mean], before[stem_mean])
    assert torch.equal(dict(short.model.named_buffers())[stem_mean], before[stem_mean])
    assert faithful.log["head"] == "full forward (train mode re-estimates the frozen layers' batch-norm statistics on D_r)"
    assert faithful.log["train_mode"] == "whole net"


def test_reinitialisation_is_kaiming_normal_with_zero_bias():
    forget, retain = toy_sets()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 400), nn.ReLU(), nn.Linear(400, 300), nn.ReLU(), nn.Linear(300, 3))
    out = run(make_method("eu_k", {"k": 2, "epochs": 1, "lr": 1e-12}), model, forget, retain)
    w = out[2].weight.detach()  # (300, 400): a fresh draw, not θ_o moved by lr 1e-12
    assert abs(float(w.std()) - math.sqrt(2 / 400)) < 0.02 * math.sqrt(2 / 400)
    assert abs(float(w.mean())) < 1e-3
    assert float(out[2].bias.detach().abs().max()) < 1e-9 and float(out[4].bias.detach().abs().max()) < 1e-9
    # excess kurtosis of a normal is 0 (a uniform draw's, PyTorch's default, is -1.2)
    z = (w - w.mean()) / w.std()
    assert abs(float((z**4).mean()) - 3) < 0.1
    reset = run(make_method("eu_k", {"k": 2, "epochs": 1, "lr": 1e-12, "init": "reset"}), model, forget, retain)
    assert float(reset[2].weight.detach().abs().max()) <= 1 / math.sqrt(400) + 1e-6  # the layer's own uniform bound


def test_only_the_last_k_layers_change_and_they_are_reinitialised_not_fine_tuned():
    forget, retain = toy_sets()
    model = chain_model()
    est = make_method("eu_k", {"k": 2, "epochs": 3, "batch_size": 8})
    out = run(est, model, forget, retain)
    assert changed(model, out) == {"2.weight", "2.bias", "4.weight", "4.bias"}
    assert est.log_["head"] == "cached" and est.log_["layers"] == ["2", "4"]
    tiny = run(make_method("eu_k", {"k": 1, "epochs": 1, "lr": 1e-12}), model, forget, retain)
    assert (tiny[4].weight - model[4].weight).abs().max() > 1e-3


def test_the_original_recipe_by_default_and_the_short_schedule_as_a_named_option():
    est = make_method("eu_k")
    own = est.training_recipe("fashion-mnist")  # the dataset's preset: 6 epochs, cosine
    assert (own.epochs, own.lr, own.schedule, own.batch_size) == (6, 0.05, "cosine", 128)
    memorise = make_method("eu_k", {"recipe": "memorise"}).training_recipe("fashion-mnist")
    assert (memorise.epochs, memorise.batch_size, memorise.schedule) == (30, 128, "cosine")
    assert make_method("eu_k", {"recipe": "cifar10"}).training_recipe("x").augment == "crop_flip"
    assert est.clip_norm() == 10.0 and make_method("eu_k", {"clip": 0.0}).clip_norm() is None
    short = make_method("eu_k", {"schedule": "short"})
    r = short.training_recipe("anything")
    assert (r.epochs, r.lr, r.schedule, r.batch_size, r.weight_decay, short.clip_norm()) == (20, 0.05, "constant", 128,
                                                                                               5e-4, None)
    assert make_method("eu_k", {"schedule": "short", "lr_schedule": "cosine", "epochs": 10}).training_recipe(
        "x").to_dict() == r.replace(schedule="cosine", epochs=10).to_dict()


def test_gradients_are_clipped_at_10_under_the_recipe_only(monkeypatch):
    forget, retain = toy_sets()
    seen = []
    real = torch.nn.utils.clip_grad_norm_
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", lambda ps, max_norm: seen.append(max_norm) or real(ps, max_norm))
    run(make_method("eu_k", {"epochs": 1, "batch_size": 8}), chain_model(), forget, retain)
    assert seen and set(seen) == {10.0}
    seen.clear()
    run(make_method("eu_k", {"epochs": 1, "batch_size": 8, "schedule": "short"}), chain_model(), forget, retain)
    assert seen == []


@pytest.mark.parametrize("schedule", ["recipe", "short"])
def test_cached_features_and_full_forward_give_the_same_model(schedule):
    forget, retain = toy_sets()
    params = {"k": 2, "epochs": 4, "batch_size": 8, "schedule": schedule}
    cached_est, full_est = make_method("eu_k", params), make_method("eu_k", params)
    cached = run(cached_est, chain_model(), forget, retain)
    full = run(full_est, Branchy(chain_model()), forget, retain)
    assert cached_est.log_["head"] == "cached"
    assert full_est.log_["head"] == "full forward (its first layer is not called once per forward)"
    torch.testing.assert_close(full.out.weight, cached[4].weight, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(full.mid.weight, cached[2].weight, rtol=1e-4, atol=1e-6)
    assert torch.equal(full.body[0].weight, chain_model()[0].weight)  # frozen on the full-forward path too
    assert all(p.requires_grad for p in full.parameters())  # the freeze is undone


def test_dropout_below_the_head_forbids_the_cache_in_train_mode_only():
    forget, retain = toy_sets()
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(6, 16), nn.Dropout(0.5), nn.ReLU(), nn.Linear(16, 3))
    faithful = make_method("eu_k", {"k": 1, "epochs": 1, "batch_size": 8})
    run(faithful, model, forget, retain)
    assert faithful.log_["head"] == "full forward (its frozen layers act differently in train mode (dropout))"
    short = make_method("eu_k", {"k": 1, "epochs": 1, "batch_size": 8, "schedule": "short"})
    run(short, model, forget, retain)
    assert short.log_["head"] == "cached"


def test_an_augmenting_recipe_trains_through_the_whole_model(digits, random_split):
    model = build_model("cnn", digits, seed=0)
    result = unlearn(model, random_split, "eu_k", seed=0, recipe="cifar10", epochs=1)
    assert result.log["head"] == "full forward (the recipe augments its inputs (crop_flip))"
    assert result.log["recipe"]["augment"] == "crop_flip"


def test_same_seed_same_model_and_retraining_fits_the_retain_set(random_split, original):
    a = unlearn(original, random_split, "eu_k", seed=3, epochs=15).model
    b = unlearn(original, random_split, "eu_k", seed=3, epochs=15).model
    c = unlearn(original, random_split, "eu_k", seed=4, epochs=1).model
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.head.weight, c.head.weight)
    assert accuracy(a, random_split.subset("retain")) > 95.0


def test_class_forgetting_the_retrained_head_never_predicts_the_class(class_split, original):
    model = unlearn(original, class_split, "eu_k", seed=0, epochs=10).model
    assert accuracy(model, class_split.subset("forget")) < 5.0
    assert accuracy(model, class_split.subset("retain")) > 95.0


def test_k_larger_than_the_model_is_a_config_error():
    forget, retain = toy_sets()
    message = r"^The 'k' parameter of EUk must be at most the model's 3 weight layers \(convolutions and linear layers\)\. Got 4"
    with pytest.raises(ConfigError, match=message):
        run(make_method("eu_k", {"k": 4}), chain_model(), forget, retain)
    with pytest.raises(ConfigError, match=message):
        make_method("eu_k", {"k": 4}).check_model(chain_model())  # what the front door and run planning call first
    for bad in ({"k": 0}, {"k": 1.5}, {"schedule": "long"}, {"init": "xavier"}, {"recipe": "nope"}, {"clip": -1.0}):
        with pytest.raises(ConfigError, match=f"'{next(iter(bad))}' parameter of EUk"):
            make_method("eu_k", bad)


def test_modules_with_parameters_that_are_not_weight_layers_stay_frozen():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.s = nn.Parameter(torch.ones(3))

        def forward(self, x):
            return x * self.s

    forget, retain = toy_sets()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 3), Scale())
    out = run(make_method("eu_k", {"k": 1, "epochs": 2, "batch_size": 8}), model, forget, retain)
    assert changed(model, out) == {"0.weight", "0.bias"}


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
    assert changed(model, out) == {"inner.4.weight", "inner.4.bias"}


def test_head_inputs_too_large_to_keep_are_recomputed_every_step(monkeypatch):
    import unlearnkit.methods.eu_k as eu_k

    forget, retain = toy_sets()
    cached = run(make_method("eu_k", {"k": 2, "epochs": 2, "batch_size": 8}), chain_model(), forget, retain)
    monkeypatch.setattr(eu_k, "FEATURE_BYTES_LIMIT", 100)
    est = make_method("eu_k", {"k": 2, "epochs": 2, "batch_size": 8})
    out = run(est, chain_model(), forget, retain)
    assert est.log_["head"].startswith("full forward (its inputs on D_r would take")
    torch.testing.assert_close(out[4].weight, cached[4].weight, rtol=1e-4, atol=1e-6)
