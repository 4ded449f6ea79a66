"""``unlearnkit unlearn --method auto``: ``auto`` on a benchmark experiment, judged against its golden model.

``auto`` (``deletion.auto_select``) sees what ``forget`` gives it: the original model, the request and
the held-out slice V. It never sees the golden model, which is trained (or fetched) only to evaluate
the model it returns, as for any recorded run. The run is stored with method ``auto`` and parameter
``budget``; its log holds the choice (memorisation, candidates, their golden-free verdicts and CPU).
The run's CPU seconds are everything ``auto`` did (scoring the model, the retrain estimate, every
candidate and its rating), not only the budget's share; the log keeps both.

Example:
    >>> from unlearnkit.runs.experiment import ExperimentConfig, Workspace
    >>> cfg = ExperimentConfig(dataset="digits", forget="random:0.1",
    ...                        data_options={"val_size": 300})  # doctest: +SKIP
    >>> run_auto(Workspace("/tmp/uk-home"), cfg).result.log["choice"]["label"]  # doctest: +SKIP
    'eu_k[k=2,schedule=recipe]'
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, Sequence

from unlearnkit.deletion.auto import request_shape
from unlearnkit.deletion.auto_rule import DEFAULT_BUDGET
from unlearnkit.deletion.auto_select import check_budget, select_method
from unlearnkit.errors import ConfigError
from unlearnkit.methods.base import UnlearnResult
from unlearnkit.runs.experiment import (ExperimentConfig, RunOutcome, TrainedModel, Workspace, check_metrics,
                                        load_context, record_run)
from unlearnkit.training.store import canonical_json
from unlearnkit.version import __version__

#: The run store's method name for ``auto`` runs.
AUTO = "auto"


def run_auto(ws: Workspace, cfg: ExperimentConfig, *, budget: Any = DEFAULT_BUDGET,
             metrics: Sequence[str] | None = None) -> RunOutcome:
    """Run ``--method auto`` on the experiment ``cfg``, evaluate its model against the golden one and record it.

    Args:
        ws: the workspace (model and run stores).
        cfg: the experiment; its recipe is the model's training recipe, which ``auto`` uses for its
            retrain estimate (as ``forget --recipe``).
        budget: the share (0, 1] of an estimated retrain's CPU the candidates may spend.
        metrics: metric names (default the headline metrics).

    Raises:
        ConfigError: a bad budget or metric, a dataset without a held-out slice V, or no candidate
            that could run within the budget.
    """
    budget = check_budget(budget)
    names = check_metrics(metrics)
    ctx = load_context(cfg)
    if getattr(ctx.split, "val", None) is None:
        raise ConfigError(f"--method auto rates its candidates on the held-out slice V, which dataset {cfg.dataset!r} "
                          "has not here: load it with --data-option val_size=N or train_subset=N.")
    shape, _ = request_shape(ctx.split.dataset.train_y.numpy(), ctx.split.forget.numpy())
    params = {"budget": budget}
    config = {**cfg.to_dict(), "method": AUTO, "params": params, "retain_fraction": None, "metrics": names,
              "split": ctx.split.describe()}
    row = dict(dataset=cfg.dataset, model=cfg.model, forget=str(ctx.split.spec),
               split_fingerprint=ctx.split.fingerprint, seed=cfg.seed, method=AUTO, params=params, config=config,
               config_hash=hashlib.sha256(canonical_json(config).encode()).hexdigest(), version=__version__)

    def produce(original: TrainedModel) -> UnlearnResult:
        wall = time.perf_counter()
        sel = select_method(original.model, ctx.split, shape=shape, recipe=ctx.recipe,
                            recipe_source="the experiment's recipe", budget=budget, seed=cfg.seed, device=cfg.device)
        log = {"choice": sel.choice, "picked_cpu_s": sel.result.cpu_s, "picked_log": sel.result.log}
        return UnlearnResult(model=sel.result.model, runtime_s=time.perf_counter() - wall, method=AUTO, params=params,
                             log=log, estimator=sel.result.estimator, cpu_s=sel.choice["budget"]["total_cpu_s"])

    outcome = record_run(ws, ctx, row, names, produce, config=config)
    assert outcome is not None  # not exclusive: a run is always recorded
    return outcome


__all__ = ["AUTO", "run_auto"]
