"""Grid parsing: structure checks, parameter grids, and the default grid's coverage."""

from __future__ import annotations

from pathlib import Path

import pytest

from unlearnkit.bench.grid import expand_params, grid_from_dict, load_grid
from unlearnkit.errors import ConfigError
from unlearnkit.methods import METHODS

ROOT = Path(__file__).resolve().parents[2]


def test_expand_params_is_a_cartesian_product():
    assert expand_params({"lr": [0.1, 0.01], "epochs": 3}) == [{"epochs": 3, "lr": 0.1}, {"epochs": 3, "lr": 0.01}]
    assert expand_params({}) == [{}]


def test_runs_cover_the_product():
    grid = grid_from_dict({"datasets": ["digits"], "models": ["mlp"], "forget": ["class:1", "random:0.1"],
                           "seeds": [0, 1, 2], "methods": {"finetune": {}, "neggrad_plus": {"beta": [0.1, 0.2]}}})
    runs = grid.runs()
    assert len(runs) == 2 * 3 * 3
    assert {r.method for r in runs} == {"finetune", "neggrad_plus"}


def test_structural_problems_are_reported_together():
    with pytest.raises(ConfigError) as info:
        grid_from_dict({"datasets": "digits", "models": ["nope"], "forget": ["class:1"], "seeds": [0.5],
                        "methods": {"x": {}}, "colour": 1, "recipe": {"nope": 1}})
    message = str(info.value)
    for fragment in ("'datasets' must be a non-empty list", "unknown model 'nope'", "'seeds' must be",
                     "unknown method 'x'", "unknown key 'colour'", "unknown recipe field 'nope'"):
        assert fragment in message
    assert message.startswith("Grid <grid> has 6 problem(s)")


def test_invalid_toml_and_missing_file(tmp_path):
    bad = tmp_path / "g.toml"
    bad.write_text("datasets = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_grid(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_grid(tmp_path / "missing.toml")


def test_default_grid_covers_every_method_and_scenario():
    grid = load_grid(ROOT / "benchmarks" / "grids" / "default.toml")
    assert set(grid.methods) == set(METHODS.names()), "add new methods to benchmarks/grids/default.toml"
    assert grid.datasets == ["fashion-mnist"] and grid.models == ["cnn"] and len(grid.seeds) == 3
    kinds = {spec.split(":")[0] for spec in grid.forget}
    assert kinds == {"class", "subclass", "random"}
