"""``forget(..., method="auto", budget=...)`` and ``unlearnkit forget --budget`` (issue 21): the
choice goes into the evidence; a bad budget is one line, exit 2, nothing written."""

from __future__ import annotations

import pytest

from unlearnkit import forget
from unlearnkit.cli import main
from unlearnkit.errors import ConfigError

from tests.memorised import RECIPE, memorised_mlp


@pytest.fixture(scope="module")
def memorised():
    """A 2-layer MLP that memorised random labels: 300 records with IDs, 400 held out."""
    return memorised_mlp(1)


def test_auto_puts_the_choice_and_every_candidate_into_the_evidence(memorised, tmp_path):
    model, ds = memorised
    recipe = RECIPE
    result = forget(model, ds, [f"r{i}" for i in range(0, 300, 5)], method="auto", budget=1.0, recipe=recipe,
                    out=tmp_path / "out")
    choice = result.record["method"]["choice"]
    assert choice["memorisation"]["level"] == "high" and choice["shape"] == "scattered" and choice["n_forget"] == 60
    assert choice["retrain_estimate"]["recipe"]["epochs"] == 100 and "given" in choice["retrain_estimate"]["recipe_source"]
    assert [c["method"] for c in choice["candidates"]], "every candidate is recorded"
    assert all("cpu_s" in c and "status" in c for c in choice["candidates"])
    assert result.record["method"]["name"] == choice["method"]
    assert choice["budget"]["fraction"] == 1.0
    if choice["recommend_retrain"]:
        assert choice["retrain_note"] in result.evidence.warnings
    else:
        assert result.evidence.verdict == "forgotten"
    assert '"candidates"' in (tmp_path / "out" / "evidence.json").read_text()


@pytest.mark.parametrize("bad", [0, -1, 1.5, "lots", float("nan")])
def test_forget_refuses_a_bad_budget_before_anything(memorised, tmp_path, bad):
    model, ds = memorised
    with pytest.raises(ConfigError, match="budget"):
        forget(model, ds, ["r1"], method="auto", budget=bad, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, match", [
    (["--budget", "0"], "budget must be in (0, 1]"),
    (["--budget", "1.01"], "budget must be in (0, 1]"),
    (["--budget", "-0.1"], "budget must be in (0, 1]"),
    (["--budget", "ten percent"], "budget must be a number"),
    (["--budget", "0.2", "--method", "finetune"], "--budget only applies with --method auto"),
])
def test_cli_bad_budget_is_one_line_exit_2_nothing_written(capsys, tmp_path, args, match):
    out = tmp_path / "out"
    code = main(["forget", "--data", str(tmp_path / "data.npz"), "--request", str(tmp_path / "req.txt"),
                 "--out", str(out), "--quiet", *args])
    _, err = capsys.readouterr()
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and match in lines[0] and "Traceback" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == []
