"""The defining behaviour of the random-deletion methods of ALGORITHMS.md §6, checked by hand on tiny
models: influence (a WoodFisher step), fisher (noise of variance α / F), rum (refine by a
memorisation proxy, then unlearn subset by subset) and the unlearning-challenge entries."""

from __future__ import annotations

import copy
import math

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


# ----------------------------------------------------------------------------------------------
# rum


def logit_sets(logits: torch.Tensor, labels: torch.Tensor, n_forget: int):
    """Samples whose inputs are their own logits (the model is ``nn.Identity``), so every proxy
    can be worked out by hand."""
    ds = Dataset(name="logits", train_x=logits, train_y=labels, test_x=logits[:0], test_y=labels[:0],
                 classes=[f"c{i}" for i in range(logits.shape[1])])
    n = len(labels)
    return Subset(ds, "train", torch.arange(n_forget)), Subset(ds, "train", torch.arange(n_forget, n))


@pytest.mark.parametrize("proxy", ["confidence", "max_confidence", "entropy"])
def test_rum_proxies_are_the_hand_formulas(proxy):
    from unlearnkit.methods.rum import memorisation_scores

    g = torch.Generator().manual_seed(0)
    logits, labels = 3 * torch.randn(9, 4, generator=g), torch.randint(0, 4, (9,), generator=g)
    forget, _ = logit_sets(logits, labels, 9)
    p = torch.softmax(logits.double(), dim=1)
    expected = {"confidence": -torch.log(p[torch.arange(9), labels]),
                "max_confidence": -torch.log(p.max(dim=1).values),
                "entropy": -(p * torch.log(p)).sum(dim=1)}[proxy]
    torch.testing.assert_close(memorisation_scores(nn.Identity(), forget, proxy, device=CPU), expected)


def spy_on(monkeypatch, names):
    """Replace the ``run`` of each named method by a recorder that returns a new marker module."""
    from unlearnkit.methods import METHODS

    calls = []
    for name in set(names):
        def run(self, model, *, forget, retain, generator, device, _name=name):
            out = nn.Identity()
            calls.append({"method": _name, "params": self.get_params(), "model_in": model, "model_out": out,
                          "forget": forget.indices.tolist(), "retain": None if retain is None else len(retain)})
            self.log_ = {"seen": len(forget)}
            return out
        monkeypatch.setattr(METHODS.get(name), "run", run)
    return calls


@pytest.mark.parametrize("pending", [True, False])
def test_rum_unlearns_subsets_from_low_to_high_memorisation_with_each_method(monkeypatch, pending):
    g = torch.Generator().manual_seed(1)
    logits, labels = 2 * torch.randn(30, 3, generator=g), torch.randint(0, 3, (30,), generator=g)
    forget, retain = logit_sets(logits, labels, 9)  # D_f = 9 samples, D_r = 21
    calls = spy_on(monkeypatch, ["finetune", "neggrad_plus", "grad_ascent"])
    est = make_method("rum", {"methods": "finetune epochs=2; neggrad_plus beta=0.2; grad_ascent",
                              "retain_pending": pending})
    start = nn.Identity()
    out = est.run(start, forget=forget, retain=retain, generator=torch.Generator().manual_seed(0), device=CPU)

    loss = -torch.log_softmax(logits[:9].double(), dim=1)[torch.arange(9), labels[:9]]  # confidence proxy
    by_memorisation = torch.argsort(loss).tolist()
    assert [c["method"] for c in calls] == ["finetune", "neggrad_plus", "grad_ascent"]
    assert [c["forget"] for c in calls] == [by_memorisation[0:3], by_memorisation[3:6], by_memorisation[6:9]]
    assert max(loss[calls[0]["forget"]]) <= min(loss[calls[1]["forget"]])
    assert max(loss[calls[1]["forget"]]) <= min(loss[calls[2]["forget"]])
    assert calls[0]["params"]["epochs"] == 2 and calls[1]["params"]["beta"] == 0.2
    # each step starts from the model the previous one returned
    assert calls[0]["model_in"] is start and calls[1]["model_in"] is calls[0]["model_out"]
    assert calls[2]["model_in"] is calls[1]["model_out"] and out is calls[2]["model_out"]
    # retain sets: D_r plus the subsets still pending (authors' --sequential), or D_r; none for forget-only
    assert [c["retain"] for c in calls] == ([21 + 6, 21 + 3, None] if pending else [21, 21, None])
    assert est.log_["subset_sizes"] == [3, 3, 3]
    assert est.log_["steps"][1]["log"] == {"seen": 3}


def test_rum_skips_none_steps_and_uses_one_step_for_every_subset(monkeypatch):
    g = torch.Generator().manual_seed(2)
    logits, labels = torch.randn(20, 3, generator=g), torch.randint(0, 3, (20,), generator=g)
    forget, retain = logit_sets(logits, labels, 8)
    calls = spy_on(monkeypatch, ["finetune"])
    make_method("rum", {"methods": "none; finetune; none"}).run(
        nn.Identity(), forget=forget, retain=retain, generator=torch.Generator(), device=CPU)
    assert len(calls) == 1 and len(calls[0]["forget"]) == 3  # sizes 3, 3, 2: the middle subset only
    calls.clear()
    est = make_method("rum", {"methods": "finetune lr=0.5", "n_subsets": 4})
    est.run(nn.Identity(), forget=forget, retain=retain, generator=torch.Generator(), device=CPU)
    assert [len(c["forget"]) for c in calls] == [2, 2, 2, 2] and {c["params"]["lr"] for c in calls} == {0.5}


@pytest.mark.parametrize("methods, message", [
    ("finetune; salun", "must have one step or n_subsets \\(3\\) steps. Got 2"),
    ("finetune nope=1", "Unknown parameter 'nope' for method 'finetune' \\(step 1 of RUM\\)"),
    ("finetune; finetune lr=-1; none", "'lr' parameter of FineTune must be .* \\(step 2 of RUM\\)"),
    ("none lr=1", "takes no parameters"),
    ("ltu", "'methods' parameter of RUM must be"),
    ("rum", "'methods' parameter of RUM must be"),
])
def test_rum_rejects_bad_steps(methods, message):
    from unlearnkit.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        make_method("rum", {"methods": methods})


# ----------------------------------------------------------------------------------------------
# unlearning-challenge entries: msg (2nd), cfw (3rd), fcs (1st)


def mlp3(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3))  # "4" = output


def test_msg_schedule_is_the_entrys_linear_annealing():
    from unlearnkit.methods.msg import linear_annealing_factors

    assert linear_annealing_factors(5) == pytest.approx([1 / 3, 2 / 3, 1, 2 / 3, 1 / 3])
    assert linear_annealing_factors(4) == pytest.approx([0.5, 1.0, 2 / 3, 1 / 3])  # up 2 steps, down to 0 at step 5
    assert linear_annealing_factors(1) == pytest.approx([1.0])


def test_msg_saliency_is_retain_gradient_minus_forget_gradient():
    forget, retain = toy_sets(n_forget=6, n_retain=20)
    model = linear_model()
    est = make_method("msg")
    g = est._unlearning_gradient(model, forget, retain, torch.Generator().manual_seed(3), CPU)
    picked = retain.take(torch.randperm(20, generator=torch.Generator().manual_seed(3))[:6])
    expected = linear_grads(model, picked).mean(0) - linear_grads(model, forget).mean(0)  # one batch each (< 64)
    torch.testing.assert_close(torch.cat([g["weight"].reshape(-1), g["bias"]]).double(), expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("layers, touched", [("hidden", ["0", "2"]), ("conv", [])])
def test_msg_reinitialises_the_smallest_gradient_weights_of_the_selected_layers(monkeypatch, layers, touched):
    forget, retain = toy_sets()
    model = mlp3()
    before = copy.deepcopy(model.state_dict())
    g = torch.Generator().manual_seed(7)
    saliency = {name: torch.randn(p.shape, generator=g) for name, p in model.named_parameters()}
    est = make_method("msg", {"init_rate": 0.25, "layers": layers})
    monkeypatch.setattr(type(est), "_unlearning_gradient", lambda self, *a: saliency)
    est.setup(model, forget=forget, retain=retain, generator=torch.Generator().manual_seed(0))
    after = model.state_dict()
    for name in ["0.weight", "2.weight", "4.weight"]:
        layer = name.split(".")[0]
        if layer not in touched:
            assert torch.equal(after[name], before[name]) and name not in est._multipliers
            continue
        n = before[name].numel()
        k = round(0.25 * n)
        smallest = torch.sort(saliency[name].abs().reshape(-1), stable=True).indices[:k]
        expected_mask = torch.zeros(n, dtype=torch.bool)
        expected_mask[smallest] = True
        assert torch.equal(est.reinit_mask_[name].reshape(-1), expected_mask)
        changed = (after[name] != before[name]).reshape(-1)
        assert torch.equal(changed, expected_mask)  # exactly the re-initialised weights moved
        assert torch.equal(est._multipliers[name].reshape(-1), torch.where(expected_mask, 1.0, 0.1))
    for name in ["0.bias", "2.bias", "4.bias"]:
        assert torch.equal(after[name], before[name])
    # gradients: factor · (multiplier · grad + wd · θ)
    est.on_epoch(0)
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    est.grad_transform(model)
    for name, p in model.named_parameters():
        mult = est._multipliers.get(name, torch.ones_like(p))
        torch.testing.assert_close(p.grad, (1 / 3) * (mult + 5e-4 * p.detach()))


def test_cfw_confuses_the_first_layer_and_weakens_before_the_last_epoch():
    forget, retain = toy_sets()
    model = mlp3()
    before = copy.deepcopy(model.state_dict())
    est = make_method("cfw", {"epochs": 3, "start_std": 0.5, "final_std": 0.01})
    est._generator = torch.Generator().manual_seed(4)
    est.setup(model, forget=forget, retain=retain, generator=est._generator)
    g = torch.Generator().manual_seed(4)
    noise1 = torch.randn((8, 5), generator=g) * 0.5
    torch.testing.assert_close(model[0].weight.detach(), before["0.weight"] + noise1)
    for name in ["0.bias", "2.weight", "4.weight"]:
        assert torch.equal(model.state_dict()[name], before[name])
    est.on_epoch(0)
    est.on_epoch(1)
    torch.testing.assert_close(model[0].weight.detach(), before["0.weight"] + noise1)  # nothing before the last epoch
    est.on_epoch(2)
    torch.testing.assert_close(model[0].weight.detach(), before["0.weight"] + noise1 + torch.randn((8, 5), generator=g) * 0.01)
    assert est._factor == pytest.approx(0.5 * (1 + math.cos(2 * math.pi / 3)))


def test_cfw_loss_weights_each_sample_by_its_balanced_class_weight():
    forget, retain = toy_sets(n_retain=20)
    model = mlp3()
    est = make_method("cfw")
    est._generator = torch.Generator().manual_seed(0)
    est.setup(model, forget=forget, retain=retain, generator=est._generator)
    x, y = retain.tensors()
    counts = torch.bincount(y, minlength=3).float()
    w = len(y) / (3 * counts)
    ce = torch.nn.functional.cross_entropy(model(x), y, reduction="none")
    torch.testing.assert_close(est.loss(model, {"retain": (x, y)}), (w[y] * ce).mean())


def test_fcs_losses_by_hand():
    from unlearnkit.methods.fcs import contrastive_forget_loss, cosine_step_factors, uniform_kl

    assert float(uniform_kl(torch.zeros(4, 5))) == pytest.approx(0.0, abs=1e-7)
    z = torch.tensor([[2.0, 0.0, 0.0]])
    p = torch.softmax(z, dim=1)
    assert float(uniform_kl(z)) == pytest.approx(float((1 / 3 * torch.log((1 / 3) / p)).sum()), rel=1e-6)
    zf, zr = torch.tensor([[1.0, 0.0], [0.0, 2.0]]), torch.tensor([[1.0, 1.0], [0.0, 1.0], [2.0, 0.0]])
    sim = zf @ zr.T / 1.5
    expected = -torch.log_softmax(sim, dim=1).mean()
    torch.testing.assert_close(contrastive_forget_loss(zf, zr, 1.5), expected)
    f = cosine_step_factors(4, 3e-4, 1e-6)
    assert f[0] == pytest.approx(1.0)
    assert f[2] == pytest.approx((1e-6 + (3e-4 - 1e-6) * 0.5) / 3e-4)


def test_fcs_runs_uniform_then_contrast_and_retain_rounds(monkeypatch):
    import unlearnkit.methods.fcs as fcs_module

    forget, retain = toy_sets(n_forget=10, n_retain=20)
    calls = []

    def fake_loop(model, streams, loss_fn, recipe, *, generator, device, description, grad_transform=None):
        calls.append((description, sorted(streams), recipe.lr, recipe.weight_decay, recipe.batch_size))
        if grad_transform is not None:
            for p in model.parameters():
                p.grad = torch.ones_like(p)
            for _ in range(-(-len(streams["forget"]) // recipe.batch_size)):
                grad_transform(model)
        return [0.0]

    monkeypatch.setattr(fcs_module, "run_loop", fake_loop)
    est = make_method("fcs", {"epochs": 2, "batch_size": 4})
    est.run(mlp3(), forget=forget, retain=retain, generator=torch.Generator(), device=CPU)
    assert calls == [("FCS forget (uniform)", ["forget"], 5e-3, 0.0, 4),
                     ("FCS contrast", ["forget", "retain"], 3e-4, 0.0, 4), ("FCS strengthen", ["retain"], 4e-3, 1e-2, 4),
                     ("FCS contrast", ["forget", "retain"], 3e-4, 0.0, 4), ("FCS strengthen", ["retain"], 4e-3, 1e-2, 4)]
    assert est.log_["forget_steps"] == 2 * 3  # the cosine runs over every forget step of every epoch
