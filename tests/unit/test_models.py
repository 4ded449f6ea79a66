"""Unit tests of the model registry, ``build_model`` and every registered architecture."""

from __future__ import annotations

import json
import time

import pytest
import torch

from unlearnkit.data import Dataset
from unlearnkit.errors import ConfigError
from unlearnkit.models import MODELS, build_model, models_accepting
from unlearnkit.models.vit import default_patch_size

# Small hyper-parameters per model so the suite stays fast; defaults are exercised separately.
SMALL = {
    "mlp": {"hidden_width": 32},
    "cnn": {"channels": 8, "hidden": 16},
    "resnet18": {"width": 4},
    "vit_tiny": {"dim": 32, "depth": 2, "heads": 2},
}
IMAGE_SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32)]
ALL_SHAPES = IMAGE_SHAPES + [(20,)]
# Which built-in models take which shapes (new models fall back to their own accepts_shape).
EXPECTED_ACCEPTS = {
    "mlp": set(ALL_SHAPES),
    "cnn": set(IMAGE_SHAPES),
    "resnet18": set(IMAGE_SHAPES),
    "vit_tiny": set(IMAGE_SHAPES),
}


def small(name: str) -> dict:
    return dict(SMALL.get(name, {}))


def accepted(name: str, shape: tuple) -> bool:
    if name in EXPECTED_ACCEPTS:
        return shape in EXPECTED_ACCEPTS[name]
    return MODELS.get(name).accepts_shape(shape)


def test_builtin_models_registered():
    assert {"mlp", "cnn", "resnet18", "vit_tiny"} <= set(MODELS.names())


@pytest.mark.parametrize("shape", ALL_SHAPES, ids=str)
@pytest.mark.parametrize("name", MODELS.names())
def test_logits_shape_or_shape_error(name, shape):
    if not accepted(name, shape):
        with pytest.raises(ConfigError, match="cannot take inputs of shape") as info:
            build_model(name, input_shape=shape, num_classes=5, **small(name))
        # the message names the models that do accept the shape
        for ok in models_accepting(shape):
            assert ok in str(info.value)
        assert name not in models_accepting(shape)
        return
    assert name in models_accepting(shape)
    model = build_model(name, input_shape=shape, num_classes=5, **small(name))
    x = torch.randn(3, *shape)
    out = model(x)  # training mode
    assert out.shape == (3, 5)
    out.sum().backward()
    model.eval()
    with torch.no_grad():
        assert model(x).shape == (3, 5)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", MODELS.names())
def test_defaults_build_and_run(name):
    shape = (3, 32, 32) if accepted(name, (3, 32, 32)) else (20,)
    model = build_model(name, input_shape=shape, num_classes=7)
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(2, *shape)).shape == (2, 7)
    assert model.arch_name == name
    assert model.input_shape == shape and model.num_classes == 7


def test_mlp_on_tabular():
    model = build_model("mlp", input_shape=(20,), num_classes=3)
    assert model(torch.randn(4, 20)).shape == (4, 3)
    linear = build_model("mlp", input_shape=(20,), num_classes=3, depth=0)
    assert sum(p.numel() for p in linear.parameters()) == 20 * 3 + 3


def _one_shape(name):
    return (1, 8, 8) if accepted(name, (1, 8, 8)) else (20,)


@pytest.mark.parametrize("name", MODELS.names())
def test_seed_determinism(name):
    shape = _one_shape(name)
    a = build_model(name, input_shape=shape, num_classes=4, seed=1, **small(name)).state_dict()
    b = build_model(name, input_shape=shape, num_classes=4, seed=1, **small(name)).state_dict()
    c = build_model(name, input_shape=shape, num_classes=4, seed=2, **small(name)).state_dict()
    assert a.keys() == b.keys() == c.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point())


@pytest.mark.parametrize("name", MODELS.names())
def test_global_rng_untouched(name):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    build_model(name, input_shape=_one_shape(name), num_classes=4, seed=5, **small(name))
    assert torch.equal(torch.get_rng_state(), before)
    # and the global stream continues exactly as if build_model had not been called
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_model(name, input_shape=_one_shape(name), num_classes=4, seed=6, **small(name))
    assert torch.equal(torch.rand(3), expected)


def test_different_models_get_different_streams():
    a = build_model("mlp", input_shape=(20,), num_classes=4, seed=0)
    torch.manual_seed(0)
    b = torch.nn.Linear(20, 256)
    assert not torch.equal(a.blocks[0].linear.weight, b.weight)


def test_vit_layers_not_identical():
    m = build_model("vit_tiny", input_shape=(1, 8, 8), num_classes=3, dim=32, depth=2, heads=2)
    l0, l1 = m.encoder.layers
    assert not torch.equal(l0.linear1.weight, l1.linear1.weight)
    assert not torch.equal(l0.self_attn.in_proj_weight, l1.self_attn.in_proj_weight)


def test_unknown_model_lists_valid_names():
    with pytest.raises(ConfigError) as info:
        build_model("lenet", input_shape=(1, 28, 28), num_classes=10)
    msg = str(info.value)
    assert "Unknown model 'lenet'" in msg
    for name in MODELS.names():
        assert name in msg


def test_unknown_kwarg():
    with pytest.raises(ConfigError) as info:
        build_model("cnn", input_shape=(1, 28, 28), num_classes=10, foo=1)
    assert str(info.value) == "Unknown parameter 'foo' for model 'cnn'. Valid parameters: channels, hidden."


@pytest.mark.parametrize(
    "name, shape, kwargs, message",
    [
        ("resnet18", (3, 32, 32), {"width": 0},
         "The 'width' parameter of ResNet18 must be an int in [1, 65536]. Got 0 instead."),
        ("resnet18", (3, 32, 32), {"width": 16.0},
         "The 'width' parameter of ResNet18 must be an int in [1, 65536]. Got 16.0 instead."),
        ("cnn", (1, 28, 28), {"channels": -1},
         "The 'channels' parameter of CNN must be an int in [1, 65536]. Got -1 instead."),
        ("mlp", (20,), {"dropout": 1.0},
         "The 'dropout' parameter of MLP must be a float in [0, 1). Got 1.0 instead."),
        ("mlp", (20,), {"depth": -1},
         "The 'depth' parameter of MLP must be an int in [0, 1024]. Got -1 instead."),
        ("vit_tiny", (3, 32, 32), {"dim": 0},
         "The 'dim' parameter of ViTTiny must be an int in [1, 65536]. Got 0 instead."),
        ("vit_tiny", (3, 32, 32), {"patch_size": 0},
         "The 'patch_size' parameter of ViTTiny must be None or an int in [1, 65536]. Got 0 instead."),
        ("mlp", (20,), {"hidden_width": 10**30},
         f"The 'hidden_width' parameter of MLP must be an int in [1, 65536]. Got {10**30} instead."),
    ],
)
def test_bad_values(name, shape, kwargs, message):
    with pytest.raises(ConfigError) as info:
        build_model(name, input_shape=shape, num_classes=10, **kwargs)
    assert str(info.value) == message


def test_a_model_too_large_to_allocate_is_a_config_error():
    # 60000 channels: the second 3x3 convolution alone needs ~260 GB
    with pytest.raises(ConfigError, match=r"^Model 'cnn' could not be built with \{'channels': 60000\}: .*Choose smaller sizes\.$"):
        build_model("cnn", input_shape=(1, 28, 28), num_classes=10, channels=60000)


def test_vit_patch_size_rule():
    assert default_patch_size(32, 32) == 8
    assert default_patch_size(28, 28) == 4
    assert default_patch_size(8, 8) == 2
    assert default_patch_size(64, 64) == 8
    assert default_patch_size(6, 6) == 1
    assert default_patch_size(3, 3) is None
    m = build_model("vit_tiny", input_shape=(1, 28, 28), num_classes=10, dim=32, heads=2, depth=1)
    assert m.patch_size == 4 and m.arch_kwargs["patch_size"] == 4
    assert m.pos_embed.shape == (1, 7 * 7 + 1, 32)


def test_vit_bad_patch_and_heads():
    with pytest.raises(ConfigError, match="'patch_size' parameter of ViTTiny must divide"):
        build_model("vit_tiny", input_shape=(1, 28, 28), num_classes=10, patch_size=8)
    with pytest.raises(ConfigError, match="'heads' parameter of ViTTiny must divide dim=128"):
        build_model("vit_tiny", input_shape=(1, 28, 28), num_classes=10, heads=3)


def test_bad_shape_and_classes():
    with pytest.raises(ConfigError, match="input_shape"):
        build_model("mlp", input_shape=(0, 4), num_classes=3)
    with pytest.raises(ConfigError, match="num_classes"):
        build_model("mlp", input_shape=(4,), num_classes=0)
    with pytest.raises(ConfigError, match="needs a dataset"):
        build_model("mlp")
    with pytest.raises(ConfigError, match="Models that accept shape \\(1, 28\\): mlp"):
        build_model("resnet18", input_shape=(1, 28), num_classes=3)


@pytest.mark.parametrize("name", MODELS.names())
def test_arch_kwargs_round_trip(name):
    shape = _one_shape(name)
    m = build_model(name, input_shape=shape, num_classes=6, seed=3, **small(name))
    assert m.arch_name == name
    kwargs = json.loads(json.dumps(m.arch_kwargs))  # JSON-serialisable
    assert kwargs == m.arch_kwargs
    assert set(kwargs) == set(type(m)._parameter_constraints)  # every parameter, defaults included
    r = build_model(m.arch_name, input_shape=list(m.input_shape), num_classes=m.num_classes, seed=3, **kwargs)
    assert repr(r) == repr(m)
    assert r.arch_kwargs == m.arch_kwargs
    sa, sb = m.state_dict(), r.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_dataset_supplies_shape_and_classes():
    ds = Dataset(
        name="toy", train_x=torch.zeros(4, 1, 8, 8, dtype=torch.uint8), train_y=torch.tensor([0, 1, 2, 0]),
        test_x=torch.zeros(2, 1, 8, 8, dtype=torch.uint8), test_y=torch.tensor([0, 1]), classes=["a", "b", "c"],
    )
    m = build_model("cnn", ds, channels=4, hidden=8)
    assert m.input_shape == (1, 8, 8) and m.num_classes == 3
    assert m(ds.inputs("train", slice(None))).shape == (4, 3)
    coarse = build_model("cnn", ds, num_classes=2, channels=4, hidden=8)  # e.g. super-class labels
    assert coarse(torch.zeros(1, 1, 8, 8)).shape == (1, 2)


def test_cnn_training_step_time(capsys):
    """Times one SGD step of the default cnn on 128 Fashion-MNIST-sized images (printed, not asserted)."""
    model = build_model("cnn", input_shape=(1, 28, 28), num_classes=10)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(128, 1, 28, 28, generator=g), torch.randint(0, 10, (128,), generator=g)

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    step()  # warm-up
    n = 5
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    dt = (time.perf_counter() - t0) / n
    with capsys.disabled():
        print(
            f"\ncnn training step, batch 128 of (1, 28, 28), {torch.get_num_threads()} threads: "
            f"{dt * 1000:.1f} ms (~{dt * 469:.0f} s per 60k-sample epoch)"
        )
