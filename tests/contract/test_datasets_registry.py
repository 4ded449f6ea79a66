"""Contract tests over every registered dataset: it loads, or says clearly which files it needs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.data_available import requires_fashion_mnist
from unlearnkit.data import DATASETS, load_dataset
from unlearnkit.errors import UnlearnkitError

README = Path(__file__).resolve().parents[2] / "README.md"
BUNDLED = {"digits", "mnist5k"}


def check_dataset(ds):
    assert ds.num_classes == len(ds.classes) >= 2
    assert len(ds.train_y) > 0 and len(ds.test_y) > 0
    assert int(ds.train_y.max()) < ds.num_classes
    x = ds.inputs("train", slice(0, 16))
    assert x.dtype == torch.float32 and x.shape[1:] == ds.input_shape
    assert torch.isfinite(x).all()
    if ds.coarse_train_y is not None:
        assert len(ds.coarse_train_y) == len(ds.train_y)
        assert int(ds.coarse_train_y.max()) < len(ds.coarse_classes)


@pytest.mark.parametrize("name", DATASETS.names())
def test_documented(name):
    assert f"`{name}`" in README.read_text(), f"dataset {name} is not documented in the README"


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_bundled_datasets_load(name):
    check_dataset(load_dataset(name))


@pytest.mark.slow
@requires_fashion_mnist
def test_fashion_mnist_from_debian_package():
    ds = load_dataset("fashion-mnist")
    check_dataset(ds)
    assert (len(ds.train_y), len(ds.test_y), ds.num_classes, len(ds.coarse_classes)) == (60000, 10000, 10, 4)


@pytest.mark.parametrize("name", sorted(set(DATASETS.names()) - BUNDLED - {"fashion-mnist"}))
def test_file_datasets_name_what_is_missing(name, tmp_path):
    with pytest.raises(UnlearnkitError) as info:
        load_dataset(name, data_dir=tmp_path / "empty")
    message = str(info.value)
    assert message and "Traceback" not in message
    assert str(tmp_path / "empty") in message or "data_dir" in message or "not exist" in message
