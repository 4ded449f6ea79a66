"""The model registry, the shared ``Architecture`` base class and ``build_model``.

Every architecture is an ``nn.Module`` subclass of ``Architecture`` registered in ``MODELS``. Its
constructor takes ``input_shape`` and ``num_classes`` positionally and its hyper-parameters as
keyword-only arguments with defaults, declared in ``_parameter_constraints`` (the same constraint
classes and message format as methods and recipes, see ``unlearnkit.config``).

``build_model`` is the one way to get a model by name: it checks the name, the keyword arguments
and the input shape, and initialises the weights deterministically from ``seed`` without touching
the global torch RNG.
"""

from __future__ import annotations

import numbers
from typing import Any, ClassVar, Mapping

import torch
from torch import nn

from unlearnkit.config import Constraint, init_params, validate_params
from unlearnkit.errors import ConfigError
from unlearnkit.registry import Registry
from unlearnkit.seeding import derive_seed


class Architecture(nn.Module):
    """Base class of every registered model: shape rule, parameter checks and resolved kwargs.

    Subclasses set ``shape_rule`` (a human description of the inputs they take), override
    ``accepts_shape`` and call ``self._check(input_shape)`` in ``__init__`` after storing their
    keyword-only parameters as attributes of the same name.

    Attributes:
        input_shape: the per-sample input shape the model was built for, e.g. ``(1, 28, 28)``.
        num_classes: the number of logits the model returns.
        arch_name: the registry name (set by ``build_model``; ``None`` when built directly).
        arch_kwargs: the resolved keyword arguments, defaults included, JSON-serialisable; with
            ``arch_name``, ``input_shape`` and ``num_classes`` they rebuild the same architecture.
    """

    _parameter_constraints: ClassVar[Mapping[str, Constraint]] = {}
    shape_rule: ClassVar[str] = "any input shape"

    def __init__(self, input_shape: tuple[int, ...], num_classes: int):
        super().__init__()
        self.input_shape = tuple(int(d) for d in input_shape)
        self.num_classes = int(num_classes)
        self.arch_name: str | None = None

    @classmethod
    def accepts_shape(cls, input_shape: tuple[int, ...]) -> bool:
        """Whether the architecture can take per-sample inputs of ``input_shape``."""
        return True

    def _check(self) -> None:
        """Validate the declared parameters, then the input shape; raise ``ConfigError``."""
        validate_params(self)
        if not type(self).accepts_shape(self.input_shape):
            names = [n for n, c in MODELS.items() if c is type(self)]
            owner = repr(names[0]) if names else type(self).__name__
            raise ConfigError(_shape_message(owner, self.input_shape, type(self).shape_rule))

    @property
    def arch_kwargs(self) -> dict[str, Any]:
        """The resolved keyword-only parameters, e.g. ``{'channels': 32, 'hidden': 128}``."""
        return {name: getattr(self, name) for name in init_params(type(self))}


#: upper bound of every width-like size (channels, hidden units, embedding dim): far above what a
#: CPU-sized benchmark needs, low enough that one layer still fits in memory
MAX_WIDTH = 65536
#: upper bound of every depth-like count (layers, blocks)
MAX_DEPTH = 1024

#: name -> ``Architecture`` subclass
MODELS: Registry[type[Architecture]] = Registry("model")


def models_accepting(input_shape: tuple[int, ...]) -> list[str]:
    """The registered model names that accept per-sample inputs of ``input_shape``.

    Example:
        >>> import unlearnkit.models
        >>> models_accepting((20,))
        ['mlp']
    """
    shape = tuple(int(d) for d in input_shape)
    return [name for name, cls in MODELS.items() if cls.accepts_shape(shape)]


def _shape_message(owner: str, shape: tuple[int, ...], rule: str) -> str:
    ok = models_accepting(shape)
    return (
        f"Model {owner} cannot take inputs of shape {shape}: it needs {rule}. "
        f"Models that accept shape {shape}: {', '.join(ok) if ok else 'none'}."
    )


def _as_shape(value: Any) -> tuple[int, ...]:
    try:
        dims = tuple(value)
    except TypeError:
        dims = None
    if (
        not dims
        or not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) and int(d) >= 1 for d in dims)
    ):
        raise ConfigError(f"input_shape must be a non-empty tuple of positive ints, e.g. (1, 28, 28). Got {value!r} instead.")
    return tuple(int(d) for d in dims)


def build_model(
    name: str,
    dataset: Any = None,
    *,
    input_shape: tuple[int, ...] | None = None,
    num_classes: int | None = None,
    seed: int = 0,
    **kwargs: Any,
) -> Architecture:
    """Build a registered architecture with deterministic initial weights.

    Args:
        name: a name from ``MODELS`` (``mlp``, ``cnn``, ``resnet18``, ``vit_tiny``).
        dataset: a ``unlearnkit.data.Dataset``; ``input_shape`` and ``num_classes`` are taken
            from it unless given explicitly.
        input_shape: per-sample input shape, ``(C, H, W)`` for images or ``(F,)`` for tabular data.
        num_classes: number of logits; pass it explicitly to override the dataset's (e.g. the
            number of super-classes in a ``subclass:`` scenario).
        seed: initialisation seed. The constructor runs under a forked CPU RNG seeded with
            ``derive_seed(seed, "init", name)``, so the same seed gives identical weights and the
            global torch RNG state is left unchanged.
        **kwargs: the architecture's keyword-only parameters (see each model's docstring).

    Returns:
        The model in training mode on the CPU, with ``arch_name`` and ``arch_kwargs`` set.

    Raises:
        ConfigError: unknown name or parameter, a parameter outside its declared range, or an
            input shape the architecture cannot take (the message lists the models that can).

    Example:
        >>> import torch
        >>> m = build_model("cnn", input_shape=(1, 28, 28), num_classes=10)
        >>> m(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
        >>> m.arch_name, m.arch_kwargs
        ('cnn', {'channels': 32, 'hidden': 128})
    """
    cls = MODELS.get(name)
    valid = init_params(cls)
    for key in kwargs:
        if key not in valid:
            raise ConfigError(
                f"Unknown parameter {key!r} for model {name!r}. Valid parameters: {', '.join(sorted(valid))}."
            )
    if input_shape is None or num_classes is None:
        if dataset is None:
            raise ConfigError(f"build_model({name!r}) needs a dataset, or both input_shape and num_classes.")
        try:
            input_shape = dataset.input_shape if input_shape is None else input_shape
            num_classes = dataset.num_classes if num_classes is None else num_classes
        except AttributeError:
            raise ConfigError(
                f"build_model({name!r}): dataset must be a unlearnkit Dataset (with input_shape and "
                f"num_classes); got {type(dataset).__name__}."
            ) from None
    shape = _as_shape(input_shape)
    if not isinstance(num_classes, numbers.Integral) or isinstance(num_classes, bool) or num_classes < 1:
        raise ConfigError(f"num_classes must be an int in [1, inf). Got {num_classes!r} instead.")
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
        raise ConfigError(f"seed must be an int. Got {seed!r} instead.")
    if not cls.accepts_shape(shape):
        raise ConfigError(_shape_message(repr(name), shape, cls.shape_rule))
    # fork_rng restores the CPU generator afterwards; seeding only the CPU default generator (not
    # torch.manual_seed) keeps any CUDA generators untouched too. Construction happens on the CPU.
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(derive_seed(int(seed), "init", name))
        try:
            model = cls(shape, int(num_classes), **kwargs)
        except (RuntimeError, MemoryError, OverflowError) as e:
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ConfigError(
                f"Model {name!r} could not be built with {kwargs}: {reason[:200]}. Choose smaller sizes."
            ) from None
    model.arch_name = name
    return model
