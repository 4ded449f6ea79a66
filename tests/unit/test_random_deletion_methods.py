"""The defining behaviour of the random-deletion methods of ALGORITHMS.md §6, checked by hand on tiny
models: influence (a WoodFisher step), fisher (noise of variance α / F), rum (refine by a
memorisation proxy, then unlearn subset by subset) and the unlearning-challenge entries."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn as nn

from unlearnkit.data.dataset import Dataset, Subset
from unlearnkit.methods import make_method
from unlearnkit.methods.fisher import diagonal_fisher_information, noise_distribution
from unlearnkit.methods.influence import woodfisher_product

CPU = torch.device("cpu")


def toy_sets(n_forget=6, n_retain=20, d=5, c=3, seed=0):
    """Tabular toy data: D_f = the first ``n_forget`` samples, D_r the rest."""
    g = torch.Generator().manual_seed(seed)
    n = n_forget + n_retain
    x = torch.randn(n, d, generator=g)
    y = torch.randint(0, c, (n,), generator=g)
    ds = Dataset(name="toy", train_x=x, train_y=y, test_x=x[:0], test_y=y[:0], classes=[f"c{i}" for i in range(c)])
    return Subset(ds, "train", torch.arange(n_forget)), Subset(ds, "train", torch.arange(n_forget, n))


def linear_model(d=5, c=3, seed=1):
    torch.manual_seed(seed)
    return nn.Linear(d, c)


def linear_grads(model: nn.Linear, subset: Subset, targets: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample CE gradients of a linear model worked out by hand: dW = (p − e_t) xᵀ, db = p − e_t;
    flattened as (weight, bias), float64, shape (N, C·D + C)."""
    x, y = subset.tensors()
    x = x.double()
    t = y if targets is None else targets
    w, b = model.weight.detach().double(), model.bias.detach().double()
    p = torch.softmax(x @ w.T + b, dim=1)  # (N, C)
    delta = p - torch.nn.functional.one_hot(t, w.shape[0]).double()  # (N, C)
    dw = delta[:, :, None] * x[:, None, :]  # (N, C, D)
    return torch.cat([dw.reshape(len(x), -1), delta], dim=1)


def flat(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).double()


# ----------------------------------------------------------------------------------------------
# influence


def test_influence_step_equals_a_hand_computed_woodfisher_step():
    forget, retain = toy_sets()
    model = linear_model()
    alpha, n_const = 3.0, 25  # n_samples ≥ |D_r| = 20: every retain sample, in order
    gf, gr = linear_grads(model, forget), linear_grads(model, retain)
    n_f, n_r = len(forget), len(retain)
    n = n_f + n_r
    v = gf.sum(0) / n - gr.sum(0) * n_f / (n * n_r)
    k, o = v.clone(), gr[0].clone()
    for g in gr[1:]:
        t = o @ g
        k = k - (k @ g) / (n_const + t) * o
        o = o - t / (n_const + t) * o
    assert (k - v).norm() > 0.05 * v.norm(), "the toy problem must make the recursion matter"
    expected = flat(model) + alpha * k

    est = make_method("influence", {"alpha": alpha, "n_samples": n_const, "batch_size": 7})
    out = est.run(copy.deepcopy(model), forget=forget, retain=retain, generator=torch.Generator().manual_seed(0),
                  device=CPU)
    torch.testing.assert_close(flat(out), expected, atol=1e-5, rtol=1e-4)
    assert est.log_["n_fisher_samples"] == n_r


def test_woodfisher_recursion_skips_the_first_gradient_and_uses_the_constant():
    v = torch.tensor([1.0, 0.0])
    g1, g2 = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 1.0])
    # o = g1; t = o·g2 = 2; k = v − (v·g2 / (n + 2))·o = [1, 0] − (1 / 12)·[2, 0] for n = 10
    torch.testing.assert_close(woodfisher_product(v, [g1, g2], 10), torch.tensor([1 - 2 / 12, 0.0]))
    torch.testing.assert_close(woodfisher_product(v, [g1], 10), v)  # one gradient only starts it


def test_influence_samples_a_seeded_subset_of_the_retain_set():
    forget, retain = toy_sets(n_retain=40)
    model = linear_model()
    runs = []
    for seed in (0, 0, 1):
        est = make_method("influence", {"n_samples": 10})
        runs.append(flat(est.run(copy.deepcopy(model), forget=forget, retain=retain,
                                 generator=torch.Generator().manual_seed(seed), device=CPU)))
        assert est.log_["n_fisher_samples"] == 10
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


# ----------------------------------------------------------------------------------------------
# fisher


@pytest.mark.parametrize("kind", ["expected", "empirical"])
def test_fisher_information_of_a_linear_model_matches_the_hand_formula(kind):
    _, retain = toy_sets()
    model = linear_model()
    x, y = retain.tensors()
    w, b = model.weight.detach().double(), model.bias.detach().double()
    p = torch.softmax(x.double() @ w.T + b, dim=1)  # (N, C)
    if kind == "expected":
        fw = torch.zeros_like(w)
        fb = torch.zeros_like(b)
        for c in range(w.shape[0]):
            g = linear_grads(model, retain, torch.full_like(y, c))
            fw += (p[:, c, None] * g[:, : w.numel()] ** 2).sum(0).reshape(w.shape)
            fb += (p[:, c, None] * g[:, w.numel():] ** 2).sum(0)
    else:
        g = linear_grads(model, retain)
        fw, fb = (g[:, : w.numel()] ** 2).sum(0).reshape(w.shape), (g[:, w.numel():] ** 2).sum(0)
    info = diagonal_fisher_information(model, retain, expected=kind == "expected", batch_size=6, device=CPU)
    torch.testing.assert_close(info["weight"].double(), fw / len(retain), rtol=1e-5, atol=1e-8)
    torch.testing.assert_close(info["bias"].double(), fb / len(retain), rtol=1e-5, atol=1e-8)


def two_layer():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))  # "2" is the output layer


def hand_fisher(model, value_of):
    return {name: value_of(name, p) for name, p in model.named_parameters()}


def test_fisher_noise_variance_is_alpha_over_f_on_hidden_weights():
    model = two_layer()
    g = torch.Generator().manual_seed(0)
    info = hand_fisher(model, lambda n, p: torch.rand(p.shape, generator=g) + 0.01)  # 1/F ≤ 100 < 1e3: no clamp
    for alpha in (1e-6, 4e-6):
        dist = noise_distribution(model, info, alpha=alpha, share_variance=False)
        mean, var = dist["0.weight"]
        torch.testing.assert_close(var, alpha / (info["0.weight"] + 1e-8))
        assert torch.equal(mean, model[0].weight.detach())
        # one-dimensional parameters: ×10; the output layer: ×10 (once, also for its bias)
        torch.testing.assert_close(dist["0.bias"][1], 10 * alpha / (info["0.bias"] + 1e-8))
        torch.testing.assert_close(dist["2.weight"][1], 10 * alpha / (info["2.weight"] + 1e-8))
        torch.testing.assert_close(dist["2.bias"][1], 10 * alpha / (info["2.bias"] + 1e-8))
    # halving F doubles the variance
    half = {k: v / 2 for k, v in info.items()}
    torch.testing.assert_close(noise_distribution(model, half, alpha=1e-6, share_variance=False)["0.weight"][1],
                               2 * noise_distribution(model, info, alpha=1e-6, share_variance=False)["0.weight"][1])


def test_fisher_noise_clamps_shares_and_resets_forgotten_rows():
    model = two_layer()
    tiny = hand_fisher(model, lambda n, p: torch.zeros(p.shape))  # 1/F = 1e8: clamped
    dist = noise_distribution(model, tiny, alpha=1e-6, share_variance=False)
    assert torch.allclose(dist["0.weight"][1], torch.full((6, 4), 1e-6 * 1e3))
    assert torch.allclose(dist["2.weight"][1], torch.full((3, 6), 10 * 1e-6 * 1e2))  # output layer: 1e2, ×10
    g = torch.Generator().manual_seed(1)
    info = hand_fisher(model, lambda n, p: torch.rand(p.shape, generator=g) + 0.01)
    shared = noise_distribution(model, info, alpha=1e-6, share_variance=True)["0.weight"][1]
    row_mean = (1e-6 / (info["0.weight"] + 1e-8)).mean(dim=1, keepdim=True)
    torch.testing.assert_close(shared, row_mean.expand(6, 4))
    reset = noise_distribution(model, info, alpha=1e-6, share_variance=True, forgotten_classes=[1])
    mean, var = reset["2.weight"]
    assert torch.equal(mean[1], torch.zeros(6)) and torch.allclose(var[1], torch.full((6,), 1e-3))
    assert float(reset["2.bias"][0][1]) == 0.0 and torch.equal(mean[0], model[2].weight.detach()[0])


def test_fisher_run_draws_each_weight_from_its_distribution():
    forget, retain = toy_sets(d=4)
    model = two_layer()
    est = make_method("fisher", {"alpha": 1e-3, "fisher": "empirical"})
    out = est.run(copy.deepcopy(model), forget=forget, retain=retain, generator=torch.Generator().manual_seed(5),
                  device=CPU)
    info = diagonal_fisher_information(model, retain, expected=False, batch_size=64, device=CPU)
    dist = noise_distribution(model, info, alpha=1e-3, share_variance=True)
    g = torch.Generator().manual_seed(5)
    for (name, p_out) in out.named_parameters():
        mean, var = dist[name]
        torch.testing.assert_close(p_out.detach(), mean + var.sqrt() * torch.randn(mean.shape, generator=g))
    assert est.log_["forgotten_classes"] == []
