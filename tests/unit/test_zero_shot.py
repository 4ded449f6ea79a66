"""Method-specific behaviour of the zero-shot comparison (issue 5): jit, ssd, bad_teacher."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn as nn

from unlearnkit.data.dataset import Subset, detach_subset
from unlearnkit.methods import make_method, unlearn
from unlearnkit.methods import jit as jit_module
from unlearnkit.methods.bad_teacher import sample_fraction, two_teacher_kl
from unlearnkit.methods.jit import lipschitz_loss
from unlearnkit.methods.ssd import dampen, diagonal_fisher
from unlearnkit.seeding import torch_generator
from unlearnkit.training.loop import run_loop
from unlearnkit.training.recipe import Recipe

CPU = torch.device("cpu")


class Scaled(nn.Module):
    """f(x) = c · flatten(x): every ratio ‖f(x) − f(x̃)‖ / ‖x − x̃‖ equals c."""

    def __init__(self, c: float):
        super().__init__()
        self.c = nn.Parameter(torch.tensor(c))

    def forward(self, x):
        return self.c * x.flatten(1)


# --- jit --------------------------------------------------------------------------------------

@pytest.mark.parametrize("per_sample", [False, True])
def test_lipschitz_loss_of_a_scaled_identity_is_c_per_sample(per_sample):
    x = torch.randn(5, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    loss = lipschitz_loss(Scaled(3.0), x, sigma=0.3, n_samples=7, generator=torch.Generator().manual_seed(1),
                          per_sample=per_sample)
    assert loss.item() == pytest.approx(3.0 * 5, rel=1e-5)  # summed over the batch, averaged over N


def test_lipschitz_loss_only_the_clean_output_carries_gradient():
    model = Scaled(2.0)
    x = torch.randn(3, 1, 2, 2, generator=torch.Generator().manual_seed(0))
    lipschitz_loss(model, x, sigma=0.5, n_samples=2, generator=torch.Generator().manual_seed(7),
                   per_sample=False).backward()
    # With f(x̃) a fixed target, d/dc ‖c·x − c₀·x̃‖ / ‖x − x̃‖ at c = c₀ is (x − x̃)·x / ‖x − x̃‖²
    # (a gradient through both sides would give Σ 1 = B per draw instead).
    gen, expected = torch.Generator().manual_seed(7), 0.0
    for _ in range(2):
        x_tilde = torch.clamp(x + 0.5 * torch.randn(x.shape, generator=gen), x.min(), x.max())
        d = (x - x_tilde).flatten(1)
        expected += float(((d * x.flatten(1)).sum(1) / (d * d).sum(1)).sum()) / 2
    assert model.c.grad.item() == pytest.approx(expected, rel=1e-4)


def test_per_batch_form_clamps_to_the_batch_range_and_per_sample_form_does_not():
    seen = []

    class Recorder(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(()))

        def forward(self, x):
            seen.append(x.detach().clone())
            return self.w * x.flatten(1)

    x = torch.linspace(-1, 1, 8).reshape(2, 1, 2, 2)
    for per_sample in (False, True):
        seen.clear()
        lipschitz_loss(Recorder(), x, sigma=5.0, n_samples=3, generator=torch.Generator().manual_seed(0),
                       per_sample=per_sample)
        assert len(seen) == 1 + 3, "N + 1 forward passes per batch"
        perturbed = torch.stack(seen[1:])
        inside = bool((perturbed >= -1).all() and (perturbed <= 1).all())
        assert inside is (not per_sample)


def test_jit_reads_only_the_forget_set(original, class_split, monkeypatch):
    streams = []
    real = jit_module.LoopMethod.run

    def spy(self, model, *, forget, retain, generator, device):
        streams.append((forget, retain))
        return real(self, model, forget=forget, retain=retain, generator=generator, device=device)

    monkeypatch.setattr(jit_module.JiT, "run", spy)
    result = unlearn(original, class_split, "jit", n_samples=2)
    (forget, retain), = streams
    assert retain is None
    assert len(forget.dataset.train_x) == len(class_split.forget), "only the forget samples exist in what jit got"
    assert result.log["n_retain_seen"] == 0


def test_jit_steps_once_per_batch_with_plain_sgd(original, class_split, monkeypatch):
    calls = []

    def spy_loop(model, streams, loss_fn, recipe, **kw):
        calls.append((list(streams), recipe, kw))
        return [0.0]

    monkeypatch.setattr("unlearnkit.methods.base.run_loop", spy_loop)
    unlearn(original, class_split, "jit", batch_size=32, accumulate_grads=True)
    (names, recipe, kw), = calls
    assert names == ["forget"]
    assert (recipe.optimizer, recipe.momentum, recipe.weight_decay, recipe.epochs, recipe.batch_size) == ("sgd", 0.0, 0.0, 1, 32)
    assert kw["train_mode"] is False and kw["accumulate_grads"] is True
    calls.clear()
    unlearn(original, class_split, "jit", per_sample=True)
    assert calls[0][1].batch_size == 1


def test_jit_options_change_the_result(original, class_split):
    base = unlearn(original, class_split, "jit", seed=0, lr=0.01, batch_size=16, n_samples=3).model
    for option in ("accumulate_grads", "per_sample"):
        other = unlearn(original, class_split, "jit", seed=0, lr=0.01, batch_size=16, n_samples=3, **{option: True}).model
        assert any(not torch.equal(a, b) for a, b in zip(base.parameters(), other.parameters())), option


# --- run_loop options used by jit ---------------------------------------------------------------

def test_run_loop_accumulate_grads_sums_past_gradients(class_split):
    """With loss = θ·1 (gradient 1 every step) and plain SGD, k steps move θ by η·k without
    accumulation and by η·k(k+1)/2 with it."""
    data = detach_subset(class_split.subset("forget"))
    steps = -(-len(data) // 64)
    recipe = Recipe(optimizer="sgd", lr=0.1, momentum=0.0, weight_decay=0.0, epochs=1, batch_size=64, schedule="constant")
    for accumulate, expected in ((False, steps), (True, steps * (steps + 1) / 2)):
        model = nn.Linear(1, 1, bias=False)
        nn.init.zeros_(model.weight)
        run_loop(model, {"f": data}, lambda m, b: m.weight.sum(), recipe, generator=torch_generator(0, "t"),
                 accumulate_grads=accumulate)
        assert model.weight.item() == pytest.approx(-0.1 * expected)


@pytest.mark.parametrize("train_mode", [True, False])
def test_run_loop_train_mode_flag(class_split, train_mode):
    modes = []
    data = detach_subset(class_split.subset("forget"))
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10), nn.Dropout(0.5))

    def loss(m, batches):
        modes.append(m.training)
        x, y = batches["f"]
        return nn.functional.cross_entropy(m(x), y)

    run_loop(model, {"f": data}, loss, Recipe(epochs=1, batch_size=64), generator=torch_generator(0, "t"),
             train_mode=train_mode)
    assert modes and set(modes) == {train_mode}


# --- ssd --------------------------------------------------------------------------------------

def test_dampen_by_hand():
    model = nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
        model.bias.copy_(torch.tensor([5.0, 6.0]))
    full = {"weight": torch.tensor([[1.0, 1.0], [1.0, 1.0]]), "bias": torch.tensor([1.0, 0.0])}
    forget = {"weight": torch.tensor([[20.0, 5.0], [10.0, 40.0]]), "bias": torch.tensor([0.5, 0.0])}
    counts = dampen(model, full, forget, alpha=10.0, lam=1.0)
    # selected: imp_f > 10·imp_D -> weight[0,0] (20 > 10) and weight[1,1] (40 > 10); 10 > 10 is not
    assert counts == {"weight": 2, "bias": 0}
    assert torch.allclose(model.weight, torch.tensor([[1.0 / 20, 2.0], [3.0, 4.0 / 40]]))
    assert torch.equal(model.bias, torch.tensor([5.0, 6.0]))
    # λ large: the factor is capped at 1, so nothing changes
    before = model.weight.clone()
    dampen(model, full, forget, alpha=10.0, lam=100.0)
    assert torch.equal(model.weight, before)


def test_diagonal_fisher_of_one_batch_is_the_squared_gradient(class_split):
    data = detach_subset(class_split.subset("forget"))
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    imp = diagonal_fisher(model, data, batch_size=len(data), generator=torch_generator(0, "t"), device=CPU)
    assert all(p.grad is None for p in model.parameters()), "gradients are cleared afterwards"
    x, y = data.tensors()
    model.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    assert torch.allclose(imp["1.weight"], model[1].weight.grad ** 2)


def test_ssd_dampens_a_fraction_and_forgets_the_class(original, class_split):
    from tests.conftest import accuracy

    result = unlearn(original, class_split, "ssd", seed=0)
    est = result.estimator
    assert 0 < result.log["dampened_fraction"] < 0.5
    assert set(est.importances_) == {"full", "forget"}
    assert accuracy(result.model, class_split.subset("forget")) < 50
    assert accuracy(result.model, class_split.subset("retain")) > 90


# --- bad_teacher --------------------------------------------------------------------------------

def test_two_teacher_kl_picks_each_samples_teacher():
    good = torch.tensor([[5.0, 0.0], [5.0, 0.0]])
    bad = torch.tensor([[0.0, 5.0], [0.0, 5.0]])
    is_forget = torch.tensor([True, False])
    student = torch.stack([bad[0], good[1]])  # matches each sample's own teacher
    assert two_teacher_kl(student, good, bad, is_forget, 1.0).item() == pytest.approx(0.0, abs=1e-7)
    swapped = torch.stack([good[0], bad[1]])
    assert two_teacher_kl(swapped, good, bad, is_forget, 1.0).item() > 1.0


def test_sample_fraction_is_seeded_and_sized(class_split):
    retain = class_split.subset("retain")
    a = sample_fraction(retain, 0.3, torch_generator(0, "t"))
    b = sample_fraction(retain, 0.3, torch_generator(0, "t"))
    assert len(a) == round(0.3 * len(retain)) and torch.equal(a.indices, b.indices)
    assert set(a.indices.tolist()) <= set(retain.indices.tolist())
    assert isinstance(a, Subset) and a.label_set == retain.label_set


def test_bad_teacher_uses_part_of_retain_and_moves_toward_the_bad_teacher_on_forget(original, class_split):
    from tests.conftest import accuracy

    result = unlearn(original, class_split, "bad_teacher", seed=0, epochs=5, lr=1e-3)
    assert result.log["n_retain_used"] == round(0.3 * len(class_split.retain))
    assert result.log["n_forget_used"] == len(class_split.forget)
    assert accuracy(result.model, class_split.subset("forget")) < 50
    assert accuracy(result.model, class_split.subset("retain")) > 90
    untouched = copy.deepcopy(original)
    assert all(torch.equal(a, b) for a, b in zip(untouched.parameters(), original.parameters()))


def test_defaults_and_sources_are_documented():
    for name, words in {"jit": ("N = 25", "batch 128", "σ = 0.1", "η = 3e-5", "σ = 0.5"), "ssd": ("λ = 1", "α = 10"),
                        "bad_teacher": ("1 epoch", "Adam lr 1e-4", "30% of D_r")}.items():
        doc = type(make_method(name)).__doc__
        for w in words:
            assert w in doc, (name, w)
