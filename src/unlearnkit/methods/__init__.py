"""Unlearning methods, one file each, behind one registry and one front door (``unlearn``)."""

from unlearnkit.methods.base import Access, LoopMethod, Method, UnlearnResult
from unlearnkit.methods.front_door import make_method, unlearn
from unlearnkit.methods.registry import METHODS
from unlearnkit.methods import (  # noqa: F401
    amnesiac, bad_teacher, boundary_shrink, ce_ft, cf_k, cfw, eu_k, fcs, finetune, fisher, grad_ascent, heldout_match,
    ice_ft, influence, jit, kl_ft, l1_sparse, ltu, msg, neggrad_plus, random_labels, rbm, restart_ft, retrain, rum,
    salun, scrub, scrub_r, ssd, unsir,
)

__all__ = ["METHODS", "Access", "LoopMethod", "Method", "UnlearnResult", "make_method", "unlearn"]
