"""``run_grid``: run every run of a grid that is not finished yet, through an executor.

Resumable and safe to run several times at once on one home (two people resuming the same grid,
or several machines sharing ``--home``):

- a run is identified by the hash of its resolved config; each run is *claimed* in the run store
  before it starts (``RunStore.claim_run``), so a run that is done, or held by a live process, is
  skipped, and every run is done exactly once; the skipped runs are tried once more at the end,
  so a run whose owner died meanwhile is taken over;
- the runs of processes that are gone (killed, or silent for ``STALE_S`` seconds) are marked
  ``failed`` (``interrupted``) and redone, and their leftovers (unlearned models, temporary files)
  removed (``Workspace.tidy``);
- the original and golden models a grid needs are trained first, once each, as their own tasks,
  each claimed too, so that neither parallel runs nor parallel benchmarks train the same model
  twice: a model another live process is training is waited for.

Before anything runs, the cached original and golden models the grid needs are verified, so a
corrupt weights file is one clear error, not a grid of failed runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from unlearnkit.bench.grid import Grid, RunSpec
from unlearnkit.bench.tasks import run_task, train_task
from unlearnkit.runs.experiment import Workspace, reference_keys

#: Seconds between two looks at a model another process is training.
WAIT_POLL_S = 2.0


@dataclass
class BenchSummary:
    """What ``run_grid`` did.

    Attributes:
        total: runs in the grid. skipped: runs already done when it started.
        done: ids of the runs it finished. failed: (label, error) of the runs that failed.
        elsewhere: runs it left to another live process that held them (or finished them meanwhile).
        interrupted: runs of gone processes marked interrupted (and redone). trained: models trained.
        wall_s: wall time.
    """

    total: int
    skipped: int
    done: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    elsewhere: int = 0
    interrupted: int = 0
    trained: int = 0
    wall_s: float = 0.0


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``2 h 07 min``.

    Example:
        >>> format_duration(42.4), format_duration(185), format_duration(7620)
        ('42 s', '3 min 05 s', '2 h 07 min')
    """
    s = int(round(max(seconds, 0.0)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class GridProgress:
    """The progress line of a grid: ``[k/N] ... | 3 min 05 s elapsed, about 6 min 10 s left``.

    The time left is the mean wall time of the runs this process finished so far times the runs
    still to do (runs done elsewhere or skipped cost nothing).
    """

    def __init__(self, n: int):
        self.n = n
        self.k = 0
        self.start = time.perf_counter()
        self.timed = 0

    def line(self, text: str, *, worked: bool = True) -> str:
        self.k += 1
        self.timed += worked
        elapsed = time.perf_counter() - self.start
        left = self.n - self.k
        tail = f"{format_duration(elapsed)} elapsed"
        if left and self.timed:
            tail += f", about {format_duration(elapsed / self.timed * left)} left"
        return f"[{self.k}/{self.n}] {text} | {tail}"


def run_grid(grid: Grid, ws: Workspace, executor, *, plans: list | None = None,
             log: Callable[[str], None] = lambda s: None) -> BenchSummary:
    """Run what is left of ``grid``; every run is recorded in ``ws.runs`` as it finishes.

    ``plans`` (from ``grid.plans()``) may be passed when the caller has validated the grid already.
    """
    start = time.perf_counter()
    plans = grid.plans() if plans is None else plans
    needed: dict[str, tuple] = {}
    for spec, plan in plans:
        for kind, key in reference_keys(plan.context).items():
            needed.setdefault(key, (str(ws.home), spec.config, kind))
    for key in needed:  # a corrupt cached model is reported before anything runs or is written
        if ws.models.has(key):
            ws.models.verify(key)

    runs = ws.runs
    interrupted = ws.tidy()
    done = runs.done_hashes()
    pending: dict[str, tuple[RunSpec, object]] = {}
    for spec, plan in plans:
        if plan.config_hash not in done:
            pending.setdefault(plan.config_hash, (spec, plan))
    summary = BenchSummary(total=len({p.config_hash for _, p in plans}), skipped=0)
    summary.skipped = summary.total - len(pending)
    summary.interrupted = len(interrupted)
    log(f"{summary.total} runs in the grid: {summary.skipped} already done, {len(pending)} to run"
        + (f" ({summary.interrupted} interrupted before, redone)" if summary.interrupted else ""))

    missing = {key: needed[key] for _, plan in pending.values() for key in reference_keys(plan.context).values()
               if not ws.models.has(key)}
    if missing:
        log(f"training {len(missing)} original/golden model(s)")
        summary.trained = _train_models(ws, executor, missing, log)

    specs = [spec for spec, _ in pending.values()]
    progress = GridProgress(len(specs))
    held: list[RunSpec] = []
    tasks = [(str(ws.home), s, f"run {k} of {len(specs)}") for k, s in enumerate(specs, 1)]  # labels head the bars
    for i, outcome, exc in executor.map_unordered(run_task, tasks):
        if exc is not None:
            summary.failed.append((specs[i].label(), f"{type(exc).__name__}: {exc}"))
            log(progress.line(f"FAILED {specs[i].label()}: {type(exc).__name__}: {exc}"))
        elif outcome is None:
            held.append(specs[i])
            log(progress.line(f"skip   {specs[i].label()}: done or running in another process", worked=False))
        else:
            summary.done.append(outcome)
            log(progress.line(f"done   {specs[i].label()} -> run {outcome}"))
    # once more for the runs another process held: one whose owner has died since is taken over here
    for i, outcome, exc in executor.map_unordered(run_task, [(str(ws.home), s) for s in held]):
        if exc is not None:
            summary.failed.append((held[i].label(), f"{type(exc).__name__}: {exc}"))
            log(f"FAILED {held[i].label()}: {type(exc).__name__}: {exc}")
        elif outcome is None:
            summary.elsewhere += 1
        else:
            summary.done.append(outcome)
            log(f"done   {held[i].label()} -> run {outcome} (taken over: the process that held it is gone)")
    summary.wall_s = time.perf_counter() - start
    return summary


def _train_models(ws: Workspace, executor, trainings: dict[str, tuple], log: Callable[[str], None]) -> int:
    """Train the models ``trainings`` (key -> train_task arguments) that no other live process is
    training; wait for those that one is, and take over any whose trainer is gone. Returns how many
    models this call trained."""
    runs = ws.runs
    trained = 0
    todo = dict(trainings)
    announced: set[str] = set()
    while todo:
        mine = []
        for key in list(todo):
            if ws.models.has(key):
                del todo[key]
                continue
            claim = runs.claim_model(key)
            if claim.status == "claimed":
                mine.append(key)
            elif key not in announced:
                announced.add(key)
                log(f"waiting for {claim.owner}, which is training the {todo[key][2]} model {key[:12]}")
        try:
            for i, _, exc in executor.map_unordered(train_task, [todo[k] for k in mine]):
                if exc is not None:
                    raise exc
                trained += 1
                del todo[mine[i]]
        finally:
            for key in mine:
                runs.release_model(key)
        if todo:
            time.sleep(WAIT_POLL_S)
    return trained
