"""``unlearnkit tune``: Optuna search against the golden model, resume, presets and bad spaces."""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
import tomllib
from pathlib import Path

import pytest

from unlearnkit.bench.presets import preset_text, read_preset, write_preset
from unlearnkit.bench.search_space import ParamSpace, default_space, parse_space
from unlearnkit.bench.tune import tune
from unlearnkit.cli import main
from unlearnkit.errors import ConfigError
from unlearnkit.methods.base import Access, Method
from unlearnkit.methods.registry import METHODS
from unlearnkit.runs.experiment import ExperimentConfig, Workspace

pytest.importorskip("optuna")

FAST = ["--set", "epochs=8"]
SPACE = ["--space", "lr=float:1e-3:1e-1:log", "--space", "epochs=int:1:2"]


@pytest.fixture(scope="module")
def trained_home(tmp_path_factory) -> Path:
    """A home with the original and golden models of digits / mlp / class:3, trained once for the module."""
    home = tmp_path_factory.mktemp("trained") / "home"
    assert main(["train", "--home", str(home), "--forget", "class:3", *FAST, "--quiet"]) == 0
    return home


def home_with_models(trained_home: Path, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(trained_home / "models", home / "models")
    return home


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


# ----------------------------------------------------------------------------- grammar (unit)
def test_space_grammar():
    p = ParamSpace.parse("lr=float:1e-4:1e-1:log")
    assert (p.name, p.kind, p.low, p.high, p.log) == ("lr", "float", 1e-4, 1e-1, True)
    assert str(p) == "lr=float:0.0001:0.1:log"
    assert ParamSpace.parse(str(p)) == p
    q = ParamSpace.parse("epochs=int:1:5")
    assert (q.kind, q.low, q.high, q.log) == ("int", 1, 5, False) and isinstance(q.low, int)
    c = ParamSpace.parse("optimizer=choice:sgd,adam")
    assert c.kind == "choice" and c.choices == ("sgd", "adam") and str(c) == "optimizer=choice:sgd,adam"
    for bad in ("lr", "lr=float", "lr=float:1", "lr=normal:0:1", "lr=float:a:1", "epochs=int:1.5:3",
                "lr=float:1:1", "lr=float:0:1:log", "x=choice:", "x=choice:a,,b", "x=choice:a,a", "lr=float:1:2:lin"):
        with pytest.raises(ConfigError):
            ParamSpace.parse(bad)

    space = parse_space(["beta=float:0.01:0.5", "epochs=choice:1,3", "optimizer=choice:sgd,adam"], "neggrad_plus")
    assert [s.choices for s in space if s.kind == "choice"] == [(1, 3), ("sgd", "adam")]  # parsed to the declared types
    assert [str(s) for s in default_space("finetune")] == ["lr=float:0.0001:0.1:log", "epochs=int:1:5"]
    assert [str(s) for s in default_space("retrain")] == ["epochs=int:1:5"]  # no lr; Optional epochs unwrapped


def test_bad_space_reports_every_problem():
    with pytest.raises(ConfigError) as info:
        parse_space(["nope=float:0:1", "lr=float:0.1:0.01", "lr2=int:1:2", "beta=float:0.5:2",
                     "momentum=float:0:0.5:log", "epochs=float:1:3", "optimizer=choice:sgd,rmsprop"], "neggrad_plus")
    msg = str(info.value)
    for part in ("'nope' is not a parameter", "'lr2' is not a parameter", "low 0.1 must be below high 0.01",
                 "outside the declared range of 'beta'", "log scale needs low > 0", "'epochs' of neggrad_plus is an int",
                 "choice 'rmsprop' is not valid"):
        assert part in msg, part


def test_method_with_nothing_to_tune(monkeypatch):
    class Nothing(Method):
        access = Access.FORGET_ONLY

        def __init__(self, *, scale=1.0):
            self.scale = scale

    monkeypatch.setitem(METHODS._items, "nothing_to_tune", Nothing)
    with pytest.raises(ConfigError, match="no lr or epochs to tune"):
        default_space("nothing_to_tune")
    assert [str(p) for p in parse_space(["scale=float:0.5:2"], "nothing_to_tune")] == ["scale=float:0.5:2.0"]


def test_preset_round_trip(tmp_path):
    path = tmp_path / "p.toml"
    meta = {"dataset": "digits", "forget": 'class:"3"\n', "trials": 4, "tuning_time_s": 1.5, "best_avg_gap": 2.25,
            "ok": True, "space": ["lr=float:0.001:0.1:log"], "recipe_overrides": {"epochs": 8}, "gone": None}
    write_preset(path, "neggrad_plus", {"lr": 1e-05, "epochs": 2, "beta": 0.1, "optimizer": "adam"}, meta)
    data = tomllib.loads(path.read_text())
    assert data["methods"]["neggrad_plus"] == {"lr": 1e-05, "epochs": 2, "beta": 0.1, "optimizer": "adam"}
    assert data["tuned"]["forget"] == 'class:"3"\n' and data["tuned"]["ok"] is True
    assert data["tuned"]["recipe_overrides"] == {"epochs": 8} and "gone" not in data["tuned"]
    assert read_preset(path, "neggrad_plus") == {"lr": 1e-05, "epochs": 2, "beta": 0.1, "optimizer": "adam"}
    with pytest.raises(ConfigError, match=r"no \[methods.finetune\] table; it has: neggrad_plus"):
        read_preset(path, "finetune")
    with pytest.raises(ConfigError, match="does not exist"):
        read_preset(tmp_path / "missing.toml", "finetune")
    with pytest.raises(ConfigError):  # a preset that could not be used is never written
        write_preset(tmp_path / "bad.toml", "finetune", {"lr": -1.0})
    assert not (tmp_path / "bad.toml").exists()
    assert "[methods.finetune]" in preset_text("finetune", {"lr": 0.1})


# ----------------------------------------------------------------------------- CLI end to end
def test_tune_resume_preset_and_unlearn(capsys, tmp_path, trained_home):
    home, preset = home_with_models(trained_home, tmp_path), tmp_path / "ft.toml"
    cmd = ["tune", "--home", str(home), "--forget", "class:3", *FAST, "--method", "finetune", *SPACE, "--trials", "3"]
    code, out, _ = run_cli(capsys, *cmd, "--preset-out", str(preset), "--json")
    assert code == 0
    first = json.loads(out)
    assert first["n_trials_this_call"] == 3 and first["n_trials_total"] == 3
    assert set(first["best_params"]) == {"lr", "epochs"} and 1e-3 <= first["best_params"]["lr"] <= 1e-1
    assert first["best_value"] >= 0 and first["tuning_time_s"] > 0
    assert Path(first["storage_path"]) == home / "tune.sqlite" and (home / "tune.sqlite").exists()
    assert not (home / "runs.sqlite").exists(), "trials are calibration, not runs"

    code, out, _ = run_cli(capsys, *cmd[:-1], "2", "--json")  # the same command resumes the same study
    assert code == 0
    again = json.loads(out)
    assert again["study_name"] == first["study_name"]
    assert again["n_trials_this_call"] == 2 and again["n_trials_total"] == 5
    assert again["tuning_time_s"] > first["tuning_time_s"]
    assert again["best_value"] <= first["best_value"]
    with sqlite3.connect(home / "tune.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == 5

    tuned = tomllib.loads(preset.read_text())
    assert tuned["methods"]["finetune"] == first["best_params"]
    assert tuned["tuned"]["trials"] == 3 and tuned["tuned"]["best_avg_gap"] == first["best_value"]
    assert tuned["tuned"]["dataset"] == "digits" and tuned["tuned"]["forget"] == "class:3"

    # a later run on another forget set uses the preset; key=value still overrides it
    code, out, _ = run_cli(capsys, "unlearn", "--home", str(home), "--forget", "random:0.1", *FAST,
                           "--method", "finetune", "--preset", str(preset), "epochs=1", "--json")
    assert code == 0
    params = json.loads(out)["config"]["params"]
    assert params["lr"] == first["best_params"]["lr"] and params["epochs"] == 1
    code, _, err = run_cli(capsys, "unlearn", "--home", str(home), "--forget", "random:0.1", *FAST,
                           "--method", "random_labels", "--preset", str(preset))
    assert code == 2 and "no [methods.random_labels] table" in err


def test_text_output_and_study_name_with_another_space_is_refused(capsys, tmp_path, trained_home):
    home = home_with_models(trained_home, tmp_path)
    base = ["tune", "--home", str(home), "--forget", "class:3", *FAST, "--method", "finetune", "--trials", "1",
            "--study", "mine"]
    code, out, _ = run_cli(capsys, *base, "--space", "epochs=int:1:2")
    assert code == 0
    for needle in ("trial 0: epochs=", "best avg_gap: ", "best params: epochs=", "trials: 1 this call, 1 in the study",
                   "tuning time: ", "study: mine in " + str(home / "tune.sqlite")):
        assert needle in out, needle
    code, _, err = run_cli(capsys, *base, "--space", "epochs=int:1:3")
    assert code == 2 and "Study 'mine'" in err and "space" in err


@pytest.mark.parametrize("space, needles", [
    (["nope=float:0:1", "lr=float:0.1:0.01", "epochs=int:0:3:log", "momentum=float:0.5:1.5"],
     ["'nope' is not a parameter of finetune", "low 0.1 must be below high 0.01", "log scale needs low > 0",
      "outside the declared range of 'epochs'", "outside the declared range of 'momentum'"]),
    (["lr=float:0:0.1:log"], ["log scale needs low > 0", "outside the declared range of 'lr'"]),
])
def test_bad_space_exits_2_and_writes_nothing(capsys, tmp_path, space, needles):
    home, preset = tmp_path / "home", tmp_path / "p.toml"
    args = [a for s in space for a in ("--space", s)]
    code, out, err = run_cli(capsys, "tune", "--home", str(home), "--forget", "class:3", *FAST, "--method", "finetune",
                             *args, "--trials", "2", "--preset-out", str(preset))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("unlearnkit: error: Bad search space for method 'finetune'")
    for needle in needles:
        assert needle in err, needle
    assert files_under(home) == [] and not preset.exists()


@pytest.mark.parametrize("extra, needle", [
    (["--trials", "0"], "number of trials"),
    (["--objective", "runtime_s"], "not judged by its gap"),
    (["--method", "nope"], "Unknown method 'nope'"),
])
def test_bad_arguments_exit_2(capsys, tmp_path, extra, needle):
    home = tmp_path / "home"
    code, _, err = run_cli(capsys, "tune", "--home", str(home), *FAST, "--method", "finetune", *extra)
    assert code == 2 and needle in err
    assert files_under(home) == []


def test_default_space_contains_the_defaults_and_the_first_trial_is_them(capsys, tmp_path, trained_home):
    """Issue 15, defect 6: random_labels defaults to 10 epochs; the default space used to stop at 5."""
    from unlearnkit.bench.search_space import method_defaults

    for name in METHODS.names():
        try:
            space = default_space(name)
        except ConfigError:
            continue  # nothing to tune by default
        defaults = method_defaults(name)
        for p in space:
            if defaults.get(p.name) is not None:
                assert p.contains(defaults[p.name]), (name, str(p), defaults[p.name])
    assert [str(p) for p in default_space("random_labels")] == ["lr=float:0.0001:0.1:log", "epochs=int:1:10"]

    home = home_with_models(trained_home, tmp_path)
    code, out, _ = run_cli(capsys, "tune", "--home", str(home), "--forget", "class:3", *FAST, "--method",
                           "random_labels", "--trials", "2", "--json")
    assert code == 0
    tuned = json.loads(out)
    with sqlite3.connect(home / "tune.sqlite") as conn:
        first = dict(conn.execute("SELECT p.param_name, p.param_value FROM trial_params p JOIN trials t "
                                  "ON p.trial_id = t.trial_id WHERE t.number = 0").fetchall())
    assert first == {"lr": 0.013, "epochs": 10.0}, "the first trial runs the method's defaults"
    code, out, _ = run_cli(capsys, "unlearn", "--home", str(home), "--forget", "class:3", *FAST, "--method",
                           "random_labels", "--json")
    untuned = json.loads(out)["report"]["rows"]["unlearned"]["avg_gap"]
    assert tuned["best_value"] <= untuned + 1e-9, "tuning never reports worse than not tuning"


# ----------------------------------------------------------------------------- API
def test_failing_trials_are_recorded_not_raised(monkeypatch, tmp_path, trained_home):
    class Flaky(Method):
        """Returns the model unchanged, or fails, depending on a parameter."""

        access = Access.FORGET_ONLY

        def __init__(self, *, mode="ok"):
            self.mode = mode

        def run(self, model, *, forget, retain, generator, device):
            if self.mode == "boom":
                raise RuntimeError("boom")
            return model

    monkeypatch.setitem(METHODS._items, "flaky", Flaky)
    ws = Workspace(home_with_models(trained_home, tmp_path))
    cfg = ExperimentConfig(forget="class:3", recipe_overrides={"epochs": 8})
    lines: list[str] = []
    r = tune(ws, cfg, "flaky", ["mode=choice:ok,boom"], n_trials=4, seed=1, log=lines.append)
    assert r.n_trials_total == 4 and r.n_trials_this_call == 4 and len(lines) == 4
    assert r.n_failed == sum("failed: RuntimeError: boom" in line for line in lines) and r.n_failed >= 1
    assert r.best_params == {"mode": "ok"} and r.best_value > 0  # doing nothing: the original's gap
    assert r.tuning_time_s > 0 and r.golden_train_time_s is not None
    assert not (ws.home / "runs.sqlite").exists()


def test_missing_optuna_is_a_config_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ConfigError, match=r"Tuning needs Optuna: pip install 'unlearnkit\[tune\]'"):
        tune(Workspace(tmp_path / "home"), ExperimentConfig(), "finetune", n_trials=1)
    assert not (tmp_path / "home").exists()
