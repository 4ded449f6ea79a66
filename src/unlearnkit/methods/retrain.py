"""Retrain: train a new model from scratch on the retain set (the golden model, as a method).

Reference: the exact-unlearning baseline of every seed paper (METRICS.md: the golden model).
"""

from __future__ import annotations

from unlearnkit.config import Interval, OptionalOf, Options, store_params
from unlearnkit.methods.base import Access, Method, fresh_model
from unlearnkit.methods.registry import METHODS
from unlearnkit.training.loop import train
from unlearnkit.training.recipe import RECIPES, default_recipe_name, get_recipe


@METHODS.register("retrain")
class Retrain(Method):
    """Re-initialise the architecture and train it on D_r with a recipe.

    Access: full retain. Default recipe: the dataset's preset (``unlearnkit list recipes``), so
    ``retrain`` costs what training the golden model costs; ``epochs`` overrides its epochs.

    Example:
        >>> from unlearnkit.methods import make_method
        >>> make_method("retrain", {"epochs": 1}).epochs
        1
    """

    access = Access.FULL_RETAIN
    _parameter_constraints = {
        "recipe": OptionalOf(Options(tuple(sorted(RECIPES)))),
        "epochs": OptionalOf(Interval(int, 1, None, closed="left")),
    }

    def __init__(self, *, recipe=None, epochs=None):
        store_params(self, locals())

    def run(self, model, *, forget, retain, generator, device):
        name = self.recipe or default_recipe_name(retain.dataset.name)
        recipe = get_recipe(name, {"epochs": self.epochs} if self.epochs else None)
        new = fresh_model(model, retain, generator).to(device)
        seed = int(generator.initial_seed())
        train(new, retain, recipe, seed=seed, device=device, description="Retrain")
        self.recipe_ = recipe.to_dict()
        return new
