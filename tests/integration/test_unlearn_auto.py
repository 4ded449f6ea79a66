"""``unlearnkit unlearn --method auto`` (issue 21): auto on a benchmark experiment, recorded as a run
with its choice, judged against the golden model it never sees."""

from __future__ import annotations

import json

import pytest
import torch

from unlearnkit.cli import main
from unlearnkit.deletion import auto_run
from unlearnkit.runs.experiment import ExperimentConfig, Workspace, load_context, original_model

ARGS = ["--set", "epochs=8", "--data-option", "val_size=300", "--forget", "random:0.1"]


def test_unlearn_auto_records_its_choice_and_is_judged_against_golden(capsys, tmp_path, monkeypatch):
    home = tmp_path / "home"
    seen = []
    real = auto_run.select_method

    def spy(before, split, **kw):
        seen.append({k: v.clone() for k, v in before.state_dict().items()})
        return real(before, split, **kw)

    monkeypatch.setattr(auto_run, "select_method", spy)
    code = main(["unlearn", "--home", str(home), "--method", "auto", "--budget", "0.5", *ARGS, "--json"])
    out = capsys.readouterr().out
    assert code == 0
    payload = json.loads(out)
    choice, rows = payload["choice"], payload["report"]["rows"]
    assert payload["config"]["method"] == "auto" and payload["config"]["params"] == {"budget": 0.5}
    assert choice["budget"]["fraction"] == 0.5 and choice["candidates"]
    assert choice["shape"] == "scattered" and choice["n_forget"] == 114
    assert choice["retrain_estimate"]["recipe"]["epochs"] == 8
    assert rows["unlearned"]["cpu_s"] >= choice["budget"]["candidates_cpu_s"] > 0
    assert {"golden", "original", "unlearned"} <= set(rows) and "avg_gap" in rows["unlearned"]

    cfg = ExperimentConfig(dataset="digits", forget="random:0.1", recipe_overrides={"epochs": 8},
                           data_options={"val_size": 300})
    original = original_model(Workspace(home), load_context(cfg)).model.state_dict()
    assert len(seen) == 1 and all(torch.equal(seen[0][k], original[k]) for k in original), \
        "auto must start from the original model"

    code = main(["eval", "--home", str(home), "--run", payload["run_id"], "--json"])
    again = json.loads(capsys.readouterr().out)["report"]["rows"]["unlearned"]
    assert code == 0 and again["ua"] == pytest.approx(rows["unlearned"]["ua"])
    code = main(["runs", "--home", str(home)])
    assert code == 0 and f"{payload['run_id']}" in capsys.readouterr().out


def test_unlearn_auto_table_names_the_pick(capsys, tmp_path):
    code = main(["unlearn", "--home", str(tmp_path / "home"), "--method", "auto", *ARGS])
    out = capsys.readouterr().out
    assert code == 0
    assert "auto -> " in out and "auto: the model fits" in out and "auto's CPU:" in out
