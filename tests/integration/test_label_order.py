"""Issue 22, the silent wrong answer: a model trained with another class order than the loader's.

An image folder sorts its classes by name; the model below was trained with the order
zebra, apple, mango, kiwi. ``forget`` must refuse it before any work ("wrong label order?", both
accuracies named) and accept it once the ``classes`` option gives the model's order. Also: the
``classes`` option of CSV, image-folder files that resolve outside the folder, and the hint for
a plain ID that names an image file.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file
from torch import nn

from unlearnkit.cli import main
from unlearnkit.data.class_order import parse_classes, shown
from unlearnkit.data.csv_table import load_csv
from unlearnkit.data.imagefolder import load_imagefolder
from unlearnkit.data.record_files import load_records
from unlearnkit.deletion.forget import forget, plan_forget
from unlearnkit.deletion.preflight import check_fit
from unlearnkit.errors import ConfigError, DataError

MODEL_ORDER = ["zebra", "apple", "mango", "kiwi"]  # the model's logits; sorted would be apple, kiwi, mango, zebra


def _write_folder(root, seed: int = 0) -> None:
    """train/ and test/ with one sub-folder per class; each class has its own colour (8x8 RGB)."""
    rng = np.random.default_rng(seed)
    colours = {"zebra": (220, 30, 30), "apple": (30, 220, 30), "mango": (30, 30, 220), "kiwi": (200, 200, 40)}
    for split, n in (("train", 30), ("test", 100)):
        for name, colour in colours.items():
            d = root / split / name
            d.mkdir(parents=True)
            for i in range(n):
                img = np.clip(np.array(colour)[None, None] + rng.normal(0, 25, (8, 8, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(img).save(d / f"{name}{i}.png")


def _train(ds, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4))
    x, y = ds.inputs("train", slice(None)), ds.train_y
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(60):  # the user's own loop, full batch
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("pets")
    _write_folder(root)
    return root


@pytest.fixture(scope="module")
def trained(folder):
    """The user's model, trained with MODEL_ORDER (the classes option gives that order)."""
    ds = load_records(folder, classes=MODEL_ORDER)
    assert ds.classes == MODEL_ORDER and ds.train_ids[0].startswith("train/")
    return _train(ds)


def test_permuted_folder_is_refused_before_any_work(folder, trained, tmp_path):
    ds = load_records(folder)  # alphabetical: the model's labels are permuted
    assert ds.classes == ["apple", "kiwi", "mango", "zebra"]
    request = [i for i in ds.train_ids if "/mango/" in i][:5]
    with pytest.raises(ConfigError) as exc:
        forget(trained, ds, request, method="finetune", params={"epochs": 1}, out=tmp_path / "out",
               ledger=tmp_path / "led")
    msg = str(exc.value)
    assert msg.startswith("Wrong label order?") and "\n" not in msg
    assert "% (" in msg and "held-out records" in msg and "relabelled it would fit 100.0%" in msg
    assert "zebra, apple, mango, kiwi" in msg, "the order that fits the model is named"
    assert not (tmp_path / "out").exists() and not (tmp_path / "led").exists(), "nothing written"


def test_classes_option_gives_the_model_order(folder, trained, tmp_path):
    ds = load_records(folder, classes=",".join(MODEL_ORDER))
    fit = check_fit(trained, ds)
    assert fit["train"] > 0.95 and fit["heldout"] > 0.9 and fit["relabelled"] == fit["train"]
    (tmp_path / "classes.txt").write_text("\n".join(MODEL_ORDER) + "\n")
    same = load_records(folder, classes=str(tmp_path / "classes.txt"))
    assert same.classes == MODEL_ORDER and torch.equal(same.train_y, ds.train_y)
    plan = plan_forget(trained, ds, [i for i in ds.train_ids if "/kiwi/" in i], method="finetune")
    assert plan.shape == "class" and plan.classes == ["kiwi"]


def test_imagefolder_dataset_takes_classes_and_refuses_unknown_folders(folder):
    ds = load_imagefolder(folder, classes=MODEL_ORDER + ["extra"], image_size=8)
    assert ds.classes == MODEL_ORDER + ["extra"] and int(ds.train_y.max()) == 3
    with pytest.raises(DataError, match=r"class\(es\) the 'classes' option does not list: 'zebra'"):
        load_imagefolder(folder, classes="apple,mango,kiwi", image_size=8)
    with pytest.raises(DataError, match="the 'classes' option does not list"):
        load_records(folder, classes=["apple", "mango"])


def test_near_chance_confident_model_is_refused_untrained_passes(folder, trained):
    ds = load_records(folder, classes=MODEL_ORDER)
    untrained = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4))
    with torch.no_grad():
        untrained[1].weight.mul_(0.01)
    assert check_fit(untrained, ds)["confidence"] < 0.5  # at chance, but not because of the labels
    constant = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4))
    with torch.no_grad():
        constant[1].weight.zero_()
        constant[1].bias.copy_(torch.tensor([9.0, 0.0, 0.0, 0.0]))  # always "zebra", confidently
    with pytest.raises(ConfigError, match=r"Wrong label order\? .* at 25\.0% .*near chance: 25\.0% averaged over "
                                          r"its 4 classes \(chance 25\.0%\)"):
        check_fit(constant, ds)


def test_a_good_model_of_one_large_class_passes():
    """95% of the records in one class: a model right on 99% of them is far from chance."""
    from unlearnkit import Dataset

    rng = np.random.default_rng(0)
    y = (rng.random(3000) < 0.05).astype(np.int64)
    x = (rng.normal(size=(3000, 4)) + 3.0 * y[:, None]).astype(np.float32)
    ds = Dataset.from_arrays(x[:2000], y[:2000], ids=[f"r{i}" for i in range(2000)], test=(x[2000:], y[2000:]))
    model = nn.Linear(4, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[-3.0, -3.0, -3.0, -3.0], [3.0, 3.0, 3.0, 3.0]]))
        model.bias.copy_(torch.tensor([18.0, -18.0]))
    fit = check_fit(model, ds)
    assert fit["train"] > 0.97 and fit["balanced"] > 0.85 and fit["chance"] == 0.5
    constant = nn.Linear(4, 2)
    with torch.no_grad():
        constant.weight.zero_()
        constant.bias.copy_(torch.tensor([9.0, 0.0]))  # always the large class: 95% accurate, 50% balanced
    with pytest.raises(ConfigError, match=r"at 9[45]\.\d% .*near chance: 50\.0% averaged over its 2 classes"):
        check_fit(constant, ds)


def test_far_below_heldout_is_refused(folder, trained):
    ds = load_records(folder, classes=MODEL_ORDER)
    # Half the training labels shifted by one class (no relabelling explains it), the held-out ones kept.
    y = ds.train_y.clone()
    y[::2] = (y[::2] + 1) % 4
    with pytest.raises(ConfigError, match=r"Wrong label order\? .* at 50\.0% .*far below the held-out records"):
        check_fit(trained, dataclasses.replace(ds, train_y=y))


def test_csv_classes_option(tmp_path):
    rows = ["id,a,b,label"] + [f"r{i},{i % 3},{(i * 7) % 5},{['cat', 'dog', 'eel'][i % 3]}" for i in range(30)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    assert load_csv(path=tmp_path / "t.csv", id_column="id").classes == ["cat", "dog", "eel"]
    ds = load_csv(path=tmp_path / "t.csv", id_column="id", classes="eel,cat,dog")
    assert ds.classes == ["eel", "cat", "dog"]
    assert int(ds.train_y[list(ds.train_ids).index("r0")]) == 1  # cat is logit 1
    with pytest.raises(DataError, match="does not list: 'eel'"):
        load_csv(path=tmp_path / "t.csv", id_column="id", classes="cat,dog")
    rec = load_records(tmp_path / "t.csv", classes="eel,cat,dog", heldout_size=None)
    assert rec.classes == ["eel", "cat", "dog"] and int(rec.train_y[0]) == 1


def test_parse_classes_errors_and_capped_lists(tmp_path):
    for value, match in (("", "names no class"), ("a,,b", "blank class name"), ("a,b,a", "names class 'a' twice")):
        with pytest.raises(ConfigError, match=match):
            parse_classes(value)
    (tmp_path / "bin").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError, match="cannot be read as UTF-8"):
        parse_classes(str(tmp_path / "bin"))
    assert shown(range(100)) == "0, 1, 2, 3, 4 (and 95 more)"


def test_csv_without_label_column_names_few_columns(tmp_path):
    header = ",".join(f"pixel{i}" for i in range(786))
    (tmp_path / "wide.csv").write_text(header + "\n" + ",".join("0" for _ in range(786)) + "\n")
    with pytest.raises(DataError) as exc:
        load_csv(path=tmp_path / "wide.csv")
    assert len(str(exc.value)) < 300 and "(and 781 more)" in str(exc.value)


def test_symlink_out_of_the_folder_is_refused(folder, tmp_path):
    root = tmp_path / "data"
    (root / "cat").mkdir(parents=True)
    (root / "dog").mkdir()
    for d in ("cat", "dog"):
        Image.fromarray(np.zeros((4, 4, 3), dtype=np.uint8)).save(root / d / "0.png")
    outside = tmp_path / "secret.png"
    Image.fromarray(np.zeros((4, 4, 3), dtype=np.uint8)).save(outside)
    os.symlink(outside, root / "cat" / "1.png")
    for load in (lambda: load_records(root), lambda: load_imagefolder(root, image_size=4)):
        with pytest.raises(DataError, match="outside the data directory"):
            load()
    os.unlink(root / "cat" / "1.png")
    os.symlink(folder / "train" / "kiwi", root / "kiwi")  # a whole class folder elsewhere
    with pytest.raises(DataError, match="outside the data directory"):
        load_records(root)
    os.unlink(root / "kiwi")
    os.symlink(root / "dog" / "0.png", root / "cat" / "inside.png")  # a link inside the folder is fine
    assert len(load_records(root, heldout_size=None).train_ids) == 3


def test_plain_id_gets_the_path_hint(folder, trained):
    ds = load_records(folder, classes=MODEL_ORDER)
    with pytest.raises(ConfigError, match=r"did you mean 'train/kiwi/kiwi3.png' for 'kiwi3'\?"):
        plan_forget(trained, ds, ["kiwi3"], method="finetune")
    with pytest.raises(ConfigError, match=r"did you mean 'train/kiwi/kiwi3.png' for 'kiwi3.png'\?"):
        plan_forget(trained, ds, ["kiwi3.png", "train/kiwi/kiwi4.png"], method="finetune")


def build_pet_net() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4))


def test_cli_refuses_the_permuted_folder_and_takes_classes_file(folder, trained, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    save_file(trained.state_dict(), str(tmp_path / "w.safetensors"))
    ids = load_records(folder).train_ids
    (tmp_path / "req.txt").write_text("\n".join([i for i in ids if "/kiwi/" in i][:4] +
                                               [i for i in ids if "/mango/" in i][:4]) + "\n")
    (tmp_path / "classes.txt").write_text("\n".join(MODEL_ORDER) + "\n")
    base = ["forget", "--data", str(folder), "--request", str(tmp_path / "req.txt"), "--arch",
            "tests.integration.test_label_order:build_pet_net", "--weights", str(tmp_path / "w.safetensors"),
            "--ledger", str(tmp_path / "led"), "--method", "finetune", "epochs=1", "--heldout-size", "0.9", "--quiet"]
    code = main(base + ["--out", str(tmp_path / "wrong")])
    _, err = capsys.readouterr()
    assert code == 2 and err.startswith("unlearnkit: error: Wrong label order?") and len(err.splitlines()) == 1
    assert not (tmp_path / "wrong").exists() and not (tmp_path / "led").exists()
    code = main(base + ["--out", str(tmp_path / "right"), "--classes", str(tmp_path / "classes.txt")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert (tmp_path / "right" / "model.safetensors").is_file() and "request req-0001-" in out
