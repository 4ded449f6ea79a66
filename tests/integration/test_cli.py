"""The CLI end to end on digits: the flows of the README, and every bad input exiting 2 cleanly."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from unlearnkit.cli import main

FAST = ["--set", "epochs=8"]


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


def run_rows(home: Path) -> list[tuple]:
    db = home / "runs.sqlite"
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT id, status FROM runs").fetchall()


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


def test_train_unlearn_eval_runs_flow(capsys, home, tmp_path):
    code, out, _ = run_cli(capsys, "train", "--home", str(home), "--dataset", "digits", "--model", "mlp", *FAST)
    assert code == 0 and "trained in" in out
    code, out, _ = run_cli(capsys, "train", "--home", str(home), "--dataset", "digits", "--model", "mlp", *FAST)
    assert code == 0 and "from the model store" in out

    n_models = len(files_under(home / "models"))
    code, out, _ = run_cli(capsys, "unlearn", "--home", str(home), "--forget", "class:3", *FAST,
                           "--method", "finetune", "lr=0.01", "epochs=2", "--json")
    assert code == 0
    payload = json.loads(out)
    rows = payload["report"]["rows"]
    assert rows["golden"]["ua"] == pytest.approx(100.0)
    assert set(rows["unlearned"]) >= {"ua", "ra", "ta", "ta_forget", "mia_efficacy", "runtime_s", "speedup", "avg_gap"}
    assert payload["config"]["params"]["epochs"] == 2
    run_id = payload["run_id"]
    # golden model and unlearned model added; the original came from the store
    assert len(files_under(home / "models")) == n_models + 4

    code, out, _ = run_cli(capsys, "unlearn", "--home", str(home), "--forget", "class:3", *FAST,
                           "--method", "random_labels", "epochs=3")
    assert code == 0 and "random_labels" in out and "Metric cards" in out
    assert len(files_under(home / "models")) == n_models + 6, "the second unlearn must train nothing"

    code, out, _ = run_cli(capsys, "eval", "--home", str(home), "--run", run_id, "--forget", "class:3",
                           "--metrics", "ua,ra,js_to_golden,forget_entropy", "--json")
    assert code == 0
    again = json.loads(out)["report"]["rows"]["unlearned"]
    assert again["ua"] == pytest.approx(rows["unlearned"]["ua"])
    assert "js_to_golden" in again

    code, out, _ = run_cli(capsys, "runs", "--home", str(home))
    assert code == 0 and run_id in out
    csv_path = tmp_path / "runs.csv"
    code, out, _ = run_cli(capsys, "runs", "--home", str(home), "--csv", str(csv_path))
    assert code == 0 and csv_path.read_text().count("\n") == 3


def test_demo_json(capsys, home):
    code, out, _ = run_cli(capsys, "demo", "--home", str(home), "--methods", "finetune,random_labels", *FAST, "--json")
    assert code == 0
    runs = json.loads(out)["runs"]
    assert [r["method"] for r in runs] == ["finetune", "random_labels"]
    assert all(r["report"]["rows"]["unlearned"]["avg_gap"] >= 0 for r in runs)


@pytest.mark.parametrize("what", ["methods", "metrics", "datasets", "models", "recipes"])
def test_list(capsys, what):
    code, out, _ = run_cli(capsys, "list", what)
    assert code == 0 and len(out.strip().splitlines()) >= 4


BAD_INPUTS = {
    "unknown dataset": (["unlearn", "--dataset", "nope", "--method", "finetune"], "Unknown dataset 'nope'. Valid datasets:"),
    "unknown model": (["unlearn", "--model", "nope", "--method", "finetune"], "Unknown model 'nope'. Valid models:"),
    "unknown method": (["unlearn", "--method", "nope"], "Unknown method 'nope'. Valid methods:"),
    "unknown metric": (["unlearn", "--method", "finetune", "--metrics", "ua,nope"], "Unknown metric 'nope'. Valid metrics:"),
    "missing class": (["unlearn", "--forget", "class:12", "--method", "finetune"], "Class 12 does not exist"),
    "fraction too big": (["unlearn", "--forget", "random:1.5", "--method", "finetune"], "between 0 and 1"),
    "zero count": (["unlearn", "--forget", "random:0", "--method", "finetune"], "at least 1"),
    "whole train set": (["unlearn", "--forget", "random:1438", "--method", "finetune"], "whole training set"),
    "param range": (["unlearn", "--method", "finetune", "lr=-1"], "The 'lr' parameter of FineTune must be a float in (0, inf). Got -1.0 instead."),
    "param type": (["unlearn", "--method", "finetune", "epochs=1.5"], "The 'epochs' parameter of FineTune must be an int"),
    "unknown param": (["unlearn", "--method", "finetune", "foo=1"], "Unknown parameter 'foo' for method 'finetune'. Valid parameters:"),
    "bad override": (["unlearn", "--method", "finetune", "lr"], "must have the form key=value"),
    "unknown recipe key": (["train", "--set", "nope=1"], "Unknown parameter 'nope' for the recipe"),
    "unknown recipe": (["train", "--recipe", "nope"], "Unknown recipe 'nope'"),
    "bad device": (["train", "--device", "tpu"], "Unknown device 'tpu'"),
    "unknown run": (["eval", "--run", "doesnotexist"], "No run 'doesnotexist'"),
    "auto bad budget": (["unlearn", "--method", "auto", "--budget", "2", "--data-option", "val_size=300"],
                        "budget must be in (0, 1]"),
    "auto with parameters": (["unlearn", "--method", "auto", "epochs=2"], "--method auto takes no KEY=VALUE parameters"),
    "auto without V": (["unlearn", "--method", "auto"], "held-out slice V"),
    "budget without auto": (["unlearn", "--method", "finetune", "--budget", "0.2"],
                            "--budget only applies with --method auto"),
    "k beyond the model": (["unlearn", "--method", "eu_k", "k=9"],
                           "The 'k' parameter of EUk must be at most the model's 3 weight layers (convolutions and linear layers). Got 9"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exits_2_and_writes_nothing(capsys, home, case):
    args, message = BAD_INPUTS[case]
    code, out, err = run_cli(capsys, args[0], "--home", str(home), *args[1:])
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert files_under(home / "models") == []
    assert run_rows(home) == []


@pytest.mark.parametrize("content,message", [
    ("1\n2\n99999\n", "outside 0..1437"),
    ("1\n-2\n", "outside 0..1437"),
    ("1\n1\n", "more than once"),
    ("1\nabc\n", "line 2: 'abc' is not an integer"),
])
def test_bad_indices_file(capsys, home, tmp_path, content, message):
    path = tmp_path / "forget.txt"
    path.write_text(content)
    code, _, err = run_cli(capsys, "unlearn", "--home", str(home), "--forget", f"indices:{path}", "--method", "finetune")
    assert code == 2 and message in err
    assert files_under(home / "models") == [] and run_rows(home) == []


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupt_weights_in_model_store(capsys, home, damage):
    assert run_cli(capsys, "train", "--home", str(home), *FAST)[0] == 0
    [weights] = [p for p in files_under(home / "models") if p.suffix == ".safetensors"]
    data = bytearray(weights.read_bytes())
    weights.write_bytes(data[: len(data) // 2] if damage == "truncate" else data[:-1] + bytes([data[-1] ^ 0xFF]))
    code, _, err = run_cli(capsys, "unlearn", "--home", str(home), *FAST, "--forget", "class:3", "--method", "finetune")
    assert code == 2 and "corrupt" in err and str(weights) in err
    assert run_rows(home) == []


def test_missing_idx_file_in_data_dir(capsys, home, tmp_path):
    data_dir = tmp_path / "fmnist"
    data_dir.mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
        (data_dir / name).write_bytes(b"")
    code, _, err = run_cli(capsys, "train", "--home", str(home), "--dataset", "mnist", "--data-dir", str(data_dir))
    assert code == 2 and "t10k-labels-idx1-ubyte" in err
    assert files_under(home / "models") == []


def test_real_process_exit_code_and_no_traceback(home):
    env = {**os.environ, "UNLEARNKIT_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-m", "unlearnkit", "unlearn", "--forget", "random:1.5", "--method", "finetune"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("unlearnkit: error: Invalid forget spec 'random:1.5'")
    assert "Traceback" not in proc.stderr


def test_eval_run_alone_and_mismatch(capsys, home):
    code, out, _ = run_cli(capsys, "unlearn", "--home", str(home), "--forget", "class:2", *FAST,
                           "--method", "finetune", "epochs=1", "--json")
    run_id = json.loads(out)["run_id"]
    code, out, _ = run_cli(capsys, "eval", "--home", str(home), "--run", run_id, "--json")
    assert code == 0 and json.loads(out)["report"]["scenario"]
    code, _, err = run_cli(capsys, "eval", "--home", str(home), "--run", run_id, "--forget", "class:3")
    assert code == 2 and "was made with --forget 'class:2', not 'class:3'" in err


def test_huge_model_arg_is_one_line_and_nothing_written(capsys, home):
    code, _, err = run_cli(capsys, "unlearn", "--home", str(home), "--model-arg", "hidden_width=" + "9" * 4301,
                           "--method", "finetune", "--quiet")
    assert code == 2
    assert err.startswith("unlearnkit: error: The 'hidden_width' parameter of MLP must be an int in [1, 65536].")
    assert len(err.strip().splitlines()) == 1
    assert not home.exists() or files_under(home) == []
