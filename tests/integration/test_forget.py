"""``unlearnkit forget`` and ``unlearnkit ledger`` end to end, with a model class declared here.

The "Done when" of issue 14: a user-defined ``nn.Module``, arrays with string IDs, three sequential
requests through the CLI, a verified ledger that catches an edited entry and a swapped weights
file; every bad input one line, exit 2, nothing written; and a real ``kill -9`` at each step of an
append leaving the ledger at the previous request or the new one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from tests.pause_kill import kill_at_pause
from unlearnkit.cli import main
from unlearnkit.deletion import Ledger, load_run_model, read_state_dict, weights_sha256
from unlearnkit.deletion.forget import OUTPUT_FILES

REPO = Path(__file__).resolve().parents[2]
ARCH = "tests.integration.test_forget:build_user_net"
N_TRAIN, N_TEST = 300, 1000  # V: 500 held-out records, enough for the verdict's margins


class UserNet(nn.Module):
    """The user's own model: 8 -> 24 -> 3, nothing from unlearnkit."""

    def __init__(self, hidden: int = 24):
        super().__init__()
        self.fc1 = nn.Linear(8, hidden)
        self.fc2 = nn.Linear(hidden, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.tanh(self.fc1(x)))


def build_user_net(hidden: int = 24) -> UserNet:
    return UserNet(hidden)


def _arrays(seed: int = 0):
    rng = np.random.default_rng(seed)
    n = N_TRAIN + N_TEST
    y = np.arange(n) % 3
    centres = rng.normal(size=(3, 8)) * 1.2
    x = (centres[y] + rng.normal(size=(n, 8))).astype(np.float32)
    order = rng.permutation(n)
    return x[order], y[order]


@pytest.fixture(scope="module")
def user_files(tmp_path_factory):
    """data.npz (string IDs, a test part), the user's trained weights, three requests."""
    root = tmp_path_factory.mktemp("user")
    x, y = _arrays()
    xt, yt = x[:N_TRAIN], y[:N_TRAIN]
    ids = np.array([f"user-{i:04d}" for i in range(N_TRAIN)])
    np.savez(root / "data.npz", x=xt, y=yt, ids=ids, x_test=x[N_TRAIN:], y_test=y[N_TRAIN:],
             classes=np.array(["red", "green", "blue"]))
    torch.manual_seed(0)
    model = build_user_net()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    xs, ys = torch.from_numpy(xt), torch.from_numpy(yt)
    for _ in range(150):  # the user's own loop, full batch
        opt.zero_grad()
        nn.functional.cross_entropy(model(xs), ys).backward()
        opt.step()
    save_file(model.state_dict(), str(root / "weights.safetensors"))
    rng = np.random.default_rng(1)
    scattered = rng.choice(ids[yt != 2], 40, replace=False)
    (root / "req1.txt").write_text("\n".join(scattered) + "\n")
    (root / "req2.txt").write_text("\n".join(ids[yt == 2]) + "\n")  # every record of class 'blue'
    rest = np.setdiff1d(ids[yt != 2], scattered)
    (root / "req3.txt").write_text("\n".join([scattered[0]] + list(rng.choice(rest, 35, replace=False))) + "\n")
    return root


def run_cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(*paths: Path) -> dict[str, bytes]:
    out = {}
    for root in paths:
        if root.is_file():
            out[str(root)] = root.read_bytes()
        elif root.is_dir():
            for p in sorted(root.rglob("*")):
                if p.is_file():
                    out[str(p)] = p.read_bytes()
    return out


def forget_args(files: Path, request: str, out: Path, ledger: Path | None, *extra, first: bool = True) -> list:
    args = ["forget", "--data", files / "data.npz", "--request", files / request, "--out", out, "--quiet"]
    if first:
        args += ["--arch", ARCH, "--weights", files / "weights.safetensors"]
    if ledger is not None:
        args += ["--ledger", ledger]
    return args + list(extra)


def test_three_sequential_requests_then_verify_and_detect_tampering(capsys, user_files, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    ledger = tmp_path / "ledger"
    outs = [tmp_path / f"r{i}" for i in (1, 2, 3)]
    code, out, err = run_cli(capsys, *forget_args(user_files, "req1.txt", outs[0], ledger, "--method", "finetune",
                                                  "epochs=2"))
    assert code == 0, err
    assert "request req-0001-" in out and "verdict:" in out
    code, out, err = run_cli(capsys, *forget_args(user_files, "req2.txt", outs[1], ledger, first=False))
    assert code == 0, err
    assert "every record of class blue" in out and "chosen by --method auto" in out and "docs/results/auto.md" in out
    (tmp_path / "recipe.toml").write_text('[recipe]\noptimizer = "adam"\nlr = 0.01\nbatch_size = 32\n')
    code, out, err = run_cli(capsys, *forget_args(user_files, "req3.txt", outs[2], ledger, "--retrain", "--recipe",
                                                  tmp_path / "recipe.toml", "--set", "epochs=3", first=False))
    assert code == 0, err
    assert "1 ID(s) already deleted by request(s) 1" in out

    for o in outs:
        assert set(OUTPUT_FILES) <= {p.name for p in o.iterdir()}
    entries = Ledger(ledger).entries()
    assert [e["seq"] for e in entries] == [1, 2, 3]
    assert entries[0]["n_deleted"] == 40 and entries[0]["method"] == "finetune"
    assert entries[1]["shape"] == "class" and entries[1]["classes"] == ["blue"] and entries[1]["method"] in ("ssd", "kl_ft")
    n_blue = entries[1]["n_deleted"]
    # each request starts from the previous model, and its retain set excludes every ID deleted before
    for a, b in zip(entries, entries[1:]):
        assert b["model_before_sha256"] == a["model_after_sha256"] and b["prev_hash"] == a["hash"]
    third = entries[2]
    assert third["n_deleted"] == 35 and list(third["already_deleted"]) == [(user_files / "req1.txt").read_text().split()[0]]
    assert third["data"]["n_deleted_before"] == 40 + n_blue
    assert third["data"]["n_retained"] == N_TRAIN - 40 - n_blue - 35
    assert not set(third["ids"]) & set(entries[0]["ids"])
    assert third["ids_sha256"] == hashlib.sha256("\n".join(sorted(third["ids"])).encode()).hexdigest()
    record = json.loads((outs[2] / "evidence.json").read_text())
    assert record["headline"]["rows"]["golden"]["ua"] is not None and "golden.safetensors" in os.listdir(outs[2])
    assert record["headline"]["golden"]["recipe"]["optimizer"] == "adam" and record["headline"]["golden"]["recipe"]["epochs"] == 3
    for i, o in enumerate(outs):
        assert weights_sha256(read_state_dict(o / "model.safetensors")) == entries[i]["model_after_sha256"]
    html = (outs[1] / "evidence.html").read_text()
    assert "<svg" in html and "Verdict" in html and "accuracy gap, deleted − held-out" in html and "source:" in html
    md = (outs[2] / "evidence.md").read_text()
    assert "against the retrained model" in md and "Without the retrained model (golden-free)" in md
    assert record["evidence"]["basis"] == "golden" and record["evidence"]["golden_free"]["basis"] == "golden-free"
    assert "may have done nothing" not in md and "already looked unseen" not in md

    # the model of any request, rebuilt from the recorded import path
    latest = load_run_model("latest", ledger=ledger)
    assert weights_sha256(latest) == third["model_after_sha256"]

    code, out, _ = run_cli(capsys, "ledger", "show", ledger)
    assert code == 0 and out.count("req-000") == 3 and f"hash {third['hash']}" in out
    code, out, _ = run_cli(capsys, "ledger", "verify", ledger, "--model", outs[2] / "model.safetensors")
    assert code == 0 and "OK, 3 entries" in out and "latest model" in out

    # a tampered entry: the verdict of request 2 rewritten
    entry2 = ledger / "entries" / "000002.json"
    original = entry2.read_bytes()
    entry2.write_text(original.decode().replace('"verdict": "', '"verdict": "edited-', 1))
    code, _, err = run_cli(capsys, "ledger", "verify", ledger)
    assert code == 1 and "entry 2" in err and "edited" in err
    code, _, err = run_cli(capsys, *forget_args(user_files, "req3.txt", tmp_path / "r4", ledger, first=False))
    assert code == 2 and "broken" in err and err.count("\n") == 1 and not (tmp_path / "r4").exists()
    entry2.write_bytes(original)

    # a swapped weights file: request 1's model put in place of request 2's
    w2 = ledger / "weights" / "000002.safetensors"
    kept = w2.read_bytes()
    shutil.copy(outs[0] / "model.safetensors", w2)
    code, _, err = run_cli(capsys, "ledger", "verify", ledger)
    assert code == 1 and "entry 2" in err and "weights" in err and "changed" in err
    w2.write_bytes(kept)
    code, _, _ = run_cli(capsys, "ledger", "verify", ledger)
    assert code == 0
    # a deployed model that is not the latest
    code, _, err = run_cli(capsys, "ledger", "verify", ledger, "--model", outs[1] / "model.safetensors")
    assert code == 1 and "after request 2, not the latest" in err
    # removing the last entry and rewriting HEAD is caught with the head hash kept elsewhere
    code, _, err = run_cli(capsys, "ledger", "verify", ledger, "--expect-head", "ab" * 32)
    assert code == 1 and "not in the ledger" in err


def test_no_store_ids_keeps_hashes_and_still_excludes(capsys, user_files, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    ledger = tmp_path / "ledger"
    code, _, err = run_cli(capsys, *forget_args(user_files, "req1.txt", tmp_path / "a", ledger, "--no-store-ids",
                                                "--method", "finetune", "epochs=1"))
    assert code == 0, err
    entry = Ledger(ledger).entries()[0]
    assert "ids" not in entry and len(entry["id_hashes"]) == 40
    assert entry["ids_sha256"] == hashlib.sha256(
        "\n".join(sorted((user_files / "req1.txt").read_text().split())).encode()).hexdigest()
    assert "user-" not in (ledger / "entries" / "000001.json").read_text()
    code, out, err = run_cli(capsys, *forget_args(user_files, "req3.txt", tmp_path / "b", ledger, "--method",
                                                  "finetune", "epochs=1", first=False))
    assert code == 0, err
    assert "1 ID(s) already deleted by request(s) 1" in out
    assert Ledger(ledger).entries()[1]["data"]["n_deleted_before"] == 40
    # a dry run records nothing
    before = snapshot(ledger)
    code, out, err = run_cli(capsys, *forget_args(user_files, "req2.txt", tmp_path / "c", ledger, "--dry-run",
                                                  first=False))
    assert code == 0, err and "dry run" in out
    assert snapshot(ledger) == before and (tmp_path / "c" / "evidence.html").is_file()


def _bad_cases(files: Path, tmp: Path) -> dict[str, tuple[list, str]]:
    (tmp / "unknown.txt").write_text("user-0001\nnobody-17\n")
    (tmp / "dupes.txt").write_text("user-0001\nuser-0002\nuser-0001\n")
    (tmp / "empty.txt").write_text("\n\n")
    save_file(build_user_net(hidden=16).state_dict(), str(tmp / "small.safetensors"))
    torch.save(build_user_net().state_dict(), tmp / "pickled.safetensors")
    torch.save({"fc1.weight": torch.zeros(24, 8), "note": object()}, tmp / "objects.pt")
    x, y = _arrays()
    np.savez(tmp / "overlap.npz", x=x[:40], y=y[:40], ids=np.array([f"h{i}" for i in range(40)]))
    centres = np.random.default_rng(0).normal(size=(3, 8)) * 1.2  # the centres of _arrays(), fresh records
    yh = np.arange(900) % 3
    xh = (centres[yh] + np.random.default_rng(5).normal(size=(900, 8))).astype(np.float32)
    np.savez(tmp / "few.npz", x=xh[:60], y=yh[:60], ids=np.array([f"f{i}" for i in range(60)]))
    no_green = np.flatnonzero(yh != 1)[:600]
    np.savez(tmp / "no-green.npz", x=xh[no_green], y=yh[no_green], ids=np.array([f"g{i}" for i in range(600)]))
    np.savez(tmp / "narrow.npz", x=x[:N_TRAIN, :5], y=y[:N_TRAIN], ids=np.array([f"user-{i:04d}" for i in range(N_TRAIN)]),
             x_test=x[N_TRAIN:, :5], y_test=y[N_TRAIN:])
    (tmp / "bad-recipe.toml").write_text("epochz = 3\n")
    broken = tmp / "broken-ledger"
    broken.mkdir()
    (broken / "LEDGER").write_text(json.dumps({"format": "unlearnkit-ledger", "version": 1, "salt": "00" * 16}))
    (broken / "HEAD").write_text(json.dumps({"seq": 1, "hash": "ab" * 32}))
    base = forget_args(files, "req1.txt", tmp / "out", None)

    def swap(args: list, flag: str, value) -> list:
        out = list(args)
        out[out.index(flag) + 1] = value
        return out

    return {
        "unknown ID": (swap(base, "--request", tmp / "unknown.txt"), "'nobody-17'"),
        "duplicate ID": (swap(base, "--request", tmp / "dupes.txt"), "twice"),
        "empty request": (swap(base, "--request", tmp / "empty.txt"), "empty"),
        "weights do not fit": (swap(base, "--weights", tmp / "small.safetensors"), "'fc1.weight'"),
        "import path": (swap(base, "--arch", "no_such_package.models:build"), "No module named 'no_such_package'"),
        "missing factory": (swap(base, "--arch", "tests.integration.test_forget:nope"), "no attribute 'nope'"),
        "pickle as safetensors": (swap(base, "--weights", tmp / "pickled.safetensors"), "pickle"),
        "objects in .pt": (swap(base, "--weights", tmp / "objects.pt"), "weights_only"),
        "held-out overlaps": (base + ["--heldout", tmp / "overlap.npz"], "overlaps the training data"),
        "held-out too small for the margins": (base + ["--heldout", tmp / "few.npz"], "the verdict needs at least"),
        "held-out lacks a class": (base + ["--heldout", tmp / "no-green.npz"], "no record of class 1 ('green')"),
        "broken ledger": (base + ["--ledger", broken], "broken"),
        "auto with parameters": (base + ["lr=0.1"], "--method auto takes no"),
        "model does not take the data": (swap(base, "--data", tmp / "narrow.npz"), "cannot take the data's records"),
        "method destroys the model": (base + ["--method", "grad_ascent", "lr=1e30", "epochs=3"], "NaN or infinite"),
        "bad recipe file": (base + ["--retrain", "--recipe", tmp / "bad-recipe.toml"], "unknown field 'epochz'"),
        "unknown method": (base + ["--method", "nope"], "nope"),
    }


def test_bad_input_one_line_exit_2_nothing_written(capsys, user_files, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    cases = _bad_cases(user_files, tmp_path)
    for name, (args, expected) in cases.items():
        before = snapshot(tmp_path)
        code, out, err = run_cli(capsys, *args)
        assert code == 2, f"{name}: exit {code}, {err}"
        assert err.startswith("unlearnkit: error:") and err.count("\n") == 1, f"{name}: {err!r}"
        assert expected in err, f"{name}: {err!r}"
        assert "Traceback" not in err and out == ""
        assert snapshot(tmp_path) == before, f"{name} wrote something"
        assert not (tmp_path / "out").exists()
    # an existing output directory is never overwritten
    (tmp_path / "taken").mkdir()
    code, _, err = run_cli(capsys, *forget_args(user_files, "req1.txt", tmp_path / "taken", None))
    assert code == 2 and "already exists" in err
    # a later request must not name other weights than the ledger's latest
    ledger = tmp_path / "ledger"
    assert run_cli(capsys, *forget_args(user_files, "req1.txt", tmp_path / "one", ledger, "--method", "finetune",
                                        "epochs=1"))[0] == 0
    before = snapshot(ledger)
    code, _, err = run_cli(capsys, *forget_args(user_files, "req3.txt", tmp_path / "two", ledger))
    assert code == 2 and "not the ledger's latest" in err and snapshot(ledger) == before
    code, _, err = run_cli(capsys, *forget_args(user_files, "req1.txt", tmp_path / "three", ledger, first=False))
    assert code == 2 and "already deleted" in err and snapshot(ledger) == before
    code, _, err = run_cli(capsys, "ledger", "verify", tmp_path / "nowhere")
    assert code == 2 and "No ledger" in err


def _pause_run(files: Path, request: str, out: Path, ledger: Path, step: str | None, first: bool, wait_for) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]), "OMP_NUM_THREADS": "1"}
    if step:
        env["UNLEARNKIT_LEDGER_PAUSE"] = f"{step}:60"
    cmd = [sys.executable, "-m", "unlearnkit", *map(str, forget_args(files, request, out, ledger, "--method",
                                                                     "finetune", "epochs=1", first=first))]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    if step is None:
        assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()
        return
    kill_at_pause(proc, wait_for, step, poll_s=0.02)


def _check_state(ledger: Path, out: Path, expected: tuple[int, ...]) -> int:
    v = Ledger(ledger).verify()
    assert v.ok, v.problem
    assert v.n_entries in expected
    assert not out.exists() or set(OUTPUT_FILES) <= {p.name for p in out.iterdir()}
    return v.n_entries


def test_kill_9_at_every_step_of_an_append(user_files, tmp_path):
    ledger = tmp_path / "ledger"
    staged = lambda name: any(p.name.startswith(f".{name}.tmp-") and (p / "evidence.html").exists()  # noqa: E731
                              for p in tmp_path.iterdir())
    # first request, killed before its entry is written: the ledger stays empty
    _pause_run(user_files, "req1.txt", tmp_path / "a", ledger, "entry", True,
               lambda: (ledger / "weights" / "000001.safetensors").exists())
    assert _check_state(ledger, tmp_path / "a", (0,)) == 0
    assert (ledger / "weights" / "000001.safetensors").exists() and not (ledger / "HEAD").exists()
    # killed after the commit, before the output directory is renamed: the ledger is at the new request
    _pause_run(user_files, "req1.txt", tmp_path / "b", ledger, "committed", True, lambda: (ledger / "HEAD").exists())
    assert _check_state(ledger, tmp_path / "b", (1,)) == 1
    assert not (tmp_path / "b").exists() and any(p.name.startswith(".b.tmp-") for p in tmp_path.iterdir())
    assert weights_sha256(Ledger(ledger).load_model("latest", build_user_net())) == \
        Ledger(ledger).entries()[0]["model_after_sha256"]
    # second request, killed between its entry and HEAD: an uncommitted leftover, still at request 1
    _pause_run(user_files, "req3.txt", tmp_path / "c", ledger, "head", False,
               lambda: (ledger / "entries" / "000002.json").exists())
    assert _check_state(ledger, tmp_path / "c", (1,)) == 1
    assert any("uncommitted" in n for n in Ledger(ledger).verify().notes)
    assert (ledger / "entries" / "000002.json").exists() and Ledger(ledger).head()[0] == 1
    # killed while the output directory is staged, before anything of the ledger is written
    _pause_run(user_files, "req3.txt", tmp_path / "d", ledger, "weights", False, lambda: staged("d"))
    assert _check_state(ledger, tmp_path / "d", (1,)) == 1
    # the same request again, not killed: recorded once, leftovers gone
    _pause_run(user_files, "req3.txt", tmp_path / "e", ledger, None, False, lambda: True)
    assert _check_state(ledger, tmp_path / "e", (2,)) == 2
    assert Ledger(ledger).verify().notes == []
    entries = Ledger(ledger).entries()
    assert entries[1]["model_before_sha256"] == entries[0]["model_after_sha256"]
    assert weights_sha256(read_state_dict(tmp_path / "e" / "model.safetensors")) == entries[1]["model_after_sha256"]
