"""Bad teacher: distil from a competent teacher on D_r and from an incompetent one on D_f.

Reference: Chundawat, Tarun, Mandal and Kankanhalli, "Can Bad Teaching Induce Forgetting?
Unlearning in Deep Networks Using an Incompetent Teacher", AAAI 2023. Defaults from the paper's
code and from the bad-teacher baseline of the SSD and JiT papers' code (seed 002).
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

from unlearnkit.config import Interval, store_params
from unlearnkit.data.dataset import Subset, relabelled_union
from unlearnkit.methods.base import LOOP_CONSTRAINTS, Access, LoopMethod, fresh_model
from unlearnkit.methods.registry import METHODS
from unlearnkit.training.loop import run_loop

#: The label that marks a forget sample in the union D_f ∪ D_r' the student is trained on (retain: 0).
FORGET_FLAG = 1


def two_teacher_kl(student_logits: torch.Tensor, good_logits: torch.Tensor, bad_logits: torch.Tensor,
                   is_forget: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(target ‖ student) at temperature T, averaged over the batch, where each sample's target
    is the bad teacher's softmax for forget samples and the good teacher's for retain samples."""
    p_good = F.softmax(good_logits / temperature, dim=1)  # (B, C)
    p_bad = F.softmax(bad_logits / temperature, dim=1)  # (B, C)
    mask = is_forget.to(p_good.dtype).unsqueeze(1)  # (B, 1)
    target = mask * p_bad + (1 - mask) * p_good  # (B, C)
    return F.kl_div(F.log_softmax(student_logits / temperature, dim=1), target, reduction="batchmean")


def sample_fraction(subset: Subset, fraction: float, generator: torch.Generator) -> Subset:
    """A seeded random ``fraction`` of ``subset`` (at least one sample)."""
    keep = max(1, round(fraction * len(subset)))
    pos = torch.randperm(len(subset), generator=generator)[:keep]
    return Subset(subset.dataset, subset.part, subset.indices[pos], subset.label_set)


@METHODS.register("bad_teacher")
class BadTeacher(LoopMethod):
    """Train the student (a copy of the original model) to match the original model on a random
    part of D_r and a randomly initialised network on D_f.

    The competent teacher is a frozen copy of the original model, the incompetent one a freshly
    initialised network of the same architecture (seeded by the run's seed). Each epoch is one
    pass over D_f ∪ D_r', D_r' a seeded ``retain_fraction`` of D_r drawn once, shuffled together;
    every sample's target is the softmax of its teacher at temperature T, and the loss is
    KL(target ‖ student). The number of samples used is logged.

    Access: full retain. Defaults (the paper's code and the SSD / JiT baselines, the table of
    ALGORITHMS.md): 1 epoch, Adam lr 1e-4, KL temperature 1, batch 256, 30% of D_r.

    Example:
        >>> from unlearnkit import load_dataset, make_split, build_model, train, get_recipe, unlearn
        >>> split = make_split(load_dataset("digits"), "class:3")
        >>> model = train(build_model("mlp", split.dataset), split.subset("train"), get_recipe("fast"))
        >>> unlearn(model, split, "bad_teacher").log["n_retain_used"]
        484
    """

    access = Access.FULL_RETAIN
    streams = ("mixed",)
    _parameter_constraints = {
        **LOOP_CONSTRAINTS,
        "temperature": Interval(float, 0, None, closed="neither"),
        "retain_fraction": Interval(float, 0, 1, closed="right"),
    }

    def __init__(self, *, lr=1e-4, epochs=1, temperature=1.0, retain_fraction=0.3, batch_size=256,
                 optimizer="adam", momentum=0.9, weight_decay=0.0):
        store_params(self, locals())

    def run(self, model, *, forget, retain, generator, device):
        if retain is None:
            raise ValueError("BadTeacher needs the retain set, which the front door did not give")
        good = copy.deepcopy(model).to(device).eval()
        bad = fresh_model(model, forget, generator).to(device).eval()
        for teacher in (good, bad):
            for p in teacher.parameters():
                p.requires_grad_(False)
        retain_part = sample_fraction(retain, self.retain_fraction, generator)
        mixed = relabelled_union(forget, torch.full((len(forget),), FORGET_FLAG, dtype=torch.int64),
                                 retain_part, torch.full((len(retain_part),), 1 - FORGET_FLAG, dtype=torch.int64))

        def loss(student: nn.Module, batches) -> torch.Tensor:
            x, flag = batches["mixed"]
            with torch.no_grad():
                good_logits, bad_logits = good(x), bad(x)
            return two_teacher_kl(student(x), good_logits, bad_logits, flag == FORGET_FLAG, self.temperature)

        history = run_loop(model, {"mixed": mixed}, loss, self.recipe(), generator=generator, device=device,
                           description="Bad teacher")
        self.log_ = {"epoch_loss": history, "n_forget_used": len(forget), "n_retain_used": len(retain_part)}
        return model
