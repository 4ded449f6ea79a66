"""Shared fixtures: a trained original model on digits, reused by the whole session."""

from __future__ import annotations

import pytest
import torch

from unlearnkit import build_model, get_recipe, load_dataset, make_split, train


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """No test writes to the user's ~/.cache: every test gets its own UNLEARNKIT_HOME."""
    monkeypatch.setenv("UNLEARNKIT_HOME", str(tmp_path_factory.mktemp("home")))


@pytest.fixture(scope="session")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="session")
def class_split(digits):
    return make_split(digits, "class:3", seed=0)


@pytest.fixture(scope="session")
def random_split(digits):
    return make_split(digits, "random:0.1", seed=0)


@pytest.fixture(scope="session")
def original(digits, class_split):
    """An MLP trained on all of digits (train accuracy 100%)."""
    model = build_model("mlp", digits, seed=0)
    return train(model, class_split.subset("train"), get_recipe("digits"), seed=0)


def accuracy(model: torch.nn.Module, subset) -> float:
    x, y = subset.tensors()
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean()) * 100


@pytest.fixture(scope="session")
def digits_val():
    """digits with a validation slice V of 300 samples carved out of its training set."""
    return load_dataset("digits", val_size=300)


@pytest.fixture(scope="session")
def val_class_split(digits_val):
    return make_split(digits_val, "class:3", seed=0)


@pytest.fixture(scope="session")
def val_random_split(digits_val):
    return make_split(digits_val, "random:0.1", seed=0)


@pytest.fixture(scope="session")
def val_original(digits_val, val_class_split):
    """An MLP trained on the training set of ``digits_val`` (V excluded)."""
    model = build_model("mlp", digits_val, seed=0)
    return train(model, val_class_split.subset("train"), get_recipe("digits"), seed=0)
