"""Unit tests of ``unlearnkit.config`` (declared constraints, ``validate_params``,
``parse_overrides``) and ``unlearnkit.registry.Registry``."""

from __future__ import annotations

import math
import re

import pytest

from unlearnkit.config import (
    Boolean,
    Interval,
    OptionalOf,
    Options,
    init_params,
    parse_overrides,
    validate_params,
)
from unlearnkit.errors import ConfigError, UnlearnkitError
from unlearnkit.methods import METHODS, make_method
from unlearnkit.registry import Registry
from unlearnkit.training.recipe import Recipe


def full(message: str) -> str:
    """A ``pytest.raises(match=...)`` pattern that matches exactly ``message``, nothing more."""
    return "^" + re.escape(message) + "$"


# --------------------------------------------------------------------------- descriptions


@pytest.mark.parametrize(
    "constraint, description",
    [
        (Interval(float, 0, None, closed="neither"), "a float in (0, inf)"),
        (Interval(int, 1, None, closed="left"), "an int in [1, inf)"),
        (Interval(float, 0, 1, closed="left"), "a float in [0, 1)"),
        (Interval(float, 0, 1, closed="right"), "a float in (0, 1]"),
        (Interval(float, 0, 1, closed="both"), "a float in [0, 1]"),
        (Interval(float, 0, 1, closed="neither"), "a float in (0, 1)"),
        (Interval(int, 0, 10), "an int in [0, 10]"),
        (Interval(float, 0.5, 2.5), "a float in [0.5, 2.5]"),
        (Interval(float, None, None), "a float in (-inf, inf)"),
        # an infinite bound is always written open, whatever ``closed`` says
        (Interval(float, None, 3, closed="both"), "a float in (-inf, 3]"),
        (Interval(int, -2, None, closed="both"), "an int in [-2, inf)"),
        (Options(("sgd", "adam")), "one of 'sgd', 'adam'"),
        (Options((1, 2)), "one of 1, 2"),
        (Boolean(), "a bool"),
        (OptionalOf(Interval(int, 1, None, closed="left")), "None or an int in [1, inf)"),
        (OptionalOf(Options(("a",))), "None or one of 'a'"),
    ],
)
def test_descriptions(constraint, description):
    assert constraint.description == description


# --------------------------------------------------------------------------- accepts


@pytest.mark.parametrize(
    "closed, low_ok, high_ok",
    [("both", True, True), ("left", True, False), ("right", False, True), ("neither", False, False)],
)
def test_interval_bounds_follow_closed(closed, low_ok, high_ok):
    c = Interval(float, 0, 1, closed=closed)
    assert c.accepts(0) is low_ok
    assert c.accepts(0.0) is low_ok
    assert c.accepts(1.0) is high_ok
    assert c.accepts(0.5)
    assert not c.accepts(-1e-12)
    assert not c.accepts(1 + 1e-12)


def test_interval_int_type():
    c = Interval(int, 1, None, closed="left")
    assert c.accepts(1) and c.accepts(10**12)
    assert not c.accepts(0)
    assert not c.accepts(-5)
    assert not c.accepts(1.0)  # a float is not an int, even when integral
    assert not c.accepts(2.5)
    assert not c.accepts("3")
    assert not c.accepts(True)  # bool is an int subclass but never accepted
    assert not c.accepts(None)


def test_interval_float_type():
    c = Interval(float, 0, None, closed="neither")
    assert c.accepts(0.1) and c.accepts(3)  # ints are acceptable floats
    assert not c.accepts(0) and not c.accepts(0.0) and not c.accepts(-0.1)
    assert not c.accepts(math.nan)
    assert not c.accepts(True) and not c.accepts(False)
    assert not c.accepts("0.1")
    assert not c.accepts(None)
    assert not c.accepts([0.1])


def test_interval_unbounded_accepts_any_finite_number():
    c = Interval(float, None, None)
    for v in (-1e300, -1, 0, 1.5, 1e300):
        assert c.accepts(v)
    assert not c.accepts(math.nan)


def test_interval_open_infinite_bound_rejects_infinity():
    c = Interval(float, 0, None, closed="neither")
    assert c.description == "a float in (0, inf)"
    assert not c.accepts(math.inf)
    with pytest.raises(ConfigError):
        Recipe(lr=math.inf)


def test_options_accepts_exact_values_and_types():
    c = Options(("sgd", "adam"))
    assert c.accepts("sgd") and c.accepts("adam")
    assert not c.accepts("SGD")
    assert not c.accepts("rmsprop")
    assert not c.accepts(None)
    ints = Options((0, 1))
    assert ints.accepts(0) and ints.accepts(1)
    assert not ints.accepts(True)  # True == 1 but is not an int option
    assert not ints.accepts(1.0)


def test_boolean_accepts_only_bools():
    c = Boolean()
    assert c.accepts(True) and c.accepts(False)
    for v in (0, 1, "true", None, 1.0):
        assert not c.accepts(v)


def test_optional_of():
    c = OptionalOf(Interval(int, 1, None, closed="left"))
    assert c.accepts(None)
    assert c.accepts(3)
    assert not c.accepts(0)
    assert not c.accepts("None")


# --------------------------------------------------------------------------- parse


def test_parse_of_each_constraint():
    assert Interval(int, 1, None).parse("3") == 3 and type(Interval(int, 1, None).parse("3")) is int
    assert Interval(float, 0, None).parse("0.25") == 0.25
    assert type(Interval(float, 0, None).parse("2")) is float
    assert Interval(float, 0, None).parse("1e-3") == 1e-3
    assert Interval(int, 1, None).parse("1.5") == "1.5"  # left as text; validation rejects it later
    assert Interval(float, 0, None).parse("abc") == "abc"
    assert Options(("sgd", "adam")).parse("adam") == "adam"
    assert Options((1, 2)).parse("2") == 2
    assert Options(("a",)).parse("zzz") == "zzz"
    for text in ("true", "True", "1", "yes", "on"):
        assert Boolean().parse(text) is True
    for text in ("false", "FALSE", "0", "no", "off"):
        assert Boolean().parse(text) is False
    assert Boolean().parse("maybe") == "maybe"
    opt = OptionalOf(Interval(int, 1, None))
    assert opt.parse("None") is None and opt.parse("none") is None
    assert opt.parse("7") == 7


# --------------------------------------------------------------------------- validate_params


def test_validate_params_message_of_a_method():
    with pytest.raises(ConfigError, match=full("The 'lr' parameter of FineTune must be a float in (0, inf). Got -0.1 instead.")):
        make_method("finetune", {"lr": -0.1})


@pytest.mark.parametrize(
    "params, message",
    [
        ({"epochs": 0}, "The 'epochs' parameter of FineTune must be an int in [1, inf). Got 0 instead."),
        ({"epochs": 2.0}, "The 'epochs' parameter of FineTune must be an int in [1, inf). Got 2.0 instead."),
        ({"optimizer": "rmsprop"}, "The 'optimizer' parameter of FineTune must be one of 'sgd', 'adam'. Got 'rmsprop' instead."),
        ({"momentum": 1.0}, "The 'momentum' parameter of FineTune must be a float in [0, 1). Got 1.0 instead."),
        ({"lr": "0.1"}, "The 'lr' parameter of FineTune must be a float in (0, inf). Got '0.1' instead."),
    ],
)
def test_validate_params_messages(params, message):
    with pytest.raises(ConfigError, match=full(message)):
        make_method("finetune", params)


def test_config_error_is_a_value_error_and_a_library_error():
    with pytest.raises(ValueError):
        make_method("finetune", {"lr": -0.1})
    with pytest.raises(UnlearnkitError):
        make_method("finetune", {"lr": -0.1})


class _Toy:
    _parameter_constraints = {
        "n": Interval(int, 1, None, closed="left"),
        "flag": Boolean(),
        "limit": OptionalOf(Interval(float, 0, None, closed="neither")),
        "mode": Options(("a", "b")),
    }

    def __init__(self, *, n=1, flag=False, limit=None, mode="a", free="x"):
        self.n, self.flag, self.limit, self.mode, self.free = n, flag, limit, mode, free


def test_validate_params_checks_only_declared_parameters():
    validate_params(_Toy(free=object()))  # undeclared parameters are not checked
    validate_params(_Toy(n=3, flag=True, limit=0.5, mode="b"))
    with pytest.raises(ConfigError, match=full("The 'flag' parameter of _Toy must be a bool. Got 1 instead.")):
        validate_params(_Toy(flag=1))
    with pytest.raises(
        ConfigError, match=full("The 'limit' parameter of _Toy must be None or a float in (0, inf). Got 0 instead.")
    ):
        validate_params(_Toy(limit=0))


def test_init_params_lists_keyword_only_parameters():
    assert init_params(_Toy) == ["n", "flag", "limit", "mode", "free"]
    assert "lr" in init_params(Recipe) and "epochs" in init_params(Recipe)


# --------------------------------------------------------------------------- parse_overrides


def test_parse_overrides_types_values():
    out = parse_overrides(
        ["epochs=3", "lr=0.1", "optimizer=adam", "momentum=0", " batch_size = 16 ", "augment=crop_flip"],
        Recipe,
        owner="recipe",
    )
    assert out == {"epochs": 3, "lr": 0.1, "optimizer": "adam", "momentum": 0.0, "batch_size": 16, "augment": "crop_flip"}
    assert type(out["epochs"]) is int
    assert type(out["batch_size"]) is int
    assert type(out["lr"]) is float
    assert type(out["momentum"]) is float
    Recipe(**out)  # the parsed values validate


def test_parse_overrides_bool_optional_and_undeclared():
    out = parse_overrides(["flag=yes", "limit=none", "n=4", "free=hello", "mode=b"], _Toy, owner="toy")
    assert out == {"flag": True, "limit": None, "n": 4, "free": "hello", "mode": "b"}
    assert parse_overrides(["limit=2.5"], _Toy, owner="toy") == {"limit": 2.5}


def test_parse_overrides_value_may_contain_equals():
    assert parse_overrides(["free=a=b"], _Toy, owner="toy") == {"free": "a=b"}


def test_parse_overrides_empty():
    assert parse_overrides([], Recipe, owner="recipe") == {}


def test_parse_overrides_unparsable_value_is_left_for_validation():
    out = parse_overrides(["epochs=many"], Recipe, owner="recipe")
    assert out == {"epochs": "many"}
    with pytest.raises(ConfigError, match=full("The 'epochs' parameter of Recipe must be an int in [1, inf). Got 'many' instead.")):
        Recipe(**out)


def test_parse_overrides_unknown_key_lists_valid_names():
    with pytest.raises(ConfigError) as info:
        parse_overrides(["epochs=3", "learning_rate=0.1"], Recipe, owner="recipe 'fast'")
    msg = str(info.value)
    valid = ", ".join(sorted(init_params(Recipe)))
    assert msg == f"Unknown parameter 'learning_rate' for recipe 'fast'. Valid parameters: {valid}."
    for name in init_params(Recipe):
        assert name in msg


def test_parse_overrides_missing_equals():
    with pytest.raises(ConfigError, match=full("Override 'epochs' for recipe must have the form key=value.")):
        parse_overrides(["epochs"], Recipe, owner="recipe")


# --------------------------------------------------------------------------- Registry


def _colours() -> Registry:
    reg: Registry = Registry("colour")

    @reg.register("red")
    def red():
        return "#f00"

    @reg.register("blue")
    def blue():
        return "#00f"

    return reg


def test_registry_register_and_get():
    reg = _colours()
    assert reg.get("red")() == "#f00"
    assert reg.names() == ["blue", "red"]
    assert list(reg) == ["blue", "red"]
    assert len(reg) == 2
    assert "red" in reg and "green" not in reg
    assert [name for name, _ in reg.items()] == ["blue", "red"]


def test_registry_register_returns_the_object_unchanged():
    reg: Registry = Registry("thing")

    class A:
        pass

    assert reg.register("a")(A) is A


def test_registry_unknown_name_lists_valid_names():
    reg = _colours()
    with pytest.raises(ConfigError, match=full("Unknown colour 'green'. Valid colours: blue, red.")):
        reg.get("green")


def test_registry_unhashable_name_is_a_config_error():
    with pytest.raises(ConfigError, match="Valid colours: blue, red"):
        _colours().get(["red"])


def test_registry_duplicate_is_an_error():
    reg = _colours()
    with pytest.raises(ValueError, match="colour 'red' is already registered"):

        @reg.register("red")
        def other():
            return "#e00"

    assert reg.get("red")() == "#f00"  # the first registration survives
    assert len(reg) == 2


@pytest.mark.parametrize("name", ["", "Red", "red colour", "red!", "réd?"])
def test_registry_rejects_bad_names(name):
    with pytest.raises(ValueError, match="lowercase"):
        Registry("colour").register(name)


def test_registry_accepts_dash_and_underscore():
    reg: Registry = Registry("dataset")
    reg.register("fashion-mnist")(1)
    reg.register("vit_tiny")(2)
    assert reg.names() == ["fashion-mnist", "vit_tiny"]


def test_method_registry_unknown_name_lists_methods():
    with pytest.raises(ConfigError) as info:
        make_method("bogus")
    msg = str(info.value)
    assert msg.startswith("Unknown method 'bogus'. Valid methods: ")
    for name in METHODS.names():
        assert name in msg
    assert "finetune" in msg


def test_make_method_unknown_parameter_lists_valid_names():
    with pytest.raises(ConfigError, match="Unknown parameter 'learning_rate' for method 'finetune'. Valid parameters: .*lr"):
        make_method("finetune", {"learning_rate": 0.1})
