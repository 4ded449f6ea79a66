"""The training loop, recipes and the model store."""

from unlearnkit.training.loop import TRAINING_CODE_VERSION, resolve_device, run_loop, train
from unlearnkit.training.recipe import RECIPES, Recipe, default_recipe_name, get_recipe
from unlearnkit.training.store import ModelStore, default_home, load_weights

__all__ = [
    "RECIPES", "Recipe", "ModelStore", "TRAINING_CODE_VERSION", "default_home", "default_recipe_name",
    "get_recipe", "load_weights", "resolve_device", "run_loop", "train",
]
