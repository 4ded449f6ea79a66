"""Unit tests of ``unlearnkit.training``: recipes, augmentation, the training loop and devices."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

from unlearnkit.config import init_params
from unlearnkit.data import Dataset, Subset, load_dataset
from unlearnkit.errors import ConfigError
from unlearnkit.models import build_model
from unlearnkit.training import RECIPES, Recipe, default_recipe_name, get_recipe, resolve_device, run_loop, train
from unlearnkit.training.augment import augment_batch, random_crop, random_flip


def full(message: str) -> str:
    return "^" + re.escape(message) + "$"


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return load_dataset("digits")


@pytest.fixture(scope="module")
def train_set(ds) -> Subset:
    return Subset(ds, "train", torch.arange(len(ds.train_y)))


def accuracy(model: torch.nn.Module, subset: Subset) -> float:
    x, y = subset.tensors()
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean()) * 100


# =========================================================================== Recipe


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lr": 0}, "The 'lr' parameter of Recipe must be a float in (0, inf). Got 0 instead."),
        ({"lr": -0.1}, "The 'lr' parameter of Recipe must be a float in (0, inf). Got -0.1 instead."),
        ({"optimizer": "rmsprop"}, "The 'optimizer' parameter of Recipe must be one of 'sgd', 'adam'. Got 'rmsprop' instead."),
        ({"epochs": 0}, "The 'epochs' parameter of Recipe must be an int in [1, inf). Got 0 instead."),
        ({"epochs": 1.5}, "The 'epochs' parameter of Recipe must be an int in [1, inf). Got 1.5 instead."),
        ({"batch_size": 0}, "The 'batch_size' parameter of Recipe must be an int in [1, inf). Got 0 instead."),
        ({"momentum": 1.0}, "The 'momentum' parameter of Recipe must be a float in [0, 1). Got 1.0 instead."),
        ({"weight_decay": -1e-4}, "The 'weight_decay' parameter of Recipe must be a float in [0, inf). Got -0.0001 instead."),
        ({"schedule": "linear"}, "The 'schedule' parameter of Recipe must be one of 'cosine', 'step', 'constant'. Got 'linear' instead."),
        ({"step_epochs": 0}, "The 'step_epochs' parameter of Recipe must be an int in [1, inf). Got 0 instead."),
        ({"gamma": 0.0}, "The 'gamma' parameter of Recipe must be a float in (0, 1]. Got 0.0 instead."),
        ({"gamma": 1.5}, "The 'gamma' parameter of Recipe must be a float in (0, 1]. Got 1.5 instead."),
        ({"label_smoothing": 1.0}, "The 'label_smoothing' parameter of Recipe must be a float in [0, 1). Got 1.0 instead."),
        ({"augment": "rotate"}, "The 'augment' parameter of Recipe must be one of 'none', 'flip', 'crop', 'crop_flip'. Got 'rotate' instead."),
        ({"crop_padding": -1}, "The 'crop_padding' parameter of Recipe must be an int in [0, inf). Got -1 instead."),
    ],
)
def test_recipe_validation_errors(kwargs, message):
    with pytest.raises(ConfigError, match=full(message)):
        Recipe(**kwargs)


def test_recipe_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError):
        Recipe(learning_rate=0.1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Recipe("sgd")  # type: ignore[misc]  (keyword-only)


def test_recipe_boundaries_accepted():
    r = Recipe(momentum=0.0, weight_decay=0.0, gamma=1.0, label_smoothing=0.0, crop_padding=0, epochs=1, batch_size=1)
    assert r.gamma == 1.0 and r.crop_padding == 0


def test_recipe_to_dict_replace_eq():
    r = Recipe(epochs=3, lr=0.1)
    d = r.to_dict()
    assert list(d) == init_params(Recipe)
    assert d["epochs"] == 3 and d["lr"] == 0.1
    r2 = r.replace(epochs=5)
    assert r2.epochs == 5 and r.epochs == 3  # replace returns a new recipe
    assert r2 != r and r.replace(epochs=3) == r
    assert Recipe(**d) == r
    assert r != d
    with pytest.raises(ConfigError, match="'epochs' parameter of Recipe"):
        r.replace(epochs=0)
    assert "epochs=3" in repr(r)


# =========================================================================== get_recipe


def test_get_recipe_presets():
    for name, values in RECIPES.items():
        r = get_recipe(name)
        for key, value in values.items():
            assert getattr(r, key) == value, (name, key)
    assert get_recipe("fast").epochs == 2


def test_get_recipe_with_overrides_list_is_typed():
    r = get_recipe("digits", ["epochs=5", "lr=0.1", "optimizer=adam", "augment=flip", "batch_size=32"])
    assert (r.epochs, r.lr, r.optimizer, r.augment, r.batch_size) == (5, 0.1, "adam", "flip", 32)
    assert type(r.epochs) is int and type(r.lr) is float
    assert r.momentum == Recipe().momentum  # untouched defaults


def test_get_recipe_with_overrides_dict():
    assert get_recipe("fast", {"epochs": 7}).epochs == 7
    assert get_recipe("fast", None) == get_recipe("fast", []) == get_recipe("fast", {})


def test_get_recipe_does_not_mutate_presets():
    before = {k: dict(v) for k, v in RECIPES.items()}
    get_recipe("digits", ["epochs=1"])
    get_recipe("digits", {"lr": 0.5})
    assert RECIPES == before


def test_get_recipe_unknown_name_lists_recipes():
    with pytest.raises(ConfigError) as info:
        get_recipe("bogus")
    assert str(info.value) == f"Unknown recipe 'bogus'. Valid recipes: {', '.join(sorted(RECIPES))}."


def test_get_recipe_override_errors():
    with pytest.raises(ConfigError, match=r"Unknown parameter 'nope' for recipe 'fast'\. Valid parameters: .*epochs"):
        get_recipe("fast", ["nope=1"])
    with pytest.raises(ConfigError, match="must have the form key=value"):
        get_recipe("fast", ["epochs"])
    with pytest.raises(ConfigError, match=full("The 'epochs' parameter of Recipe must be an int in [1, inf). Got 0 instead.")):
        get_recipe("fast", ["epochs=0"])
    with pytest.raises(ConfigError, match=full("The 'lr' parameter of Recipe must be a float in (0, inf). Got 'fast' instead.")):
        get_recipe("fast", ["lr=fast"])


def test_default_recipe_name():
    assert default_recipe_name("cifar10") == "cifar10"
    assert default_recipe_name("digits") == "digits"
    assert default_recipe_name("something-else") == "digits"


# =========================================================================== augmentation


def _images(b=16, c=2, h=5, w=6) -> torch.Tensor:
    # strictly positive and all distinct, so every padded window is unique
    return torch.arange(1, b * c * h * w + 1, dtype=torch.float32).reshape(b, c, h, w)


def test_random_crop_with_zero_padding_is_identity():
    x = _images()
    out = random_crop(x, 0, torch.Generator().manual_seed(0))
    assert torch.equal(out, x)


@pytest.mark.parametrize("padding", [1, 2, 4])
def test_random_crop_is_a_window_of_the_zero_padded_input(padding):
    x = _images(b=32)
    b, c, h, w = x.shape
    out = random_crop(x, padding, torch.Generator().manual_seed(1))
    assert out.shape == x.shape and out.dtype == x.dtype
    xp = F.pad(x, (padding, padding, padding, padding))
    offsets = []
    for i in range(b):
        matches = [
            (dy, dx)
            for dy in range(2 * padding + 1)
            for dx in range(2 * padding + 1)
            if torch.equal(out[i], xp[i, :, dy:dy + h, dx:dx + w])
        ]
        assert len(matches) == 1, f"image {i} is not a window of its padded input"
        offsets.append(matches[0])
    assert len(set(offsets)) > 1  # the offset is drawn per sample
    # zeros only come from the padding
    assert ((out == 0) | (out > 0)).all()


def test_random_crop_is_deterministic_under_a_generator():
    x = _images(b=32)
    a = random_crop(x, 2, torch.Generator().manual_seed(5))
    b = random_crop(x, 2, torch.Generator().manual_seed(5))
    c = random_crop(x, 2, torch.Generator().manual_seed(6))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_random_crop_does_not_touch_the_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    random_crop(_images(), 2, torch.Generator().manual_seed(0))
    random_flip(_images(), torch.Generator().manual_seed(0))
    assert torch.equal(torch.rand(3), expected)


def test_random_flip_flips_about_half():
    x = torch.rand(1000, 1, 3, 4, generator=torch.Generator().manual_seed(0))
    out = random_flip(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    same = torch.tensor([torch.equal(out[i], x[i]) for i in range(len(x))])
    flipped = torch.tensor([torch.equal(out[i], x[i].flip(-1)) for i in range(len(x))])
    assert (same ^ flipped).all()  # every image is either kept or mirrored left-right
    assert 400 <= int(flipped.sum()) <= 600


def test_random_flip_is_deterministic_under_a_generator():
    x = torch.rand(64, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    a = random_flip(x, torch.Generator().manual_seed(9))
    b = random_flip(x, torch.Generator().manual_seed(9))
    c = random_flip(x, torch.Generator().manual_seed(10))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_augment_batch_modes():
    x = _images(b=8)
    g = torch.Generator().manual_seed(0)
    assert augment_batch(x, "none", 2, g) is x
    tabular = torch.rand(8, 5)
    assert augment_batch(tabular, "crop_flip", 2, g) is tabular  # non-image batches pass through
    flipped = augment_batch(x, "flip", 2, torch.Generator().manual_seed(0))
    assert torch.equal(flipped, random_flip(x, torch.Generator().manual_seed(0)))
    cropped = augment_batch(x, "crop", 2, torch.Generator().manual_seed(0))
    assert torch.equal(cropped, random_crop(x, 2, torch.Generator().manual_seed(0)))
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    both = augment_batch(x, "crop_flip", 2, g1)
    assert torch.equal(both, random_flip(random_crop(x, 2, g2), g2))


# =========================================================================== train


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_train_same_seed_gives_identical_weights(ds, train_set):
    recipe = get_recipe("fast")
    a = train(build_model("mlp", ds), train_set, recipe, seed=0)
    b = train(build_model("mlp", ds), train_set, recipe, seed=0)
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not a.training  # train returns the model in eval mode


def test_train_different_seed_gives_different_weights(ds, train_set):
    recipe = get_recipe("fast")
    init = _weights(build_model("mlp", ds))
    a = _weights(train(build_model("mlp", ds), train_set, recipe, seed=0))
    b = _weights(train(build_model("mlp", ds), train_set, recipe, seed=1))
    assert any(not torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], init[k]) for k in a)  # training changed the weights


def test_train_trains_in_place_and_returns_the_model(ds, train_set):
    model = build_model("mlp", ds)
    assert train(model, train_set, get_recipe("fast"), seed=0) is model


def test_train_reaches_high_train_accuracy_on_digits(ds, train_set):
    model = build_model("mlp", ds, seed=0)
    before = accuracy(model, train_set)
    train(model, train_set, get_recipe("digits", ["epochs=10"]), seed=0)
    after = accuracy(model, train_set)
    assert after > 90.0, after
    assert after > before


@pytest.mark.parametrize("overrides", [["optimizer=adam", "lr=0.001"], ["schedule=step", "step_epochs=1"], ["schedule=constant", "label_smoothing=0.1"]])
def test_train_runs_with_other_optimisers_and_schedules(ds, train_set, overrides):
    model = train(build_model("mlp", ds), train_set, get_recipe("fast", overrides), seed=0)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_train_with_augmentation_runs_on_images(ds, train_set):
    model = train(build_model("mlp", ds), train_set, get_recipe("fast", ["augment=crop_flip", "crop_padding=1"]), seed=0)
    assert all(torch.isfinite(p).all() for p in model.parameters())


# =========================================================================== run_loop


@pytest.fixture(scope="module")
def indexed() -> Dataset:
    """A tabular dataset whose single feature is the sample's own train (or test) index."""
    n = 64
    return Dataset(
        name="indexed",
        train_x=torch.arange(n, dtype=torch.float32)[:, None],
        train_y=torch.arange(n) % 2,
        test_x=torch.arange(10, dtype=torch.float32)[:, None],
        test_y=torch.arange(10) % 2,
        classes=["even", "odd"],
    )


def test_run_loop_cycles_the_secondary_stream(indexed):
    primary = Subset(indexed, "train", torch.arange(0, 48))
    secondary = Subset(indexed, "train", torch.arange(50, 60))  # 10 samples
    seen: dict[str, list[list[int]]] = {"main": [], "aux": []}

    def loss_fn(model, batches):
        for name, (x, _) in batches.items():
            seen[name].append([int(v) for v in x[:, 0]])
        x, y = batches["main"]
        xa, ya = batches["aux"]
        return F.cross_entropy(model(x), y) + F.cross_entropy(model(xa), ya)

    model = torch.nn.Linear(1, 2)
    recipe = Recipe(epochs=3, batch_size=8, lr=0.01)
    history = run_loop(model, {"main": primary, "aux": secondary}, loss_fn, recipe,
                       generator=torch.Generator().manual_seed(0), batch_sizes={"aux": 4})
    assert len(history) == 3 and all(h > 0 for h in history)
    # the primary stream: 6 steps per epoch, each epoch a permutation of its 48 samples
    assert len(seen["main"]) == 3 * 6
    for e in range(3):
        epoch = sum(seen["main"][6 * e: 6 * e + 6], [])
        assert sorted(epoch) == list(range(0, 48))
    # the secondary stream: one batch per step, cycling through passes of 4 + 4 + 2 samples
    aux = seen["aux"]
    assert len(aux) == 18
    assert [len(b) for b in aux] == [4, 4, 2] * 6
    passes = [tuple(sum(aux[3 * p: 3 * p + 3], [])) for p in range(6)]
    for p in passes:
        assert sorted(p) == list(range(50, 60))
    assert len(set(passes)) > 1  # reshuffled at every pass


def test_run_loop_secondary_stream_longer_than_primary(indexed):
    primary = Subset(indexed, "train", torch.arange(0, 4))
    secondary = Subset(indexed, "train", torch.arange(10, 30))
    seen = []

    def loss_fn(model, batches):
        seen.append([int(v) for v in batches["aux"][0][:, 0]])
        x, y = batches["main"]
        return F.cross_entropy(model(x), y)

    run_loop(torch.nn.Linear(1, 2), {"main": primary, "aux": secondary}, loss_fn, Recipe(epochs=5, batch_size=4, lr=0.01),
             generator=torch.Generator().manual_seed(0))
    flat = sum(seen, [])
    assert len(seen) == 5 and len(flat) == 20
    assert sorted(flat) == list(range(10, 30))  # five steps walk exactly one pass of the secondary stream


def test_run_loop_is_deterministic_and_returns_history(indexed):
    sub = Subset(indexed, "train", torch.arange(64))

    def loss_fn(model, batches):
        x, y = batches["main"]
        return F.cross_entropy(model(x), y)

    def run(seed):
        torch.manual_seed(0)
        model = torch.nn.Linear(1, 2)
        hist = run_loop(model, {"main": sub}, loss_fn, Recipe(epochs=2, batch_size=16, lr=0.01),
                        generator=torch.Generator().manual_seed(seed))
        return hist, _weights(model)

    h1, w1 = run(0)
    h2, w2 = run(0)
    assert h1 == h2 and all(torch.equal(w1[k], w2[k]) for k in w1)
    assert len(h1) == 2


def test_run_loop_rejects_empty_streams(indexed):
    loss_fn = lambda model, batches: model(batches["main"][0]).sum()  # noqa: E731
    with pytest.raises(ValueError, match="at least one data stream"):
        run_loop(torch.nn.Linear(1, 2), {}, loss_fn, Recipe(epochs=1), generator=torch.Generator())
    empty = Subset(indexed, "train", torch.arange(0))
    with pytest.raises(ConfigError, match="The 'main' data stream is empty"):
        run_loop(torch.nn.Linear(1, 2), {"main": empty}, loss_fn, Recipe(epochs=1), generator=torch.Generator())


def test_run_loop_grad_transform_is_applied(indexed):
    sub = Subset(indexed, "train", torch.arange(64))
    model = torch.nn.Linear(1, 2)
    before = _weights(model)
    calls = []

    def zero_grads(m):
        calls.append(1)
        for p in m.parameters():
            p.grad.zero_()

    def loss_fn(m, batches):
        x, y = batches["main"]
        return F.cross_entropy(m(x), y)

    run_loop(model, {"main": sub}, loss_fn, Recipe(epochs=1, batch_size=16, lr=0.1, weight_decay=0.0, momentum=0.0),
             generator=torch.Generator().manual_seed(0), grad_transform=zero_grads)
    assert len(calls) == 4
    after = _weights(model)
    assert all(torch.equal(before[k], after[k]) for k in before)  # zeroed gradients, no decay: no change


# =========================================================================== devices


def test_resolve_device_cuda_without_cuda_is_a_config_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for name in ("cuda", "cuda:0"):
        with pytest.raises(ConfigError, match=f"Device '{name}' was requested but CUDA is not available"):
            resolve_device(name)
    assert resolve_device("auto") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the real machine has no CUDA")
def test_resolve_device_cuda_on_this_cpu_machine():
    with pytest.raises(ConfigError):
        resolve_device("cuda")


@pytest.mark.parametrize("name", ["bogus", "gpu", "CPU", ""])
def test_resolve_device_unknown(name):
    with pytest.raises(ConfigError, match=full(f"Unknown device {name!r}. Valid devices: auto, cpu, cuda.")):
        resolve_device(name)


def test_resolve_device_known():
    assert resolve_device("cpu") == torch.device("cpu")
    dev = torch.device("cpu")
    assert resolve_device(dev) is dev
    assert resolve_device("auto").type in ("cpu", "cuda")


def test_memorise_adam_is_memorise_with_adam():
    sgd, adam = get_recipe("memorise"), get_recipe("memorise-adam")
    assert (adam.optimizer, adam.lr, adam.weight_decay) == ("adam", 0.001, 0.0)
    assert (adam.epochs, adam.batch_size, adam.schedule) == (sgd.epochs, sgd.batch_size, sgd.schedule)
