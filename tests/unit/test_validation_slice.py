"""Training subsets and the validation slice V: disjoint, stratified, seeded, fingerprinted."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unlearnkit.data import Dataset, load_dataset, make_split
from unlearnkit.data.split import draw_val_forget
from unlearnkit.data.subsample import subsample
from unlearnkit.errors import ConfigError


def toy(n_per_class=(60, 40, 20), n_test=30) -> Dataset:
    """Inputs that name their own position: train sample i holds i, test sample j holds -1 - j."""
    y = np.concatenate([np.full(k, c) for c, k in enumerate(n_per_class)])
    rng = np.random.default_rng(0)
    y = y[rng.permutation(len(y))]
    x = torch.arange(len(y), dtype=torch.float32)[:, None]
    tx = -1 - torch.arange(n_test, dtype=torch.float32)[:, None]
    return Dataset(name="toy", train_x=x, train_y=torch.from_numpy(y), test_x=tx,
                   test_y=torch.arange(n_test) % len(n_per_class), classes=["a", "b", "c"])


def ids(x: torch.Tensor) -> set[int]:
    return set(x[:, 0].long().tolist())


def test_subset_and_val_are_disjoint_from_each_other_and_from_the_test_set():
    full = toy()
    ds = subsample(full, train_subset=60, subset_seed=0)
    train, val = ids(ds.train_x), ids(ds.val_x)
    assert len(train) == 60 and len(val) == 60
    assert not train & val
    assert train | val == set(range(120))
    assert all(i >= 0 for i in train | val) and torch.equal(ds.test_x, full.test_x)
    assert "left out" in ds.val_note


def test_subset_is_stratified_and_seeded():
    full = toy()
    a = subsample(full, train_subset=0.5, subset_seed=0)
    assert np.bincount(a.train_y.numpy()).tolist() == [30, 20, 10]
    assert np.bincount(a.val_y.numpy()).tolist() == [30, 20, 10]
    b = subsample(full, train_subset=0.5, subset_seed=0)
    c = subsample(full, train_subset=0.5, subset_seed=1)
    assert torch.equal(a.train_x, b.train_x)
    assert not torch.equal(a.train_x, c.train_x)


def test_val_size_draws_from_the_pool_or_carves_from_the_training_set():
    full = toy()
    drawn = subsample(full, train_subset=60, val_size=30)
    assert len(drawn.train_y) == 60 and len(drawn.val_y) == 30
    assert not ids(drawn.train_x) & ids(drawn.val_x)
    assert np.bincount(drawn.val_y.numpy()).tolist() == [15, 10, 5]
    carved = subsample(full, val_size=24)
    assert len(carved.train_y) == 96 and len(carved.val_y) == 24
    assert not ids(carved.train_x) & ids(carved.val_x)
    assert "carved" in carved.val_note


def test_variants_are_fingerprinted_apart():
    full = toy()
    a, b = subsample(full, train_subset=60), subsample(full, train_subset=60, subset_seed=1)
    c = subsample(full, train_subset=60, val_size=30)
    prints = {full.fingerprint(), a.fingerprint(), b.fingerprint(), c.fingerprint()}
    assert len(prints) == 4
    assert a.variant == "train_subset=60,subset_seed=0"
    # The same forget indices on two variants of equal size are two different splits.
    sa, sb = make_split(a, "indices:" + _indices_file([0, 1])), make_split(b, "indices:" + _indices_file([0, 1]))
    assert sa.fingerprint != sb.fingerprint
    # The dataset as loaded keeps its old split fingerprints (committed run stores stay valid).
    assert make_split(full, "class:0").fingerprint == make_split(toy(), "class:0").fingerprint


def _indices_file(values, _counter=[0]) -> str:
    import tempfile

    _counter[0] += 1
    path = f"{tempfile.mkdtemp()}/idx{_counter[0]}.txt"
    with open(path, "w") as f:
        f.write("\n".join(map(str, values)))
    return path


@pytest.mark.parametrize(
    "options, message",
    [
        ({"train_subset": 121}, "asks for 121 samples but the training set has only 120"),
        ({"train_subset": 0}, "must be a count of at least 1 or a fraction in \\(0, 1\\]"),
        ({"train_subset": -5}, "must be a count of at least 1"),
        ({"train_subset": 1.5}, "fraction in \\(0, 1\\]"),
        ({"train_subset": "many"}, "Got 'many' instead"),
        ({"train_subset": 2}, "leaves class.* without any training sample; ask for at least 3"),
        ({"train_subset": 60, "val_size": 61}, "left only 60 samples .* ask for at most 60"),
        ({"val_size": 120}, "would leave no training sample"),
        ({"val_size": 1.0}, "fraction in \\(0, 1\\)"),
        ({"train_subset": 60, "subset_seed": "x"}, "'subset_seed' option must be an int"),
    ],
)
def test_bad_subsample_options_are_one_clear_error(options, message):
    with pytest.raises(ConfigError, match=message):
        subsample(toy(), **options)


def test_carving_that_would_empty_a_class_is_refused():
    tiny = toy(n_per_class=(50, 50, 1))
    with pytest.raises(ConfigError, match="would carve every training sample of class 2"):
        subsample(tiny, val_size=0.9)


def test_load_dataset_takes_the_options_for_every_dataset(digits):
    ds = load_dataset("digits", train_subset=500, val_size=200)
    assert (len(ds.train_y), len(ds.val_y)) == (500, 200)
    assert load_dataset("digits", train_subset=500, val_size=200) is ds
    with pytest.raises(ConfigError, match="Valid options: .*train_subset, val_size, subset_seed"):
        load_dataset("digits", no_such_option=1)


def test_split_val_forget_follows_the_forget_classes():
    ds = load_dataset("digits", train_subset=800)
    for spec in ("random:0.1", "class:3"):
        split = make_split(ds, spec, seed=0)
        f = np.bincount(split.subset("forget").labels.numpy(), minlength=10)
        v = np.bincount(split.subset("val_forget").labels.numpy(), minlength=10)
        available = np.bincount(ds.val_y.numpy(), minlength=10)
        if (f <= available).all():
            assert (f == v).all()
        else:  # class 3 has 81 training samples of 800 but only 65 in V: V_f takes all 65
            assert (v == np.where(f > 0, available, 0)).all()
        assert len(split.subset("val")) == len(ds.val_y)
        assert split.describe()["n_val_forget"] == int(v.sum())
    assert set(split.val_forget.tolist()) <= set(split.val.tolist())


def test_val_forget_is_capped_by_what_v_holds_and_seeded():
    forget = np.array([0] * 10 + [1] * 10)
    val = np.array([0] * 4 + [1] * 20)
    picked = draw_val_forget(forget, val, seed=0)
    assert np.bincount(val[picked]).tolist() == [4, 4]
    assert draw_val_forget(forget, val, seed=0).tolist() == picked.tolist()
    assert len(draw_val_forget(forget, np.array([1, 1, 1]), seed=0)) == 0


def test_subsets_without_v_name_the_options(class_split):
    with pytest.raises(ConfigError, match="needs a validation slice.*train_subset=N or val_size=N"):
        class_split.subset("val")
