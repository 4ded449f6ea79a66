"""Records with IDs, record files, the architecture / weights loaders, the ledger, the auto choice and
the evidence verdict (issue 14). Tiny arrays only."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from unlearnkit import Dataset, forget, make_split
from unlearnkit.data.forget import ForgetSpec
from unlearnkit.data.record_files import load_records, read_records
from unlearnkit.data.records import check_request_ids, drop_train, from_torch_dataset, read_ids_file, with_heldout
from unlearnkit.deletion import ArchSpec, Ledger, LedgerError, load_weights_into, read_state_dict, request_shape
from unlearnkit.deletion.auto import RECOMMENDATIONS
from unlearnkit.deletion.evidence import compute_evidence
from unlearnkit.deletion.ledger import GENESIS, entry_hash
from unlearnkit.deletion.modelio import weights_bytes, weights_sha256
from unlearnkit.errors import ConfigError, DataError


def blobs(n: int, seed: int = 0, classes: int = 3):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = (rng.normal(size=(classes, 6))[y] * 2 + rng.normal(size=(n, 6))).astype(np.float32)
    return x, y


def dataset(n_train=120, n_test=120, seed=0) -> Dataset:
    x, y = blobs(n_train + n_test, seed)
    return Dataset.from_arrays(x[:n_train], y[:n_train], [f"id{i}" for i in range(n_train)],
                               test=(x[n_train:], y[n_train:]), classes=["a", "b", "c"])


# ------------------------------------------------------------------------------------ records
def test_from_arrays_carves_v_from_the_test_part_stratified_and_disjoint():
    ds = dataset()
    assert ds.train_ids[:2] == ("id0", "id1") and ds.classes == ["a", "b", "c"]
    assert len(ds.val_y) == 60 and len(ds.test_y) == 60
    assert torch.bincount(ds.val_y).tolist() == [20, 20, 20]
    assert "carved" in ds.val_note and "60" in ds.val_note
    everything = torch.cat([ds.val_x, ds.test_x])
    assert len({tuple(r.tolist()) for r in everything}) == 120, "V and D_t do not share a record"


def test_from_arrays_string_labels_sorted_or_in_the_given_order():
    x = np.zeros((4, 2))
    assert Dataset.from_arrays(x, ["dog", "cat", "dog", "cat"]).train_y.tolist() == [1, 0, 1, 0]
    ds = Dataset.from_arrays(x, ["dog", "cat", "dog", "cat"], classes=["dog", "cat"])
    assert ds.train_y.tolist() == [0, 1, 0, 1] and ds.classes == ["dog", "cat"]
    assert Dataset.from_arrays(x, [0, 4, 0, 4]).num_classes == 5, "integer labels are logit indices"
    with pytest.raises(DataError, match="mix"):
        Dataset.from_arrays(x, ["dog", 1, "cat", 0])


@pytest.mark.parametrize("ids, match", [
    (["a", "b", "a"], "more than once"), (["a", " ", "c"], "empty"), (["a", "b"], "3 train IDs|2 train IDs"),
])
def test_bad_ids_are_refused(ids, match):
    with pytest.raises(DataError, match=match):
        Dataset.from_arrays(np.zeros((3, 2)), [0, 1, 0], ids=ids)


def test_heldout_that_overlaps_training_is_refused_by_id_and_by_content():
    x, y = blobs(40)
    ds = Dataset.from_arrays(x[:30], y[:30], [f"r{i}" for i in range(30)])
    with pytest.raises(DataError, match="share an ID"):
        with_heldout(ds, (x[30:], y[30:], ["r3"] + [f"h{i}" for i in range(9)]))
    with pytest.raises(DataError, match="same input as a training record"):
        with_heldout(ds, (np.concatenate([x[30:39], x[:1]]), y[30:40]))
    v = with_heldout(ds, (x[30:], y[30:]))
    assert len(v.val_y) == 10 and "given" in v.val_note
    with pytest.raises(DataError, match="overlaps"):
        Dataset.from_arrays(x[:30], y[:30], heldout=(x[25:35], y[25:35]))


def test_torch_dataset_adapter_reads_ids_from_items():
    class Items(torch.utils.data.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return torch.full((3,), float(i)), i % 2, f"item-{i}"

    ds = from_torch_dataset(Items())
    assert ds.train_ids == tuple(f"item-{i}" for i in range(5)) and ds.train_x.shape == (5, 3)


def test_ids_forget_spec_round_trips_and_resolves():
    spec = ForgetSpec.parse('ids:["id3", "id7"]')
    assert str(ForgetSpec.parse(str(spec))) == str(spec) and spec.ids == ("id3", "id7")
    ds = dataset()
    split = make_split(ds, spec)
    assert split.forget.tolist() == [3, 7] and split.kind == "indices" and split.ids("forget") == ("id3", "id7")
    with pytest.raises(ConfigError, match="'nope'"):
        make_split(ds, ForgetSpec.of_ids(["id1", "nope"]))
    with pytest.raises(ConfigError, match="twice"):
        make_split(ds, ForgetSpec.of_ids(["id1", "id1"]))
    with pytest.raises(DataError, match="no record IDs"):
        make_split(Dataset.from_arrays(np.zeros((3, 2)), [0, 1, 0]), ForgetSpec.of_ids(["0"]))


def test_ids_file(tmp_path):
    p = tmp_path / "req.txt"
    p.write_text("\ufeffu1\n\n  u2 \n")
    assert read_ids_file(p) == ("u1", "u2")
    p.write_text("u1\nu2\nu1\n")
    with pytest.raises(ConfigError, match="lines 1 and 3"):
        read_ids_file(p)
    p.write_text("")
    with pytest.raises(ConfigError, match="empty"):
        read_ids_file(p)
    with pytest.raises(ConfigError, match="a list of record IDs"):
        check_request_ids("u1")


def test_drop_train_keeps_v_and_the_test_part():
    ds = dataset()
    smaller = drop_train(ds, [0, 5])
    assert len(smaller.train_y) == 118 and "id0" not in smaller.train_ids and len(smaller.val_y) == 60


# ------------------------------------------------------------------------------------- files
def test_npz_csv_parquet_and_image_folders(tmp_path):
    x, y = blobs(60)
    ids = np.array([f"r{i}" for i in range(60)])
    np.savez(tmp_path / "d.npz", x=x[:40], y=y[:40], ids=ids[:40], x_test=x[40:], y_test=y[40:])
    ds = load_records(tmp_path / "d.npz")
    assert ds.train_ids[0] == "r0" and len(ds.val_y) + len(ds.test_y) == 20
    np.savez(tmp_path / "noids.npz", x=x, y=y)
    with pytest.raises(DataError, match="no array 'ids'"):
        read_records(tmp_path / "noids.npz")
    np.savez(tmp_path / "objects.npz", x=x, y=y, ids=np.array(list(ids), dtype=object))
    with pytest.raises(DataError, match="pickle"):
        read_records(tmp_path / "objects.npz")

    header = "id,f0,f1,label\n"
    (tmp_path / "t.csv").write_text(header + "".join(f"u{i},{i},{i * 2},{'cat' if i % 2 else 'dog'}\n"
                                                     for i in range(10)))
    rec = read_records(tmp_path / "t.csv")
    assert rec.ids[:2] == ["u0", "u1"] and rec.x.shape == (10, 2)
    assert load_records(tmp_path / "t.csv", heldout_size=None).classes == ["cat", "dog"]

    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": [f"p{i}" for i in range(6)], "a": np.arange(6.0), "label": [0, 1, 2] * 2}),
                   tmp_path / "t.parquet")
    rec = read_records(tmp_path / "t.parquet")
    assert rec.ids[-1] == "p5" and rec.x.shape == (6, 1)
    pq.write_table(pa.table({"id": ["p0"], "a": ["text"], "label": [0]}), tmp_path / "bad.parquet")
    with pytest.raises(DataError, match="must be numeric"):
        read_records(tmp_path / "bad.parquet")

    from PIL import Image

    for split, n in (("train", 3), ("test", 2)):
        for cls in ("cat", "dog"):
            (tmp_path / "img" / split / cls).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(np.full((4, 4, 3), 40 * i, dtype=np.uint8)).save(tmp_path / "img" / split / cls /
                                                                                   f"{i}.png")
    ds = load_records(tmp_path / "img", heldout_size=2)
    assert ds.train_ids[0] == "train/cat/0.png" and ds.classes == ["cat", "dog"] and ds.scale == 255.0
    assert ds.train_x.dtype == torch.uint8 and len(ds.val_y) == 2


# ----------------------------------------------------------------------------- model and weights
class Tiny(nn.Module):
    def __init__(self, hidden: int = 5):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(6, hidden), nn.Linear(hidden, 3)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def build_tiny(hidden: int = 5) -> Tiny:
    return Tiny(hidden)


def test_arch_spec_import_paths_and_errors(tmp_path):
    spec = ArchSpec.parse("tests.unit.test_deletion:build_tiny", {"hidden": 7})
    a, b = spec.build(seed=1), spec.build(seed=1)
    assert a.fc1.out_features == 7 and torch.equal(a.fc1.weight, b.fc1.weight), "seeded initialisation"
    assert ArchSpec.from_dict(spec.to_dict()) == spec
    (tmp_path / "model_file.py").write_text("import torch\ndef build():\n    return torch.nn.Linear(6, 3)\n")
    assert isinstance(ArchSpec.parse(f"{tmp_path / 'model_file.py'}:build").build(), nn.Linear)
    for text, match in (("nowhere.mod:build", "No module named 'nowhere'"),
                        ("tests.unit.test_deletion:missing", "no attribute 'missing'"),
                        ("tests.unit.test_deletion:RECOMMENDATIONS", "not callable"),
                        ("tests.unit.test_deletion:dataset", "not a torch.nn.Module")):
        with pytest.raises(ConfigError, match=match):
            ArchSpec.parse(text).build()
    with pytest.raises(ConfigError, match="Unknown architecture 'resnet9000'"):
        ArchSpec.parse("resnet9000")
    with pytest.raises(ConfigError, match="failed: TypeError"):
        ArchSpec.parse("tests.unit.test_deletion:build_tiny", {"width": 3}).build()


def test_weights_formats_and_fit(tmp_path):
    model = Tiny()
    save_file(model.state_dict(), str(tmp_path / "w.safetensors"))
    torch.save(model.state_dict(), tmp_path / "w.pt")
    assert weights_sha256(read_state_dict(tmp_path / "w.safetensors")) == weights_sha256(model)
    assert weights_sha256(read_state_dict(tmp_path / "w.pt")) == weights_sha256(model)
    torch.save(model.state_dict(), tmp_path / "pickle.safetensors")
    with pytest.raises(DataError, match="pickle"):
        read_state_dict(tmp_path / "pickle.safetensors")
    torch.save(model, tmp_path / "whole.pt")
    with pytest.raises(DataError, match="weights_only"):
        read_state_dict(tmp_path / "whole.pt")
    (tmp_path / "w.bin2").write_bytes(b"x")
    with pytest.raises(DataError, match="suffix"):
        read_state_dict(tmp_path / "w.bin2")
    with pytest.raises(ConfigError, match="key 'fc1.weight' has shape"):
        load_weights_into(Tiny(hidden=4), model.state_dict())
    state = dict(model.state_dict())
    del state["fc2.bias"]
    with pytest.raises(ConfigError, match="key 'fc2.bias'.*missing"):
        load_weights_into(Tiny(), state)
    state = {**model.state_dict(), "extra": torch.zeros(1)}
    with pytest.raises(ConfigError, match="key 'extra' is not"):
        load_weights_into(Tiny(), state)


# -------------------------------------------------------------------------------------- ledger
def append(ledger: Ledger, n: int, before: bytes, after: bytes, ids=("x",)) -> dict:
    import hashlib

    entry = ledger.build_entry({"request_id": f"req-{n}", "n_deleted": len(ids), "ids": list(ids),
                                "model_before_sha256": hashlib.sha256(before).hexdigest(),
                                "model_after_sha256": hashlib.sha256(after).hexdigest()})
    ledger.append(entry, after, before if n == 1 else None)
    return entry


def models(k: int) -> list[bytes]:
    return [weights_bytes({"w": torch.full((2,), float(i))}) for i in range(k)]


def test_ledger_chain_and_every_kind_of_tampering(tmp_path):
    w = models(4)
    root = tmp_path / "led"
    ledger = Ledger(root)
    for i in (1, 2, 3):
        append(ledger, i, w[i - 1], w[i], ids=(f"id{i}",))
    v = ledger.verify()
    assert v.ok and v.n_entries == 3 and v.head_hash == ledger.entries()[-1]["hash"]
    assert ledger.deleted_by(["id2", "zz"]) == {"id2": 2}
    assert ledger.entries()[0]["prev_hash"] == GENESIS
    assert all(e["hash"] == entry_hash(e) for e in ledger.entries())

    def broken(mutate, match, first_bad):
        copy = tmp_path / "copy"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(root, copy)
        mutate(copy)
        v = Ledger(copy).verify()
        assert not v.ok and v.first_bad == first_bad, v.problem
        assert match in v.problem, v.problem

    def edit(p):
        e = json.loads((p / "entries/000002.json").read_text())
        e["n_deleted"] = 9
        (p / "entries/000002.json").write_text(json.dumps(e))

    def rehash(p):  # edited and re-hashed: the next entry no longer follows it
        e = json.loads((p / "entries/000002.json").read_text())
        e["n_deleted"] = 9
        e["hash"] = entry_hash(e)
        (p / "entries/000002.json").write_text(json.dumps(e))

    def remove_middle(p):
        (p / "entries/000002.json").unlink()
        (p / "entries/000003.json").rename(p / "entries/000002.json")
        (p / "HEAD").write_text(json.dumps({"seq": 2, "hash": json.loads((p / "entries/000002.json").read_text())["hash"]}))

    broken(edit, "entry 2 (req-2) was edited", 2)
    broken(rehash, "entry 3 (req-3) does not follow entry 2", 3)
    broken(lambda p: (p / "entries/000002.json").unlink(), "entry 2 was removed", 2)
    broken(remove_middle, "holds request number 3", 2)
    broken(lambda p: (p / "weights/000002.safetensors").write_bytes(w[0]), "weights of entry 2", 2)
    broken(lambda p: (p / "weights/000000.safetensors").write_bytes(w[3]), "before entry 1", 1)
    broken(lambda p: (p / "HEAD").write_text(json.dumps({"seq": 3, "hash": "ab" * 32})), "HEAD", 3)
    # truncation: the last entry removed and HEAD rewritten; only a kept head hash tells
    head = ledger.verify().head_hash
    copy = tmp_path / "trunc"
    shutil.copytree(root, copy)
    (copy / "entries/000003.json").unlink()
    (copy / "HEAD").write_text(json.dumps({"seq": 2, "hash": ledger.entries()[1]["hash"]}))
    assert Ledger(copy).verify().ok
    v = Ledger(copy).verify(expect_head=head)
    assert not v.ok and "not in the ledger" in v.problem
    with pytest.raises(LedgerError, match="broken"):
        broken_copy = tmp_path / "copy"
        Ledger(broken_copy).check()


def test_ledger_refuses_stale_appends_and_foreign_directories(tmp_path):
    w = models(3)
    ledger = Ledger(tmp_path / "led")
    stale = Ledger(tmp_path / "led")
    entry = stale.build_entry({"request_id": "late", "model_before_sha256": "0", "model_after_sha256": "0"})
    append(ledger, 1, w[0], w[1])
    import hashlib

    entry["model_after_sha256"] = hashlib.sha256(w[2]).hexdigest()
    with pytest.raises(LedgerError, match="changed while this request ran"):
        stale.append(entry, w[2])
    assert ledger.verify().n_entries == 1
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(LedgerError, match="not a ledger"):
        Ledger(tmp_path / "other").verify()


# ---------------------------------------------------------------------------- auto and evidence
def test_request_shape_and_the_recommendation_table():
    y = np.array([0, 0, 1, 1, 2, 2])
    assert request_shape(y, np.array([2, 3])) == ("class", [1])
    assert request_shape(y, np.array([2, 3, 4, 5])) == ("class", [1, 2])
    assert request_shape(y, np.array([0, 2])) == ("scattered", [])
    assert request_shape(y, np.arange(6))[0] == "scattered", "deleting every class is not a class request"
    for rec in RECOMMENDATIONS.values():
        assert rec.source.startswith("docs/") and rec.why
        from unlearnkit.methods import make_method

        make_method(rec.method, rec.params)


def test_evidence_warns_when_nothing_changed():
    ds = dataset(n_train=150, n_test=1200)
    model = nn.Sequential(nn.Linear(6, 3))
    split = make_split(ds, ForgetSpec.of_ids([f"id{i}" for i in range(60)]))
    ev = compute_evidence(model, model, split, shape="scattered", weights_changed=False)
    assert ev.sizes["deleted"] == 60 and ev.sizes["heldout_forget"] == 600, "V_f: every held-out record of the classes"
    assert ev.stat("retained_acc_lost")["value"] == 0.0 and ev.stat("heldout_acc_lost")["value"] == 0.0
    assert ev.verdict == "inconclusive", "60 records cannot be told from 600 held-out ones within the margin"
    assert "straddles" in ev.verdict_text and "about" in ev.verdict_text and "source:" in ev.margins
    assert any("did not change" in w for w in ev.warnings)
    small = make_split(ds, ForgetSpec.of_ids(["id1", "id2"]))
    ev = compute_evidence(model, model, small, shape="scattered")
    assert ev.verdict == "inconclusive" and ev.detail["needed"]["deleted"] > 2


def test_evidence_refuses_a_heldout_slice_too_small_or_lacking_a_class():
    from unlearnkit.deletion.margins import load_margins

    model = nn.Sequential(nn.Linear(6, 3))
    ds = dataset(n_train=150, n_test=120)  # V: 20 records per class
    split = make_split(ds, ForgetSpec.of_ids([f"id{i}" for i in range(60)]))
    with pytest.raises(ConfigError, match=f"needs at least {load_margins().min_heldout}") as exc:
        compute_evidence(model, model, split, shape="scattered")
    assert "\n" not in str(exc.value)
    big = dataset(n_train=150, n_test=1200)
    keep = torch.nonzero(big.val_y != 1).flatten()
    no_b = dataclasses.replace(big, val_x=big.val_x[keep], val_y=big.val_y[keep],
                               val_ids=None if big.val_ids is None else tuple(big.val_ids[int(i)] for i in keep))
    split = make_split(no_b, ForgetSpec.of_ids([f"id{i}" for i in range(60)]))
    with pytest.raises(ConfigError, match=r"no record of class 1 \('b'\)"):
        compute_evidence(model, model, split, shape="scattered")


def test_python_forget_returns_model_evidence_and_entry(tmp_path):
    ds = dataset(n_train=150, n_test=1200)
    torch.manual_seed(0)
    model = Tiny()
    result = forget(model, ds, [f"id{i}" for i in range(45)], method="finetune", params={"epochs": 1},
                    ledger=tmp_path / "led", arch=ArchSpec.parse("tests.unit.test_deletion:build_tiny"))
    assert result.entry["seq"] == 1 and result.entry["model_after_sha256"] == weights_sha256(result.model)
    assert result.evidence.sizes["deleted"] == 45 and result.model is not model
    assert sorted(result.entry["ids"]) == sorted(f"id{i}" for i in range(45))
    from unlearnkit import load_run_model

    again = load_run_model(result.request_id, ledger=tmp_path / "led")
    assert weights_sha256(again) == weights_sha256(result.model)
    with pytest.raises(ConfigError, match="already deleted"):
        forget(result.model, ds, ["id3"], ledger=tmp_path / "led")
    with pytest.raises(ConfigError, match="not the ledger's latest"):
        forget(model, ds, ["id100"], ledger=tmp_path / "led")
    with pytest.raises(ConfigError, match="No held-out records"):
        forget(model, Dataset.from_arrays(np.zeros((4, 6), np.float32), [0, 1, 2, 0], ids=list("abcd")), ["a"])


def test_load_run_model_from_the_run_store(tmp_path):
    from unlearnkit import load_run_model
    from unlearnkit.runs.experiment import ExperimentConfig, Workspace, run_unlearning

    ws = Workspace(tmp_path / "home")
    cfg = ExperimentConfig(dataset="digits", model="mlp", forget="class:3", recipe="fast",
                           model_kwargs={"hidden_width": 16, "depth": 1})
    outcome = run_unlearning(ws, cfg, "finetune", {"epochs": 1}, metrics=["ua"])
    model = load_run_model(outcome.run_id, home=tmp_path / "home")
    assert weights_sha256(model) == weights_sha256(outcome.result.model)
    with pytest.raises(Exception, match="No run 'nope'"):
        load_run_model("nope", home=tmp_path / "home")


def test_csv_dataset_id_column_and_ids_spec_on_the_cli_datasets(tmp_path):
    from unlearnkit import load_dataset

    rows = "".join(f"u{i},{i % 7},{(i * 3) % 5},{i % 2}\n" for i in range(40))
    (tmp_path / "train.csv").write_text("id,a,b,label\n" + rows)
    ds = load_dataset("csv", path=str(tmp_path / "train.csv"), id_column="id")
    assert len(ds.train_ids) + len(ds.test_ids) == 40 and ds.input_shape == (2,)
    (tmp_path / "req.txt").write_text(f"{ds.train_ids[4]}\n{ds.train_ids[9]}\n")
    split = make_split(ds, f"ids:{tmp_path / 'req.txt'}")
    assert split.forget.tolist() == [4, 9]
    sub = load_dataset("csv", path=str(tmp_path / "train.csv"), id_column="id", val_size=6)
    assert len(sub.val_ids) == 6 and not set(sub.val_ids) & set(sub.train_ids)
