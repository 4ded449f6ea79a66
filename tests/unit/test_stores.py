"""Unit tests of the model store (``training/store.py``) and the run store (``runs/store.py``)."""

from __future__ import annotations

import csv
import os
import io
import json
import sqlite3
import time

import pytest
import torch
from torch import nn

from unlearnkit.errors import StoreError
from unlearnkit.runs.store import COLUMNS, RunStore
from unlearnkit.training.store import ModelStore, content_key, default_home, load_weights


def _net(seed: int = 0, width: int = 4) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, width), nn.ReLU(), nn.Linear(width, 2))


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


SPEC = {"dataset": "digits", "split": "full", "arch": {"name": "mlp", "width": 4}, "seed": 0, "version": "1"}


# =========================================================================== ModelStore


@pytest.fixture
def store(tmp_path) -> ModelStore:
    return ModelStore(tmp_path / "models")


def test_put_has_load_into_round_trip(store):
    model = _net(0)
    key = store.put(SPEC, model, {"train_accuracy": 99.5})
    assert store.has(key)
    fresh = _net(1)
    assert not _same_weights(fresh, model)
    fresh.train()
    loaded = store.load_into(key, fresh)
    assert loaded is fresh
    assert not loaded.training  # returned in eval mode
    assert _same_weights(loaded, model)
    record = store.meta(key)
    assert record["key"] == key and record["spec"] == SPEC and record["meta"] == {"train_accuracy": 99.5}
    assert len(record["weights_sha256"]) == 64
    state = store.load_state(key)
    assert set(state) == set(model.state_dict())


def test_put_stores_a_copy(store):
    model = _net(0)
    expected = {k: v.clone() for k, v in model.state_dict().items()}
    key = store.put(SPEC, model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)  # changing the model afterwards does not change the entry
    state = store.load_state(key)
    assert all(torch.equal(state[k], expected[k]) for k in expected)


def test_same_spec_same_key(store):
    k1 = store.put(SPEC, _net(0))
    reordered = dict(reversed(list(SPEC.items())))
    k2 = store.put(reordered, _net(0))
    assert k1 == k2 == content_key(SPEC)
    assert len(k1) == 64 and all(c in "0123456789abcdef" for c in k1)
    assert store.put({**SPEC, "seed": 1}, _net(0)) != k1
    assert content_key({**SPEC, "arch": {"name": "mlp", "width": 8}}) != k1
    assert ModelStore(store.root).has(k1)  # another store object on the same folder sees it


def test_put_again_overwrites_the_entry(store):
    key = store.put(SPEC, _net(0))
    store.put(SPEC, _net(5))
    assert _same_weights(store.load_into(key, _net(1)), _net(5))


def test_unknown_key(store):
    assert not store.has("0" * 64)
    with pytest.raises(StoreError, match="No model"):
        store.load_into("0" * 64, _net())
    with pytest.raises(StoreError, match="No model"):
        store.meta("ab" * 32)


def test_no_temp_files_left_after_put(store):
    keys = {store.put({**SPEC, "seed": s}, _net(s)) for s in range(3)}
    files = sorted(p for p in store.root.rglob("*") if p.is_file())
    assert len(files) == 2 * len(keys)
    for p in files:
        assert not p.name.startswith("."), p
        assert not p.name.endswith(".tmp"), p
        assert p.suffix in (".safetensors", ".json")
        assert p.stem in keys
        assert p.parent.name == p.stem[:2]


def test_truncated_weights_file_is_a_store_error(store):
    key = store.put(SPEC, _net(0))
    weights, _ = store._paths(key)
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(StoreError) as info:
        store.load_into(key, _net(1))
    assert str(weights) in str(info.value)


def test_altered_weights_file_is_a_store_error(store):
    key = store.put(SPEC, _net(0))
    weights, _ = store._paths(key)
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0xFF  # one flipped byte inside the tensor data: still a valid safetensors file
    weights.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="checksum") as info:
        store.load_into(key, _net(1))
    assert str(weights) in str(info.value)


def test_missing_weights_file_is_a_store_error(store):
    key = store.put(SPEC, _net(0))
    weights, _ = store._paths(key)
    weights.unlink()
    with pytest.raises(StoreError, match="missing") as info:
        store.load_into(key, _net(1))
    assert str(weights) in str(info.value)


def test_load_weights_without_checksum_rejects_garbage(tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"\x00\x01not a safetensors file at all")
    with pytest.raises(StoreError) as info:
        load_weights(path)
    assert str(path) in str(info.value)
    with pytest.raises(StoreError, match="missing"):
        load_weights(tmp_path / "absent.safetensors")


def test_load_weights_without_checksum_rejects_truncation(store):
    key = store.put(SPEC, _net(0))
    weights, _ = store._paths(key)
    data = weights.read_bytes()
    weights.write_bytes(data[:-8])
    with pytest.raises(StoreError) as info:
        load_weights(weights)  # no checksum: the safetensors reader itself must notice
    assert str(weights) in str(info.value)


@pytest.mark.parametrize("content", [b"{not json", b"", b"\xff\xfe\x00garbage", b'{"key": "abc", '])
def test_corrupt_metadata_is_a_store_error(store, content):
    key = store.put(SPEC, _net(0))
    _, meta = store._paths(key)
    meta.write_bytes(content)
    with pytest.raises(StoreError, match="corrupt") as info:
        store.load_into(key, _net(1))
    assert str(meta) in str(info.value)
    with pytest.raises(StoreError):
        store.meta(key)


@pytest.mark.parametrize("content", ["[]", "null"])
def test_metadata_that_is_not_an_object_is_a_store_error(store, content):
    key = store.put(SPEC, _net(0))
    _, meta = store._paths(key)
    meta.write_text(content)
    with pytest.raises(StoreError):
        store.load_into(key, _net(1))


def test_architecture_mismatch_is_a_store_error(store):
    key = store.put(SPEC, _net(0, width=4))
    with pytest.raises(StoreError, match=f"Model-store entry {key} does not fit this architecture"):
        store.load_into(key, _net(0, width=8))  # same keys, other shapes
    with pytest.raises(StoreError, match="does not fit this architecture"):
        store.load_into(key, nn.Linear(3, 2))  # other keys


def test_default_root_follows_unlearnkit_home(monkeypatch, tmp_path):
    monkeypatch.setenv("UNLEARNKIT_HOME", str(tmp_path / "home"))
    assert default_home() == tmp_path / "home"
    assert ModelStore().root == tmp_path / "home" / "models"


# =========================================================================== RunStore


def _start(runs: RunStore, **over) -> str:
    kw = dict(dataset="digits", model="mlp", forget="class:3", split_fingerprint="abcd", seed=0, method="finetune",
              params={"lr": 0.01, "epochs": 2}, config={"recipe": "fast"}, config_hash="h0", version="0.1.0")
    kw.update(over)
    return runs.start(**kw)


@pytest.fixture
def runs(tmp_path) -> RunStore:
    return RunStore(tmp_path / "sub" / "runs.sqlite")


def test_start_finish_get(runs):
    rid = _start(runs)
    row = runs.get(rid)
    assert row["status"] == "running"
    assert row["metrics"] is None and row["finished_at"] is None and row["runtime_s"] is None
    assert row["params"] == {"lr": 0.01, "epochs": 2}  # JSON columns are decoded
    assert row["config"] == {"recipe": "fast"}
    assert (row["dataset"], row["model"], row["forget"], row["seed"], row["method"]) == ("digits", "mlp", "class:3", 0, "finetune")
    assert set(row) == set(COLUMNS)
    runs.finish(rid, metrics={"ua": 1.0, "ra": 99.0}, runtime_s=0.5, unlearned_key="k1")
    row = runs.get(rid)
    assert row["status"] == "done"
    assert row["metrics"] == {"ua": 1.0, "ra": 99.0}
    assert row["runtime_s"] == 0.5 and row["unlearned_key"] == "k1"
    assert row["finished_at"] >= row["created_at"]
    assert row["error"] is None


def test_fail(runs):
    rid = _start(runs)
    runs.fail(rid, "RuntimeError: boom")
    row = runs.get(rid)
    assert row["status"] == "failed" and row["error"] == "RuntimeError: boom"
    assert row["metrics"] is None and row["finished_at"] is not None


def test_rows_persist_across_store_objects(runs):
    rid = _start(runs)
    runs.finish(rid, metrics={"ua": 2.0}, runtime_s=1.0, unlearned_key=None)
    again = RunStore(runs.path)
    assert again.get(rid)["metrics"] == {"ua": 2.0}


def test_unknown_id_is_a_store_error(runs):
    _start(runs)
    with pytest.raises(StoreError, match="No run 'nope' in the run store"):
        runs.get("nope")


def test_finish_of_an_unknown_id_is_a_store_error(runs):
    with pytest.raises(StoreError):
        runs.finish("nope", metrics={"ua": 1.0}, runtime_s=0.1, unlearned_key=None)


def test_list_filters_and_order(runs):
    a = _start(runs, method="finetune", dataset="digits")
    time.sleep(0.002)
    b = _start(runs, method="grad_ascent", dataset="digits")
    time.sleep(0.002)
    c = _start(runs, method="finetune", dataset="mnist5k")
    runs.finish(a, metrics={"ua": 1.0}, runtime_s=0.1, unlearned_key=None)
    runs.fail(b, "boom")
    assert [r["id"] for r in runs.list()] == [a, b, c]
    assert [r["id"] for r in runs.list(status="done")] == [a]
    assert [r["id"] for r in runs.list(status="failed")] == [b]
    assert [r["id"] for r in runs.list(status="running")] == [c]
    assert [r["id"] for r in runs.list(method="finetune")] == [a, c]
    assert [r["id"] for r in runs.list(dataset="mnist5k")] == [c]
    assert [r["id"] for r in runs.list(method="finetune", dataset="digits")] == [a]
    assert runs.list(method="nothing") == []


def test_find_done(runs):
    running = _start(runs, config_hash="h1")
    failed = _start(runs, config_hash="h1")
    runs.fail(failed, "boom")
    assert runs.find_done("h1") is None
    time.sleep(0.002)
    done = _start(runs, config_hash="h1")
    runs.finish(done, metrics={"ua": 3.0}, runtime_s=0.2, unlearned_key=None)
    other = _start(runs, config_hash="h2")
    runs.finish(other, metrics={"ua": 4.0}, runtime_s=0.2, unlearned_key=None)
    found = runs.find_done("h1")
    assert found is not None and found["id"] == done and found["metrics"] == {"ua": 3.0}
    assert runs.find_done("h2")["id"] == other
    assert runs.find_done("unknown") is None
    assert runs.get(running)["status"] == "running"


def test_delete(runs):
    rid = _start(runs)
    runs.delete(rid)
    with pytest.raises(StoreError):
        runs.get(rid)


def _report_dict(unlearned: dict, golden: dict | None = None) -> dict:
    """The shape of ``Report.to_dict()`` as the run store records it."""
    golden = golden or {}
    return {"metrics": list(unlearned), "rows": {"unlearned": unlearned, "golden": golden, "original": {}},
            "gaps": {m: abs(v - golden[m]) for m, v in unlearned.items() if m in golden}, "absent": {},
            "cards": {m: {"name": m, "definition": "d", "direction": "golden", "unit": "%"} for m in unlearned}}


def test_export_csv(runs):
    a = _start(runs, method="finetune")
    time.sleep(0.002)
    b = _start(runs, method="grad_ascent", params={"lr": 0.1, "note": "a,b \"quoted\""})
    time.sleep(0.002)
    c = _start(runs, method="retrain")
    runs.finish(a, metrics=_report_dict({"ua": 1.5, "ra": 99.0}, {"ua": 2.0, "ra": 98.0}), runtime_s=0.25,
                unlearned_key="k")
    runs.finish(b, metrics=_report_dict({"ua": 2.5, "cpu_s": 0.5}), runtime_s=0.5, unlearned_key=None)
    text = runs.export_csv()
    reader = csv.DictReader(io.StringIO(text))
    base = [col for col in COLUMNS if col != "metrics"]
    # one flat column per metric of the unlearned model, named by the metric, in order of first appearance
    assert reader.fieldnames == base + ["ua", "ra", "cpu_s"]
    rows = list(reader)
    assert [r["id"] for r in rows] == [a, b, c]
    by_id = {r["id"]: r for r in rows}
    assert float(by_id[a]["ua"]) == 1.5 and float(by_id[a]["ra"]) == 99.0 and by_id[a]["cpu_s"] == ""
    assert float(by_id[b]["cpu_s"]) == 0.5 and by_id[b]["ra"] == ""
    assert all(by_id[c][m] == "" for m in ("ua", "ra", "cpu_s"))
    assert by_id[c]["status"] == "running"
    assert json.loads(by_id[b]["params"]) == {"lr": 0.1, "note": 'a,b "quoted"'}
    assert json.loads(by_id[a]["config"]) == {"recipe": "fast"}  # nested fields are JSON
    assert float(by_id[a]["runtime_s"]) == 0.25
    assert by_id[a]["method"] == "finetune" and by_id[a]["seed"] == "0"
    assert "{'" not in text, "no Python repr anywhere"


def test_export_csv_reads_in_pandas_as_is(runs):
    pd = pytest.importorskip("pandas")
    a = _start(runs, params={"lr": 0.01, "betas": [0.9, 0.99]})
    runs.finish(a, metrics=_report_dict({"ua": 1.5, "avg_gap": 0.25}), runtime_s=0.25, unlearned_key="k")
    frame = pd.read_csv(io.StringIO(runs.export_csv()))
    assert frame.loc[0, "ua"] == 1.5 and frame.loc[0, "avg_gap"] == 0.25 and frame["ua"].dtype.kind == "f"
    assert json.loads(frame.loc[0, "params"]) == {"betas": [0.9, 0.99], "lr": 0.01}
    assert json.loads(frame.loc[0, "config"]) == {"recipe": "fast"}


def test_export_csv_of_chosen_rows_and_of_an_empty_store(runs):
    assert list(csv.reader(io.StringIO(runs.export_csv()))) == [[c for c in COLUMNS if c != "metrics"]]
    a = _start(runs)
    b = _start(runs)
    runs.finish(a, metrics={"x": 1}, runtime_s=1.0, unlearned_key=None)  # a flat dict of values works too
    runs.finish(b, metrics={"y": 2}, runtime_s=1.0, unlearned_key=None)
    rows = list(csv.DictReader(io.StringIO(runs.export_csv(runs.list(status="done")[:1]))))
    assert len(rows) == 1
    assert [k for k in rows[0] if k not in COLUMNS] == ["x"]


def test_export_csv_names_a_metric_that_shadows_a_field(runs):
    a = _start(runs)
    runs.finish(a, metrics={"seed": 3.0}, runtime_s=1.0, unlearned_key=None)
    row = next(csv.DictReader(io.StringIO(runs.export_csv())))
    assert row["seed"] == "0" and row["metric.seed"] == "3.0"


def test_non_sqlite_file_is_a_store_error(tmp_path):
    path = tmp_path / "runs.sqlite"
    path.write_bytes(b"this is definitely not an SQLite database\n" * 100)
    with pytest.raises(StoreError, match="not a valid SQLite database") as info:
        RunStore(path)
    assert str(path) in str(info.value)


def test_transaction_rolls_back_on_error(runs):
    keep = _start(runs)
    insert = (
        "INSERT INTO runs (id, created_at, status, dataset, model, forget, split_fingerprint, seed, method, params, "
        "config, config_hash, version) VALUES ('tx1', 0, 'running', 'd', 'm', 'f', 'fp', 0, 'meth', '{}', '{}', 'h', 'v')"
    )
    with pytest.raises(RuntimeError, match="boom"):
        with runs._connect() as conn:
            conn.execute(insert)
            assert conn.execute("SELECT COUNT(*) FROM runs WHERE id='tx1'").fetchone()[0] == 1
            raise RuntimeError("boom")
    assert [r["id"] for r in runs.list()] == [keep]
    with pytest.raises(StoreError):
        runs.get("tx1")
    # seen from an independent connection too
    with sqlite3.connect(runs.path) as raw:
        assert raw.execute("SELECT COUNT(*) FROM runs WHERE id='tx1'").fetchone()[0] == 0
    # the same block without the error commits
    with runs._connect() as conn:
        conn.execute(insert)
    assert runs.get("tx1")["status"] == "running"


def test_status_check_constraint_rolls_back(runs):
    rid = _start(runs)
    with pytest.raises(sqlite3.IntegrityError):
        with runs._connect() as conn:
            conn.execute("UPDATE runs SET error='x' WHERE id=?", (rid,))
            conn.execute("UPDATE runs SET status='weird' WHERE id=?", (rid,))
    row = runs.get(rid)
    assert row["status"] == "running" and row["error"] is None


# ============================================================================ claims (issue 15)
def _dead_pid() -> int:
    import subprocess

    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _claim(runs: RunStore, config_hash: str = "h0"):
    kw = dict(dataset="digits", model="mlp", forget="class:3", split_fingerprint="abcd", seed=0, method="finetune",
              params={}, config={}, version="0.1.0")
    return runs.claim_run(config_hash=config_hash, **kw)


def test_claim_run_claims_once_and_skips_done_and_held_runs(runs):
    first = _claim(runs)
    assert first.status == "claimed" and runs.get(first.run_id)["status"] == "running"
    held = _claim(runs)
    assert held.status == "busy" and held.run_id is None and str(os.getpid()) in held.owner
    assert [c["run_id"] for c in runs.claims()] == [first.run_id]
    runs.finish(first.run_id, metrics={"ua": 1.0}, runtime_s=0.1, unlearned_key=None)
    assert runs.claims() == [], "finishing releases the claim"
    assert _claim(runs).status == "done"
    other = _claim(runs, "h1")
    runs.fail(other.run_id, "boom")
    assert runs.claims() == [] and _claim(runs, "h1").status == "claimed", "a failed run is redone"


def test_claims_of_a_dead_process_are_reaped(runs):
    a = _claim(runs, "h1")
    b = _claim(runs, "h2")
    with sqlite3.connect(runs.path) as conn:
        conn.execute("UPDATE claims SET pid=? WHERE run_id=?", (_dead_pid(), a.run_id))
    again = _claim(runs, "h1")  # the dead owner's run is marked interrupted and the config claimed anew
    assert again.status == "claimed" and again.reaped == [a.run_id]
    row = runs.get(a.run_id)
    assert row["status"] == "failed" and row["error"].startswith("interrupted")
    assert runs.get(b.run_id)["status"] == "running", "a live owner's run is left alone"
    with pytest.raises(StoreError, match="taken for interrupted"):
        runs.finish(a.run_id, metrics={"ua": 1.0}, runtime_s=0.1, unlearned_key=None)
    assert runs.get(a.run_id)["status"] == "failed", "a reaped run is never turned done"


def test_stale_heartbeat_and_orphan_rows_are_reaped(runs):
    a = _claim(runs, "h1")
    with sqlite3.connect(runs.path) as conn:
        conn.execute("UPDATE claims SET heartbeat=heartbeat-?, host='elsewhere' WHERE run_id=?", (runs.stale_s + 5, a.run_id))
        # a running row without any claim: left by an unlearnkit without claims
        conn.execute("INSERT INTO runs (id, created_at, status, dataset, model, forget, split_fingerprint, seed, method, "
                     "params, config, config_hash, version) VALUES ('old', 0, 'running', 'd', 'm', 'f', 'fp', 0, 'x', "
                     "'{}', '{}', 'h9', 'v')")
    fresh = _claim(runs, "h2")
    assert sorted(runs.reap()) == sorted([a.run_id, "old"])
    assert runs.get("old")["status"] == "failed" and runs.get(fresh.run_id)["status"] == "running"
    assert [c["run_id"] for c in runs.claims()] == [fresh.run_id]


def test_heartbeat_refreshes_the_claims_of_this_process(runs):
    a = _claim(runs)
    with sqlite3.connect(runs.path) as conn:
        conn.execute("UPDATE claims SET heartbeat=0")
    assert runs.beat() == 1
    assert runs.claims()[0]["heartbeat"] > time.time() - 60 and runs.reap() == []
    runs.finish(a.run_id, metrics={}, runtime_s=0.0, unlearned_key=None)
    assert runs.beat() == 0


def test_claim_model(runs):
    assert runs.claim_model("k").status == "claimed"
    assert runs.claim_model("k").status == "claimed", "this process already holds it"
    with sqlite3.connect(runs.path) as conn:
        conn.execute("UPDATE claims SET token='someone-else'")
    assert runs.claim_model("k").status == "busy"
    with sqlite3.connect(runs.path) as conn:
        conn.execute("UPDATE claims SET pid=?", (_dead_pid(),))
    assert runs.claim_model("k").status == "claimed", "a gone trainer's claim is taken over"
    runs.release_model("k")
    assert runs.claims() == []


def test_read_only_open_creates_nothing(tmp_path):
    path = tmp_path / "home" / "runs.sqlite"
    with pytest.raises(StoreError, match="There is no run store at"):
        RunStore(path, create=False)
    assert not (tmp_path / "home").exists()
    RunStore(path)
    assert RunStore(path, create=False).list() == []
    path.write_bytes(b"not a database at all" * 50)
    with pytest.raises(StoreError, match="not a valid SQLite database"):
        RunStore(path, create=False)


def test_a_store_opened_for_reading_reads_a_read_only_file_and_writes_nothing(tmp_path):
    path = tmp_path / "runs.sqlite"
    rid = _start(RunStore(path))
    before = path.read_bytes()
    reader = RunStore(path, create=False)
    assert [r["id"] for r in reader.list()] == [rid] and reader.get(rid)["status"] == "running"
    with sqlite3.connect(reader._read_only_uri(), uri=True) as conn:  # the connection the reader uses
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("DELETE FROM runs")
    with pytest.raises(StoreError, match="cannot be written"):
        _start(reader)
    assert path.read_bytes() == before


def test_a_read_only_run_store_is_called_read_only(tmp_path, monkeypatch):
    """Opened read-only (as a file without write permission is for a user other than root)."""
    import unlearnkit.runs.store as store_module

    path = tmp_path / "runs.sqlite"
    RunStore(path)
    real = sqlite3.connect

    def read_only(target, *args, **kwargs):
        kwargs.pop("uri", None)
        return real(f"file:{target}?mode=ro", *args, uri=True, **kwargs)

    monkeypatch.setattr(store_module.sqlite3, "connect", read_only)
    with pytest.raises(StoreError, match="cannot be written: it or its folder is read-only") as info:
        _start(RunStore(path))
    assert "not a valid SQLite database" not in str(info.value)
