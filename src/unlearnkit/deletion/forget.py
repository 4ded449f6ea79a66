"""``forget``: honour a deletion request on your own model, with evidence and a ledger entry.

One request: the model (yours, any ``nn.Module``), its training records (a ``Dataset`` with record
IDs), the IDs to delete, and a held-out slice. ``forget`` checks everything first (unknown or
repeated IDs, an empty request, a broken ledger, a model that is not the ledger's latest), runs the
method through ``unlearnkit.unlearn``, computes the golden-free evidence, and then writes: the
output directory (weights, evidence in Markdown, HTML and JSON), staged in a temporary directory and
renamed into place, and the ledger entry. Nothing is written when a check fails.

With a ledger, the request starts from the ledger's latest model, and every ID deleted by an earlier
request is left out of the retain set (and reported, and skipped, when the request names it again).

The steps live in their own modules: ``plan`` (``plan_forget``: the checks), ``run`` (the method,
the golden model, the evidence) and ``record`` (the record, the ledger entry, the writing).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from torch import nn

from unlearnkit.data.dataset import Dataset
from unlearnkit.deletion.auto_rule import DEFAULT_BUDGET
from unlearnkit.deletion.auto_select import check_budget
from unlearnkit.deletion.evidence import Evidence
from unlearnkit.deletion.judge import check_heldout
from unlearnkit.deletion.ledger import Ledger, LedgerError
from unlearnkit.deletion.modelio import ArchSpec
from unlearnkit.deletion.plan import ForgetPlan, plan_forget
from unlearnkit.deletion.record import OUTPUT_FILES, build_record, write_outputs
from unlearnkit.deletion.recovery import check_writable, recover
from unlearnkit.deletion.run import run_plan
from unlearnkit.errors import ConfigError
from unlearnkit.metrics import Report
from unlearnkit.training import Recipe


@dataclass
class ForgetResult:
    """What ``forget`` returns.

    Attributes:
        model: the unlearned model.
        evidence: the golden-free ``Evidence`` with its verdict.
        entry: the ledger entry (``None`` without a ledger, or in a dry run).
        record: everything about the request as a JSON-serialisable dict (what ``evidence.json`` holds).
        headline: with ``retrain``, the headline ``Report`` against the retrained (golden) model.
        golden: with ``retrain``, the retrained model.
        out: the output directory, when one was written.
    """

    model: nn.Module
    evidence: Evidence
    entry: dict[str, Any] | None
    record: dict[str, Any]
    headline: Report | None = None
    golden: nn.Module | None = None
    out: Path | None = None

    @property
    def request_id(self) -> str:
        return self.record["request"]["request_id"]


def forget(model: nn.Module | None, data: Dataset, delete_ids: Iterable[Any], *, method: str = "auto",
           params: Mapping[str, Any] | None = None, heldout: Any = None, ledger: str | os.PathLike | Ledger | None = None,
           out: str | os.PathLike | None = None, arch: ArchSpec | None = None, retrain: Recipe | None = None,
           seed: int = 0, device: str = "cpu", store_ids: bool = True, dry_run: bool = False,
           budget: float = DEFAULT_BUDGET, recipe: Recipe | None = None) -> ForgetResult:
    """Remove the records ``delete_ids`` from ``model`` and return the result with its evidence.

    Args:
        model: the trained model (any ``nn.Module``; it is not modified). ``None`` continues from
            the ledger's latest model.
        data: the model's training records with IDs (``Dataset.from_arrays(x, y, ids=..., test=...)``,
            ``unlearnkit.data.record_files.load_records``), carrying the held-out slice V.
        delete_ids: the IDs of the records to delete (every one must exist; none may repeat).
        method: a method name (``unlearnkit list methods``) or ``"auto"``: measure how much the model
            memorised, try the rule's candidates for that and the request's shape within ``budget``,
            keep the one the golden-free verdict rates best (``unlearnkit.deletion.auto_select``;
            docs/results/auto.md); the choice and every candidate's scores go into
            ``record["method"]["choice"]``.
        params: the method's parameters (not used with ``"auto"``).
        heldout: the held-out slice V, replacing ``data``'s: ``(x, y[, ids])`` or a ``Dataset``.
        ledger: a ledger directory: the request starts from its latest model, skips IDs deleted
            before (reported), and is appended to it.
        out: an output directory (must not exist) for ``model.safetensors``, ``evidence.json``,
            ``evidence.md`` and ``evidence.html`` (and ``golden.safetensors`` with ``retrain``).
        arch: how to rebuild the model (``ArchSpec``), recorded in the ledger so that
            ``load_run_model`` can rebuild it; built-in models know their own.
        retrain: a ``Recipe``: also retrain a golden model from scratch on the retained records and
            add the headline table (``ua``, ``ra``, ``ta``, ``mia_efficacy``, ``avg_gap``...).
        seed: seeds the method, the held-out draws and the bootstrap intervals.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        store_ids: keep the deleted IDs in the ledger entry; ``False`` keeps only their SHA-256
            (and a salted hash of each, so later requests can still exclude them).
        dry_run: with a ledger, do everything but append the entry.
        budget: with ``"auto"``, the share (0, 1] of an estimated retrain's CPU time its candidates
            may spend (default 0.1).
        recipe: the model's training recipe, for ``"auto"``'s retrain estimate (default:
            ``retrain``'s, else the data's preset, ``default_recipe_name``).

    Returns:
        ``ForgetResult``: the model, the evidence, the ledger entry and the record.

    Raises:
        ConfigError: unknown, repeated or already deleted IDs, an empty request, no held-out
            slice, a model that does not fit the data or is not the ledger's latest, a broken
            ledger, an output directory that exists, a method that destroyed the model (NaN or
            infinite outputs), a budget outside (0, 1], no ``"auto"`` candidate within the budget.
            Nothing is written then.

    Example:
        >>> import numpy as np, torch
        >>> from unlearnkit import Dataset
        >>> rng = np.random.default_rng(0)
        >>> x, y = rng.normal(size=(700, 8)).astype("float32"), rng.integers(0, 3, 700)
        >>> data = Dataset.from_arrays(x[:300], y[:300], ids=[f"r{i}" for i in range(300)], test=(x[300:], y[300:]))
        >>> model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
        >>> result = forget(model, data, [f"r{i}" for i in range(40)], method="finetune", params={"epochs": 1})
        >>> result.evidence.verdict in ("forgotten", "not_forgotten", "over_forgotten", "damaged", "inconclusive")
        True
    """
    budget, ledger, out, recovered = _check_call(budget, recipe, ledger, out, retrain, dry_run)
    plan = plan_forget(model, data, delete_ids, method=method, params=params, heldout=heldout, ledger=ledger, arch=arch,
                       seed=seed, device=device)
    check_heldout(plan.split)  # V must carry the verdict: every class of D_f, enough records of them
    run = run_plan(plan, method=method, retrain=retrain, recipe=recipe, budget=budget, seed=seed, device=device)
    entry, record = build_record(plan, run, seed=seed, store_ids=store_ids, dry_run=dry_run, recovered=recovered)
    write_outputs(out, plan, run, record, entry)
    return ForgetResult(run.after, run.evidence, entry, record, run.headline, run.golden, out)


def _check_call(budget: float, recipe: Recipe | None, ledger: str | os.PathLike | Ledger | None,
                out: str | os.PathLike | None, retrain: Recipe | None,
                dry_run: bool) -> tuple[float, Ledger | None, Path | None, list[str]]:
    """``forget``'s own arguments, checked before the request (recovering requests killed before on the way);
    returns the budget, the ledger, the output directory and the recovery notes."""
    budget = check_budget(budget)  # before anything, recovery included, touches the disk
    if recipe is not None and not isinstance(recipe, Recipe):
        raise ConfigError(f"recipe must be a Recipe (unlearnkit.get_recipe(...)) or None; got {type(recipe).__name__}.")
    ledger = ledger if isinstance(ledger, Ledger) or ledger is None else Ledger(ledger)
    recovered = recover(ledger, None if out is None else Path(out).parent)  # requests killed before: finished or removed
    if out is not None:
        out = Path(out)
        if out.exists() or out.is_symlink():
            done = "; ".join(n for n in recovered if str(out) in n)
            raise ConfigError(f"{done}." if done else
                              f"Output directory {out} already exists; give a new one (nothing is overwritten).")
        check_writable(out)
    if retrain is not None and not isinstance(retrain, Recipe):
        raise ConfigError(f"retrain must be a Recipe (unlearnkit.get_recipe(...)) or None; got {type(retrain).__name__}.")
    if dry_run and ledger is None:
        raise ConfigError("dry_run only makes sense with a ledger (nothing else is recorded).")
    return budget, ledger, out, recovered


__all__ = ["ForgetPlan", "ForgetResult", "LedgerError", "OUTPUT_FILES", "forget", "plan_forget"]
