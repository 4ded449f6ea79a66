"""Contract tests over every registered metric: a card, a value or a stated reason, determinism."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from unlearnkit.metrics import HEADLINE, METRICS, evaluate
from unlearnkit import build_model, get_recipe, train

ALL = METRICS.names()
README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def golden_for():
    cache = {}

    def get(split):
        if split.fingerprint not in cache:
            cache[split.fingerprint] = train(build_model("mlp", split.dataset, seed=0), split.subset("retain"),
                                             get_recipe("digits"), seed=0)
        return cache[split.fingerprint]

    return get


@pytest.mark.parametrize("name", ALL)
def test_card_is_complete_and_documented(name):
    card = METRICS.get(name).card
    assert card.name == name
    assert card.definition and card.direction_text
    assert f"`{name}`" in README.read_text(), f"metric {name} is not documented in the README"


@pytest.mark.parametrize("scenario", ["val_class_split", "val_random_split"])
@pytest.mark.parametrize("name", ALL)
def test_value_or_reason_and_deterministic(name, scenario, request, val_original, golden_for):
    """Every metric on digits with a validation slice (the golden-free metrics need it)."""
    split = request.getfixturevalue(scenario)
    golden = golden_for(split)
    original = val_original
    kwargs = dict(reference=golden, original=original, metrics=[name], seed=3, runtime_s=0.5, reference_runtime_s=2.0,
                  cpu_s=0.25, reference_cpu_s=4.0)
    first = evaluate(original, split, **kwargs)
    second = evaluate(original, split, **kwargs)
    card = METRICS.get(name).card
    if split.kind not in card.scenarios:
        assert name in first.absent and first.absent[name], "a metric outside its scenarios is absent with a reason"
        return
    assert name in first.rows["unlearned"], f"{name} absent: {first.absent.get(name)}"
    value = first.rows["unlearned"][name]
    assert isinstance(value, float) and math.isfinite(value)
    assert value == second.rows["unlearned"][name], "same seed must give the same number"
    if card.unit == "%":
        assert 0.0 <= value <= 100.0


def test_headline_metrics_are_registered():
    assert set(HEADLINE) <= set(ALL)


@pytest.mark.parametrize("name", [n for n in ALL if n.startswith("heldout_")])
def test_golden_free_metrics_without_a_validation_slice_are_absent_with_the_reason(name, class_split, original):
    report = evaluate(original, class_split, metrics=[name])
    assert "validation slice" in report.absent[name]
