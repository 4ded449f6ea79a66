"""Which metrics an experiment reports, and the report of one model against the golden and original ones."""

from __future__ import annotations

from typing import Sequence

import torch.nn as nn

from unlearnkit.metrics import HEADLINE, METRICS, Report, evaluate
from unlearnkit.runs.references import Context, golden_model, original_model, reference_scores
from unlearnkit.runs.workspace import Workspace


def check_metrics(metrics: Sequence[str] | None) -> list[str]:
    names = list(metrics) if metrics else list(HEADLINE)
    for name in names:
        METRICS.get(name)
    return names


#: metrics recorded beside another whenever it is asked for: the CPU-time twins of the wall-time
#: ones, and the check of the membership attack beside its score
COMPANIONS = {"runtime_s": "cpu_s", "speedup": "cpu_speedup", "mia_efficacy": "mia_member_recall"}


def with_companions(names: Sequence[str]) -> list[str]:
    """``names`` with each metric's companion (``COMPANIONS``) right after it, when not already asked for.

    Example:
        >>> with_companions(["ua", "mia_efficacy", "runtime_s"])
        ['ua', 'mia_efficacy', 'mia_member_recall', 'runtime_s', 'cpu_s']
    """
    out: list[str] = []
    for name in names:
        if name not in out:
            out.append(name)
        twin = COMPANIONS.get(name)
        if twin and twin not in names:
            out.append(twin)
    return out


def report_for(ws: Workspace, ctx: Context, model: nn.Module, runtime_s: float | None,
               metrics: Sequence[str] | None = None, cpu_s: float | None = None) -> Report:
    """Evaluate ``model`` against the (cached) golden and original models of ``ctx``.

    Wherever ``runtime_s`` / ``speedup`` are asked for, ``cpu_s`` / ``cpu_speedup`` come beside
    them: every recorded run carries its process CPU seconds and the golden retrain's. Beside
    ``mia_efficacy`` comes ``mia_member_recall``, so that a collapsed attack is seen.
    """
    names = with_companions(check_metrics(metrics))
    golden = golden_model(ws, ctx)
    original = original_model(ws, ctx)
    needs_golden_module = any(m in names for m in ("js_to_golden", "weight_distance"))
    return evaluate(
        model, ctx.split,
        reference=golden.model if needs_golden_module else reference_scores(ws, ctx, golden, names),
        original=reference_scores(ws, ctx, original, names, golden),
        metrics=names, seed=ctx.config.seed, runtime_s=runtime_s, reference_runtime_s=golden.train_time_s,
        cpu_s=cpu_s, reference_cpu_s=golden.train_cpu_s, device=ctx.config.device,
    )
