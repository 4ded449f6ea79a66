"""RUM: refine the forget set by memorisation, then unlearn its subsets one after another.

Reference: Zhao, Kurmanji, Bărbulescu, Triantafillou and Triantafillou, "What makes unlearning hard
and what to do about it", NeurIPS 2024 (the Refined-Unlearning Meta-algorithm), and Zhao et al.,
"Scalability of memorization-based machine unlearning", NeurIPS 2024 FITML workshop (memorisation
proxies in place of memorisation scores); the order, the retain sets of the steps and the default
per-step settings follow the authors' code (github.com/kairanzhao/RUM: ``main_rum_proxy.py``,
``main_forget.py --sequential``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from unlearnkit.config import Boolean, Interval, Options, parse_overrides, store_params
from unlearnkit.data.dataset import Subset, relabelled_union
from unlearnkit.errors import ConfigError
from unlearnkit.methods.base import Access, Method
from unlearnkit.methods.registry import METHODS

#: The name that leaves a subset as it is (the paper's "do nothing" for low memorisation).
SKIP = "none"

#: NegGrad+ on each of the three subsets with the authors' settings (``main_rum_proxy.py``:
#: retain weight 0.99 / 0.97 / 0.97, i.e. β = 0.01 / 0.03 / 0.03; 5 / 5 / 10 epochs; lr 0.01 /
#: 0.01 / 0.001; batch 256, the code's ``--batch_size``).
DEFAULT_METHODS = ("neggrad_plus beta=0.01 lr=0.01 epochs=5 batch_size=256; "
                   "neggrad_plus beta=0.03 lr=0.01 epochs=5 batch_size=256; "
                   "neggrad_plus beta=0.03 lr=0.001 epochs=10 batch_size=256")


def split_steps(text: str) -> list[tuple[str, list[str]]]:
    """``"a k=v; b"`` → ``[("a", ["k=v"]), ("b", [])]``: one ``(name, key=value list)`` per entry.

    Example:
        >>> split_steps("none; finetune lr=0.1 epochs=2")
        [('none', []), ('finetune', ['lr=0.1', 'epochs=2'])]
    """
    out = []
    for entry in text.split(";"):
        tokens = entry.split()
        out.append((tokens[0], tokens[1:]) if tokens else ("", []))
    return out


def usable_methods() -> list[str]:
    """Registry names a RUM step may use: every method but ``rum`` and those that need the held-out set."""
    return [name for name in METHODS.names() if name != "rum" and not getattr(METHODS.get(name), "uses_holdout", False)]


@dataclass(frozen=True)
class MethodSteps(Options):
    """A ``;``-separated list of steps, each a registered method name (or ``none``) followed by
    whitespace-separated ``key=value`` parameters. Only the form is checked here; whether each
    key is a parameter of its method, and its value, is checked by ``RUM.validate``."""

    values: tuple = ()

    @property
    def description(self) -> str:
        return ("a ';'-separated list of steps 'NAME key=value ...', NAME one of "
                + ", ".join(repr(n) for n in [SKIP, *usable_methods()]))

    def accepts(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        valid = {SKIP, *usable_methods()}
        for name, pairs in split_steps(value):
            if name not in valid:
                return False
            if any("=" not in p or p.startswith("=") for p in pairs):
                return False
        return True

    def parse(self, text: str) -> Any:
        return text


def memorisation_scores(model: torch.nn.Module, data: Subset, proxy: str, *, device: torch.device,
                        batch_size: int = 256) -> torch.Tensor:
    """A cheap memorisation proxy per sample of ``data`` from the model's softmax; higher = more memorised.

    ``confidence``: −log p_y (low confidence in the true label = high memorisation; the same
    ranking as the per-sample loss); ``max_confidence``: −log maxₖ p_k; ``entropy``: H(p). Computed
    in float64 from the logits, in eval mode.
    """
    was_training = model.training
    model.eval()
    scores = []
    try:
        with torch.no_grad():
            for pos in torch.arange(len(data)).split(batch_size):
                x, y = data.batch(pos)
                logp = F.log_softmax(model(x.to(device)).double(), dim=1)  # (B, C)
                if proxy == "confidence":
                    s = -logp.gather(1, y.to(device).view(-1, 1)).squeeze(1)
                elif proxy == "max_confidence":
                    s = -logp.max(dim=1).values
                elif proxy == "entropy":
                    s = -(logp.exp() * logp).sum(dim=1)
                else:
                    raise ValueError(f"unknown proxy {proxy!r}")
                scores.append(s.cpu())
    finally:
        model.train(was_training)
    return torch.cat(scores) if scores else torch.zeros(0, dtype=torch.float64)


def refine(scores: torch.Tensor, n_subsets: int) -> list[torch.Tensor]:
    """Positions of ``n_subsets`` subsets of equal size (±1), in increasing order of ``scores``.

    Ties keep position order (a stable sort). Subsets are empty when there are fewer samples than
    subsets.

    Example:
        >>> [s.tolist() for s in refine(torch.tensor([0.3, 0.1, 0.9, 0.2]), 2)]
        [[1, 3], [0, 2]]
    """
    order = torch.sort(scores, stable=True).indices
    return list(torch.tensor_split(order, n_subsets))


@METHODS.register("rum")
class RUM(Method):
    """Refine D_f by a memorisation proxy, then unlearn its subsets low → high, one method each.

    D_f is split into ``n_subsets`` subsets by a memorisation proxy of the original model, which
    are unlearned one after another, lowest memorisation first, each with its own method.

    1. **Refine.** Every forget sample gets a memorisation score from the original model
       (``proxy``, ``memorisation_scores``); D_f is sorted by it and cut into ``n_subsets``
       subsets of equal size (``refine``).
    2. **Meta-unlearn.** Step i runs the i-th entry of ``methods`` on (subset i, R_i), in order of
       increasing memorisation, each step starting from the model the previous one left. With
       ``retain_pending`` (the authors' ``--sequential``), R_i = D_r ∪ the subsets not yet
       unlearned (they are still training data when step i runs); otherwise R_i = D_r. A step
       whose method is forget-only gets no retain set; a partial-retain one gets a seeded
       ``rho`` fraction of R_i.

    ``methods`` is a ``;``-separated list of steps ``NAME key=value ...`` (one step per subset, or
    one step used for every subset), NAME a method of the registry or ``none`` (leave the subset
    as it is: the paper's choice for low-memorisation examples, e.g. ``methods="none; finetune
    lr=0.1 epochs=10; salun lr=0.1 epochs=5"``, its RUM^F of ``main_rum.py``). Parameters are
    checked as if given to the method itself. The log holds the subsets' sizes and score ranges
    and each step's method, parameters and log.

    Readings: the paper refines by memorisation scores or, in the workshop paper, by proxies
    averaged over the training run (learning events); only the original model is available
    here, so the proxies are its softmax on D_f: ``confidence`` (p_y; the per-sample loss
    −log p_y ranks D_f the same way, so it is not offered twice), ``max_confidence`` or
    ``entropy``. The code picks its three subsets as the top, median and bottom of the score
    ranking of the whole training set; D_f is given here, so it is cut into equal-count
    quantiles. The code's proxy branch names subsets by proxy value ("high" = highest
    confidence = lowest memorisation) where its example script names them by memorisation; the
    order here is the paper's, low → high memorisation.

    Access: full retain. Defaults: 3 subsets and ``confidence`` (the workshop paper's proxy
    family); ``methods`` = NegGrad+ on each subset with the authors' settings
    (``main_rum_proxy.py``): β 0.01 / 0.03 / 0.03 (their retain weights 0.99 / 0.97 / 0.97), 5 /
    5 / 10 epochs, lr 0.01 / 0.01 / 0.001, batch 256 — CIFAR / ResNet-18 settings, 20 passes over
    the retain set in all, about two thirds of a 30-epoch retrain; ``retain_pending=True``.

    Example:
        >>> from unlearnkit.methods import make_method
        >>> make_method("rum", {"methods": "none; finetune epochs=1; neggrad_plus beta=0.1"}).n_subsets
        3
    """

    access = Access.FULL_RETAIN
    calibratable = True  # its per-subset methods train through run_loop
    _parameter_constraints = {
        "n_subsets": Interval(int, 1, None, closed="left"),
        "proxy": Options(("confidence", "max_confidence", "entropy")),
        "methods": MethodSteps(),
        "retain_pending": Boolean(),
    }

    def __init__(self, *, n_subsets=3, proxy="confidence", methods=DEFAULT_METHODS, retain_pending=True):
        store_params(self, locals())

    def validate(self) -> None:
        super().validate()
        self.steps()

    def steps(self) -> list[tuple[str, dict[str, Any]]]:
        """``(method name, parameters)`` for each subset, low → high memorisation; raises ``ConfigError``."""
        from unlearnkit.methods.front_door import make_method

        entries = split_steps(self.methods)
        if len(entries) not in (1, self.n_subsets):
            raise ConfigError(f"The 'methods' parameter of RUM must have one step or n_subsets "
                              f"({self.n_subsets}) steps. Got {len(entries)} instead.")
        if len(entries) == 1:
            entries = entries * self.n_subsets
        out = []
        for i, (name, pairs) in enumerate(entries, start=1):
            if name == SKIP:
                if pairs:
                    raise ConfigError(f"Step {i} of RUM is {SKIP!r} and takes no parameters. Got {' '.join(pairs)!r}.")
                out.append((SKIP, {}))
                continue
            params = parse_overrides(pairs, METHODS.get(name), owner=f"method {name!r} (step {i} of RUM)")
            try:
                make_method(name, params)
            except ConfigError as exc:
                raise ConfigError(f"{exc} (step {i} of RUM)") from None
            out.append((name, params))
        return out

    def run(self, model, *, forget, retain, generator, device):
        if retain is None:
            raise ValueError("RUM needs the retain set, which the front door did not give")
        from unlearnkit.methods.front_door import make_method

        steps = self.steps()
        model.to(device)
        scores = memorisation_scores(model, forget, self.proxy, device=device)
        subsets = refine(scores, self.n_subsets)
        self.subsets_ = [forget.indices[pos].clone() for pos in subsets]
        self.scores_ = scores
        log_steps = []
        for i, ((name, params), pos) in enumerate(zip(steps, subsets)):
            entry = {"method": name, "params": params, "n_forget": len(pos),
                     "score_range": [float(scores[pos].min()), float(scores[pos].max())] if len(pos) else None}
            if name == SKIP or len(pos) == 0:
                log_steps.append({**entry, "skipped": True})
                continue
            part = forget.take(pos)
            pending = torch.cat(subsets[i + 1:]) if i + 1 < len(subsets) else torch.zeros(0, dtype=torch.int64)
            step_retain = retain
            if self.retain_pending and len(pending):
                later = forget.take(pending)
                step_retain = relabelled_union(later, later.labels, retain)
            sub = make_method(name, params)
            sub_retain = self._retain_for(sub, step_retain, generator)
            model = sub.run(model, forget=part, retain=sub_retain, generator=generator, device=device)
            log_steps.append({**entry, "n_retain": 0 if sub_retain is None else len(sub_retain),
                              "log": dict(getattr(sub, "log_", {}) or {})})
        self.log_ = {"subset_sizes": [len(p) for p in subsets], "steps": log_steps}
        return model

    @staticmethod
    def _retain_for(sub: Method, retain: Subset, generator: torch.Generator) -> Subset | None:
        if sub.access is Access.FORGET_ONLY:
            return None
        if sub.access is Access.PARTIAL_RETAIN:
            k = max(1, int(round(getattr(sub, "rho", 0.3) * len(retain))))
            return retain.take(torch.randperm(len(retain), generator=generator)[:k].sort().values)
        return retain
