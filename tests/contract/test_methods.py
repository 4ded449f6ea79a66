"""Contract tests over every registered method: a new method is covered the moment it is registered."""

from __future__ import annotations

import copy

import pytest
import torch

from unlearnkit.config import Boolean, Interval, OptionalOf, Options, init_params
from unlearnkit.errors import ConfigError
from unlearnkit.methods import METHODS, Access, Method, make_method, unlearn

from tests.conftest import accuracy

ALL = METHODS.names()
# Keep the contract suite fast: cap the epochs of loop methods and of retrain.
FAST = {"epochs": 2}


def fast_params(name: str) -> dict:
    return {k: v for k, v in FAST.items() if k in init_params(METHODS.get(name))}


@pytest.fixture
def setting(request):
    """``(original, class split)`` for the method under test: digits, or digits with a validation
    slice V for the methods that need one (``needs_validation``)."""
    name = request.node.callspec.params["name"]
    if METHODS.get(name).needs_validation:
        return request.getfixturevalue("val_original"), request.getfixturevalue("val_class_split")
    return request.getfixturevalue("original"), request.getfixturevalue("class_split")


def invalid_value(constraint):
    """A value the constraint must reject."""
    if isinstance(constraint, OptionalOf):
        return invalid_value(constraint.inner)
    if isinstance(constraint, Interval):
        if constraint.low is not None:
            return constraint.type(constraint.low) - (1 if constraint.type is int else 1.0)
        return "not-a-number"
    if isinstance(constraint, Options):
        return "no-such-option"
    if isinstance(constraint, Boolean):
        return "yes"
    raise AssertionError(f"unknown constraint {constraint!r}")


@pytest.mark.parametrize("name", ALL)
def test_builds_with_defaults_and_documents_itself(name):
    cls = METHODS.get(name)
    est = make_method(name)
    assert isinstance(est, Method)
    assert isinstance(est.access, Access)
    assert cls.__doc__ and "Access" in cls.__doc__, "docstring must state the access level"
    module = __import__(cls.__module__, fromlist=["_"])
    assert module.__doc__ and "Reference" in module.__doc__, "method file must start with its paper reference"
    params = est.get_params()
    assert set(params) == set(init_params(cls))
    assert cls(**params).get_params() == params
    for p in init_params(cls):
        assert p in cls._parameter_constraints, f"{name}.{p} has no declared constraint"


@pytest.mark.parametrize("name", ALL)
def test_rejects_bad_parameters(name):
    cls = METHODS.get(name)
    for param, constraint in cls._parameter_constraints.items():
        bad = invalid_value(constraint)
        with pytest.raises(ConfigError, match=rf"^The '{param}' parameter of {cls.__name__} must be .* Got .* instead\.$"):
            make_method(name, {param: bad})
    with pytest.raises(ConfigError, match="Unknown parameter 'no_such_param'.*Valid parameters:"):
        make_method(name, {"no_such_param": 1})


@pytest.mark.parametrize("name", ALL)
def test_leaves_input_model_unchanged_and_is_deterministic(name, setting):
    original, class_split = setting
    before = copy.deepcopy(original.state_dict())
    r1 = unlearn(original, class_split, name, seed=1, **fast_params(name))
    r2 = unlearn(original, class_split, name, seed=1, **fast_params(name))
    assert r1.model is not original
    for k, v in original.state_dict().items():
        assert torch.equal(v, before[k]), f"{name} changed the caller's model ({k})"
    for (k, a), b in zip(r1.model.state_dict().items(), r2.model.state_dict().values()):
        assert torch.equal(a, b), f"{name} is not deterministic under a seed ({k})"
    assert r1.runtime_s > 0
    assert not r1.model.training


@pytest.mark.parametrize("name", ALL)
def test_receives_only_what_its_access_allows(name, setting, monkeypatch):
    original, class_split = setting
    cls = METHODS.get(name)
    seen = {}

    def spy(self, model, *, forget, retain, generator, device, **extra):
        seen.update(forget=forget, retain=retain, extra=extra)
        return model

    monkeypatch.setattr(cls, "run", spy)
    unlearn(original, class_split, name)
    assert set(seen["extra"]) == ({"holdout"} if cls.uses_holdout else set())
    n_forget = len(class_split.forget)
    assert len(seen["forget"]) == n_forget
    assert len(seen["forget"].dataset.train_y) == n_forget, "the forget set must not reach other samples"
    if cls.access is Access.FORGET_ONLY:
        assert seen["retain"] is None
    elif cls.access is Access.PARTIAL_RETAIN:
        assert len(seen["retain"]) == round(make_method(name).rho * len(class_split.retain))
        assert len(seen["retain"].dataset.train_y) == len(seen["retain"])
    else:
        assert len(seen["retain"].dataset.train_y) == len(seen["retain"])


@pytest.mark.parametrize("name", ALL)
def test_forgets_more_than_it_damages(name, setting):
    """On class forgetting, the rise of UA is at least the fall of RA (nothing destroys the model)."""
    original, class_split = setting
    result = unlearn(original, class_split, name, seed=0)
    forget, retain = class_split.subset("forget"), class_split.subset("retain")
    ua_gain = accuracy(original, forget) - accuracy(result.model, forget)
    ra_loss = accuracy(original, retain) - accuracy(result.model, retain)
    assert ra_loss < 50, f"{name} destroyed the model (RA fell by {ra_loss:.1f} points)"
    assert ua_gain >= ra_loss, f"{name}: UA rose {ua_gain:.1f} but RA fell {ra_loss:.1f}"


def test_retain_fraction_budget(original, class_split, monkeypatch):
    seen = {}
    cls = METHODS.get("finetune")
    monkeypatch.setattr(cls, "run", lambda self, model, **kw: seen.update(kw) or model)
    unlearn(original, class_split, "finetune", retain_fraction=0.25, seed=3)
    assert len(seen["retain"]) == round(0.25 * len(class_split.retain))
    with pytest.raises(ConfigError, match="retain_fraction"):
        unlearn(original, class_split, "finetune", retain_fraction=1.5)


def test_unknown_method_lists_valid_names(original, class_split):
    with pytest.raises(ConfigError, match="Unknown method 'nope'. Valid methods: .*finetune"):
        unlearn(original, class_split, "nope")


@pytest.mark.parametrize("name", [n for n in ALL if METHODS.get(n).needs_validation])
def test_methods_that_need_v_are_refused_without_it(name, original, class_split):
    with pytest.raises(ConfigError, match="validation slice V.*train_subset=N or val_size=N"):
        unlearn(original, class_split, name)
