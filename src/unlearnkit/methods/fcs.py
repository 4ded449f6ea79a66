"""FCS, "Forget-Contrast-Strengthen": push D_f to uniform predictions, then alternate a contrastive
forget round against D_r and a retain round (1st place, NeurIPS 2023 unlearning challenge,
"Fanchuan").

Reference: Triantafillou et al., "Are we making progress in unlearning? Findings from the first
NeurIPS unlearning competition", 2024 (the challenge and its top entries); the entry's code as
collected in DeepUnlearn (Cadet et al., "Deep Unlearn: Benchmarking Machine Unlearning", 2024;
github.com/xcadet/deepunlearn, ``munl/unlearning/kgltop1.py``, there named FCS), the source of
the facts and defaults below.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from unlearnkit.config import Interval, store_params
from unlearnkit.methods.base import Access, Method
from unlearnkit.methods.layers import scale_gradients
from unlearnkit.methods.registry import METHODS
from unlearnkit.training.loop import run_loop
from unlearnkit.training.recipe import Recipe


def uniform_kl(logits: torch.Tensor) -> torch.Tensor:
    """KL(u ‖ softmax(logits)) averaged over the batch, u the uniform distribution (stage 1's loss)."""
    log_p = F.log_softmax(logits, dim=1)  # (B, C)
    uniform = torch.full_like(log_p, 1.0 / logits.shape[1])
    return F.kl_div(log_p, uniform, reduction="batchmean")


def contrastive_forget_loss(forget_logits: torch.Tensor, retain_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """−mean over (i, j) of log softmax_j(z_f,i · z_r,j / T): every forget output is pulled to be
    equally similar to every retain output of the batch (logits as embeddings; D_r side fixed)."""
    sim = forget_logits @ retain_logits.detach().T / temperature  # (B_f, B_r)
    return -F.log_softmax(sim, dim=1).mean()


def cosine_step_factors(total_steps: int, lr: float, eta_min: float) -> list[float]:
    """lr_t / lr under ``CosineAnnealingLR(T_max=total_steps, eta_min)`` stepped after every step t = 0.."""
    return [(eta_min + (lr - eta_min) * 0.5 * (1 + math.cos(math.pi * t / total_steps))) / lr
            for t in range(total_steps)]


@METHODS.register("fcs")
class FCS(Method):
    """Push D_f to uniform predictions, then alternate contrastive forget rounds and retain rounds.

    Stage 1: one pass over D_f minimising KL(uniform ‖ p_θ(x)). Stage 2, ``epochs`` times: a
    forget round (a pass over D_f, each batch against a D_r batch, minimising
    ``contrastive_forget_loss``), then a retain round (a pass over D_r, cross-entropy).

    Each stage has its own SGD setting, as in the entry: stage 1 lr ``lr`` (momentum 0.9, no
    weight decay); forget rounds ``forget_lr`` (momentum 0.9, no decay) annealed by a cosine
    over all forget steps of all epochs to ``eta_min``; retain rounds ``retain_lr`` (momentum 0.9,
    weight decay ``retain_weight_decay``). The model trains in train mode throughout, as in the
    entry; the retain outputs of the contrastive loss are computed in the same mode and not
    differentiated.

    Readings: the entry keeps one optimiser per stage across all epochs; here each round is one
    call of the shared training loop, so momentum restarts at every round (as in ``scrub``), and
    the cosine factor of the forget rounds is applied through the gradients
    (``scale_gradients``; no weight decay is involved there). The entry writes the retain lr as
    0.001 · batch / 64, 0.004 at its batch 256; ``retain_lr`` is that value. An epoch of a forget
    round is a pass over D_f (the entry zips the forget loader with a retain loader, which
    stops at the shorter one; the D_r batches here are cycled, so a D_f larger than D_r is
    still covered).

    Access: full retain. Defaults (the entry's, for ResNet-18 on the challenge's 32×32
    face-age data; 8 retain rounds cost about 8 passes over D_r): 8 epochs, batch 256 for D_f and
    D_r, stage 1 lr 5e-3, forget lr 3e-4 annealed to 1e-6, retain lr 4e-3 with weight decay 1e-2,
    temperature 1.15.

    Example:
        >>> from unlearnkit.methods import make_method
        >>> make_method("fcs", {"epochs": 2}).epochs
        2
    """

    access = Access.FULL_RETAIN
    calibratable = True  # trains through run_loop (several loops)
    _parameter_constraints = {
        "epochs": Interval(int, 1, None, closed="left"),
        "batch_size": Interval(int, 1, None, closed="left"),
        "lr": Interval(float, 0, None, closed="neither"),
        "forget_lr": Interval(float, 0, None, closed="neither"),
        "eta_min": Interval(float, 0, None, closed="left"),
        "retain_lr": Interval(float, 0, None, closed="neither"),
        "retain_weight_decay": Interval(float, 0, None, closed="left"),
        "momentum": Interval(float, 0, 1, closed="left"),
        "temperature": Interval(float, 0, None, closed="neither"),
    }

    def __init__(self, *, epochs=8, batch_size=256, lr=5e-3, forget_lr=3e-4, eta_min=1e-6, retain_lr=4e-3,
                 retain_weight_decay=1e-2, momentum=0.9, temperature=1.15):
        store_params(self, locals())

    def _recipe(self, lr: float, weight_decay: float) -> Recipe:
        return Recipe(optimizer="sgd", lr=lr, momentum=self.momentum, weight_decay=weight_decay, epochs=1,
                      batch_size=self.batch_size, schedule="constant")

    def run(self, model, *, forget, retain, generator, device):
        if retain is None:
            raise ValueError("FCS needs the retain set, which the front door did not give")
        steps_per_round = -(-len(forget) // self.batch_size)
        factors = cosine_step_factors(steps_per_round * self.epochs, self.forget_lr, self.eta_min)
        step = {"t": 0}

        def stage1_loss(net: nn.Module, batches) -> torch.Tensor:
            x, _ = batches["forget"]
            return uniform_kl(net(x))

        def forget_loss(net: nn.Module, batches) -> torch.Tensor:
            xf, _ = batches["forget"]
            xr, _ = batches["retain"]
            zf = net(xf)
            with torch.no_grad():
                zr = net(xr)
            return contrastive_forget_loss(zf, zr, self.temperature)

        def anneal(net: nn.Module) -> None:
            scale_gradients(net, factors[step["t"]])
            step["t"] += 1

        def retain_loss(net: nn.Module, batches) -> torch.Tensor:
            x, y = batches["retain"]
            return F.cross_entropy(net(x), y)

        history = {"uniform": run_loop(model, {"forget": forget}, stage1_loss, self._recipe(self.lr, 0.0),
                                       generator=generator, device=device, description="FCS forget (uniform)"),
                   "contrast": [], "retain": []}
        for _ in range(self.epochs):
            history["contrast"] += run_loop(model, {"forget": forget, "retain": retain}, forget_loss,
                                            self._recipe(self.forget_lr, 0.0), generator=generator, device=device,
                                            description="FCS contrast", grad_transform=anneal)
            history["retain"] += run_loop(model, {"retain": retain}, retain_loss,
                                          self._recipe(self.retain_lr, self.retain_weight_decay),
                                          generator=generator, device=device, description="FCS strengthen")
        self.log_ = {"epoch_loss": history, "forget_steps": step["t"]}
        return model
