"""What every unlearning method is: ``Method`` (an estimator with declared parameters) and
``LoopMethod`` (a method that is a training loop with its own loss)."""

from __future__ import annotations

import copy
import enum
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
import torch.nn as nn

from unlearnkit.config import Interval, Options, init_params, validate_params
from unlearnkit.data.dataset import Subset
from unlearnkit.errors import ConfigError
from unlearnkit.training.loop import Batch, run_loop
from unlearnkit.training.recipe import Recipe


class Access(str, enum.Enum):
    """What data a method may see. The front door enforces it."""

    FORGET_ONLY = "forget_only"  # zero-shot: D_f only
    PARTIAL_RETAIN = "partial_retain"  # D_f and a seeded fraction rho of D_r
    FULL_RETAIN = "full_retain"  # D_f and all of D_r

    ZERO_SHOT = "forget_only"


class Method:
    """Base class of unlearning methods, in the style of a scikit-learn estimator.

    Subclasses declare keyword-only hyper-parameters in ``__init__`` (stored unchanged, with
    ``store_params(self, locals())``),
    ``_parameter_constraints`` for each, an ``access`` level and ``run``. State learned during
    ``run`` ends in ``_`` (``log_``, ``mask_``). Call methods through ``unlearnkit.unlearn``,
    which copies the model, enforces ``access`` and times the run.
    """

    access: Access = Access.FULL_RETAIN
    #: When True, ``run`` also receives ``holdout``: held-out non-members (the validation slice V,
    #: or D_t* when the split has none; never a forget sample).
    uses_holdout: bool = False
    #: When True, the held-out data must be the validation slice V: without one the method is refused
    #: (D_t* never stands in, since the method calibrates on it).
    needs_validation: bool = False
    #: Whether the method trains through ``run_loop``, so ``unlearn(..., calibrate="heldout")`` applies.
    calibratable: bool = False
    _parameter_constraints: dict = {}

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in init_params(type(self))}

    def set_params(self, **params: Any) -> "Method":
        valid = init_params(type(self))
        for key, value in params.items():
            if key not in valid:
                raise ConfigError(f"Unknown parameter {key!r} for {type(self).__name__}. Valid parameters: {', '.join(sorted(valid))}.")
            setattr(self, key, value)
        return self

    def validate(self) -> None:
        validate_params(self)

    def check_model(self, model: nn.Module) -> None:
        """Raise ``ConfigError`` when the parameters do not fit ``model`` (e.g. more layers than it
        has); called before any work, on an untrained model of the same architecture when planning.
        The default accepts every model."""

    def run(self, model: nn.Module, *, forget: Subset, retain: Subset | None, generator: torch.Generator,
            device: torch.device) -> nn.Module:
        """Unlearn ``forget`` from ``model`` (already a private copy) and return the result."""
        raise TypeError(f"{type(self).__name__} must implement run()")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in self.get_params().items()) + ")"


#: Constraints shared by every loop-based method's optimiser parameters.
LOOP_CONSTRAINTS = {
    "lr": Interval(float, 0, None, closed="neither"),
    "epochs": Interval(int, 1, None, closed="left"),
    "batch_size": Interval(int, 1, None, closed="left"),
    "momentum": Interval(float, 0, 1, closed="left"),
    "weight_decay": Interval(float, 0, None, closed="left"),
    "optimizer": Options(("sgd", "adam")),
}


class LoopMethod(Method):
    """A method that is a training loop over named data streams with its own loss.

    Subclasses set ``streams`` (the first is the one an epoch passes over; the others are cycled
    alongside) and implement ``loss``; the optimiser, epochs, batching, device moves, progress and
    timing are ``unlearnkit.training.run_loop``'s. Subclass ``__init__`` must store ``lr``,
    ``epochs``, ``batch_size``, ``momentum``, ``weight_decay`` and ``optimizer``.
    """

    streams: tuple[str, ...] = ("retain",)
    calibratable = True

    def loss(self, model: nn.Module, batches: Mapping[str, Batch]) -> torch.Tensor:
        raise TypeError(f"{type(self).__name__} must implement loss()")

    def setup(self, model: nn.Module, *, forget: Subset, retain: Subset | None, generator: torch.Generator) -> None:
        """Hook run once before the loop (e.g. compute a saliency mask); the default does nothing."""

    def grad_transform(self, model: nn.Module) -> None:
        """Hook run on the gradients before each optimiser step; the default does nothing."""

    def on_epoch(self, epoch: int) -> None:
        """Hook run at the start of every epoch (e.g. to switch per-epoch labels); does nothing."""

    def loop_options(self) -> dict[str, Any]:
        """Extra keyword arguments of ``run_loop`` (``train_mode``, ``accumulate_grads``); none by default."""
        return {}

    def recipe(self) -> Recipe:
        return Recipe(optimizer=self.optimizer, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay,
                      epochs=self.epochs, batch_size=self.batch_size, schedule="constant")

    def run(self, model, *, forget, retain, generator, device):
        data = {"forget": forget, "retain": retain}
        missing = [name for name in self.streams if data[name] is None]
        if missing:
            raise ValueError(f"{type(self).__name__} needs the {missing[0]} set, which the front door did not give")
        self._generator = generator
        self.setup(model, forget=forget, retain=retain, generator=generator)
        hook = self.grad_transform if type(self).grad_transform is not LoopMethod.grad_transform else None
        self.log_ = {"epoch_loss": run_loop(
            model, {name: data[name] for name in self.streams}, self.loss, self.recipe(),
            generator=generator, device=device, description=type(self).__name__, grad_transform=hook,
            epoch_hook=self.on_epoch, **self.loop_options(),
        )}
        return model

    def random_labels(self, y: torch.Tensor, num_classes: int, *, exclude_true: bool) -> torch.Tensor:
        """Uniform random labels for ``y``, drawn from the run's generator; optionally never the true one."""
        if exclude_true:
            shift = torch.randint(1, num_classes, y.shape, generator=self._generator).to(y.device)
            return (y + shift) % num_classes
        return torch.randint(0, num_classes, y.shape, generator=self._generator).to(y.device)


@dataclass
class UnlearnResult:
    """What ``unlearn`` returns.

    Attributes:
        model: the unlearned model (a new object; the input model is unchanged), in eval mode.
        runtime_s: wall seconds of the method alone.
        method: the registry name.
        params: the resolved hyper-parameters.
        log: what the method recorded (losses, mask sparsity, data sizes seen).
        estimator: the method object after the run, holding learned state (``mask_``...).
        cpu_s: process CPU seconds of the method alone (all threads), the cost measure that two
            jobs sharing the cores change least.
    """

    model: nn.Module
    runtime_s: float
    method: str
    params: dict[str, Any]
    log: dict[str, Any] = field(default_factory=dict)
    estimator: Method | None = None
    cpu_s: float | None = None



def fresh_model(model: nn.Module, like: Subset, generator: torch.Generator) -> nn.Module:
    """A newly initialised model of ``model``'s architecture (seeded by ``generator``).

    Models from ``build_model`` are rebuilt from their ``arch_name`` / ``arch_kwargs``; any other
    module is deep-copied and every submodule's ``reset_parameters`` is called.
    """
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    if hasattr(model, "arch_name"):
        from unlearnkit.models import build_model

        return build_model(model.arch_name, input_shape=like.dataset.input_shape, num_classes=like.num_classes,
                           seed=seed, **model.arch_kwargs)
    new = copy.deepcopy(model).to("cpu")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module in new.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
    return new
