"""Sub-class forgetting end to end through the CLI on files in the published formats: Fashion-MNIST
with its coarse labels and CIFAR-100 with its 20 super-classes, evaluated with the zero-shot
paper's metrics."""

from __future__ import annotations

import json

import pytest

from tests.integration.test_cli import run_cli
from tests.unit.test_data_loaders import make_cifar100, make_idx_dir

ZERO_SHOT_METRICS = "ua,ra,ta,mia_entropy_member_rate,zrf,forget_entropy"


@pytest.mark.parametrize("dataset, forget, method", [
    ("fashion-mnist", "subclass:Shirt", "jit"),
    ("fashion-mnist", "subclass:Shirt", "ssd"),
    ("cifar100", "subclass:fine17", "jit"),
])
def test_subclass_forgetting_end_to_end(capsys, tmp_path, dataset, forget, method):
    data = tmp_path / "data"
    if dataset == "cifar100":
        make_cifar100(data)
    else:
        make_idx_dir(data, n_train=60, n_test=20, gz=True)
    common = ["--home", str(tmp_path / "home"), "--dataset", dataset, "--data-dir", str(data), "--model", "mlp",
              "--set", "epochs=2", "--forget", forget]
    code, out, err = run_cli(capsys, "unlearn", *common, "--method", method, "--metrics", ZERO_SHOT_METRICS, "--json")
    assert code == 0, err
    payload = json.loads(out)
    rows = payload["report"]["rows"]
    for row in ("unlearned", "golden", "original"):
        assert set(rows[row]) >= set(ZERO_SHOT_METRICS.split(",")), row
    assert payload["report"]["scenario"] == "subclass"
    assert rows["golden"]["forget_entropy"] > 0
    assert 0 <= rows["unlearned"]["zrf"] <= 1
    assert payload["config"]["forget"] == forget
