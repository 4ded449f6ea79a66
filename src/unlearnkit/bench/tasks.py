"""Benchmark tasks: top-level functions an executor can ship to a worker. Each opens the stores
under ``home`` itself, so it works in this process, in a Ray worker, or on another machine that
shares the directory."""

from __future__ import annotations

import contextlib

import torch

from unlearnkit.bench.grid import RunSpec
from unlearnkit.progress import progress_label
from unlearnkit.runs.experiment import ExperimentConfig, Workspace, execute_plan, golden_model, load_context, original_model


_WORKSPACES: dict[str, Workspace] = {}


def _workspace(home: str, threads: int | None) -> Workspace:
    """One workspace per home and process, so golden and original scores are computed once."""
    if threads:
        torch.set_num_threads(threads)
    if home not in _WORKSPACES:
        _WORKSPACES[home] = Workspace(home)
    return _WORKSPACES[home]


def train_task(home: str, config: ExperimentConfig, kind: str, *, threads: int | None = None) -> str:
    """Train (or find) the original or golden model of ``config``; returns its model-store key."""
    ws = _workspace(home, threads)
    ctx = load_context(config)
    trained = original_model(ws, ctx) if kind == "original" else golden_model(ws, ctx)
    return trained.key


def run_task(home: str, spec: RunSpec, label: str | None = None, *, threads: int | None = None) -> str | None:
    """Plan, claim and execute one run of a grid; returns its run id (the run store has the rest), or
    ``None`` when the run is done or held by another live process (see ``RunStore.claim_run``).
    ``label`` (e.g. ``run 3 of 16``) heads the run's progress bars."""
    ws = _workspace(home, threads)
    with progress_label(label) if label else contextlib.nullcontext():
        outcome = execute_plan(ws, spec.plan(), exclusive=True)
    return outcome.run_id if outcome is not None else None
