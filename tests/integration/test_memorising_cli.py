"""The training subset, the validation slice, CPU time and calibration through the CLI (digits)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from unlearnkit.cli import main

FAST = ["--set", "epochs=8"]


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--data-option", "train_subset=0"], "'train_subset' option must be a count of at least 1"),
        (["--data-option", "train_subset=99999"], "asks for 99999 samples but the training set has only 1438"),
        (["--data-option", "train_subset=1.5"], "fraction in (0, 1]"),
        (["--data-option", "train_subset=5"], "leaves class"),
        (["--data-option", "val_size=1438"], "would leave no training sample"),
        (["--data-option", "train_subset=1000", "--data-option", "val_size=900"], "left only 438"),
        (["--calibrate", "heldout"], "needs a validation slice V"),
        (["--calibrate", "heldout", "--data-option", "train_subset=800", "--method", "ssd"], "SSD is not a loop method"),
    ],
)
def test_bad_subset_validation_and_calibration_inputs_exit_2_and_write_nothing(capsys, tmp_path, extra, message):
    home = tmp_path / "home"
    args = ["unlearn", "--home", str(home), "--dataset", "digits", "--forget", "random:0.1", *FAST]
    if "--method" not in extra:
        args += ["--method", "finetune"]
    code, out, err = run_cli(capsys, *args, *extra)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not home.exists() or not any(p.is_file() for p in home.rglob("*"))


def test_subset_run_records_cpu_time_golden_free_metrics_and_calibration(capsys, tmp_path):
    home = tmp_path / "home"
    metrics = "ua,ra,ta,mia_efficacy,runtime_s,speedup,avg_gap,heldout_auc,heldout_acc_gap"
    code, out, _ = run_cli(capsys, "unlearn", "--home", str(home), "--dataset", "digits", "--forget", "random:0.1",
                           "--data-option", "train_subset=800", *FAST, "--method", "kl_ft", "--calibrate", "heldout",
                           "--metrics", metrics, "--json")
    assert code == 0
    payload = json.loads(out)
    rows = payload["report"]["rows"]
    for row in ("unlearned", "golden"):
        assert rows[row]["cpu_s"] > 0
    assert rows["unlearned"]["cpu_speedup"] == pytest.approx(rows["golden"]["cpu_s"] / rows["unlearned"]["cpu_s"])
    # the check of the membership attack comes beside its score, unasked
    for row in ("unlearned", "golden", "original"):
        assert 0.0 <= rows[row]["mia_member_recall"] <= 100.0
    lo, hi = payload["report"]["intervals"]["unlearned"]["heldout_auc"]
    assert lo <= rows["unlearned"]["heldout_auc"] <= hi
    assert payload["config"]["calibration"]["calibrate"] == "heldout"
    assert payload["config"]["split"]["n_val"] == 638 and "left out" in payload["config"]["split"]["val_note"]
    assert payload["config"]["data_options"] == {"train_subset": 800}


def test_audit_of_a_calibrated_method(capsys, tmp_path):
    home = tmp_path / "home"
    code, out, err = run_cli(capsys, "audit", "--home", str(home), "--dataset", "digits", "--forget", "random:0.1",
                             "--data-option", "train_subset=800", "--set", "epochs=5", "--method", "finetune",
                             "epochs=1", "--calibrate", "heldout", "--n-models", "3", "--out", str(tmp_path / "a"),
                             "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert payload["calibration"] == {"calibrate": "heldout"} and 0 <= payload["forgetting_quality"] <= 1
    code, _, err = run_cli(capsys, "audit", "--home", str(home), "--dataset", "digits", "--forget", "random:0.1",
                           "--method", "ssd", "--calibrate", "heldout", "--n-models", "3", "--out", str(tmp_path / "b"))
    assert code == 2 and "SSD is not a loop method" in err and len(err.strip().splitlines()) == 1
