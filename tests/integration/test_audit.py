"""``unlearnkit audit`` end to end on digits with small banks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from unlearnkit.cli import main

FAST = ["--set", "epochs=5", "--n-models", "4"]


def model_files(home: Path) -> set[str]:
    return {p.name for p in (home / "models").rglob("*.json")}


def test_audit_writes_scores_and_reuses_banks(tmp_path, capsys):
    home, out = tmp_path / "home", tmp_path / "out"
    code = main(["audit", "--home", str(home), "--forget", "random:0.1", *FAST, "--method", "finetune", "epochs=1",
                 "--out", str(out), "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert 0.0 <= result["forgetting_quality"] <= 1.0
    low, high = result["forgetting_quality_ci"]
    assert low <= result["forgetting_quality"] <= high
    assert len(result["epsilon"]) == len(result["forget_indices"])
    assert all(0.0 <= e <= 50.0 for e in result["epsilon"])
    for row in ("unlearned", "golden"):
        assert 0.0 <= result["lira"][row]["auc"] <= 1.0
        assert set(result["lira"][row]["ci"]) == {"auc", "tpr_at_1pct_fpr", "tpr_at_0.1pct_fpr"}
    hardest = [int(x) for x in (out / "hardest.txt").read_text().split()]
    assert hardest and set(hardest) <= set(result["forget_indices"])
    assert (out / "hardest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "forgetting_quality" in (out / "audit.md").read_text()

    before = model_files(home)
    assert main(["audit", "--home", str(home), "--forget", "random:0.1", *FAST, "--method", "random_labels",
                 "epochs=1", "--out", str(tmp_path / "out2")]) == 0
    added = model_files(home) - before
    assert len(added) == 4, "a second method trains only its own unlearned bank; golden and LiRA banks are reused"


def test_audit_is_deterministic(tmp_path, capsys):
    args = ["audit", "--forget", "class:1", *FAST, "--method", "neggrad_plus", "epochs=1", "--json"]
    assert main([*args, "--home", str(tmp_path / "a"), "--out", str(tmp_path / "oa")]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main([*args, "--home", str(tmp_path / "b"), "--out", str(tmp_path / "ob")]) == 0
    second = json.loads(capsys.readouterr().out)
    for key in ("forgetting_quality", "forgetting_quality_ci", "epsilon", "lira", "challenge_score"):
        assert first[key] == second[key]


@pytest.mark.parametrize("args,message", [
    (["--n-models", "2"], "--n-models must be at least 3"),
    (["foo=1"], "Unknown parameter 'foo'"),
])
def test_audit_bad_input(tmp_path, capsys, args, message):
    home = tmp_path / "home"
    code = main(["audit", "--home", str(home), "--method", "finetune", *args, "--out", str(tmp_path / "o")])
    assert code == 2 and message in capsys.readouterr().err
    assert not (home / "models").exists() and not (tmp_path / "o").exists()
