"""Model architectures written with plain ``torch.nn``.

Importing this package registers every built-in architecture: ``mlp``, ``cnn``, ``resnet18`` and
``vit_tiny``. Build one with ``build_model``:

Example:
    >>> from unlearnkit.models import build_model
    >>> build_model("cnn", input_shape=(1, 28, 28), num_classes=10).arch_kwargs
    {'channels': 32, 'hidden': 128}
"""

from unlearnkit.models.registry import MODELS, Architecture, build_model, models_accepting
from unlearnkit.models import cnn, mlp, resnet, vit  # noqa: F401  (registration)

__all__ = ["MODELS", "Architecture", "build_model", "models_accepting"]
