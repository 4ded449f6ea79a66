"""The one training loop: original models, golden models, reference banks and loop-based methods.

``run_loop`` owns the optimiser, schedule, epochs, batching, augmentation, device moves and
progress; callers supply only a loss over a dict of batches (one batch per named data stream).
``train`` is ``run_loop`` with cross-entropy on one stream.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

from unlearnkit.data.dataset import Subset
from unlearnkit.errors import ConfigError
from unlearnkit.progress import progress_bar
from unlearnkit.seeding import torch_generator
from unlearnkit.training.augment import augment_batch
from unlearnkit.training.recipe import Recipe

#: Part of every model-store key: bump when a change to the training code changes trained weights.
TRAINING_CODE_VERSION = "1"

Batch = tuple[torch.Tensor, torch.Tensor]
LossFn = Callable[[nn.Module, Mapping[str, Batch]], torch.Tensor]


@dataclass(frozen=True)
class Step:
    """Where ``run_loop`` is: the optimiser step just taken (1-based within the epoch) of ``epoch``."""

    epoch: int
    step: int
    steps_per_epoch: int


StepObserver = Callable[[nn.Module, Step], None]
_OBSERVERS: contextvars.ContextVar[tuple[StepObserver, ...]] = contextvars.ContextVar("unlearnkit_step_observers",
                                                                                      default=())


@contextlib.contextmanager
def observe_steps(observer: StepObserver) -> Iterator[None]:
    """Call ``observer(model, step)`` after every optimiser step of every ``run_loop`` in the block.

    This is how the front door calibrates any method that trains through the one loop (several
    loops in a row included) without the method knowing. Blocks nest: every active observer is
    called, outermost first. An observer may raise to end training.
    """
    token = _OBSERVERS.set(_OBSERVERS.get() + (observer,))
    try:
        yield
    finally:
        _OBSERVERS.reset(token)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA when available, else CPU; asking for CUDA without one is an error."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"Device {device!r} was requested but CUDA is not available. Valid devices here: auto, cpu.")
        return torch.device(device)
    raise ConfigError(f"Unknown device {device!r}. Valid devices: auto, cpu, cuda.")


def make_optimizer(params, recipe: Recipe) -> torch.optim.Optimizer:
    if recipe.optimizer == "adam":
        return torch.optim.Adam(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
    return torch.optim.SGD(params, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay)


def make_scheduler(opt: torch.optim.Optimizer, recipe: Recipe, steps_per_epoch: int):
    total = max(1, recipe.epochs * steps_per_epoch)
    if recipe.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    if recipe.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=recipe.step_epochs * steps_per_epoch, gamma=recipe.gamma)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)


def shuffled_positions(n: int, batch_size: int, generator: torch.Generator, shuffle: bool = True) -> Iterator[torch.Tensor]:
    """Positions ``0..n-1`` in batches of ``batch_size`` (the last one may be smaller)."""
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    yield from order.split(batch_size)


class _Cycle:
    """Endless shuffled batches of a secondary stream, reshuffled at every pass."""

    def __init__(self, subset: Subset, batch_size: int, generator: torch.Generator):
        self.subset, self.batch_size, self.generator = subset, batch_size, generator
        self._it = iter(())

    def next_positions(self) -> torch.Tensor:
        try:
            return next(self._it)
        except StopIteration:
            self._it = shuffled_positions(len(self.subset), self.batch_size, self.generator)
            return next(self._it)


def run_loop(
    model: nn.Module,
    streams: Mapping[str, Subset],
    loss_fn: LossFn,
    recipe: Recipe,
    *,
    generator: torch.Generator,
    device: str | torch.device = "cpu",
    description: str = "training",
    grad_transform: Callable[[nn.Module], None] | None = None,
    epoch_hook: Callable[[int], None] | None = None,
    batch_sizes: Mapping[str, int] | None = None,
    train_mode: bool = True,
    accumulate_grads: bool = False,
) -> list[float]:
    """Train ``model`` in place for ``recipe.epochs`` passes over the first stream.

    Every step draws one batch from each stream (secondary streams cycle, reshuffled when
    exhausted), applies the recipe's augmentation to image batches, calls ``loss_fn(model,
    batches)`` and steps the optimiser; ``grad_transform`` may edit gradients before the step
    (saliency masks); ``epoch_hook(epoch)`` is called at the start of every epoch.
    ``train_mode=False`` keeps the model in eval mode (batch norm uses its running statistics,
    dropout is off); ``accumulate_grads=True`` never zeroes the gradients, so each step uses the
    sum of all gradients so far (JiT's ``accumulate_grads``, a faithful copy of its authors' code).

    Returns:
        The mean loss of each epoch.
    """
    if not streams:
        raise ValueError("run_loop needs at least one data stream")
    for name, subset in streams.items():
        if len(subset) == 0:
            raise ConfigError(f"The {name!r} data stream is empty; there is nothing to train on.")
    dev = resolve_device(device)
    model.to(dev)
    model.train(train_mode)
    sizes = {name: (batch_sizes or {}).get(name, recipe.batch_size) for name in streams}
    names = list(streams)
    primary = streams[names[0]]
    steps_per_epoch = -(-len(primary) // sizes[names[0]])
    cycles = {name: _Cycle(streams[name], sizes[name], generator) for name in names[1:]}
    observers = _OBSERVERS.get()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer(params, recipe)
    opt.zero_grad(set_to_none=True)
    sched = make_scheduler(opt, recipe, steps_per_epoch)
    history: list[float] = []
    with progress_bar(description, recipe.epochs * steps_per_epoch) as advance:
        for epoch in range(recipe.epochs):
            if epoch_hook is not None:
                epoch_hook(epoch)
            total, count = 0.0, 0
            for step, pos in enumerate(shuffled_positions(len(primary), sizes[names[0]], generator), start=1):
                batches = {names[0]: _prepare(primary, pos, recipe, generator, dev)}
                for name, cyc in cycles.items():
                    batches[name] = _prepare(streams[name], cyc.next_positions(), recipe, generator, dev)
                loss = loss_fn(model, batches)
                if not accumulate_grads:
                    opt.zero_grad(set_to_none=True)
                loss.backward()
                if grad_transform is not None:
                    grad_transform(model)
                opt.step()
                sched.step()
                total += float(loss.detach()) * len(pos)
                count += len(pos)
                advance(1)
                if observers:
                    for observer in observers:
                        observer(model, Step(epoch, step, steps_per_epoch))
                    model.train(train_mode)
            history.append(total / max(count, 1))
    return history


def _prepare(subset: Subset, pos: torch.Tensor, recipe: Recipe, generator: torch.Generator, dev: torch.device) -> Batch:
    x, y = subset.batch(pos)
    x = augment_batch(x, recipe.augment, recipe.crop_padding, generator)
    return x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)


def cross_entropy_loss(stream: str, label_smoothing: float = 0.0) -> LossFn:
    """The plain supervised loss on one stream."""

    def loss(model: nn.Module, batches: Mapping[str, Batch]) -> torch.Tensor:
        x, y = batches[stream]
        return F.cross_entropy(model(x), y, label_smoothing=label_smoothing)

    return loss


def train(
    model: nn.Module,
    data: Subset,
    recipe: Recipe,
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
    description: str = "training",
) -> nn.Module:
    """Train ``model`` in place on ``data`` with ``recipe`` and return it (in eval mode).

    Args:
        model: a freshly built (or pre-trained) classifier.
        data: the samples and labels to train on, e.g. ``split.subset("retain")``.
        recipe: the hyper-parameters.
        seed: seeds shuffling and augmentation (initialisation is seeded by ``build_model``).
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.

    Example:
        >>> from unlearnkit.data import load_dataset, make_split
        >>> from unlearnkit.models import build_model
        >>> from unlearnkit.training import get_recipe
        >>> split = make_split(load_dataset("digits"), "class:3")
        >>> model = build_model("mlp", split.dataset, seed=0)
        >>> model = train(model, split.subset("retain"), get_recipe("fast"), seed=0)
    """
    gen = torch_generator(seed, "train")
    run_loop(model, {"train": data}, cross_entropy_loss("train", recipe.label_smoothing), recipe,
             generator=gen, device=device, description=description)
    return model.eval()
