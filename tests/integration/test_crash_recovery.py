"""Issue 22: a killed ``forget`` is finished or reported; output folders are tied to their entries.

Real ``kill -9`` of ``python -m unlearnkit forget`` paused (``UNLEARNKIT_FORGET_PAUSE``) before
the ledger commit and between the commit and the rename of the output folder; then the next
``forget`` and ``ledger verify``. Also ``ledger verify --out`` on a swapped model, ``ledger show``
on a broken ledger, and an unwritable ``--out`` refused before any work.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from tests.integration.test_forget import ARCH, build_user_net, run_cli
from tests.pause_kill import kill_at_pause
from unlearnkit.deletion import Ledger, read_state_dict, weights_sha256
from unlearnkit.deletion.recovery import PAUSE_ENV, PENDING_DIR

REPO = Path(__file__).resolve().parents[2]
N_TRAIN, N_TEST = 600, 1500  # enough held-out records (750) for the verdict


@pytest.fixture(scope="module")
def user_files(tmp_path_factory):
    """data.npz (string IDs, a test part), the user's trained weights, two scattered requests."""
    root = tmp_path_factory.mktemp("crash")
    rng = np.random.default_rng(0)
    y = np.arange(N_TRAIN + N_TEST) % 3
    x = (rng.normal(size=(3, 8))[y] * 1.2 + rng.normal(size=(len(y), 8))).astype(np.float32)
    ids = np.array([f"user-{i:04d}" for i in range(N_TRAIN)])
    np.savez(root / "data.npz", x=x[:N_TRAIN], y=y[:N_TRAIN], ids=ids, x_test=x[N_TRAIN:], y_test=y[N_TRAIN:])
    torch.manual_seed(0)
    model = build_user_net()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    xs, ys = torch.from_numpy(x[:N_TRAIN]), torch.from_numpy(y[:N_TRAIN])
    for _ in range(100):
        opt.zero_grad()
        nn.functional.cross_entropy(model(xs), ys).backward()
        opt.step()
    save_file(model.state_dict(), str(root / "weights.safetensors"))
    (root / "req1.txt").write_text("\n".join(ids[:40]) + "\n")
    (root / "req3.txt").write_text("\n".join(ids[100:130]) + "\n")
    return root


def forget_args(files: Path, request: str, out: Path, ledger: Path | None, *extra, first: bool = True) -> list:
    args = ["forget", "--data", files / "data.npz", "--request", files / request, "--out", out, "--quiet"]
    if first:
        args += ["--arch", ARCH, "--weights", files / "weights.safetensors"]
    if ledger is not None:
        args += ["--ledger", ledger]
    return args + list(extra)


def _cmd(files: Path, request: str, out: Path, ledger: Path | None, first: bool) -> list[str]:
    args = forget_args(files, request, out, ledger, "--method", "finetune", "epochs=1", first=first)
    return [sys.executable, "-m", "unlearnkit", *map(str, args)]


def _env(step: str | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]), "OMP_NUM_THREADS": "1"}
    env.pop(PAUSE_ENV, None)
    if step:
        env[PAUSE_ENV] = f"{step}:60"
    return env


def _kill_at(step: str, cmd: list[str], reached) -> None:
    """Run ``cmd`` paused at ``step``; once ``reached()`` holds, kill -9 it (and its group)."""
    proc = subprocess.Popen(cmd, cwd=REPO, env=_env(step), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    kill_at_pause(proc, reached, step)


def _stages(parent: Path, name: str) -> list[Path]:
    return [p for p in parent.iterdir() if p.is_dir() and p.name.startswith(f".{name}.tmp-")]


def _markers(ledger: Path) -> list[Path]:
    d = ledger / PENDING_DIR
    return sorted(d.glob("*.json")) if d.is_dir() else []


def test_kill_9_between_commit_and_rename_then_rerun_finishes(capsys, user_files, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    ledger, out = tmp_path / "ledger", tmp_path / "r1"
    cmd = _cmd(user_files, "req1.txt", out, ledger, True)
    _kill_at("committed", cmd, lambda: (ledger / "HEAD").exists())
    assert Ledger(ledger).verify().n_entries == 1 and not out.exists() and len(_stages(tmp_path, "r1")) == 1
    code, stdout, err = run_cli(capsys, "ledger", "verify", ledger)
    assert code == 0 and "was recorded but its output was not moved into place" in stdout
    assert str(_stages(tmp_path, "r1")[0].resolve()) in stdout
    # the same command again: the output is finished, nothing is run twice
    code, stdout, err = run_cli(capsys, *forget_args(user_files, "req1.txt", out, ledger, "--method", "finetune",
                                                     "epochs=1"))
    assert code == 0, err
    assert "note: finished the output of request 1" in err and "nothing more to do" in stdout
    assert out.is_dir() and not _stages(tmp_path, "r1") and not _markers(ledger)
    entry = Ledger(ledger).entries()[0]
    assert weights_sha256(read_state_dict(out / "model.safetensors")) == entry["model_after_sha256"]
    code, stdout, err = run_cli(capsys, "ledger", "verify", ledger, "--out", out)
    assert code == 0 and "is request 1" in stdout and "note: " in stdout and "not moved" not in stdout


def test_kill_9_before_commit_leftovers_removed_by_next_forget(capsys, user_files, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    ledger = tmp_path / "ledger"
    code, _, err = run_cli(capsys, *forget_args(user_files, "req1.txt", tmp_path / "r1", ledger, "--method",
                                                "finetune", "epochs=1"))
    assert code == 0, err
    head = Ledger(ledger).head()
    _kill_at("staged", _cmd(user_files, "req3.txt", tmp_path / "r2", ledger, False), lambda: bool(_markers(ledger)))
    assert Ledger(ledger).head() == head and len(_stages(tmp_path, "r2")) == 1
    code, stdout, err = run_cli(capsys, "ledger", "verify", ledger)
    assert code == 0 and "was not recorded" in stdout
    code, stdout, err = run_cli(capsys, *forget_args(user_files, "req3.txt", tmp_path / "r3", ledger, "--method",
                                                     "finetune", "epochs=1", first=False))
    assert code == 0, err
    assert err.count("note: removed") == 1 and ".r2.tmp-" in err, err
    assert not _stages(tmp_path, "r2") and not _markers(ledger)
    assert Ledger(ledger).verify().n_entries == 2
    code, stdout, _ = run_cli(capsys, "ledger", "verify", ledger)
    assert code == 0 and "not recorded" not in stdout
    # a request without a ledger, killed while staged: nothing to commit, a leftover folder
    elsewhere = tmp_path / "elsewhere"
    _kill_at("staged", _cmd(user_files, "req1.txt", elsewhere / "loose", None, True),
             lambda: elsewhere.is_dir() and any((p / "evidence.html").exists() for p in _stages(elsewhere, "loose")))
    assert len(_stages(elsewhere, "loose")) == 1
    code, stdout, err = run_cli(capsys, *forget_args(user_files, "req1.txt", elsewhere / "next", None, "--method",
                                                     "finetune", "epochs=1"))
    assert code == 0, err
    assert "note: removed" in err and ".loose.tmp-" in err and not _stages(elsewhere, "loose")
    assert sorted(p.name for p in elsewhere.iterdir()) == ["next"]


def test_verify_out_detects_a_swapped_model_and_show_exits_1(capsys, user_files, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    ledger, r1, r2 = tmp_path / "ledger", tmp_path / "r1", tmp_path / "r2"
    for request, out, first in (("req1.txt", r1, True), ("req3.txt", r2, False)):
        code, stdout, err = run_cli(capsys, *forget_args(user_files, request, out, ledger, "--method", "finetune",
                                                         "epochs=1", first=first))
        assert code == 0, err
    head = Ledger(ledger).head()[1]
    assert f"--expect-head {head}" in stdout and "cannot show that its last entries were removed" in stdout
    evidence_md = (r2 / "evidence.md").read_text()
    assert head in evidence_md and "Keep the ledger head" in evidence_md
    code, stdout, _ = run_cli(capsys, "ledger", "verify", ledger, "--out", r1, "--out", r2)
    assert code == 0 and "is request 1" in stdout and "is request 2" in stdout
    swapped = tmp_path / "swapped"
    shutil.copytree(r1, swapped)
    shutil.copy(r2 / "model.safetensors", swapped / "model.safetensors")
    code, _, err = run_cli(capsys, "ledger", "verify", ledger, "--out", swapped)
    assert code == 1 and "is not the model of this folder's evidence" in err and len(err.strip().splitlines()) == 1
    mixed = tmp_path / "mixed"
    shutil.copytree(r1, mixed)
    for name in ("model.safetensors", "evidence.json"):
        shutil.copy(r2 / name, mixed / name)
    code, _, err = run_cli(capsys, "ledger", "verify", ledger, "--out", mixed)
    assert code == 1 and "belongs to another request" in err
    # another ledger's output folder, with all its pieces
    other = tmp_path / "other"
    code, _, err = run_cli(capsys, *forget_args(user_files, "req3.txt", tmp_path / "o1", other, "--method",
                                                "finetune", "epochs=1"))
    assert code == 0, err
    code, _, err = run_cli(capsys, "ledger", "verify", ledger, "--out", tmp_path / "o1")
    assert code == 1 and "is not an entry of ledger" in err
    code, _, err = run_cli(capsys, "ledger", "verify", ledger, "--out", tmp_path)
    assert code == 2 and "is not an output folder" in err
    # a broken ledger: show lists it but exits 1
    entry = ledger / "entries" / "000002.json"
    data = json.loads(entry.read_text())
    data["n_deleted"] = 1
    entry.write_text(json.dumps(data))
    code, stdout, err = run_cli(capsys, "ledger", "show", ledger)
    assert code == 1 and "does not verify" in err and "req-0002" in stdout
    code, stdout, err = run_cli(capsys, "ledger", "show", ledger, "--json")
    assert code == 1 and json.loads(stdout)["verified"] is False and "entry 2" in json.loads(stdout)["problem"]


def test_unwritable_out_is_refused_before_any_work(capsys, user_files, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    start = time.process_time()
    for out in (Path("/sys/unlearnkit-test/out"), user_files / "data.npz" / "out"):
        code, stdout, err = run_cli(capsys, *forget_args(user_files, "req1.txt", out, tmp_path / "led"))
        assert code == 2 and err.startswith("unlearnkit: error: Cannot write the output directory") and not stdout
        assert len(err.strip().splitlines()) == 1 and ".tmp" not in err
    assert time.process_time() - start < 5, "refused before loading data or running the method"
    assert not (tmp_path / "led").exists()
