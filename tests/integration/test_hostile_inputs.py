"""Issue 22: silently accepted inputs, hostile run stores, huge grids and capped messages, through the CLI.

Each case: one line on stderr, exit code 2, no traceback, before any work.
"""

from __future__ import annotations

import sqlite3
import time

import pytest

from tests.integration.test_cli import FAST, run_cli
from tests.integration.test_reliability import BIG, one_line_exit_2
from unlearnkit.bench.expand import MAX_RUNS, expand_tables, table_variants
from unlearnkit.bench.grid import grid_from_dict
from unlearnkit.errors import ConfigError
from unlearnkit.runs.store import RunStore


# ================================================================= silently accepted, now refused
def test_calibrate_every_without_calibrate(capsys, tmp_path):
    err = one_line_exit_2(*run_cli(capsys, "unlearn", "--home", str(tmp_path / "h"), "--method", "finetune",
                                   "--calibrate-every", "5", *FAST))
    assert "--calibrate-every only applies with --calibrate" in err and not (tmp_path / "h").exists()


def test_repeated_data_option_key(capsys, tmp_path):
    err = one_line_exit_2(*run_cli(capsys, "unlearn", "--home", str(tmp_path / "h"), "--method", "finetune",
                                   "--data-option", "train_subset=100", "--data-option", "train_subset=200", *FAST))
    assert "'train_subset' is given twice" in err


@pytest.mark.parametrize("value, expected", [
    ("-1", "must be an int in [0, 2**63). Got -1"),
    (str(2 ** 64), "must be an int in [0, 2**63)"),
])
def test_subset_seed_out_of_range(capsys, tmp_path, value, expected):
    err = one_line_exit_2(*run_cli(capsys, "unlearn", "--home", str(tmp_path / "h"), "--method", "finetune",
                                   "--data-option", "train_subset=300", "--data-option", f"subset_seed={value}",
                                   *FAST))
    assert expected in err


def test_train_subset_messages(capsys, tmp_path):
    err = one_line_exit_2(*run_cli(capsys, "unlearn", "--home", str(tmp_path / "h"), "--method", "finetune",
                                   "--data-option", f"train_subset={BIG}", *FAST))
    assert "4301 digits" in err and "inf" not in err and len(err) < 300
    err = one_line_exit_2(*run_cli(capsys, "unlearn", "--home", str(tmp_path / "h"), "--method", "finetune",
                                   "--data-option", "train_subset=0.001", *FAST))
    assert "'train_subset' option 0.001 keeps 1 of the" in err and "fewer than its 10 classes" in err
    assert "at least 10" in err


# ========================================================================= hostile run stores
def _store(home) -> str:
    """A run store with one finished run; returns its path."""
    home.mkdir()
    store = RunStore(home / "runs.sqlite")
    rid = store.start(dataset="digits", model="mlp", forget="class:3", split_fingerprint="ab", seed=0,
                      method="finetune", params={"lr": 0.01}, config={"dataset": "digits"}, config_hash="h",
                      version="0")
    store.finish(rid, metrics={"ua": 1.0}, runtime_s=0.5, unlearned_key=None)
    return str(home / "runs.sqlite")


HOSTILE = {
    "missing column": ("ALTER TABLE runs DROP COLUMN error", "lacks column(s) error"),
    "invalid JSON in metrics": ("UPDATE runs SET metrics='{not json'", "no JSON object in its 'metrics' column"),
    "invalid JSON in config": ("UPDATE runs SET config='[1, 2'", "no JSON object in its 'config' column"),
    "config not an object": ("UPDATE runs SET config='5'", "no JSON object in its 'config' column"),
    "trigger ABORT": ("CREATE TRIGGER t BEFORE INSERT ON runs BEGIN SELECT RAISE(ABORT, 'no'); END",
                      "holds a trigger 't'"),
    "trigger load_extension": ("CREATE TRIGGER evil AFTER UPDATE ON runs BEGIN SELECT load_extension('x'); END",
                               "holds a trigger 'evil'"),
    "view": ("CREATE VIEW v AS SELECT * FROM runs", "holds a view 'v'"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_run_store(capsys, tmp_path, case):
    sql, expected = HOSTILE[case]
    home = tmp_path / "home"
    path = _store(home)
    conn = sqlite3.connect(path)
    conn.executescript(sql)
    conn.commit()
    conn.close()
    commands = [("runs",), ("runs", "--csv", "-"), ("report", "--out", str(tmp_path / "report"))]
    if "JSON" not in case and "object" not in case:  # the store's shape is checked when it is opened
        commands.append(("unlearn", "--method", "finetune", *FAST))
    for args in commands:
        err = one_line_exit_2(*run_cli(capsys, *args, "--home", str(home)))
        assert expected in err, (args, err)
    assert not (home / "models").exists() and not (tmp_path / "report").exists(), "refused before any work"


# ============================================================================== huge grids
def _grid(seeds, lrs=(0.1,)) -> dict:
    return {"datasets": ["digits"], "models": ["mlp"], "forget": ["class:3"], "seeds": list(seeds),
            "methods": {"finetune": {"lr": list(lrs)}}}


def test_a_grid_over_the_bound_is_refused_at_once(capsys, tmp_path):
    start = time.process_time()
    with pytest.raises(ConfigError, match=r"plans 1,000,000 runs; at most 100,000"):
        grid_from_dict(_grid(range(10 ** 6)))
    # a billion runs from parameter lists, refused without expanding a single one
    raw = _grid(range(1000))
    raw["methods"] = {"finetune": {"lr": [0.1] * 1000, "epochs": list(range(1, 1001))}}
    with pytest.raises(ConfigError, match=r"plans 1,000,000,000 runs"):
        grid_from_dict(raw)
    assert time.process_time() - start < 5
    path = tmp_path / "big.toml"
    path.write_text('datasets = ["digits"]\nmodels = ["mlp"]\nforget = ["class:3"]\n'
                    f"seeds = [{', '.join(map(str, range(200_000)))}]\n[methods.finetune]\n")
    err = one_line_exit_2(*run_cli(capsys, "bench", str(path), "--home", str(tmp_path / "h")))
    assert "plans 200,000 runs" in err and not (tmp_path / "h").exists()
    assert grid_from_dict(_grid(range(MAX_RUNS))).size() == MAX_RUNS


def test_expansion_is_linear_and_keeps_first_occurrences():
    tables = [{"lr": [i * 1e-4 for i in range(30_000)]}, {"lr": [i * 1e-4 for i in range(0, 60_000, 2)]}]
    assert table_variants(tables) == 60_000
    start = time.process_time()
    out = expand_tables(tables)
    assert time.process_time() - start < 2, "the de-duplication is linear"
    assert len(out) == 45_000 and out[0] == {"lr": 0.0} and out[30_000] == {"lr": 30_000 * 1e-4}
    assert expand_tables([{"lr": 1}, {"lr": 1.0}, {"lr": [[1, 2]]}, {"lr": [[1, 2]]}]) == [{"lr": 1}, {"lr": [1, 2]}]


def test_bench_takes_data_dir(capsys, tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text('datasets = ["imagefolder"]\nmodels = ["mlp"]\nforget = ["class:0"]\n[methods.finetune]\n')
    err = one_line_exit_2(*run_cli(capsys, "bench", str(path), "--home", str(tmp_path / "h"), "--data-dir",
                                   str(tmp_path / "pictures")))
    assert f"{tmp_path / 'pictures'} does not exist" in err
    path.write_text(path.read_text().replace("[methods", 'data_dir = "/elsewhere"\n[methods'))
    err = one_line_exit_2(*run_cli(capsys, "bench", str(path), "--home", str(tmp_path / "h"), "--data-dir",
                                   str(tmp_path / "pictures")))
    assert "differs from the grid's data_dir" in err
