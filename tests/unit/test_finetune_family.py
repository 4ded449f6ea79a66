"""The fine-tuning family of seed 000/001: saliency masks, rbm, salun, ce_ft, ice_ft and kl_ft."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from unlearnkit import build_model, get_recipe, train, unlearn
from unlearnkit.methods import make_method, saliency
from unlearnkit.methods.discriminative import PositionLabelled, kl_to_wrong_labels
from unlearnkit.methods.rbm import norm_parameter_names
from unlearnkit.seeding import torch_generator

MASKED = ["rbm", "salun"]
WRONG_LABELS = ["ce_ft", "ice_ft", "kl_ft"]


@pytest.fixture(scope="module")
def resnet(class_split):
    """A small ResNet-18 (batch norm) trained briefly on digits."""
    model = build_model("resnet18", input_shape=(1, 8, 8), num_classes=10, width=4, seed=0)
    return train(model, class_split.subset("train"), get_recipe("fast"), seed=0)


def assert_frozen_where(before: torch.nn.Module, after: torch.nn.Module, frozen: dict[str, torch.Tensor]) -> None:
    """Every weight marked in ``frozen`` is bit-identical; some other weight moved."""
    moved = 0
    for (name, p0), p1 in zip(before.named_parameters(), after.parameters()):
        assert torch.equal(p0[frozen[name]], p1[frozen[name]]), f"a frozen weight of {name} moved"
        moved += int((p0 != p1)[~frozen[name]].sum())
    assert moved > 0, "no weight moved at all"


# --- saliency ---------------------------------------------------------------------------------

def test_gradient_saliency_is_abs_summed_gradient_in_eval_mode(resnet, class_split):
    model = copy.deepcopy(resnet).train()
    before = copy.deepcopy(model.state_dict())
    data = class_split.subset("forget")
    s = saliency.gradient_saliency(model, data, 64, "cpu")
    assert model.training, "the model's mode must be restored"
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), f"saliency changed {k}"
    assert all(p.grad is None for p in model.parameters())

    ref = copy.deepcopy(resnet).eval()
    x, y = data.tensors()
    grads = torch.autograd.grad(F.cross_entropy(ref(x), y, reduction="sum"), list(ref.parameters()))
    assert list(s) == [n for n, _ in ref.named_parameters()]
    for (name, _), g in zip(ref.named_parameters(), grads):
        torch.testing.assert_close(s[name], g.abs(), rtol=1e-4, atol=1e-4 * float(g.abs().max()))
    # Independent of the batch size.
    s37 = saliency.gradient_saliency(model, data, 37, "cpu")
    for name in s:
        torch.testing.assert_close(s37[name], s[name], rtol=1e-4, atol=1e-4 * float(s[name].max()))


def test_top_fraction_mask_ranks_globally():
    s = {"a": torch.tensor([10.0, 9.0]), "b": torch.tensor([[1.0, 2.0], [3.0, 4.0]])}
    m = saliency.top_fraction_mask(s, 0.5)
    assert m["a"].tolist() == [True, True]  # per-layer ranking would keep only one of a
    assert m["b"].tolist() == [[False, False], [False, True]]
    assert m["b"].dtype == torch.bool and m["b"].shape == (2, 2)
    assert saliency.mask_sparsity(m) == 0.5
    assert saliency.mask_sparsity(saliency.top_fraction_mask(s, 0.0)) == 0.0
    assert saliency.mask_sparsity(saliency.top_fraction_mask(s, 1.0)) == 1.0


def test_top_fraction_mask_breaks_ties_by_position():
    s = {"a": torch.ones(4), "b": torch.ones(2)}
    m = saliency.top_fraction_mask(s, 0.5)
    assert m["a"].tolist() == [True, True, True, False]
    assert m["b"].tolist() == [False, False]
    assert saliency.top_fraction_mask(s, 0.5)["a"].tolist() == m["a"].tolist()


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
def test_mask_sparsity_is_q(original, q):
    s = {name: torch.rand(p.shape, generator=torch.Generator().manual_seed(1)) for name, p in original.named_parameters()}
    n = sum(p.numel() for p in original.parameters())
    assert abs(saliency.mask_sparsity(saliency.top_fraction_mask(s, q)) - q) <= 1 / n


# --- masked methods ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", MASKED)
def test_mask_computed_once_stored_and_logged(name, original, class_split, monkeypatch):
    calls = []
    real = saliency.gradient_saliency
    monkeypatch.setattr(saliency, "gradient_saliency", lambda *a, **k: calls.append(1) or real(*a, **k))
    result = unlearn(original, class_split, name, seed=0, q=0.3, epochs=2)
    assert len(calls) == 1
    mask = result.estimator.mask_
    assert list(mask) == [n for n, _ in original.named_parameters()]
    for n, p in original.named_parameters():
        assert mask[n].dtype == torch.bool and mask[n].shape == p.shape
    assert result.log["mask_sparsity"] == saliency.mask_sparsity(mask)
    assert abs(result.log["mask_sparsity"] - 0.3) <= 1 / sum(m.numel() for m in mask.values())


@pytest.mark.parametrize("name, source", [("rbm", "retain"), ("salun", "forget")])
def test_mask_is_top_q_of_the_right_saliency(name, source, original, class_split):
    result = unlearn(original, class_split, name, seed=0, epochs=1)
    s = saliency.gradient_saliency(original, class_split.subset(source), 64, "cpu")
    expected = saliency.top_fraction_mask(s, 0.5)
    for n, m in result.estimator.mask_.items():
        assert torch.equal(m, expected[n]), n


@pytest.mark.parametrize("objective", ["ft", "kl_ft"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_restricted_rbm_leaves_masked_weights_bit_identical(objective, optimizer, resnet, class_split):
    result = unlearn(resnet, class_split, "rbm", seed=0, objective=objective, optimizer=optimizer, epochs=1)
    assert result.params["weight_decay"] > 0
    assert_frozen_where(resnet, result.model, result.estimator.mask_)


def test_reset_rbm_starts_from_masked_weights_with_norm_layers_untouched(resnet, class_split, monkeypatch):
    import unlearnkit.methods.base as base

    start = {}
    real = base.run_loop

    def spy(model, *args, **kwargs):
        start.update({k: v.clone() for k, v in model.state_dict().items()})
        return real(model, *args, **kwargs)

    monkeypatch.setattr(base, "run_loop", spy)
    result = unlearn(resnet, class_split, "rbm", seed=0, mode="reset", epochs=1)
    mask = result.estimator.mask_
    norms = norm_parameter_names(resnet)
    bn = [m for m, mod in resnet.named_modules() if isinstance(mod, torch.nn.BatchNorm2d)]
    assert bn and norms == {f"{m}.{p}" for m in bn for p in ("weight", "bias")}
    params = dict(resnet.named_parameters())
    for name, value in resnet.state_dict().items():
        if name in params and name not in norms:
            assert torch.equal(start[name], value * mask[name]), f"{name} is not m_r ⊙ θ_o"
        else:  # normalisation parameters and every buffer (running statistics)
            assert torch.equal(start[name], value), f"{name} was reset"
    zeroed = sum(int((~mask[n]).sum()) for n in params if n not in norms)
    assert zeroed > 0
    # After the reset, fine-tuning moves weights freely (no gradient mask).
    moved = sum(int((p0 != p1)[~mask[n]].sum()) for (n, p0), p1 in zip(resnet.named_parameters(), result.model.parameters()))
    assert moved > 0


def test_salun_moves_only_salient_weights(resnet, class_split):
    result = unlearn(resnet, class_split, "salun", seed=0, epochs=2)
    mask = result.estimator.mask_
    assert_frozen_where(resnet, result.model, {n: ~m for n, m in mask.items()})


# --- wrong-label regularisers -----------------------------------------------------------------

def run_with_seed(name: str, model, split, seed: int, **params) -> dict[str, torch.Tensor]:
    """The weights of ``name`` run on a copy of ``model`` with a generator that depends on ``seed``
    only (``unlearn`` derives the generator from the method's name too, so two methods never share it)."""
    est = make_method(name, params)
    out = est.run(copy.deepcopy(model), forget=split.subset("forget"), retain=split.subset("retain"),
                  generator=torch_generator(seed, "same-for-both"), device=torch.device("cpu"))
    return out.state_dict()


def same_weights(a: dict, b: dict) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_kl_ft_without_smoothing_is_ice_ft(original, random_split):
    ice = run_with_seed("ice_ft", original, random_split, 4, alpha=0.7)
    assert same_weights(ice, run_with_seed("kl_ft", original, random_split, 4, alpha=0.7, target_smoothing=0.0))
    assert not same_weights(ice, run_with_seed("kl_ft", original, random_split, 4, alpha=0.7))


def test_kl_to_wrong_labels_is_the_kl_divergence():
    logits = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    y = torch.tensor([0, 3, 1, 2, 2])
    eps = 0.1
    q = (1 - eps) * F.one_hot(y, 4).double() + eps / 4
    p = logits.double().softmax(1)
    expected = (q * (q / p).log()).sum(1).mean()
    torch.testing.assert_close(kl_to_wrong_labels(logits, y, eps).double(), expected, rtol=1e-5, atol=1e-6)
    assert torch.equal(kl_to_wrong_labels(logits, y, 0.0), F.cross_entropy(logits, y))


def test_ce_ft_and_ice_ft_weight_opposite_terms(original, class_split):
    forget = PositionLabelled(class_split.subset("forget"))
    retain = class_split.subset("retain")
    batches = {"retain": retain.batch(torch.arange(20)), "forget": forget.batch(torch.arange(10))}
    losses = {}
    for name in ("ce_ft", "ice_ft"):
        est = make_method(name, {"alpha": 0.3})
        est.setup(original, forget=forget, retain=retain, generator=torch.Generator().manual_seed(0))
        y_wrong = est._wrong[0, :10]
        with torch.no_grad():
            losses[name] = float(est.loss(original, batches))
    with torch.no_grad():
        ce_r = float(F.cross_entropy(original(batches["retain"][0]), batches["retain"][1]))
        ce_f = float(F.cross_entropy(original(batches["forget"][0]), y_wrong))
    assert losses["ce_ft"] == pytest.approx(ce_f + 0.3 * ce_r, rel=1e-5)
    assert losses["ice_ft"] == pytest.approx(ce_r + 0.3 * ce_f, rel=1e-5)


def test_ce_ft_equals_ice_ft_only_at_alpha_one(original, random_split):
    def weights(name, alpha):
        return run_with_seed(name, original, random_split, 2, alpha=alpha, epochs=1)

    assert same_weights(weights("ce_ft", 1.0), weights("ice_ft", 1.0))
    assert not same_weights(weights("ce_ft", 0.5), weights("ice_ft", 0.5))


@pytest.mark.parametrize("name", WRONG_LABELS + ["rbm"])
def test_wrong_labels_are_never_true_and_redrawn_every_epoch(name, original, class_split):
    params = {"objective": "kl_ft"} if name == "rbm" else {}
    result = unlearn(original, class_split, name, seed=0, epochs=2, **params)
    est = result.estimator
    y = class_split.subset("forget").labels
    assert est._wrong.shape == (2, len(y))
    assert not (est._wrong == y).any()
    assert not torch.equal(est._wrong[0], est._wrong[1])
    assert est._epoch == 1, "the loop announced the second (last) epoch"


@pytest.mark.parametrize("name, params", [
    ("rbm", {}), ("rbm", {"mode": "reset"}), ("rbm", {"objective": "kl_ft"}),
    ("salun", {}), ("ce_ft", {}), ("ice_ft", {}), ("kl_ft", {}),
])
def test_defaults_run_and_log(name, params, original, class_split):
    result = unlearn(original, class_split, name, seed=0, **params)
    assert set(result.log) >= {"epoch_loss", "access", "n_forget"}
    assert ("mask_sparsity" in result.log) == (name in MASKED)
