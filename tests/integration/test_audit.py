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


def test_audit_names_the_model_in_training_and_warns_of_ties_at_small_n(tmp_path, capsys, monkeypatch):
    """Issue 15: the progress bars say which of the N models trains; at N = 3 the many equal ε make the
    hardest list a pick by index, and the audit says so."""
    import unlearnkit.training.loop as loop

    seen: list[str] = []
    real = loop.progress_bar

    def recording(description, total):
        from unlearnkit.progress import describe

        seen.append(describe(description))
        return real(description, total)

    monkeypatch.setattr(loop, "progress_bar", recording)
    out = tmp_path / "out"
    code = main(["audit", "--home", str(tmp_path / "home"), "--forget", "random:0.1", "--set", "epochs=2",
                 "--n-models", "3", "--method", "finetune", "epochs=1", "--out", str(out), "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    for bank, what in (("golden bank", "model"), ("unlearned bank", "run"), ("LiRA bank", "model")):
        for k in (1, 2, 3):
            assert any(s.startswith(f"{bank}, {what} {k} of 3: ") for s in seen), (bank, k, seen)
    eps = dict(zip(result["forget_indices"], result["epsilon"]))
    last = eps[result["hardest"][-1]]
    tied = sum(e == last for e in eps.values())
    listed = sum(eps[i] == last for i in result["hardest"])
    assert tied > listed, "at N = 3 the cut of the hardest list falls inside a group of equal epsilon"
    assert result["hardest_note"] and "N=3" in result["hardest_note"]
    assert f"Note: {result['hardest_note']}" in (out / "audit.md").read_text()
