"""Issue 15: the last tracebacks, validation before work, and leftovers after kill -9, through the CLI.

Every bad input prints one line on stderr, exits with code 2 and writes nothing; the next run on
a home cleans up what a killed process left behind.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from tests.integration.test_cli import FAST, files_under, run_cli
from unlearnkit.training.store import content_key

BIG = "9" * 4301  # more digits than Python converts by default (sys.get_int_max_str_digits)


def one_line_exit_2(code: int, out: str, err: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


# ============================================================================ defect 2: tracebacks
def test_home_that_is_a_file(capsys, tmp_path):
    home = tmp_path / "home"
    home.write_text("not a folder")
    err = one_line_exit_2(*run_cli(capsys, "unlearn", "--home", str(home), "--forget", "class:3", "--method",
                                   "finetune", *FAST))
    assert "is a file, not a directory" in err
    assert home.read_text() == "not a folder"
    err = one_line_exit_2(*run_cli(capsys, "unlearn", "--home", str(home / "sub"), "--forget", "class:3",
                                   "--method", "finetune", *FAST))
    assert "cannot be created" in err


def test_read_only_home(capsys, tmp_path, monkeypatch):
    """A read-only home (as a user other than root sees it: ``os.access`` says no) fails before any
    training, and nothing is written."""
    home = tmp_path / "home"
    home.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == home else real_access(p, mode, **kw))
    err = one_line_exit_2(*run_cli(capsys, "unlearn", "--home", str(home), "--forget", "class:3", "--method",
                                   "finetune", *FAST))
    assert "is read-only" in err and str(home) in err
    assert files_under(home) == []
    err = one_line_exit_2(*run_cli(capsys, "train", "--home", str(home), *FAST))
    assert "is read-only" in err and files_under(home) == []


def test_write_errors_of_the_file_system_are_one_line(capsys, tmp_path, monkeypatch):
    """A home that turns read-only under the command (EROFS while writing) is one line, not a traceback."""
    import errno

    from unlearnkit.training import store as model_store

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / "home" / "models"))

    monkeypatch.setattr(model_store.tempfile, "mkstemp", refuse)
    err = one_line_exit_2(*run_cli(capsys, "train", "--home", str(tmp_path / "home"), *FAST))
    assert "Cannot write to the model store" in err and "Read-only file system" in err


def test_a_4301_digit_class_index(capsys, tmp_path):
    home = tmp_path / "home"
    for spec in (f"class:{BIG}", f"random:{BIG}", f"class:3,{BIG}"):
        err = one_line_exit_2(*run_cli(capsys, "unlearn", "--home", str(home), "--forget", spec, "--method",
                                       "finetune", *FAST))
        assert "4301 digits, far too many" in err and len(err) < 600
    grid = tmp_path / "grid.toml"
    grid.write_text(f'datasets = ["digits"]\nmodels = ["mlp"]\nforget = ["class:{BIG}"]\n[methods.finetune]\n')
    err = one_line_exit_2(*run_cli(capsys, "bench", str(grid), "--home", str(home)))
    assert "4301 digits" in err
    grid.write_text(f'datasets = ["digits"]\nmodels = ["mlp"]\nforget = ["class:3"]\nseeds = [{BIG}]\n'
                    f'[methods.finetune]\n')
    err = one_line_exit_2(*run_cli(capsys, "bench", str(grid), "--home", str(home)))
    assert "cannot be read" in err and "4301 digits" in err
    assert not home.exists()


def _trained_home(capsys, tmp_path) -> Path:
    home = tmp_path / "home"
    grid = tmp_path / "grid.toml"
    grid.write_text('datasets = ["digits"]\nmodels = ["mlp"]\nforget = ["class:3"]\nseeds = [0]\n'
                    '[recipe]\nepochs = 8\n[methods.finetune]\nepochs = 1\n')
    assert run_cli(capsys, "bench", str(grid), "--home", str(home))[0] == 0
    return home


def test_bench_with_a_corrupt_original_model(capsys, tmp_path):
    home = _trained_home(capsys, tmp_path)
    grid = tmp_path / "grid.toml"
    grid.write_text(grid.read_text().replace("epochs = 1", "epochs = 2"))  # a new run on the same models
    records = [json.loads(p.read_text()) for p in (home / "models").rglob("*.json")]
    original = next(r for r in records if r["spec"].get("kind") == "original")
    weights = home / "models" / original["key"][:2] / f"{original['key']}.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10] + b"0123456789")
    before = {p: p.stat().st_mtime_ns for p in files_under(home)}
    err = one_line_exit_2(*run_cli(capsys, "bench", str(grid), "--home", str(home)))
    assert "is corrupt (checksum mismatch)" in err and str(weights) in err
    assert {p: p.stat().st_mtime_ns for p in files_under(home)} == before, "nothing written"


# ======================================================================= defect 3: validate first
@pytest.mark.parametrize("fraction", ["1.5", "0", "-0.1", "nan"])
def test_retain_fraction_is_checked_before_any_training(capsys, tmp_path, fraction):
    home = tmp_path / "home"
    err = one_line_exit_2(*run_cli(capsys, "unlearn", "--home", str(home), "--forget", "class:3", "--method",
                                   "finetune", *FAST, "--retain-fraction", fraction))
    assert "'retain_fraction'" in err and "(0, 1]" in err
    assert not home.exists(), "no model trained or written"


def test_corrupt_run_store_is_reported_before_any_training(capsys, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "runs.sqlite").write_bytes(b"garbage, not SQLite " * 100)
    err = one_line_exit_2(*run_cli(capsys, "unlearn", "--home", str(home), "--forget", "class:3", "--method",
                                   "finetune", *FAST))
    assert "not a valid SQLite database" in err
    assert not (home / "models").exists(), "no model trained or written"


# ===================================================================== defect 8: leftovers, reasons
def test_eval_and_runs_on_an_empty_home_create_nothing(capsys, tmp_path):
    home = tmp_path / "home"
    err = one_line_exit_2(*run_cli(capsys, "eval", "--home", str(home), "--run", "abc123"))
    assert "No run 'abc123'" in err
    code, out, _ = run_cli(capsys, "runs", "--home", str(home))
    assert code == 0 and "no runs" in out
    code, out, _ = run_cli(capsys, "runs", "--home", str(home), "--csv", "-")
    assert code == 0 and out.startswith("id,created_at,")
    assert not home.exists()


def test_indices_that_name_a_directory(capsys, tmp_path):
    err = one_line_exit_2(*run_cli(capsys, "unlearn", "--home", str(tmp_path / "home"), "--forget",
                                   f"indices:{tmp_path}", "--method", "finetune", *FAST))
    assert "is a directory" in err and "does not exist" not in err


def test_next_run_removes_what_a_killed_process_left(capsys, tmp_path):
    """Temporary files of a dead writer, and the unlearned model of a run killed during its final
    write, are removed by the next run on the home; a live writer's temporary file is kept."""
    from unlearnkit.fileio import host_tag
    from unlearnkit.runs.store import RunStore

    home = _trained_home(capsys, tmp_path)
    runs = RunStore(home / "runs.sqlite")
    killed = runs.start(dataset="digits", model="mlp", forget="class:3", split_fingerprint="f", seed=0,
                        method="finetune", params={}, config={}, config_hash="killed", version="0")
    import subprocess

    dead = subprocess.Popen(["true"])
    dead.wait()
    with sqlite3.connect(home / "runs.sqlite") as conn:
        conn.execute("UPDATE claims SET pid=? WHERE run_id=?", (dead.pid, killed))
    # its unlearned model was written, the run never finished
    key = content_key({"kind": "unlearned", "run": killed})
    folder = home / "models" / key[:2]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{key}.safetensors").write_bytes(b"w")
    (folder / f"{key}.json").write_text("{}")
    left = [folder / f".w.{dead.pid}@{host_tag()}.abc123.tmp", folder / f".{key}.json.{dead.pid}@{host_tag()}.x_1.tmp"]
    old = folder / ".w.legacy9.tmp"  # a name without its writer (older versions): removed when old
    live = folder / f".w.{os.getpid()}@{host_tag()}.live.tmp"
    for p in [*left, old, live]:
        p.write_bytes(b"partial")
    os.utime(old, (1_000_000_000, 1_000_000_000))

    code, _, err = run_cli(capsys, "unlearn", "--home", str(home), "--forget", "class:3", "--method", "finetune",
                           *FAST, "epochs=1")
    assert code == 0, err
    assert runs.get(killed)["status"] == "failed" and runs.get(killed)["error"].startswith("interrupted")
    assert not (folder / f"{key}.safetensors").exists() and not (folder / f"{key}.json").exists()
    assert not any(p.exists() for p in [*left, old])
    assert live.exists(), "a live process's temporary file is left alone"
    unlearned = {json.loads(p.read_text())["spec"]["run"] for p in (home / "models").rglob("*.json")
                 if json.loads(p.read_text() or "{}").get("spec", {}).get("kind") == "unlearned"}
    assert unlearned == {r["id"] for r in runs.list(status="done")}, "every unlearned model belongs to a done run"


# ================================================================== expected by users (issue 15)
def test_version(capsys):
    import unlearnkit
    from unlearnkit.cli import main

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    out = capsys.readouterr().out
    assert info.value.code == 0 and out.startswith(f"unlearnkit {unlearnkit.__version__} (torch ")


@pytest.mark.parametrize("what, key", [("methods", "access"), ("metrics", "direction"), ("datasets", "summary"),
                                       ("models", "defaults"), ("recipes", "fields")])
def test_list_json(capsys, what, key):
    from unlearnkit.data import DATASETS
    from unlearnkit.methods import METHODS
    from unlearnkit.metrics import METRICS
    from unlearnkit.models import MODELS
    from unlearnkit.training import RECIPES

    code, out, _ = run_cli(capsys, "list", what, "--json")
    assert code == 0
    entries = json.loads(out)
    registry = {"methods": METHODS.names(), "metrics": METRICS.names(), "datasets": DATASETS.names(),
                "models": MODELS.names(), "recipes": sorted(RECIPES)}[what]
    assert [e["name"] for e in entries] == list(registry)
    assert all(key in e for e in entries)
    code, text, _ = run_cli(capsys, "list", what)
    assert code == 0 and len(text.strip().splitlines()) == len(entries), "the text list has the same entries"
    if what == "methods":
        finetune = next(e for e in entries if e["name"] == "finetune")
        assert finetune["defaults"]["epochs"] == 3 and finetune["access"] == "full_retain"
