"""unlearnkit: make a trained PyTorch classifier forget part of its training data, and prove it.

The Python API in one screen::

    from unlearnkit import load_dataset, make_split, build_model, train, get_recipe, unlearn, evaluate
    ds = load_dataset("digits")
    split = make_split(ds, "class:3", seed=0)
    recipe = get_recipe("digits")
    original = train(build_model("mlp", ds, seed=0), split.subset("train"), recipe, seed=0)
    golden = train(build_model("mlp", ds, seed=0), split.subset("retain"), recipe, seed=0)
    result = unlearn(original, split, "finetune", epochs=3)
    report = evaluate(result.model, split, reference=golden, original=original, runtime_s=result.runtime_s)
"""

from unlearnkit.version import __version__  # noqa: E402,F401

from unlearnkit.data import DATASETS, Dataset, ForgetSpec, Split, Subset, load_dataset, make_split  # noqa: E402
from unlearnkit.methods import METHODS, Access, Method, UnlearnResult, make_method, unlearn  # noqa: E402
from unlearnkit.models import MODELS, build_model  # noqa: E402
from unlearnkit.training import ModelStore, Recipe, get_recipe, train  # noqa: E402
from unlearnkit.deletion import forget, load_run_model  # noqa: E402

__all__ = [
    "DATASETS", "METHODS", "MODELS", "Access", "Dataset", "ForgetSpec", "Method", "ModelStore", "Recipe",
    "Split", "Subset", "UnlearnResult", "build_model", "get_recipe", "load_dataset", "make_method",
    "make_split", "train", "unlearn", "forget", "load_run_model",
]
