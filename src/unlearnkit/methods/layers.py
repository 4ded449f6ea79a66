"""Which layers a method touches, and per-epoch learning-rate factors applied through gradients.

Shared by ``fisher`` (the output layer), ``msg`` (hidden weight layers), ``cfw`` (the first
layer), ``eu_k`` and ``cf_k`` (the last k layers), and by ``msg``, ``cfw`` and ``fcs`` (their
sources' per-epoch schedules).

Reference: the layer rules of Golatkar et al., "Eternal Sunshine of the Spotless Net", CVPR 2020
(output layer), and of the NeurIPS 2023 unlearning-challenge entries described in Triantafillou
et al., "Are we making progress in unlearning?", 2024 (their code as collected in DeepUnlearn,
Cadet et al., 2024); the last-k rule of Goel et al., "Towards Adversarial Evaluation for Inexact
Machine Unlearning", 2022 (their code, shash42/Evaluating-Inexact-Unlearning, src/methods.py).

Example:
    >>> import torch.nn as nn
    >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    >>> [name for name, _ in weight_layers(net)], output_layer_name(net), first_layer_name(net)
    (['0', '2'], '2', '0')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn as nn

from unlearnkit.errors import ConfigError

WEIGHT_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
#: Normalisation layers that the last-k rule trains (never re-initialises) when it passes them:
#: batch norm, the only kind in the authors' list. LayerNorm and GroupNorm are not in it and stay frozen.
PASSED_NORMS = (nn.modules.batchnorm._BatchNorm,)


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(name, module)`` of every convolution and linear layer, in ``named_modules`` order."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, WEIGHT_LAYERS)]


def output_layer_name(model: nn.Module) -> str | None:
    """The name of the output layer: the last ``nn.Linear`` in module order (None when there is none)."""
    linear = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    return linear[-1] if linear else None


def first_layer_name(model: nn.Module) -> str | None:
    """The name of the first convolution or linear layer in module order (None when there is none)."""
    layers = weight_layers(model)
    return layers[0][0] if layers else None


@dataclass(frozen=True)
class LastLayers:
    """The last ``k`` layers of a model as EU-k and CF-k count them.

    Attributes:
        weights: names of the last ``k`` convolution and linear layers, in module order.
        norms: names of the batch-norm layers met on the way (after ``weights[0]`` in module
            order): trained, never re-initialised.
    """

    weights: tuple[str, ...]
    norms: tuple[str, ...]

    @property
    def first(self) -> str:
        """The name of the earliest selected layer (where the trained part begins)."""
        return self.weights[0]


def last_k_layers(model: nn.Module, k: int, owner: str = "EUk") -> LastLayers:
    """The last ``k`` weight layers of ``model`` and the batch norms passed on the way.

    The authors' rule (their ``getRetrainLayers`` / ``resetFinalResnet``): walk the convolution,
    linear and batch-norm modules in reverse module order, counting only convolutions and linear
    layers, and stop at the ``k``-th. On ``resnet18`` k=2 is ``layer4.1.conv2`` and ``fc`` with
    ``layer4.1.bn2`` passed; on ``vit_tiny`` it is ``encoder.layers.3.linear2`` and ``head``.

    Raises:
        ConfigError: ``k`` exceeds the model's weight layers (``owner`` names the method's class).

    Example:
        >>> net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
        >>> last_k_layers(net, 1), last_k_layers(net, 2).norms
        (LastLayers(weights=('3',), norms=()), ('1',))
    """
    weights: list[str] = []
    norms: list[str] = []
    for name, m in reversed(list(model.named_modules())):
        if len(weights) == k:
            break
        if isinstance(m, WEIGHT_LAYERS):
            weights.append(name)
        elif isinstance(m, PASSED_NORMS):
            norms.append(name)
    if len(weights) < k:
        raise ConfigError(f"The 'k' parameter of {owner} must be at most the model's {len(weights)} weight layers "
                          f"(convolutions and linear layers). Got {k!r} instead.")
    return LastLayers(tuple(reversed(weights)), tuple(reversed(norms)))


def parameter_names(model: nn.Module, module_name: str) -> list[str]:
    """The ``named_parameters`` names of the module called ``module_name`` (its own, not its children's)."""
    module = dict(model.named_modules())[module_name]
    prefix = f"{module_name}." if module_name else ""
    return [prefix + n for n, _ in module.named_parameters(recurse=False)]


def scale_gradients(model: nn.Module, factor: float, weight_decay: float = 0.0,
                    multipliers: Mapping[str, torch.Tensor] | None = None) -> None:
    """grad ← factor · (multiplier ⊙ grad + weight_decay · θ), for every parameter with a gradient.

    With the optimiser's own weight decay set to 0, this is the coupled L2 decay of SGD added
    outside the optimiser, so that a per-epoch learning-rate factor (``factor``) can be applied
    without a scheduler: for plain SGD a step then equals one taken at ``lr · factor``; with
    momentum the factor scales each new gradient as it enters the buffer, where a scheduler
    scales the whole buffer, so the two differ for the few steps after the factor changes.
    ``multipliers`` (by parameter name) scale the gradient alone, before the decay is added, as
    a gradient hook inside the forward pass would.
    """
    for name, p in model.named_parameters():
        if p.grad is None:
            continue
        if multipliers is not None and name in multipliers:
            p.grad.mul_(multipliers[name])
        if weight_decay:
            p.grad.add_(p.detach(), alpha=weight_decay)
        if factor != 1.0:
            p.grad.mul_(factor)
