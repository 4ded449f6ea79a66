"""Grid parsing: structure checks, parameter grids, and the default grid's coverage."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.data_available import requires_fashion_mnist
from unlearnkit.bench.grid import expand_params, grid_from_dict, grids_config_hashes, load_grid
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


@pytest.mark.parametrize("path", sorted((ROOT / "benchmarks" / "grids").glob("*.toml")), ids=lambda p: p.name)
def test_every_benchmark_grid_loads(path):
    grid = load_grid(path)  # every part checked: names, parameters, recipe
    assert grid.size() == len(grid.runs()) > 0


def _variants(grid, forget):
    return {(r.method, repr(sorted(r.params.items()))) for r in grid.runs() if r.config.forget == forget}


@pytest.mark.parametrize("forget, regrid", [("random:0.1", "memorising_equal_attack.toml"),
                                            ("class:3", "memorising_equal_attack_class.toml")])
def test_the_equal_attack_grids_re_run_every_method_of_the_memorising_benchmark(forget, regrid):
    """Issue 20: every stored run of memorising.toml is re-made under the equal-class attack (retrain
    aside: every run's golden row is that model)."""
    grids = ROOT / "benchmarks" / "grids"
    before, after = load_grid(grids / "memorising.toml"), load_grid(grids / regrid)
    missing = {v for v in _variants(before, forget) if v[0] != "retrain"} - _variants(after, forget)
    assert not missing, f"{regrid} lacks {sorted(missing)}"
    assert "mia_member_recall" in after.metrics and after.seeds == before.seeds
    # the same models: recipe, dataset, training subset (the validation slice V may differ)
    assert (after.recipe, after.recipe_overrides, after.datasets, after.models) == \
        (before.recipe, before.recipe_overrides, before.datasets, before.models)
    assert {k: v for k, v in after.data_options.items() if k != "val_size"} == before.data_options


# ======================================================================= retain fractions
BASE = {"datasets": ["digits"], "models": ["mlp"], "forget": ["class:1"], "seeds": [0, 1],
        "methods": {"finetune": {}, "neggrad_plus": {"beta": [0.1, 0.2]}}}


def test_retain_fraction_list_is_one_run_per_value():
    grid = grid_from_dict({**BASE, "retain_fraction": [0.1, 0.3, 0.5]})
    assert grid.retain_fractions() == [0.1, 0.3, 0.5]
    runs = grid.runs()
    assert len(runs) == 3 * 2 * 3  # fractions x seeds x (finetune + 2 neggrad_plus variants)
    for fraction in (0.1, 0.3, 0.5):
        same = [r for r in runs if r.retain_fraction == fraction]
        assert len(same) == 2 * 3
        assert {(r.config.seed, r.method) for r in same} == {(0, "finetune"), (1, "finetune"),
                                                            (0, "neggrad_plus"), (1, "neggrad_plus")}
    assert len({r.label() for r in runs}) == len(runs)  # the fraction is part of the label
    assert "digits/mlp/class:1/retain0.3/seed0/finetune" in {r.label() for r in runs}


def test_retain_fraction_scalar_and_absent():
    assert {r.retain_fraction for r in grid_from_dict({**BASE, "retain_fraction": 0.3}).runs()} == {0.3}
    assert grid_from_dict({**BASE, "retain_fraction": 1}).retain_fractions() == [1]
    absent = grid_from_dict(BASE)
    assert absent.retain_fractions() == [None]
    assert {r.retain_fraction for r in absent.runs()} == {None}
    assert "retain" not in absent.runs()[0].label()


def test_every_retain_fraction_is_planned_with_its_own_config_hash():
    grid = grid_from_dict({**BASE, "methods": {"finetune": {}}, "seeds": [0], "retain_fraction": [0.25, 1.0]})
    plans = grid.plans()
    assert [p.retain_fraction for _, p in plans] == [0.25, 1.0]
    assert [p.config["retain_fraction"] for _, p in plans] == [0.25, 1.0]
    assert grid.config_hashes() == {p.config_hash for _, p in plans} and len(grid.config_hashes()) == 2


@pytest.mark.parametrize("value, fragments", [
    ([], ["got an empty list"]),
    ([0.1, 0.0, 1.5, -0.2], ["got 0.0 in the list", "got 1.5 in the list", "got -0.2 in the list"]),
    ([0.1, "half", True, [0.2]], ["got 'half' in the list", "got True in the list", "got [0.2] in the list"]),
    ([0.3, 0.1, 0.3], ["lists 0.3 more than once"]),
    (0.0, ["got 0.0"]),
    (2, ["got 2"]),
    ("0.3", ["got '0.3'"]),
    (True, ["got True"]),
    (float("nan"), ["got nan"]),
])
def test_bad_retain_fractions_are_reported(value, fragments):
    with pytest.raises(ConfigError) as info:
        grid_from_dict({**BASE, "retain_fraction": value})
    message = str(info.value)
    assert "'retain_fraction' must be a number in (0, 1] or a non-empty list of such numbers" in message \
        or "more than once" in message
    for fragment in fragments:
        assert fragment in message
    assert message.startswith(f"Grid <grid> has {len(fragments)} problem(s)")


def test_retain_fraction_list_from_a_toml_file(tmp_path):
    path = tmp_path / "sweep.toml"
    path.write_text('datasets = ["digits"]\nmodels = ["mlp"]\nforget = ["class:1"]\nseeds = [0]\n'
                    "retain_fraction = [0.1, 0.5]\n[methods.finetune]\n")
    grid = load_grid(path)
    assert [r.retain_fraction for r in grid.runs()] == [0.1, 0.5]
    path.write_text(path.read_text().replace("[0.1, 0.5]", "[0.1, 5]"))
    with pytest.raises(ConfigError, match=r"sweep\.toml has 1 problem\(s\): 'retain_fraction' .* got 5 in the list"):
        load_grid(path)


def test_several_tables_of_one_method_are_the_union_of_their_grids(tmp_path):
    path = tmp_path / "tables.toml"
    path.write_text('datasets = ["digits"]\nmodels = ["mlp"]\nforget = ["class:1"]\nseeds = [0]\n'
                    '[[methods.jit]]\nsigma = [0.1, 0.5]\nlr = 1e-5\n'
                    '[[methods.jit]]\nsigma = [0.5, 2.0]\nlr = 1e-5\n'
                    '[[methods.jit]]\nsigma = 2.0\nlr = 3e-4\n')
    runs = load_grid(path).runs()
    assert [(r.params["sigma"], r.params["lr"]) for r in runs] == [(0.1, 1e-5), (0.5, 1e-5), (2.0, 1e-5), (2.0, 3e-4)]
    path.write_text('datasets = ["digits"]\nmodels = ["mlp"]\nforget = ["class:1"]\nseeds = [0]\n'
                    '[[methods.jit]]\nsigma = 0.1\n[[methods.jit]]\nsgima = 2.0\n')
    with pytest.raises(ConfigError, match="unknown parameter 'sgima' for method 'jit'"):
        load_grid(path)


@requires_fashion_mnist  # plans the real fashion-mnist grids of benchmarks/grids/
def test_grids_config_hashes_is_the_union_of_each_grids_runs():
    paths = [ROOT / "benchmarks/grids/ltu.toml", ROOT / "benchmarks/grids/ltu_rho.toml"]
    ltu, rho = (load_grid(p).config_hashes() for p in paths)
    assert ltu & rho, "the two grids share their rho = 0.3 runs"
    assert grids_config_hashes(paths) == ltu | rho
    with pytest.raises(ConfigError, match="does not exist"):
        grids_config_hashes([ROOT / "benchmarks/grids/no_such_grid.toml"])


def test_data_options_and_calibration_reach_every_run():
    grid = grid_from_dict({"datasets": ["digits"], "models": ["mlp"], "forget": ["random:0.1"], "seeds": [0],
                           "data_options": {"train_subset": 800}, "calibrate": "heldout", "calibrate_every": 5,
                           "methods": {"finetune": {}}})
    (spec, plan), = grid.plans()
    assert spec.config.data_options == {"train_subset": 800}
    assert plan.config["calibration"] == {"calibrate": "heldout", "calibrate_every": 5, "calibrate_patience": None}
    assert "+heldout" in spec.label()
    plain = grid_from_dict({"datasets": ["digits"], "models": ["mlp"], "forget": ["random:0.1"], "seeds": [0],
                            "data_options": {"train_subset": 800}, "methods": {"finetune": {}}})
    assert "calibration" not in plain.plans()[0][1].config
    assert plain.plans()[0][1].config_hash != plan.config_hash


def test_calibration_problems_are_reported_before_anything_runs():
    base = {"datasets": ["digits"], "models": ["mlp"], "forget": ["random:0.1"], "seeds": [0]}
    with pytest.raises(ConfigError) as info:
        grid_from_dict({**base, "calibrate": "heldout", "methods": {"finetune": {}, "ssd": {}}}).plans()
    message = str(info.value)
    assert "needs a validation slice V" in message and "SSD is not a loop method" in message
    with pytest.raises(ConfigError, match="'calibrate_every' and 'calibrate_patience' need 'calibrate'"):
        grid_from_dict({**base, "calibrate_every": 3, "methods": {"finetune": {}}})
    with pytest.raises(ConfigError, match="train_subset.*asks for 5000 samples"):
        grid_from_dict({**base, "data_options": {"train_subset": 5000}, "methods": {"finetune": {}}}).plans()


def test_grid_progress_line_counts_runs_and_estimates_the_time_left(monkeypatch):
    from unlearnkit.bench import runner

    clock = iter([0.0, 30.0, 60.0, 61.0, 200.0])
    monkeypatch.setattr(runner.time, "perf_counter", lambda: next(clock))
    progress = runner.GridProgress(4)
    assert progress.line("done a") == "[1/4] done a | 30 s elapsed, about 1 min 30 s left"
    assert progress.line("skip b", worked=False) == "[2/4] skip b | 1 min 00 s elapsed, about 2 min 00 s left"
    assert progress.line("done c") == "[3/4] done c | 1 min 01 s elapsed, about 30 s left"
    assert progress.line("done d") == "[4/4] done d | 3 min 20 s elapsed"
