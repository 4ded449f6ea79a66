"""What ``recover`` may touch after a killed ``forget``, and what it must leave alone."""

from __future__ import annotations

import hashlib
import json
import os

from unlearnkit.deletion.ledger import Ledger
from unlearnkit.deletion.recovery import PENDING_DIR, describe, pending, recover
from unlearnkit.fileio import host_tag

DEAD_PID = 2 ** 22 + 12345  # above Linux's pid_max default: no such process


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _committed_request(tmp_path, seq_out: str = "r1"):
    """A ledger with entry 1 committed, its output staged by a dead process, and the marker."""
    ledger = Ledger(tmp_path / "ledger")
    before, after = b"weights before", b"weights after"
    entry = ledger.build_entry({"request_id": "req-0001-abcd", "model_before_sha256": _sha(before),
                                "model_after_sha256": _sha(after)})
    ledger.append(entry, after, before)
    stage = tmp_path / f".{seq_out}.tmp-{DEAD_PID}@{host_tag()}-x1y2"
    stage.mkdir()
    for name in ("model.safetensors", "evidence.json", "ledger-entry.json"):
        (stage / name).write_text(name)
    marker = ledger.path / PENDING_DIR / f"{entry['hash']}.json"
    marker.parent.mkdir()
    marker.write_text(json.dumps({"seq": 1, "request_id": "req-0001-abcd", "entry_hash": entry["hash"],
                                  "stage": str(stage), "out": str(tmp_path / seq_out)}))
    return ledger, stage, marker


def test_a_committed_request_is_finished(tmp_path):
    ledger, stage, marker = _committed_request(tmp_path)
    [info] = pending(ledger)
    assert info["committed"] and not info["running"] and "not moved into place" in describe(info)
    notes = recover(ledger, tmp_path)
    assert notes == [f"finished the output of request 1 (req-0001-abcd), recorded when its process stopped: "
                     f"{tmp_path / 'r1'}"]
    assert (tmp_path / "r1" / "model.safetensors").is_file() and not stage.exists() and not marker.exists()
    assert recover(ledger, tmp_path) == [] and pending(ledger) == []


def test_nothing_is_touched_while_the_ledger_cannot_be_read(tmp_path):
    ledger, stage, marker = _committed_request(tmp_path)
    (ledger.path / "HEAD").write_text("{broken")
    assert recover(ledger, tmp_path) == []
    assert stage.is_dir() and marker.exists() and not (tmp_path / "r1").exists()
    assert describe(pending(ledger)[0]) is None
    assert recover(None, tmp_path) == [], "a staging folder holding a ledger entry is left to its ledger"
    assert stage.is_dir()


def test_an_uncommitted_request_is_removed(tmp_path):
    ledger, stage, marker = _committed_request(tmp_path)
    info = json.loads(marker.read_text())
    other = tmp_path / f".r2.tmp-{DEAD_PID}@{host_tag()}-z9"
    other.mkdir()
    (other / "evidence.json").write_text("{}")
    gone = ledger.path / PENDING_DIR / ("f" * 64 + ".json")
    gone.write_text(json.dumps({**info, "seq": 2, "entry_hash": "f" * 64, "stage": str(other),
                                "out": str(tmp_path / "r2")}))
    assert "was not recorded" in describe([i for i in pending(ledger) if i["seq"] == 2][0])
    notes = recover(ledger, None)
    assert any("removed" in n and str(other) in n for n in notes) and not other.exists() and not gone.exists()


def test_the_scan_next_to_out_removes_only_abandoned_staging_folders(tmp_path):
    dead = tmp_path / f".a.tmp-{DEAD_PID}@{host_tag()}-q1"
    live = tmp_path / f".b.tmp-{os.getpid()}@{host_tag()}-q2"
    foreign = tmp_path / f".c.tmp-{DEAD_PID}@{host_tag()}-q3"
    for d in (dead, live, foreign):
        d.mkdir()
        (d / "evidence.md").write_text("x")
    (foreign / "notes.txt").write_text("not ours")
    notes = recover(None, tmp_path)
    assert len(notes) == 1 and str(dead) in notes[0]
    assert not dead.exists() and live.is_dir() and foreign.is_dir()


def test_a_first_request_killed_before_its_commit(tmp_path, capsys):
    """The ledger has no LEDGER file yet, only the marker: its leftovers are reported and removed."""
    from unlearnkit.cli import main

    ledger = Ledger(tmp_path / "ledger")
    stage = tmp_path / f".r1.tmp-{DEAD_PID}@{host_tag()}-k7"
    stage.mkdir()
    (stage / "ledger-entry.json").write_text("{}")
    (ledger.path / PENDING_DIR).mkdir(parents=True)
    (ledger.path / PENDING_DIR / ("a" * 64 + ".json")).write_text(json.dumps(
        {"seq": 1, "request_id": "req-0001-aaaa", "entry_hash": "a" * 64, "stage": str(stage),
         "out": str(tmp_path / "r1")}))
    assert not ledger.exists and recover(None, tmp_path) == [] and stage.is_dir()
    assert main(["ledger", "verify", str(ledger.path)]) == 2
    err = capsys.readouterr().err
    assert "is not a ledger" in err and "was not recorded" in err and len(err.strip().splitlines()) == 1
    notes = recover(ledger, tmp_path)
    assert len(notes) == 1 and "removed" in notes[0] and not stage.exists()
    assert list((ledger.path / PENDING_DIR).iterdir()) == []
