"""EU-k: exact unlearning of the last k layers: re-initialise them and train them again on D_r
alone, the layers below frozen at θ_o. ``LastKLayers`` here is also the machinery of ``cf_k``.

Reference: Goel, Prabhu, Sanyal, Lim, Torr and Kumaraguru, "Towards Adversarial Evaluation for
Inexact Machine Unlearning", arXiv:2201.06640, 2022 (EU-k, with its fine-tuning twin CF-k); their
code, github shash42/Evaluating-Inexact-Unlearning (src/methods.py ``retrain_lastK``, src/learn.py
``train_loop``): only convolutions and linear layers count as layers, batch norms passed on the way
are trained, the k layers are re-drawn kaiming-normal with zero bias, and the net is trained in
train mode with the original recipe for as long as the original, gradients clipped at norm 10.
Our shorter schedule (``schedule="short"``: 20 epochs at a constant lr 0.05) was chosen on three
development seeds by golden-free evidence alone (docs/results/random-deletion.md, "EU-k").
"""

from __future__ import annotations

import torch
import torch.nn as nn

from unlearnkit.config import Interval, OptionalOf, Options, store_params
from unlearnkit.data.dataset import Dataset, Subset
from unlearnkit.methods.base import LOOP_CONSTRAINTS, Access, Method
from unlearnkit.methods.layers import last_k_layers
from unlearnkit.methods.registry import METHODS
from unlearnkit.training.loop import cross_entropy_loss, run_loop
from unlearnkit.training.recipe import RECIPES, Recipe, default_recipe_name, get_recipe

#: Batch of the one forward pass that computes the frozen layers' outputs on D_r (the cheapest per
#: sample on 2 CPU cores, as for evaluation).
FEATURE_BATCH = 256
#: Largest D_r-as-head-inputs kept in memory; above it the head is trained through the full forward.
FEATURE_BYTES_LIMIT = 2 * 2**30
#: The authors' gradient clipping (their learn.py: ``clip_grad_norm_(..., 10)``), under ``schedule="recipe"``.
RECIPE_CLIP = 10.0
#: Our measured shorter schedule (``schedule="short"``): the memorising recipe's optimiser and batch,
#: 20 epochs at a constant lr, no augmentation, no clipping, the frozen layers in eval mode.
SHORT = dict(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=5e-4, epochs=20, batch_size=128,
             schedule="constant", augment="none")
#: Parameters that, when set, override the schedule's value.
_OVERRIDES = ("optimizer", "lr", "momentum", "weight_decay", "epochs", "batch_size")

#: The parameters shared by ``eu_k`` and ``cf_k``.
LAST_K_CONSTRAINTS = {
    "k": Interval(int, 1, None, closed="left"),
    "schedule": Options(("recipe", "short")),
    "recipe": OptionalOf(Options(tuple(sorted(RECIPES)))),
    **{name: OptionalOf(LOOP_CONSTRAINTS[name]) for name in _OVERRIDES},
    "lr_schedule": OptionalOf(Options(("cosine", "step", "constant"))),
    "clip": OptionalOf(Interval(float, 0, None, closed="left")),
}


class _Captured(Exception):
    """Raised by a forward pre-hook to stop a forward pass once the head's input is captured."""

    def __init__(self, value: torch.Tensor):
        super().__init__("captured")
        self.value = value


class LastKLayers(Method):
    """Train the last ``k`` weight layers (and the batch norms passed on the way) on D_r with
    cross-entropy, every other parameter frozen at θ_o; subclasses decide what happens to the k
    layers first (``prepare``). Parameters: see ``EUk``.

    Access: full retain (D_f is not used).
    """

    access = Access.FULL_RETAIN
    _parameter_constraints = LAST_K_CONSTRAINTS

    def training_recipe(self, dataset_name: str) -> Recipe:
        """The recipe the layers are trained with: the original recipe (``recipe``, default the
        dataset's preset) or ``SHORT``, with every parameter that is set overriding it."""
        if self.schedule == "short":
            base = Recipe(**SHORT)
        else:
            base = get_recipe(self.recipe or default_recipe_name(dataset_name))
        changes = {name: getattr(self, name) for name in _OVERRIDES if getattr(self, name) is not None}
        if self.lr_schedule is not None:
            changes["schedule"] = self.lr_schedule
        return base.replace(**changes)

    def clip_norm(self) -> float | None:
        """The gradient-norm clip: ``clip`` when set (0: none), else 10 under the recipe, none when short."""
        if self.clip is not None:
            return self.clip or None
        return RECIPE_CLIP if self.schedule == "recipe" else None

    def check_model(self, model: nn.Module) -> None:
        last_k_layers(model, self.k, type(self).__name__)

    def prepare(self, layers: list[nn.Module], generator: torch.Generator) -> None:
        """What happens to the k weight layers before training; the default keeps θ_o (CF-k)."""

    def run(self, model, *, forget, retain, generator, device):
        if retain is None:
            raise ValueError(f"{type(self).__name__} needs the retain set, which the front door did not give")
        chosen = last_k_layers(model, self.k, type(self).__name__)
        recipe = self.training_recipe(retain.dataset.name)
        faithful = self.schedule == "recipe"
        named = dict(model.named_modules())
        leaves = [(n, m) for n, m in model.named_modules() if next(m.children(), None) is None]
        start = [n for n, _ in leaves].index(chosen.first)
        head, body = [m for _, m in leaves[start:]], [m for _, m in leaves[:start]]
        model.eval()
        features, why = self._features(model, head, body, retain, recipe if faithful else None)
        self.prepare([named[n] for n in chosen.weights], generator)
        trained = {id(p) for n in chosen.weights + chosen.norms for p in named[n].parameters(recurse=False)}
        frozen = [p for p in model.parameters() if id(p) not in trained]
        for p in frozen:
            p.requires_grad_(False)
        fit = cross_entropy_loss("retain", recipe.label_smoothing)
        clip = self.clip_norm()

        def clip_grads(m: nn.Module) -> None:
            torch.nn.utils.clip_grad_norm_([p for p in m.parameters() if p.grad is not None], clip)

        def frozen_in_eval(m: nn.Module, batches) -> torch.Tensor:
            for layer in body:
                layer.eval()
            return fit(m, batches)

        common = dict(generator=generator, device=device, description=type(self).__name__,
                      grad_transform=clip_grads if clip else None)
        try:
            if features is not None:
                history = run_loop(nn.Sequential(*head), {"retain": features}, fit, recipe.replace(augment="none"),
                                   **common)
            else:
                history = run_loop(model, {"retain": retain}, fit if faithful else frozen_in_eval, recipe, **common)
        finally:
            for p in frozen:
                p.requires_grad_(True)
        model.eval()
        self.log_ = {"epoch_loss": history, "head": "cached" if features is not None else f"full forward ({why})",
                     "layers": list(chosen.weights), "norms_trained": list(chosen.norms),
                     "train_mode": "whole net" if faithful else "trained part only (frozen layers in eval mode)",
                     "recipe": recipe.to_dict(), "clip": clip,
                     "trained_parameters": sum(p.numel() for p in model.parameters() if id(p) in trained)}
        return model

    def _features(self, model: nn.Module, head: list[nn.Module], body: list[nn.Module], retain: Subset,
                  train_recipe: Recipe | None) -> tuple[Subset | None, str]:
        """D_r as the head's inputs (one forward pass of the frozen layers), or ``None`` and the reason
        when they cannot stand for the training forward: the head is not a chain that reproduces the
        model's output, its inputs are too large, or (``train_recipe`` given: the whole net trains in
        train mode) the recipe augments, or the frozen layers act differently in train mode."""
        if train_recipe is not None:
            if train_recipe.augment != "none":
                return None, f"the recipe augments its inputs ({train_recipe.augment})"
            if any(isinstance(m, nn.modules.batchnorm._NormBase) for m in body):
                return None, "train mode re-estimates the frozen layers' batch-norm statistics on D_r"
        captured: list[torch.Tensor] = []
        hook = head[0].register_forward_pre_hook(lambda _m, args: captured.append(args[0].detach()))
        dev = next(model.parameters()).device
        try:
            with torch.no_grad():
                x, _ = retain.batch(slice(0, FEATURE_BATCH))
                out = model(x.to(dev))
                if len(captured) != 1:
                    return None, "its first layer is not called once per forward"
                not_forward = "its layers in registration order are not the model's forward"
                try:
                    chained = nn.Sequential(*head)(captured[0])
                except (RuntimeError, ValueError, TypeError):  # e.g. shapes that only the model's forward joins
                    return None, not_forward
                captured.pop()  # the chain's own call
                if chained.shape != out.shape or not torch.allclose(chained, out, rtol=1e-4, atol=1e-5):
                    return None, not_forward
                if train_recipe is not None:
                    same = _same_in_train_mode(model, head[0], x.to(dev))
                    del captured[1:]  # the check's own calls
                    if not same:
                        return None, "its frozen layers act differently in train mode (dropout)"
                size = captured[0][0].numel() * captured[0].element_size() * len(retain)
                if size > FEATURE_BYTES_LIMIT:
                    return None, f"its inputs on D_r would take {size / 2**30:.1f} GiB"
                for lo in range(FEATURE_BATCH, len(retain), FEATURE_BATCH):
                    x, _ = retain.batch(slice(lo, lo + FEATURE_BATCH))
                    model(x.to(dev))
        finally:
            hook.remove()
        feats = torch.cat(captured).cpu()  # (n_r, *head input shape)
        labels = retain.labels.clone()
        ds = Dataset(name=f"{retain.dataset.name} (features of the frozen layers)", train_x=feats, train_y=labels,
                     test_x=feats[:0], test_y=labels[:0], classes=[str(c) for c in range(retain.num_classes)],
                     test_note="none (features of D_r)")
        return Subset(ds, "train", torch.arange(len(labels))), ""


def _same_in_train_mode(model: nn.Module, first: nn.Module, x: torch.Tensor) -> bool:
    """Whether the input of ``first`` on the batch ``x`` is the same in eval mode and, twice, in
    train mode. Each forward stops at ``first``, so nothing from it on runs; the RNG is restored."""

    def stop(_m, args):
        raise _Captured(args[0].detach())

    hook = first.register_forward_pre_hook(stop)
    seen = []
    try:
        with torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []), torch.no_grad():
            for training in (False, True, True):
                model.train(training)
                try:
                    model(x)
                except _Captured as c:
                    seen.append(c.value)
    finally:
        hook.remove()
        model.eval()
    return len(seen) == 3 and all(torch.allclose(v, seen[0], rtol=1e-4, atol=1e-5) for v in seen[1:])


@METHODS.register("eu_k")
class EUk(LastKLayers):
    """Re-initialise the last ``k`` layers and train them on D_r with cross-entropy; every other
    parameter keeps θ_o.

    Faithful to the authors by default: a layer is a convolution or linear layer
    (``methods.layers.last_k_layers``: on ``resnet18`` k=2 is ``layer4.1.conv2`` and ``fc``, with
    ``layer4.1.bn2`` trained on the way; on ``vit_tiny`` ``encoder.layers.3.linear2`` and ``head``;
    LayerNorms stay frozen), re-drawn kaiming-normal with zero bias; then the original recipe
    (``recipe``, default the dataset's preset: pass the one the model was trained with, e.g.
    ``"memorise"``) for as long as the original, its lr schedule and augmentation, gradients clipped
    at norm 10, the whole net in train mode so that frozen batch norms re-estimate their statistics
    on D_r. ``schedule="short"`` is our measured shorter schedule instead (``SHORT``: SGD lr 0.05,
    momentum 0.9, weight decay 5e-4, batch 128, 20 epochs at a constant lr, no clipping, the frozen
    layers in eval mode): with ``init="reset"`` it is the setting docs/results/random-deletion.md measured.

    The frozen layers' outputs on D_r are computed once when they can stand for the training
    forward (the trained part is a plain chain of modules; under the recipe also no augmentation, no
    batch norm and no dropout below it), so an epoch costs only the trained part's share;
    otherwise the whole model runs every step. ``log_["head"]`` says which (``"cached"``, or
    ``"full forward (why)"``); ``log_["layers"]``, ``log_["norms_trained"]`` and ``log_["recipe"]``
    what was trained, and how.

    Access: full retain (D_f is not used). Parameters: ``k`` (default 2), ``schedule``
    (``"recipe"`` or ``"short"``), ``recipe`` (a preset name), ``init`` (``"kaiming"``, the
    authors', or ``"reset"``, each layer's own ``reset_parameters``); ``epochs``, ``lr``,
    ``batch_size``, ``momentum``, ``weight_decay``, ``optimizer``, ``lr_schedule`` and ``clip``
    (0: none) override the schedule's values when set.

    Example:
        >>> from unlearnkit.methods import make_method
        >>> est = make_method("eu_k", {"k": 1, "recipe": "memorise"})
        >>> est.training_recipe("fashion-mnist").epochs, est.clip_norm()
        (30, 10.0)
        >>> make_method("eu_k", {"schedule": "short"}).training_recipe("fashion-mnist").epochs
        20
    """

    _parameter_constraints = {**LAST_K_CONSTRAINTS, "init": Options(("kaiming", "reset"))}

    def __init__(self, *, k=2, schedule="recipe", recipe=None, init="kaiming", epochs=None, lr=None, batch_size=None,
                 momentum=None, weight_decay=None, optimizer=None, lr_schedule=None, clip=None):
        store_params(self, locals())

    def prepare(self, layers: list[nn.Module], generator: torch.Generator) -> None:
        """Re-draw the k layers: kaiming-normal weights and zero biases (``init="kaiming"``), or
        each layer's ``reset_parameters``; drawn from ``generator`` on the CPU."""
        if self.init == "reset":
            seed = int(torch.randint(0, 2**62, (1,), generator=generator))
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                for m in layers:
                    m.reset_parameters()
            return
        with torch.no_grad():
            for m in layers:
                w = torch.empty(m.weight.shape)  # (out, in, *kernel), as the layer's weight
                nn.init.kaiming_normal_(w, generator=generator)
                m.weight.copy_(w)
                if m.bias is not None:
                    m.bias.zero_()
