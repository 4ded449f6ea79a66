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
