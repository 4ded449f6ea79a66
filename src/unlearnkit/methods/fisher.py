"""Fisher forgetting: Gaussian noise with variance α / F, F the diagonal Fisher information of D_r.

Reference: Golatkar, Achille and Soatto, "Eternal Sunshine of the Spotless Net: Selective
Forgetting in Deep Networks", CVPR 2020 (section "Fisher forgetting"); the estimate of F, the
clamps and the layer rules follow the authors' code (github.com/AdityaGolatkar/SelectiveForgetting,
``Forgetting.ipynb``: ``hessian``, ``get_mean_var``), which the "FF" baselines of Unlearn-Sparse /
SalUn (``fisher_new``) and DeepUnlearn reuse.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from unlearnkit.config import Boolean, Interval, Options, store_params
from unlearnkit.data.dataset import Subset
from unlearnkit.methods import per_sample
from unlearnkit.methods.base import Access, Method
from unlearnkit.methods.layers import output_layer_name, parameter_names
from unlearnkit.methods.registry import METHODS
from unlearnkit.progress import progress_bar

#: 1/F is clamped to this before scaling by α (the source's ``clamp(max=1e3)``) ...
MAX_INVERSE_FISHER = 1e3
#: ... and to this on the output layer (``clamp(max=1e2)`` where ``p.size(0) == num_classes``).
MAX_INVERSE_FISHER_OUTPUT = 1e2
#: Output-layer and one-dimensional parameters get 10 times the variance (the source's ``var *= 10``).
VARIANCE_BOOST = 10.0
#: The variance of the output rows of a class with no retain sample left (the source's 0.0001).
FORGOTTEN_ROW_VARIANCE = 1e-4


def diagonal_fisher_information(model: nn.Module, data: Subset, *, expected: bool, batch_size: int,
                                device: torch.device) -> dict[str, torch.Tensor]:
    """F = the mean over the samples of ``data`` of the squared per-sample gradients of the loss.

    ``expected=True`` (the source's ``hessian``): F = mean_i Σ_c p_θ(c | x_i) · (∇θ CE(x_i, c))²,
    the Fisher information of the model's own predictive distribution, one backward pass per
    class; ``expected=False``: the empirical Fisher, mean_i (∇θ CE(x_i, y_i))², one pass. Per-sample
    gradients (the source runs batches of 1), model in eval mode.

    Returns:
        ``{name: F}`` for every trainable parameter, on ``device``.
    """
    named = per_sample.trainable(model)
    total = [torch.zeros_like(p) for _, p in named]
    batches = list(torch.arange(len(data)).split(batch_size))
    was_training = model.training
    model.eval()
    try:
        with progress_bar("Fisher information on D_r", len(batches)) as advance:
            for pos in batches:
                x, y = data.batch(pos)
                x, y = x.to(device), y.to(device)
                if expected:
                    with torch.no_grad():
                        prob = F.softmax(model(x), dim=1)  # (B, C)
                    for c in range(prob.shape[1]):
                        grads = per_sample.per_sample_gradients(model, x, torch.full_like(y, c))
                        for acc, g in zip(total, grads):
                            w = prob[:, c].reshape((-1,) + (1,) * (g.dim() - 1))
                            acc += (w * g.pow(2)).sum(0)
                else:
                    for acc, g in zip(total, per_sample.per_sample_gradients(model, x, y)):
                        acc += g.pow(2).sum(0)
                advance(1)
    finally:
        model.train(was_training)
    return {name: acc / len(data) for (name, _), acc in zip(named, total)}


def noise_distribution(model: nn.Module, fisher: dict[str, torch.Tensor], *, alpha: float, share_variance: bool,
                       forgotten_classes: list[int] | None = None) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The mean and variance of the Gaussian each parameter is redrawn from (the source's ``get_mean_var``).

    For each trainable parameter with diagonal Fisher F: var = α · min(1 / (F + 1e-8), 1e3)
    (1e2 in place of 1e3 on the output layer); with ``share_variance`` a parameter of two or
    more dimensions takes, at every position, the mean of var over its dimension 1 (input units
    or input channels); the mean is the current weight; rows of the output layer of every class
    in ``forgotten_classes`` get mean 0 and variance 1e-4; finally the output layer's variance
    and that of every one-dimensional parameter (biases, normalisation weights) is multiplied
    by 10.

    Returns:
        ``{name: (mean, variance)}``, both of the parameter's shape.
    """
    head = output_layer_name(model)
    head_params = set(parameter_names(model, head)) if head is not None else set()
    out = {}
    for name, p in per_sample.trainable(model):
        is_head = name in head_params
        var = (1.0 / (fisher[name] + 1e-8)).clamp(max=MAX_INVERSE_FISHER)
        if is_head:
            var = var.clamp(max=MAX_INVERSE_FISHER_OUTPUT)
        var = alpha * var
        if share_variance and p.dim() > 1:
            var = var.mean(dim=1, keepdim=True).expand_as(p).clone()
        mean = p.detach().clone()
        if is_head and forgotten_classes:
            rows = torch.tensor(forgotten_classes, device=p.device)
            mean[rows] = 0.0
            var[rows] = FORGOTTEN_ROW_VARIANCE
        if is_head or p.dim() == 1:
            var = var * VARIANCE_BOOST
        out[name] = (mean, var)
    return out


@METHODS.register("fisher")
class Fisher(Method):
    """Redraw every weight from N(θ_o, α / F), F the diagonal Fisher information of D_r; no training.

    The noise destroys the information the weights carry about D_f that D_r does not pin down:
    where D_r's loss is flat (F small) the weight moves far, where D_r needs it (F large) it
    hardly moves. The distribution is ``noise_distribution``'s, which keeps the source's
    clamps (1/F ≤ 1e3, ≤ 1e2 on the output layer), its ×10 on the output layer and on
    one-dimensional parameters, and its sharing of the variance across dimension 1
    (``share_variance``); ε ~ N(0, 1) is drawn from the run's generator. The noise does not
    depend on D_f except through the forgotten-class rule: every class that occurs in D_f and
    no longer in D_r (class forgetting) has its output row and bias set to 0 with variance 1e-4
    (×10), as the source does when a whole class is forgotten (``reset_forgotten_classes``).

    Readings: the source finds the output layer by ``p.size(0) == num_classes``, which also
    catches any other layer with as many output units as classes; here it is the last
    ``nn.Linear`` of the model. The source computes F with batches of 1; here with per-sample
    gradients in batches of ``batch_size`` (same values). The Unlearn-Sparse / DeepUnlearn port
    (``fisher_new``) squares batch-mean gradients instead, a smaller estimate that needs a
    different α. The mean F and the mean noise standard deviation are logged.

    Access: full retain (F is computed on D_r). Defaults: α = 1e-6 (``alpha``, the source's
    Fisher-forgetting value on CIFAR-10 / Lacuna with All-CNN and ResNet-18; its sweep spans
    1e-8 to 1e-5), the expected Fisher (``fisher="expected"``, one backward pass per class and
    sample: C times the cost of ``fisher="empirical"``, the true-label Fisher),
    ``share_variance=True``, ``reset_forgotten_classes=True``; batch 64 (ours; it does not change
    the result).

    Example:
        >>> from unlearnkit.methods import make_method
        >>> make_method("fisher", {"alpha": 1e-7}).alpha
        1e-07
    """

    access = Access.FULL_RETAIN
    _parameter_constraints = {
        "alpha": Interval(float, 0, None, closed="neither"),
        "fisher": Options(("expected", "empirical")),
        "share_variance": Boolean(),
        "reset_forgotten_classes": Boolean(),
        "batch_size": Interval(int, 1, None, closed="left"),
    }

    def __init__(self, *, alpha=1e-6, fisher="expected", share_variance=True, reset_forgotten_classes=True,
                 batch_size=64):
        store_params(self, locals())

    def run(self, model, *, forget, retain, generator, device):
        if retain is None:
            raise ValueError("Fisher needs the retain set, which the front door did not give")
        model.to(device)
        info = diagonal_fisher_information(model, retain, expected=self.fisher == "expected",
                                           batch_size=self.batch_size, device=device)
        gone = sorted(set(forget.labels.tolist()) - set(retain.labels.tolist())) if self.reset_forgotten_classes else []
        dist = noise_distribution(model, info, alpha=self.alpha, share_variance=self.share_variance,
                                  forgotten_classes=gone)
        std_sum, count = 0.0, 0
        with torch.no_grad():
            for name, p in per_sample.trainable(model):
                mean, var = dist[name]
                eps = torch.randn(p.shape, generator=generator).to(p.device)
                p.copy_(mean + var.sqrt() * eps)
                std_sum += float(var.sqrt().sum())
                count += p.numel()
        self.fisher_ = {name: f.cpu() for name, f in info.items()}
        self.log_ = {"mean_fisher": sum(float(f.sum()) for f in info.values()) / max(count, 1),
                     "mean_noise_std": std_sum / max(count, 1), "forgotten_classes": gone}
        return model
