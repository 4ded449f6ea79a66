"""LTU: learning to unlearn with a meta-learned update, membership-inference guides and gradient
harmonisation, from a fraction ρ of the retain set.

Reference: Huang, Hu, Zhang, Zhang, Liu and Li, "Learning to Unlearn for Robust Machine
Unlearning", ECCV 2024 (arXiv 2407.10494; seed 003). No public code exists; this follows the
reading of ALGORITHMS.md section 4, with the choices it leaves open documented in the class
docstring and in docs/decisions.md.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call

from unlearnkit.config import Boolean, Interval, Options, store_params
from unlearnkit.data.dataset import Subset
from unlearnkit.metrics.context import compute_logits
from unlearnkit.methods.base import LOOP_CONSTRAINTS, Access, LoopMethod
from unlearnkit.methods.harmonize import MODES, harmonize
from unlearnkit.methods.mi_guides import MembershipGuides
from unlearnkit.methods.registry import METHODS

#: At most this many members and non-members are scored to refit the guides each epoch.
GUIDE_SAMPLES = 2000


@METHODS.register("ltu")
class LTU(LoopMethod):
    """Meta-optimised unlearning: each outer step looks ahead one virtual step and asks that the
    looked-ahead model still fits unseen retain data and makes forget samples look like non-members.

    One outer step (ALGORITHMS.md section 4):

    1. From D_f, a support batch S_f and a disjoint query batch Q_f (one shuffled batch of
       2·``batch_size`` cut in halves; an epoch is one pass over D_f). From D̂_r (the ρ fraction
       the front door gives), a support batch S_r from a random half of its classes and ``m_queries``
       query batches Q_r^m from the other half (class-disjoint, so the query is a different task);
       when D̂_r has one class, both are random.
    2. Meta-tune: θ' = θ − α_in·∇θ[CE(θ; S_f, random wrong labels) + CE(θ; S_r)].
    3. Meta-test at θ': L_rem = mean_m CE(θ'; Q_r^m); L_MI = mean over guides k and x ∈ Q_f of
       BCE(A_k(p_θ'(x)), 0).
    4. g_r = ∇θ[CE(θ; S_r) + λ_r·L_rem(θ')], g_f = ∇θ[CE(θ; S_f, random labels) + λ_f·L_MI(θ')],
       through θ' to first order (∇θ' L(θ'), the default) or exactly (``second_order=True``,
       ``create_graph`` through the virtual step).
    5. ``harmonize`` (one-sided by default): when ⟨g_f, g_r⟩ < 0, g_f is projected onto the normal
       plane of g_r; the SGD step applies g_r + g_f.

    The guides (``MembershipGuides``, K attackers) are refit at the start of every epoch on the
    current model, with members = D̂_r and non-members = the held-out set the front door gives
    (the validation slice V when the split has one; else D_t*, whose outputs, never its labels,
    the guides then see; the run log's ``holdout`` says which). Ablations: ``meta=False`` evaluates the same
    losses at θ instead of θ' (plain joint training on D̂_r and D_f with the same MI term);
    ``harmonize=False`` applies g_r + g_f unprojected. The log counts conflicting steps.

    Access: partial retain (ρ = ``rho`` of D_r, default 0.3, seeded by the run's seed).
    Defaults (ALGORITHMS.md, reading of the paper): α_in 0.01, outer SGD lr 0.01 momentum 0.9,
    M = 2, K = 3, λ_r = λ_f = 1, 5 epochs over D_f; batch 64 (ours).

    Example:
        >>> from unlearnkit import load_dataset, make_split, build_model, train, get_recipe, unlearn
        >>> split = make_split(load_dataset("digits"), "class:3")
        >>> model = train(build_model("mlp", split.dataset), split.subset("train"), get_recipe("fast"))
        >>> result = unlearn(model, split, "ltu", epochs=1)
        >>> result.log["n_retain_seen"] == round(0.3 * len(split.retain))
        True
    """

    access = Access.PARTIAL_RETAIN
    uses_holdout = True
    streams = ("forget",)
    _parameter_constraints = {
        **LOOP_CONSTRAINTS,
        "rho": Interval(float, 0, 1, closed="right"),
        "inner_lr": Interval(float, 0, None, closed="neither"),
        "m_queries": Interval(int, 1, None, closed="left"),
        "n_guides": Interval(int, 1, None, closed="left"),
        "lambda_r": Interval(float, 0, None, closed="left"),
        "lambda_f": Interval(float, 0, None, closed="left"),
        "meta": Boolean(),
        "harmonize": Boolean(),
        "harmonize_mode": Options(MODES),
        "second_order": Boolean(),
    }

    def __init__(self, *, rho=0.3, lr=0.01, epochs=5, batch_size=64, inner_lr=0.01, m_queries=2, n_guides=3,
                 lambda_r=1.0, lambda_f=1.0, meta=True, harmonize=True, harmonize_mode="one_sided",
                 second_order=False, momentum=0.9, weight_decay=0.0, optimizer="sgd"):
        store_params(self, locals())

    # ----------------------------------------------------------------------------- the run
    def run(self, model, *, forget, retain, generator, device, holdout=None):
        if retain is None or holdout is None:
            raise ValueError("LTU needs part of the retain set and a held-out set, which the front door did not give")
        self._holdout = holdout
        self._device = device
        model = super().run(model, forget=forget, retain=retain, generator=generator, device=device)
        stats = self._stats
        steps = [max(n, 1) for n in stats.pop("epoch_steps")]
        for key in ("rem_loss", "mi_loss"):
            stats[key] = [total / n for total, n in zip(stats[key], steps)]
        # run_loop's epoch_loss is the surrogate's value, meaningless; the real losses replace it
        self.log_ = stats
        return model

    def recipe(self):
        return super().recipe().replace(batch_size=2 * self.batch_size)

    def setup(self, model, *, forget, retain, generator):
        self._model, self._retain = model, retain
        labels = retain.labels
        self._classes = labels.unique()
        self._by_class = {int(c): torch.nonzero(labels == c).flatten() for c in self._classes}
        self._num_classes = forget.num_classes
        self.guides_ = MembershipGuides(n_guides=self.n_guides,
                                        seed=int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
        self._stats: dict[str, Any] = {"steps": 0, "conflicts": 0, "epoch_steps": [], "rem_loss": [], "mi_loss": [],
                                       "guide_member_rate": []}

    def on_epoch(self, epoch: int) -> None:
        members = _sample(self._retain, GUIDE_SAMPLES, self._generator)
        others = _sample(self._holdout, GUIDE_SAMPLES, self._generator)
        p_in = torch.softmax(compute_logits(self._model, members, device=self._device), 1)
        p_out = torch.softmax(compute_logits(self._model, others, device=self._device), 1)
        self.guides_.fit(p_in, p_out)
        self._model.train()
        for key in ("epoch_steps", "rem_loss", "mi_loss"):
            self._stats[key].append(0.0)
        self._stats["guide_member_rate"].append(float((self.guides_.score(p_in) > 0.5).float().mean()))

    # ----------------------------------------------------------------------- one outer step
    def _retain_batches(self) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Positions in D̂_r of S_r and of the M query batches (class-disjoint when possible)."""
        gen, b = self._generator, self.batch_size
        if len(self._classes) >= 2:
            order = self._classes[torch.randperm(len(self._classes), generator=gen)]
            half = len(order) // 2
            support_pool = torch.cat([self._by_class[int(c)] for c in order[:half]])
            query_pool = torch.cat([self._by_class[int(c)] for c in order[half:]])
        else:
            support_pool = query_pool = torch.arange(len(self._retain))

        def draw(pool: torch.Tensor) -> torch.Tensor:
            return pool[torch.randint(0, len(pool), (min(b, len(pool)),), generator=gen)]

        return draw(support_pool), [draw(query_pool) for _ in range(self.m_queries)]

    def _batch(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self._retain.batch(positions)
        return x.to(self._device), y.to(self._device)

    def loss(self, model, batches):
        x, y = batches["forget"]
        half = max(1, len(x) // 2)
        xs_f, ys_f, xq_f = x[:half], y[:half], x[half:] if len(x) > 1 else x
        wrong = self.random_labels(ys_f, self._num_classes, exclude_true=True)
        s_r, q_rs = self._retain_batches()
        xs_r, ys_r = self._batch(s_r)
        queries = [self._batch(q) for q in q_rs]

        params = {n: p for n, p in model.named_parameters() if p.requires_grad}
        buffers = dict(model.named_buffers())
        names, values = list(params), list(params.values())

        def call(p: dict[str, torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
            return functional_call(model, (p, buffers), (inputs,))

        ce_sf = F.cross_entropy(call(params, xs_f), wrong)
        ce_sr = F.cross_entropy(call(params, xs_r), ys_r)
        if self.meta:
            inner = torch.autograd.grad(ce_sf + ce_sr, values, create_graph=self.second_order, retain_graph=True)
            if self.second_order:
                looked = {n: p - self.inner_lr * g for n, p, g in zip(names, values, inner)}
            else:
                looked = {n: (p - self.inner_lr * g).detach().requires_grad_(True) for n, p, g in zip(names, values, inner)}
        else:
            looked = params
        rem = torch.stack([F.cross_entropy(call(looked, xq), yq) for xq, yq in queries]).mean()
        mi = self.guides_.nonmember_loss(torch.softmax(call(looked, xq_f), 1))

        if self.meta and not self.second_order:
            outer_r = torch.autograd.grad(rem, list(looked.values()), retain_graph=True)
            outer_f = torch.autograd.grad(mi, list(looked.values()))
            inner_r = torch.autograd.grad(ce_sr, values, retain_graph=True)
            inner_f = torch.autograd.grad(ce_sf, values)
            g_r = _flat(inner_r) + self.lambda_r * _flat(outer_r)
            g_f = _flat(inner_f) + self.lambda_f * _flat(outer_f)
        else:
            g_r = _flat(torch.autograd.grad(ce_sr + self.lambda_r * rem, values, retain_graph=True))
            g_f = _flat(torch.autograd.grad(ce_sf + self.lambda_f * mi, values))
        self._stats["steps"] += 1
        if g_f.dot(g_r) < 0:
            self._stats["conflicts"] += 1
        if self.harmonize:
            g_f, g_r = harmonize(g_f, g_r, self.harmonize_mode)
        self._stats["epoch_steps"][-1] += 1
        self._stats["rem_loss"][-1] += float(rem.detach())
        self._stats["mi_loss"][-1] += float(mi.detach())
        update = (g_r + g_f).detach()
        # A surrogate whose gradient with respect to θ is exactly ``update``: run_loop's backward
        # and optimiser step then apply it.
        pieces = update.split([p.numel() for p in values])
        return sum((p * u.view_as(p)).sum() for p, u in zip(values, pieces))


def _flat(grads) -> torch.Tensor:
    return torch.cat([g.reshape(-1) for g in grads])  # (P,)


def _sample(subset: Subset, n: int, generator: torch.Generator) -> Subset:
    if len(subset) <= n:
        return subset
    return subset.take(torch.randperm(len(subset), generator=generator)[:n].sort().values)
