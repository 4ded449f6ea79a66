"""``run_grid``: run every run of a grid that is not finished yet, through an executor.

Resumable by construction: a run is identified by the hash of its resolved config, finished runs
are skipped, ``running`` rows left by a killed process are marked ``interrupted`` and redone.
The original and golden models a grid needs are trained first, once each, as their own tasks, so
that parallel runs never train the same model twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from unlearnkit.bench.grid import Grid, RunSpec
from unlearnkit.bench.tasks import run_task, train_task
from unlearnkit.runs.experiment import Workspace, model_spec
from unlearnkit.training.store import content_key


@dataclass
class BenchSummary:
    total: int
    skipped: int
    done: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    interrupted: int = 0
    trained: int = 0
    wall_s: float = 0.0


def run_grid(grid: Grid, ws: Workspace, executor, *, plans: list | None = None,
             log: Callable[[str], None] = lambda s: None) -> BenchSummary:
    """Run what is left of ``grid``; every run is recorded in ``ws.runs`` as it finishes.

    ``plans`` (from ``grid.plans()``) may be passed when the caller has validated the grid already.
    """
    start = time.perf_counter()
    plans = grid.plans() if plans is None else plans
    done = ws.runs.done_hashes()
    pending: dict[str, tuple[RunSpec, object]] = {}
    for spec, plan in plans:
        if plan.config_hash not in done:
            pending.setdefault(plan.config_hash, (spec, plan))
    summary = BenchSummary(total=len({p.config_hash for _, p in plans}), skipped=0)
    summary.skipped = summary.total - len(pending)
    summary.interrupted = ws.runs.mark_interrupted(list(pending))
    log(f"{summary.total} runs in the grid: {summary.skipped} already done, {len(pending)} to run"
        + (f" ({summary.interrupted} interrupted before, redone)" if summary.interrupted else ""))

    trainings: dict[str, tuple] = {}
    for spec, plan in pending.values():
        for kind in ("original", "golden"):
            key = content_key(model_spec(plan.context, kind))
            if key not in trainings and not ws.models.has(key):
                trainings[key] = (str(ws.home), spec.config, kind)
    if trainings:
        log(f"training {len(trainings)} original/golden model(s)")
        for _, _, exc in executor.map_unordered(train_task, list(trainings.values())):
            if exc is not None:
                raise exc
        summary.trained = len(trainings)

    specs = [spec for spec, _ in pending.values()]
    for i, run_id, exc in executor.map_unordered(run_task, [(str(ws.home), s) for s in specs]):
        if exc is None:
            summary.done.append(run_id)
            log(f"done   {specs[i].label()} -> run {run_id}")
        else:
            summary.failed.append((specs[i].label(), f"{type(exc).__name__}: {exc}"))
            log(f"FAILED {specs[i].label()}: {type(exc).__name__}: {exc}")
    summary.wall_s = time.perf_counter() - start
    return summary
