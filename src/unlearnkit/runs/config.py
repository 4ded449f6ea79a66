"""An experiment's configuration: dataset, model, forget spec, seed, recipe and device, which fix its
original and golden models.

Example:
    >>> ExperimentConfig(dataset="digits", forget="class:3").resolved_recipe().epochs > 0
    True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from unlearnkit.training import Recipe, get_recipe


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that fixes the original and golden models of an experiment.

    Attributes:
        dataset: dataset name. model: architecture name. forget: forget spec string.
        seed: seeds the split, initialisation, training, the method and the attacks.
        recipe: preset name (None: the dataset's own). recipe_overrides: ``{"epochs": 5}``...
        model_kwargs: architecture arguments. data_dir: for file-based datasets.
        download: fetch the dataset's files first (datasets with a canonical URL).
        data_options: loader options, e.g. ``{"label_column": "y"}`` for ``csv``.
        device: ``auto``, ``cpu`` or ``cuda``.
    """

    dataset: str = "digits"
    model: str = "mlp"
    forget: str = "random:0.1"
    seed: int = 0
    recipe: str | None = None
    recipe_overrides: dict[str, Any] = field(default_factory=dict)
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    data_dir: str | None = None
    download: bool = False
    data_options: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"

    def resolved_recipe(self) -> Recipe:
        return get_recipe(self.recipe or _default_recipe(self.dataset), dict(self.recipe_overrides))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["recipe"] = self.recipe or _default_recipe(self.dataset)
        out["resolved_recipe"] = self.resolved_recipe().to_dict()
        return out


def _default_recipe(dataset: str) -> str:
    from unlearnkit.training import default_recipe_name

    return default_recipe_name(dataset)
