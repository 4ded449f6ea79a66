"""Unlearning methods, one file each, behind one registry and one front door (``unlearn``)."""

from unlearnkit.methods.base import Access, LoopMethod, Method, UnlearnResult
from unlearnkit.methods.front_door import make_method, unlearn
from unlearnkit.methods.registry import METHODS
from unlearnkit.methods import finetune, grad_ascent, neggrad_plus, random_labels, retrain  # noqa: F401

__all__ = ["METHODS", "Access", "LoopMethod", "Method", "UnlearnResult", "make_method", "unlearn"]
