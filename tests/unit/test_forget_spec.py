"""Unit and property tests of forget specs (``data/forget.py``), splits (``data/split.py``) and
``detach_subset`` (``data/dataset.py``)."""

from __future__ import annotations

import string

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from unlearnkit.data import DATASETS, Dataset, ForgetSpec, load_dataset, make_split
from unlearnkit.data.dataset import Subset, detach_subset
from unlearnkit.data.forget import VALID_FORMS
from unlearnkit.errors import ConfigError, DataError

SPLIT_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
PARSE_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return load_dataset("digits")


def n_train(ds: Dataset) -> int:
    return len(ds.train_y)


# =========================================================================== parsing

fractions = st.floats(min_value=0.0, max_value=1.0, exclude_min=True, exclude_max=True, allow_nan=False)
counts = st.integers(min_value=1, max_value=10**12)
class_names = st.from_regex(r"[A-Za-z][A-Za-z0-9 _./-]{0,10}[A-Za-z0-9]|[A-Za-z]", fullmatch=True)
class_tokens = st.one_of(st.integers(min_value=0, max_value=10_000), class_names)
class_lists = st.lists(class_tokens, min_size=1, max_size=6, unique=True)


@st.composite
def spec_strings(draw) -> str:
    kind = draw(st.sampled_from(["random_fraction", "random_count", "class", "subclass", "indices"]))
    if kind == "random_fraction":
        text = f"random:{draw(fractions)!r}"
    elif kind == "random_count":
        text = f"random:{draw(counts)}"
    elif kind in ("class", "subclass"):
        text = f"{kind}:" + ",".join(str(c) for c in draw(class_lists))
    else:
        text = "indices:" + draw(st.from_regex(r"[A-Za-z0-9_./-]{1,30}", fullmatch=True))
    if kind.startswith("random") and draw(st.booleans()):
        text += ":stratified"
    return text


@PARSE_SETTINGS
@given(spec_strings())
def test_parse_round_trips(text):
    spec = ForgetSpec.parse(text)
    canonical = str(spec)
    again = ForgetSpec.parse(canonical)
    assert again == spec
    assert str(again) == canonical
    assert canonical == text  # the generated strings are already canonical


@PARSE_SETTINGS
@given(st.one_of(fractions, counts), st.booleans())
def test_parse_random_fields(amount, stratified):
    text = f"random:{amount!r}" + (":stratified" if stratified else "")
    spec = ForgetSpec.parse(text)
    assert spec.kind == "random"
    assert spec.stratified is stratified
    if isinstance(amount, int):
        assert spec.count == amount and spec.fraction is None
    else:
        assert spec.fraction == amount and spec.count is None
    assert spec.classes == () and spec.path is None


@PARSE_SETTINGS
@given(class_lists, st.sampled_from(["class", "subclass"]))
def test_parse_class_lists_keep_order_and_types(classes, kind):
    spec = ForgetSpec.parse(f"{kind}:" + " , ".join(str(c) for c in classes))  # spaces are trimmed
    assert spec.kind == kind
    assert spec.classes == tuple(classes)
    assert [type(c) for c in spec.classes] == [type(c) for c in classes]
    assert ForgetSpec.parse(str(spec)) == spec


@PARSE_SETTINGS
@given(st.text(alphabet=string.printable, max_size=30))
def test_parse_arbitrary_ascii_either_rejects_clearly_or_round_trips(text):
    try:
        spec = ForgetSpec.parse(text)
    except ConfigError as exc:
        assert "Valid forms:" in str(exc)
        return
    assert ForgetSpec.parse(str(spec)) == spec
    assert str(ForgetSpec.parse(str(spec))) == str(spec)


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("random:5e-1", "random:0.5"),
        ("random:.25", "random:0.25"),
        ("random:007", "random:7"),
        ("random:0.1:stratified", "random:0.1:stratified"),
        ("  class: 3 , 7 ", "class:3,7"),
        ("class:Coat", "class:Coat"),
        ("class:T-shirt/top,Ankle boot", "class:T-shirt/top,Ankle boot"),
        ("subclass:Shirt", "subclass:Shirt"),
        ("indices:/tmp/forget.txt", "indices:/tmp/forget.txt"),
    ],
)
def test_canonical_forms(text, canonical):
    spec = ForgetSpec.parse(text)
    assert str(spec) == canonical
    assert ForgetSpec.parse(canonical) == spec


def test_parse_examples():
    spec = ForgetSpec.parse("random:0.1:stratified")
    assert (spec.kind, spec.fraction, spec.count, spec.stratified) == ("random", 0.1, None, True)
    spec = ForgetSpec.parse("random:500")
    assert (spec.kind, spec.fraction, spec.count, spec.stratified) == ("random", None, 500, False)
    assert ForgetSpec.parse("class:3,Coat").classes == (3, "Coat")
    assert ForgetSpec.parse("indices:a:b.txt").path == "a:b.txt"


@pytest.mark.parametrize(
    "text",
    [
        "random:1.5",
        "random:1.0",
        "random:0",
        "random:0.0",
        "random:-3",
        "random:-0.5",
        "random:abc",
        "random:nan",
        "random:inf",
        "random:0.1:foo",
        "random:0.1:",
        "random:5:stratified:x",
        "random:",
        "random",
        "class:",
        "class:3,3",
        "class:3,,4",
        "class:-1",
        "class:Coat,Coat",
        "subclass:",
        "indices:",
        "foo:1",
        "Random:0.1",
        "",
        "   ",
        ":",
    ],
)
def test_invalid_specs_name_the_valid_forms(text):
    with pytest.raises(ConfigError) as info:
        ForgetSpec.parse(text)
    msg = str(info.value)
    assert msg.startswith(f"Invalid forget spec {text!r}: ")
    assert msg.endswith(f"Valid forms: {VALID_FORMS}.")
    for form in ("random:<fraction in (0,1)>", "random:<count>", "class:<c>", "subclass:<fine class>", "indices:<path>"):
        assert form in msg


def test_non_string_spec_is_rejected():
    with pytest.raises(ConfigError, match="Valid forms"):
        ForgetSpec.parse(0.1)  # type: ignore[arg-type]


def test_unicode_non_decimal_digits_are_config_errors():
    with pytest.raises(ConfigError, match="Valid forms"):
        ForgetSpec.parse("random:²")
    # in a class list a non-decimal token is a class *name*, resolved (and rejected) by make_split
    assert ForgetSpec.parse("class:²").classes == ("²",)


# =========================================================================== split invariants


def check_partition(split, ds: Dataset) -> None:
    n = n_train(ds)
    f, r = split.forget.numpy(), split.retain.numpy()
    assert split.forget.dtype == torch.int64 and split.retain.dtype == torch.int64
    assert (np.diff(f) > 0).all() and (np.diff(r) > 0).all()  # sorted, no repeats
    assert len(np.intersect1d(f, r)) == 0
    assert np.array_equal(np.union1d(f, r), np.arange(n))
    assert len(f) + len(r) == n
    assert len(f) >= 1 and len(r) >= 1
    assert torch.equal(split.test, torch.arange(len(ds.test_y)))


random_specs = st.one_of(
    fractions.filter(lambda f: 0.001 <= f <= 0.95).map(lambda f: f"random:{f!r}"),
    st.integers(min_value=1, max_value=1400).map(lambda c: f"random:{c}"),
)
seeds = st.integers(min_value=0, max_value=2**31 - 1)


@SPLIT_SETTINGS
@given(spec=random_specs, seed=seeds)
def test_random_split_invariants(ds, spec, seed):
    split = make_split(ds, spec, seed=seed)
    check_partition(split, ds)
    parsed = ForgetSpec.parse(spec)
    if parsed.count is not None:
        assert len(split.forget) == parsed.count
    else:
        assert len(split.forget) == max(1, round(parsed.fraction * n_train(ds)))
    assert split.kind == "random" and split.label_set == "fine"
    assert split.test_forget is None and split.test_retain is None
    assert split.test_star_name == "test"
    assert split.num_classes == 10
    assert split.seed == seed


@SPLIT_SETTINGS
@given(spec=random_specs, seed=seeds)
def test_random_split_is_deterministic_under_the_seed(ds, spec, seed):
    a = make_split(ds, spec, seed=seed)
    b = make_split(ds, ForgetSpec.parse(spec), seed=seed)
    assert torch.equal(a.forget, b.forget) and torch.equal(a.retain, b.retain)
    assert a.fingerprint == b.fingerprint
    assert a == b and hash(a) == hash(b)


@SPLIT_SETTINGS
@given(
    spec=st.one_of(
        st.floats(min_value=0.01, max_value=0.9).map(lambda f: f"random:{f!r}"),
        st.integers(min_value=5, max_value=1400).map(lambda c: f"random:{c}"),
    ),
    seed=seeds,
)
def test_different_seeds_give_different_random_splits(ds, spec, seed):
    a = make_split(ds, spec, seed=seed)
    b = make_split(ds, spec, seed=seed + 1)
    assert not torch.equal(a.forget, b.forget)
    assert a.fingerprint != b.fingerprint
    assert a != b


@SPLIT_SETTINGS
@given(fraction=st.floats(min_value=0.05, max_value=0.9), seed=seeds)
def test_stratified_draws_the_fraction_from_every_class(ds, fraction, seed):
    split = make_split(ds, f"random:{fraction!r}:stratified", seed=seed)
    check_partition(split, ds)
    y = ds.train_y.numpy()
    forgotten = y[split.forget.numpy()]
    for c in range(ds.num_classes):
        n_c = int((y == c).sum())
        k_c = int((forgotten == c).sum())
        assert abs(k_c - fraction * n_c) <= 0.5 + 1e-9, (c, k_c, n_c)


@SPLIT_SETTINGS
@given(count=st.integers(min_value=100, max_value=1300), seed=seeds)
def test_stratified_count_draws_about_count_spread_over_classes(ds, count, seed):
    split = make_split(ds, f"random:{count}:stratified", seed=seed)
    check_partition(split, ds)
    assert abs(len(split.forget) - count) <= ds.num_classes  # one rounding per class at most
    y = ds.train_y.numpy()
    forgotten = y[split.forget.numpy()]
    fraction = count / n_train(ds)
    for c in range(ds.num_classes):
        n_c = int((y == c).sum())
        assert abs(int((forgotten == c).sum()) - fraction * n_c) <= 0.5 + 1e-9


def test_stratified_is_deterministic_and_differs_from_plain(ds):
    a = make_split(ds, "random:0.2:stratified", seed=3)
    b = make_split(ds, "random:0.2:stratified", seed=3)
    c = make_split(ds, "random:0.2", seed=3)
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != c.fingerprint


@SPLIT_SETTINGS
@given(classes=st.lists(st.integers(min_value=0, max_value=9), min_size=1, max_size=9, unique=True), seed=seeds)
def test_class_split_invariants(ds, classes, seed):
    split = make_split(ds, "class:" + ",".join(map(str, classes)), seed=seed)
    check_partition(split, ds)
    y, ty = ds.train_y.numpy(), ds.test_y.numpy()
    assert np.isin(y[split.forget.numpy()], classes).all()
    assert not np.isin(y[split.retain.numpy()], classes).any()
    assert np.array_equal(split.forget.numpy(), np.flatnonzero(np.isin(y, classes)))
    tf, tr = split.test_forget.numpy(), split.test_retain.numpy()
    assert len(np.intersect1d(tf, tr)) == 0
    assert np.array_equal(np.union1d(tf, tr), np.arange(len(ty)))
    assert np.isin(ty[tf], classes).all() and not np.isin(ty[tr], classes).any()
    assert len(tf) > 0
    assert split.test_star_name == "test_retain"
    assert split.label_set == "fine"
    # class specs ignore the seed
    assert make_split(ds, "class:" + ",".join(map(str, classes)), seed=seed + 1).fingerprint == split.fingerprint
    # the subsets carry the right labels
    assert set(split.subset("forget").labels.tolist()) == set(classes)
    assert set(split.subset("test_forget").labels.tolist()) == set(classes)
    assert not set(split.subset("test_retain").labels.tolist()) & set(classes)


def test_class_split_of_every_class_is_rejected(ds):
    with pytest.raises(ConfigError, match="whole training set"):
        make_split(ds, "class:" + ",".join(map(str, range(10))))


def test_class_by_name_equals_class_by_index(ds):
    by_index = make_split(ds, "class:3")
    by_name = make_split(ds, ForgetSpec(kind="class", classes=("3",)))
    assert torch.equal(by_index.forget, by_name.forget)
    assert by_index.fingerprint == by_name.fingerprint


def test_class_by_name_on_named_classes(tiny):
    by_name = make_split(tiny, "class:dog,emu")
    by_index = make_split(tiny, "class:1,2")
    mixed = make_split(tiny, "class:emu,1")
    assert by_name.fingerprint == by_index.fingerprint == mixed.fingerprint
    assert torch.equal(by_name.forget, by_index.forget)
    assert torch.equal(by_name.test_forget, by_index.test_forget)


def test_unknown_class_lists_the_valid_classes(tiny, ds):
    with pytest.raises(ConfigError, match=r"Class 'cow' does not exist in 'tiny'\. Valid classes: cat, dog, emu, fox"):
        make_split(tiny, "class:cow")
    with pytest.raises(ConfigError, match=r"Class 10 does not exist in 'digits': valid class indices are 0\.\.9"):
        make_split(ds, "class:10")


def test_fingerprint_is_stable_and_names_the_forgotten_samples(ds):
    a = make_split(ds, "class:3")
    fresh = DATASETS.get("digits")(None, False)  # another Dataset object with the same content
    assert fresh is not ds
    b = make_split(fresh, "class:3")
    assert a.fingerprint == b.fingerprint
    assert len(a.fingerprint) == 16 and all(ch in "0123456789abcdef" for ch in a.fingerprint)
    assert a.describe()["fingerprint"] == a.fingerprint
    prints = {
        make_split(ds, s, seed=0).fingerprint
        for s in ("class:3", "class:4", "class:3,4", "random:0.1", "random:0.2", "random:100", "random:0.1:stratified")
    }
    assert len(prints) == 7


def test_fingerprint_depends_only_on_the_indices_and_label_set(ds, tmp_path):
    split = make_split(ds, "class:3")
    path = tmp_path / "class3.txt"
    path.write_text("\n".join(map(str, split.forget.tolist())))
    same = make_split(ds, f"indices:{path}")
    assert same.fingerprint == split.fingerprint
    assert same == split


def test_describe_and_repr(ds):
    split = make_split(ds, "class:3")
    d = split.describe()
    assert d["spec"] == "class:3" and d["dataset"] == "digits"
    assert d["n_forget"] + d["n_retain"] == n_train(ds)
    assert d["n_test_forget"] + d["n_test_retain"] == d["n_test"]
    assert "n_test_forget" not in make_split(ds, "random:0.1").describe()
    assert split.fingerprint in repr(split)


def test_subset_names(ds):
    split = make_split(ds, "random:0.1")
    assert len(split.subset("train")) == n_train(ds)
    assert len(split.subset("forget")) == len(split.forget)
    assert split.subset("test").part == "test"
    with pytest.raises(ConfigError, match="Valid subsets: forget, retain, train, test, test_forget, test_retain"):
        split.subset("validation")
    with pytest.raises(ConfigError, match="only in class and sub-class"):
        split.subset("test_forget")


# =========================================================================== whole train set


def test_random_count_of_the_whole_train_set_is_rejected(ds):
    with pytest.raises(ConfigError, match="whole training set"):
        make_split(ds, f"random:{n_train(ds)}")
    with pytest.raises(ConfigError, match="whole training set"):
        make_split(ds, f"random:{n_train(ds) + 5}")
    # one less is fine
    split = make_split(ds, f"random:{n_train(ds) - 1}")
    assert len(split.retain) == 1


def test_fraction_rounding_to_the_whole_train_set_is_rejected(ds):
    with pytest.raises(ConfigError, match="whole training set"):
        make_split(ds, "random:0.9999")


# =========================================================================== indices files


def test_indices_text_file(ds, tmp_path):
    path = tmp_path / "forget.txt"
    path.write_text("5\n 3 \n\n100\n0\n\n")
    split = make_split(ds, f"indices:{path}", seed=7)
    check_partition(split, ds)
    assert split.forget.tolist() == [0, 3, 5, 100]
    assert split.kind == "indices" and split.test_forget is None
    assert make_split(ds, f"indices:{path}", seed=8).fingerprint == split.fingerprint


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint16])
def test_indices_npy_file(ds, tmp_path, dtype):
    path = tmp_path / "forget.npy"
    np.save(path, np.array([9, 1, 42], dtype=dtype))
    split = make_split(ds, f"indices:{path}")
    check_partition(split, ds)
    assert split.forget.tolist() == [1, 9, 42]


def test_indices_text_and_npy_agree(ds, tmp_path):
    values = np.random.default_rng(0).choice(n_train(ds), size=50, replace=False)
    (tmp_path / "a.txt").write_text("\n".join(map(str, values)))
    np.save(tmp_path / "a.npy", values)
    a = make_split(ds, f"indices:{tmp_path / 'a.txt'}")
    b = make_split(ds, f"indices:{tmp_path / 'a.npy'}")
    assert a.fingerprint == b.fingerprint
    assert a.forget.tolist() == sorted(values.tolist())


def _write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, np.ndarray):
        np.save(path, content)
    else:
        path.write_text(content)
    return path


@pytest.mark.parametrize(
    "name, content, pattern",
    [
        ("range.txt", "1\n1438\n", r"outside 0\.\.1437, e\.g\. 1438"),
        ("range_big.txt", "1\n99999\n", r"outside 0\.\.1437"),
        ("neg.txt", "1\n-1\n", r"outside 0\.\.1437, e\.g\. -1"),
        ("dup.txt", "4\n7\n4\n", "lists index 4 more than once"),
        ("float.txt", "1\n2.5\n", r"line 2: '2\.5' is not an integer"),
        ("word.txt", "1\n2\nthree\n", r"line 3: 'three' is not an integer"),
        ("csv.txt", "1,2,3\n", r"line 1: '1,2,3' is not an integer"),
        ("empty.txt", "", "holds no index"),
        ("blank.txt", "\n  \n\n", "holds no index"),
        ("range.npy", np.array([0, 1438]), r"outside 0\.\.1437"),
        ("neg.npy", np.array([-2, 5]), r"outside 0\.\.1437, e\.g\. -2"),
        ("dup.npy", np.array([3, 3]), "lists index 3 more than once"),
        ("float.npy", np.array([1.0, 2.0]), "must hold a 1-D integer array"),
        ("bool.npy", np.array([True, False]), "must hold a 1-D integer array"),
        ("matrix.npy", np.array([[1, 2], [3, 4]]), "must hold a 1-D integer array"),
        ("empty.npy", np.array([], dtype=np.int64), "holds no index"),
        ("object.npy", np.array([1, "a"], dtype=object), "not a plain .npy array"),
    ],
)
def test_bad_indices_files(ds, tmp_path, name, content, pattern):
    path = _write(tmp_path, name, content)
    with pytest.raises(ConfigError, match=pattern) as info:
        make_split(ds, f"indices:{path}")
    assert str(path) in str(info.value)


def test_truncated_npy_is_a_config_error(ds, tmp_path):
    path = tmp_path / "t.npy"
    np.save(path, np.arange(10))
    path.write_bytes(path.read_bytes()[:-16])
    with pytest.raises(ConfigError, match="not a plain .npy array"):
        make_split(ds, f"indices:{path}")


def test_missing_indices_file(ds, tmp_path):
    path = tmp_path / "nope.txt"
    with pytest.raises(ConfigError, match=f"Indices file '{path}' does not exist"):
        make_split(ds, f"indices:{path}")
    with pytest.raises(ConfigError, match="is a directory; give a file"):
        make_split(ds, f"indices:{tmp_path}")  # a directory is not a file (and it does exist)


def test_indices_file_of_the_whole_train_set_is_rejected(ds, tmp_path):
    path = tmp_path / "all.txt"
    path.write_text("\n".join(map(str, range(n_train(ds)))))
    with pytest.raises(ConfigError, match="whole training set"):
        make_split(ds, f"indices:{path}")
    np.save(tmp_path / "all.npy", np.arange(n_train(ds))[::-1].copy())
    with pytest.raises(ConfigError, match="whole training set"):
        make_split(ds, f"indices:{tmp_path / 'all.npy'}")


def test_zero_byte_npy_is_a_config_error(ds, tmp_path):
    path = tmp_path / "empty.npy"
    path.write_bytes(b"")
    with pytest.raises(ConfigError, match="Indices file"):
        make_split(ds, f"indices:{path}")


def test_binary_text_indices_file_is_a_config_error(ds, tmp_path):
    path = tmp_path / "bin.txt"
    path.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(ConfigError, match="Indices file"):
        make_split(ds, f"indices:{path}")


# =========================================================================== sub-class


@pytest.fixture(scope="module")
def tiny() -> Dataset:
    """12 train / 8 test samples, 4 fine classes in 2 coarse classes (cat,dog -> pet; emu,fox -> wild)."""
    fine_train = torch.tensor([0, 1, 2, 3] * 3)
    fine_test = torch.tensor([0, 1, 2, 3] * 2)
    to_coarse = torch.tensor([0, 0, 1, 1])
    return Dataset(
        name="tiny",
        train_x=torch.arange(12 * 4, dtype=torch.float32).reshape(12, 1, 2, 2),
        train_y=fine_train,
        test_x=-torch.arange(8 * 4, dtype=torch.float32).reshape(8, 1, 2, 2),
        test_y=fine_test,
        classes=["cat", "dog", "emu", "fox"],
        coarse_train_y=to_coarse[fine_train],
        coarse_test_y=to_coarse[fine_test],
        coarse_classes=["pet", "wild"],
    )


def test_subclass_split_uses_coarse_labels(tiny):
    split = make_split(tiny, "subclass:dog")
    check_partition(split, tiny)
    assert split.label_set == "coarse"
    assert split.num_classes == 2
    assert split.forget.tolist() == [1, 5, 9]
    assert split.test_forget.tolist() == [1, 5]
    assert split.test_retain.tolist() == [0, 2, 3, 4, 6, 7]
    forget = split.subset("forget")
    assert forget.label_set == "coarse" and forget.num_classes == 2
    assert forget.labels.tolist() == [0, 0, 0]  # dog is a pet
    retain = split.subset("retain")
    assert retain.labels.tolist() == tiny.coarse_train_y[split.retain].tolist()
    assert set(retain.labels.tolist()) == {0, 1}
    assert split.subset("test_retain").labels.tolist() == [0, 1, 1, 0, 1, 1]
    assert split.subset("train").labels.tolist() == tiny.coarse_train_y.tolist()


def test_subclass_by_index_equals_by_name_and_differs_from_class(tiny):
    by_name = make_split(tiny, "subclass:dog")
    by_index = make_split(tiny, "subclass:1")
    as_class = make_split(tiny, "class:dog")
    assert by_name.fingerprint == by_index.fingerprint
    assert torch.equal(as_class.forget, by_name.forget)
    assert as_class.label_set == "fine" and as_class.num_classes == 4
    assert as_class.fingerprint != by_name.fingerprint  # label set is part of the fingerprint


def test_subclass_without_coarse_labels_is_a_data_error(ds):
    with pytest.raises(DataError, match="no coarse labels"):
        make_split(ds, "subclass:3")


def test_subclass_unknown_fine_class(tiny):
    with pytest.raises(ConfigError, match="Class 'pet' does not exist"):
        make_split(tiny, "subclass:pet")  # a coarse name is not a fine class


# =========================================================================== detach_subset


@pytest.mark.parametrize("name", ["forget", "retain", "test"])
def test_detach_subset_keeps_tensors_but_holds_only_its_samples(ds, name):
    split = make_split(ds, "random:0.1", seed=0)
    subset = split.subset(name)
    detached = detach_subset(subset)
    x, y = subset.tensors()
    dx, dy = detached.tensors()
    assert torch.equal(x, dx) and torch.equal(y, dy)
    assert len(detached) == len(subset)
    inner = detached.dataset
    assert inner is not ds
    assert len(inner.train_x) == len(subset) and len(inner.train_y) == len(subset)
    assert len(inner.test_x) == 0 and len(inner.test_y) == 0
    assert torch.equal(inner.train_x, ds._raw(subset.part)[subset.indices])
    assert inner.train_x.dtype == ds.train_x.dtype
    assert detached.num_classes == subset.num_classes
    assert detached.part == "train"
    assert torch.equal(detached.indices, torch.arange(len(subset)))


def test_detach_subset_changes_to_the_copy_do_not_touch_the_dataset(tiny):
    subset = Subset(tiny, "train", torch.tensor([0, 5]))
    before = tiny.train_x.clone()
    detached = detach_subset(subset)
    detached.dataset.train_x.add_(1000)
    assert torch.equal(tiny.train_x, before)


def test_detach_subset_of_coarse_subset(tiny):
    split = make_split(tiny, "subclass:emu")
    subset = split.subset("retain")
    detached = detach_subset(subset)
    assert torch.equal(detached.labels, subset.labels)
    assert detached.num_classes == 2
    assert detached.dataset.classes == ["pet", "wild"]
    x, _ = subset.tensors()
    assert torch.equal(detached.tensors()[0], x)
    assert len(detached.dataset.train_y) == len(subset)


def test_detach_subset_of_a_take(tiny):
    subset = Subset(tiny, "test", torch.arange(8)).take(torch.tensor([6, 2]))
    detached = detach_subset(subset)
    assert torch.equal(detached.tensors()[0], subset.tensors()[0])
    assert detached.labels.tolist() == [2, 2]
    assert len(detached.dataset.train_x) == 2
