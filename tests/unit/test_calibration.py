"""Calibration to held-out data (``unlearn(..., calibrate="heldout")``) and who may see V."""

from __future__ import annotations

import pytest
import torch

from unlearnkit import build_model, get_recipe, load_dataset, make_split, train, unlearn
from unlearnkit.errors import ConfigError
from unlearnkit.methods.base import LoopMethod, Method
from unlearnkit.methods.calibration import HeldoutCalibration, calibration_sets
from unlearnkit.training.loop import Step, observe_steps, run_loop, cross_entropy_loss
from unlearnkit.training.recipe import Recipe
from unlearnkit.seeding import torch_generator


@pytest.fixture(scope="module")
def sub_split():
    """digits, 800 training samples; V = the 997 samples left out; random 10% forgotten."""
    return make_split(load_dataset("digits", train_subset=800), "random:0.1", seed=0)


@pytest.fixture(scope="module")
def sub_original(sub_split):
    return train(build_model("mlp", sub_split.dataset, seed=0), sub_split.subset("train"), get_recipe("digits"), seed=0)


def test_observer_sees_every_step_of_every_loop(val_class_split):
    seen: list[Step] = []
    model = build_model("mlp", val_class_split.dataset, seed=0)
    recipe = Recipe(epochs=2, batch_size=100, schedule="constant")
    data = val_class_split.subset("retain")
    with observe_steps(lambda m, s: seen.append(s)):
        run_loop(model, {"train": data}, cross_entropy_loss("train"), recipe, generator=torch_generator(0))
    per_epoch = -(-len(data) // 100)
    assert len(seen) == 2 * per_epoch
    assert seen[-1] == Step(epoch=1, step=per_epoch, steps_per_epoch=per_epoch)
    run_loop(model, {"train": data}, cross_entropy_loss("train"), recipe, generator=torch_generator(0))
    assert len(seen) == 2 * per_epoch, "outside the block nothing is observed"


def test_calibrated_result_is_the_best_checked_state(sub_split, sub_original):
    r = unlearn(sub_original, sub_split, "random_labels", seed=0, calibrate="heldout", calibrate_patience=None, epochs=3)
    log = r.log["calibration"]
    distances = [row["distance"] for row in log["trace"]]
    assert log["best_distance"] == min(distances)
    assert log["checks"] == len(distances) > 3 and not log["stopped_early"]
    check = HeldoutCalibration(calibration_sets(sub_split, 0))
    check.begin(sub_original)
    check._check(r.model)
    assert check.trace_[-1]["distance"] == pytest.approx(log["best_distance"])


def test_a_method_that_only_moves_away_ends_where_it_started(sub_split, sub_original):
    # Gradient ascent at a huge rate only makes D_f look less like unseen data and destroys the model.
    r = unlearn(sub_original, sub_split, "grad_ascent", seed=0, calibrate="heldout", lr=50.0, epochs=3,
                calibrate_every=1, calibrate_patience=2)
    assert r.log["calibration"]["best_step"] == 0
    assert r.log["calibration"]["stopped_early"]
    for a, b in zip(r.model.state_dict().values(), sub_original.state_dict().values()):
        assert torch.equal(a, b)


def test_calibration_never_hands_v_or_the_test_set_to_the_method(sub_split, sub_original):
    class Spy(LoopMethod):
        """Records what it receives. Access: full retain."""

        streams = ("retain",)

        def __init__(self, *, lr=0.01, epochs=1, batch_size=64, momentum=0.9, weight_decay=0.0, optimizer="sgd"):
            self.lr, self.epochs, self.batch_size = lr, epochs, batch_size
            self.momentum, self.weight_decay, self.optimizer = momentum, weight_decay, optimizer

        def run(self, model, **kwargs):
            self.got_ = {k: (len(v) if hasattr(v, "__len__") else v) for k, v in kwargs.items()}
            return super().run(model, **kwargs)

        def loss(self, model, batches):
            x, y = batches["retain"]
            return torch.nn.functional.cross_entropy(model(x), y)

    spy = Spy()
    unlearn(sub_original, sub_split, spy, calibrate="heldout")
    assert set(spy.got_) == {"forget", "retain", "generator", "device"}
    assert spy.got_["forget"] == len(sub_split.forget) and spy.got_["retain"] == len(sub_split.retain)


def test_holdout_methods_get_v_when_the_split_has_one(sub_split, sub_original, class_split, original):
    class Peek(Method):
        """Keeps the holdout it is given. Access: full retain."""

        uses_holdout = True

        def run(self, model, *, forget, retain, generator, device, holdout=None):
            self.holdout_ = holdout
            return model

    peek = Peek()
    result = unlearn(sub_original, sub_split, peek)
    x, _ = peek.holdout_.tensors()
    assert torch.equal(x, sub_split.subset("val").tensors()[0])
    assert "validation slice" in result.log["holdout"]
    result = unlearn(original, class_split, peek)
    assert len(peek.holdout_) == len(class_split.test_retain) and "D_t*" in result.log["holdout"]


@pytest.mark.parametrize(
    "method, kwargs, message",
    [
        ("ssd", {}, "ssd|SSD is not a loop method. Loop methods: .*finetune"),
        ("finetune", {"calibrate": "golden"}, "'calibrate' parameter of unlearn must be None or one of 'heldout'. Got 'golden' instead"),
        ("finetune", {"calibrate_every": 0}, "'calibrate_every' parameter of unlearn must be None or an int in \\[1, inf\\)"),
    ],
)
def test_bad_calibration_requests_are_refused_before_any_work(method, kwargs, message, sub_split, sub_original):
    with pytest.raises(ConfigError, match=message):
        unlearn(sub_original, sub_split, method, **{"calibrate": "heldout", **kwargs})


def test_calibration_needs_v_and_enough_of_it(class_split, original):
    with pytest.raises(ConfigError, match="needs a validation slice V.*train_subset=N or val_size=N"):
        unlearn(original, class_split, "finetune", calibrate="heldout")
    small = make_split(load_dataset("digits", val_size=100), "random:0.02", seed=0)
    with pytest.raises(ConfigError, match="at least 30 samples in D_f and in V_f"):
        unlearn(original, small, "finetune", calibrate="heldout")
