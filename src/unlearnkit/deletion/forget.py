"""``forget``: honour a deletion request on your own model, with evidence and a ledger entry.

One request: the model (yours, any ``nn.Module``), its training records (a ``Dataset`` with record
IDs), the IDs to delete, and a held-out slice. ``forget`` checks everything first (unknown or
repeated IDs, an empty request, a broken ledger, a model that is not the ledger's latest), runs the
method through ``unlearnkit.unlearn``, computes the golden-free evidence, and then writes: the
output directory (weights, evidence in Markdown, HTML and JSON), staged in a temporary directory and
renamed into place, and the ledger entry. Nothing is written when a check fails.

With a ledger, the request starts from the ledger's latest model, and every ID deleted by an earlier
request is left out of the retain set (and reported, and skipped, when the request names it again).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import torch
from torch import nn

import unlearnkit
from unlearnkit.data.class_order import shown
from unlearnkit.data.dataset import Dataset
from unlearnkit.data.forget import ForgetSpec
from unlearnkit.data.records import check_request_ids, drop_train, with_heldout
from unlearnkit.data.split import make_split
from unlearnkit.deletion.auto import recommend, request_shape
from unlearnkit.deletion.auto_rule import DEFAULT_BUDGET
from unlearnkit.deletion.auto_select import auto_recipe, check_budget, select_method
from unlearnkit.deletion.evidence import Evidence, compute_evidence
from unlearnkit.deletion.judge import check_heldout
from unlearnkit.deletion.ledger import Ledger, LedgerError, ids_sha256, now_iso
from unlearnkit.deletion.modelio import ArchSpec, weights_bytes
from unlearnkit.deletion.preflight import check_fit, resolve_request
from unlearnkit.deletion.recovery import check_writable, keep_head_note, publish, recover
from unlearnkit.errors import ConfigError
from unlearnkit.methods.front_door import make_method, method_name, unlearn
from unlearnkit.metrics import HEADLINE, Report, evaluate
from unlearnkit.metrics.context import compute_logits
from unlearnkit.training import Recipe, train

OUTPUT_FILES = ("model.safetensors", "evidence.json", "evidence.md", "evidence.html")


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


@dataclass
class ForgetPlan:
    """A checked request, not yet run (``plan_forget``): the starting model, the records as they are
    now (``live``: without the records deleted before), the split, the request's shape and the method."""

    before: nn.Module
    arch: ArchSpec | None
    live: Dataset
    split: Any
    shape: str
    classes: list[str]
    ids: tuple[str, ...]
    already: dict[str, int]
    estimator: Any
    choice: dict[str, Any] | None
    ledger: Ledger | None
    seq: int
    before_bytes: bytes
    dropped: int


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def plan_forget(model: nn.Module | None, data: Dataset, delete_ids: Iterable[Any], *, method: str = "auto",
                params: Mapping[str, Any] | None = None, heldout: Any = None, ledger: str | os.PathLike | Ledger | None = None,
                arch: ArchSpec | None = None, seed: int = 0, device: str = "cpu") -> ForgetPlan:
    """Check a request without running it (see ``forget``); returns what ``forget`` will do."""
    if not isinstance(data, Dataset):
        raise ConfigError(f"data must be a unlearnkit Dataset (Dataset.from_arrays(x, y, ids=...)); got "
                          f"{type(data).__name__}.")
    if data.train_ids is None:
        raise ConfigError(f"Dataset {data.name!r} has no record IDs; build it with Dataset.from_arrays(x, y, ids=...) "
                          "so that requests can name records.")
    ids = check_request_ids(delete_ids)
    if heldout is not None:
        data = with_heldout(data, heldout)
    if not data.has_val:
        raise ConfigError(
            "No held-out records for the evidence: give heldout= (records the model never trained on; "
            "--heldout FILE) or a test part to carve them from (test= in Dataset.from_arrays; x_test/y_test, "
            "test.csv or a test/ folder)."
        )
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"seed must be an int; got {seed!r}.")
    led = ledger if isinstance(ledger, Ledger) or ledger is None else Ledger(ledger)
    seq, head = (0, None)
    if led is not None:
        led.check()
        seq = led.head()[0]
    if arch is None and model is not None and getattr(model, "arch_name", None):
        arch = ArchSpec(model.arch_name, dict(model.arch_kwargs))
    if seq:
        head = led.find(seq)
        recorded = head.get("model", {}).get("arch")
        if arch is not None and recorded and ArchSpec.from_dict(recorded) != arch:
            raise ConfigError(f"The architecture {arch} is not the ledger's ({ArchSpec.from_dict(recorded)}); a ledger "
                              "records one model.")
        if model is None:
            model = led.load_model(seq)
            arch = ArchSpec.from_dict(recorded) if recorded else arch
        else:
            sha = _sha(weights_bytes(model))
            if sha != head["model_after_sha256"]:
                raise ConfigError(
                    f"The model given is not the ledger's latest (the model after request {seq}, "
                    f"{head['request_id']}): its weights hash {sha[:12]}... differs from {head['model_after_sha256'][:12]}.... "
                    "Leave out the model (--weights) to continue from the ledger."
                )
            if arch is None and recorded:
                arch = ArchSpec.from_dict(recorded)
    elif model is None:
        raise ConfigError("The first request needs the model (--arch and --weights): the ledger holds no model yet.")
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model must be a torch.nn.Module; got {type(model).__name__}.")
    model = model.to("cpu").eval()

    already = led.deleted_by(ids) if led is not None else {}
    new_ids = [i for i in ids if i not in already]
    if not new_ids:
        raise ConfigError(f"Every ID of the request was already deleted (by request(s) "
                          f"{shown(sorted(set(already.values())))}); there is nothing left to do.")
    dropped_pos: list[int] = []
    if led is not None and seq:
        prev_ids, prev_hashes = led.deleted()
        for k, rid in enumerate(data.train_ids):
            if rid in prev_ids or (prev_hashes and led.id_hash(rid) in prev_hashes):
                dropped_pos.append(k)
    live = drop_train(data, dropped_pos) if dropped_pos else data
    gone = sorted(set(data.train_y.unique().tolist()) - set(live.train_y.unique().tolist()))
    if gone and len(live.test_y):  # classes deleted whole before: their test records judge nothing any more
        keep = torch.nonzero(~torch.isin(live.test_y, torch.tensor(gone))).flatten()
        live = dataclasses.replace(live, test_x=live.test_x[keep], test_y=live.test_y[keep],
                                   test_ids=None if live.test_ids is None else tuple(live.test_ids[int(i)] for i in keep),
                                   test_note=f"{live.test_note}; without the {len(live.test_y) - len(keep)} test records "
                                             f"of class(es) {', '.join(live.classes[c] for c in gone)}, deleted before")
    positions = resolve_request(live, new_ids)
    shape, class_idx = request_shape(live.train_y.numpy(), positions)
    if shape == "class":
        split = make_split(live, ForgetSpec(kind="class", classes=tuple(class_idx)), seed=seed)
    else:
        split = make_split(live, ForgetSpec.of_ids(new_ids), seed=seed)

    params = dict(params or {})
    choice = None
    if method == "auto":
        rec = recommend(shape)
        est = make_method(rec.method, {**rec.params, **params})
        choice = {**rec.to_dict(), "params": est.get_params()}
    else:
        est = make_method(method, params)

    try:
        probe = compute_logits(model, split.subset("forget").take(torch.arange(1)), device=device)
    except ConfigError:
        raise
    except Exception as exc:  # the user's forward pass: say what it was given, in one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"The model cannot take the data's records (one record has shape {live.input_shape}, "
                          f"dtype float32): {type(exc).__name__}: {first[:200]}") from None
    if probe.shape[1] != split.num_classes:
        raise ConfigError(
            f"The model returns {probe.shape[1]} logits per record, but the data has {split.num_classes} classes "
            f"({', '.join(live.classes[:12])}{', ...' if len(live.classes) > 12 else ''}); give the class names in "
            "logit order (classes= / a 'classes' array) so that they match."
        )
    check_fit(model, live, seed=seed, device=device)  # a permuted label order is refused here, before any work
    before_bytes = weights_bytes(model)
    return ForgetPlan(model, arch, live, split, shape, [live.classes[c] for c in class_idx], tuple(new_ids), already, est,
                 choice, led, seq, before_bytes, len(dropped_pos))


def forget(
    model: nn.Module | None,
    data: Dataset,
    delete_ids: Iterable[Any],
    *,
    method: str = "auto",
    params: Mapping[str, Any] | None = None,
    heldout: Any = None,
    ledger: str | os.PathLike | Ledger | None = None,
    out: str | os.PathLike | None = None,
    arch: ArchSpec | None = None,
    retrain: Recipe | None = None,
    seed: int = 0,
    device: str = "cpu",
    store_ids: bool = True,
    dry_run: bool = False,
    budget: float = DEFAULT_BUDGET,
    recipe: Recipe | None = None,
) -> ForgetResult:
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
        >>> x, y = rng.normal(size=(300, 8)).astype("float32"), rng.integers(0, 3, 300)
        >>> data = Dataset.from_arrays(x[:200], y[:200], ids=[f"r{i}" for i in range(200)], test=(x[200:], y[200:]))
        >>> model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
        >>> result = forget(model, data, [f"r{i}" for i in range(40)], method="finetune", params={"epochs": 1})
        >>> result.evidence.verdict in ("forgotten", "not_forgotten", "over_forgotten", "damaged", "inconclusive")
        True
    """
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
    plan = plan_forget(model, data, delete_ids, method=method, params=params, heldout=heldout, ledger=ledger, arch=arch,
                       seed=seed, device=device)
    check_heldout(plan.split)  # V must carry the verdict: every class of D_f, enough records of them

    if method == "auto":  # measure, try the rule's candidates within the budget, keep the best-rated
        sel = select_method(plan.before, plan.split, shape=plan.shape, seed=seed, device=device, budget=budget,
                            **auto_recipe(recipe, retrain, plan.live.name))
        result, plan.estimator, plan.choice = sel.result, sel.result.estimator, sel.choice
    else:
        result = unlearn(plan.before, plan.split, plan.estimator, seed=seed, device=device)
    after = result.model.to("cpu").eval()
    after_bytes = weights_bytes(after)
    sha_before, sha_after = _sha(plan.before_bytes), _sha(after_bytes)
    headline = golden = None
    golden_info = None
    if retrain is not None:
        golden, golden_info = _retrain(plan, retrain, seed, device)
        headline = evaluate(after, plan.split, reference=golden, original=plan.before,
                            metrics=_with_companions(HEADLINE), seed=seed, runtime_s=result.runtime_s,
                            reference_runtime_s=golden_info["train_time_s"], cpu_s=result.cpu_s,
                            reference_cpu_s=golden_info["train_cpu_s"], device=device)
    evidence = compute_evidence(plan.before, after, plan.split, shape=plan.shape, classes=plan.classes, seed=seed,
                                device=device, weights_changed=sha_before != sha_after, golden=golden)
    if plan.choice and plan.choice.get("retrain_note"):
        evidence.warnings.append(plan.choice["retrain_note"])
    if evidence.destroyed:
        raise ConfigError(f"The unlearned model's outputs are NaN or infinite: {method_name(plan.estimator)} with "
                          f"{_jsonable(result.params)} destroyed the model. Nothing was written; try other parameters "
                          "(a smaller lr, fewer epochs) or another method.")

    led = plan.ledger
    seq = plan.seq + 1
    sha_ids = ids_sha256(plan.ids)
    request_id = f"req-{seq:04d}-{sha_ids[:8]}" if led is not None else f"req-{sha_ids[:8]}"
    request = {
        "request_id": request_id, "time": now_iso(), "n_requested": len(plan.ids) + len(plan.already),
        "n_deleted": len(plan.ids), "ids_sha256": sha_ids, "shape": plan.shape, "classes": plan.classes,
    }
    if store_ids:
        request["ids"] = sorted(plan.ids)
        request["already_deleted"] = {i: s for i, s in sorted(plan.already.items())}
    else:
        request["id_hashes"] = sorted(led.id_hash(i) for i in plan.ids) if led is not None else None
        request["already_deleted"] = {led.id_hash(i): s for i, s in plan.already.items()} if led is not None else {}
    model_info = {
        "arch": plan.arch.to_dict() if plan.arch is not None else None,
        "class": f"{type(plan.before).__module__}.{type(plan.before).__qualname__}",
        "input_shape": list(plan.live.input_shape), "num_classes": plan.split.num_classes,
    }
    live = plan.live
    fields = {
        **request,
        "model": model_info,
        "model_before_sha256": sha_before,
        "model_after_sha256": sha_after,
        "method": method_name(plan.estimator),
        "params": _jsonable(result.params),
        "method_choice": plan.choice,
        "seed": seed,
        "package_version": unlearnkit.__version__,
        "runtime_s": result.runtime_s,
        "cpu_s": result.cpu_s,
        "data": {
            "name": live.name, "source": live.source, "n_train": len(live.train_y) + plan.dropped,
            "n_deleted_before": plan.dropped, "n_retained": len(plan.split.retain), "n_heldout": len(live.val_y),
            "n_test": len(live.test_y), "heldout_note": live.val_note, "test_note": live.test_note,
        },
        "evidence": _evidence_summary(evidence),
    }
    entry = led.build_entry(fields) if led is not None and not dry_run else None
    record = {
        "request": request, "model": {**model_info, "before_sha256": sha_before, "after_sha256": sha_after},
        "method": {"name": fields["method"], "params": fields["params"], "choice": plan.choice,
                   "runtime_s": result.runtime_s, "cpu_s": result.cpu_s},
        "data": fields["data"], "evidence": evidence.to_dict(),
        "headline": None if headline is None else {**headline.to_dict(), "golden": golden_info},
        "ledger": None if led is None else {"path": str(led.path), "seq": seq if entry else None,
                                            "dry_run": dry_run, "entry_hash": entry["hash"] if entry else None,
                                            "keep_head": keep_head_note(led.path, entry["hash"]) if entry else None},
        "seed": seed, "package_version": unlearnkit.__version__, "recovered": recovered,
    }

    if out is not None:
        from unlearnkit.deletion.render import render_html, render_markdown

        files = {"model.safetensors": after_bytes}
        if golden is not None:
            files["golden.safetensors"] = weights_bytes(golden)
        files["evidence.json"] = (json.dumps(record, indent=2, sort_keys=True, default=str) + "\n").encode()
        files["evidence.md"] = render_markdown(record).encode()
        files["evidence.html"] = render_html(record).encode()
        if entry is not None:
            files["ledger-entry.json"] = (json.dumps(entry, indent=2, sort_keys=True) + "\n").encode()
        publish(out, files, led if entry is not None else None, entry, after_bytes,
                plan.before_bytes if plan.seq == 0 else None)
    elif entry is not None:
        led.append(entry, after_bytes, plan.before_bytes if plan.seq == 0 else None)
    return ForgetResult(after, evidence, entry, record, headline, golden, out)


def _with_companions(names) -> list[str]:
    from unlearnkit.runs.experiment import with_companions

    return with_companions(list(names))


def _retrain(plan: ForgetPlan, recipe: Recipe, seed: int, device: str) -> tuple[nn.Module, dict[str, Any]]:
    from unlearnkit.methods.base import fresh_model
    from unlearnkit.seeding import torch_generator

    retain = plan.split.subset("retain")
    if plan.arch is not None:
        model = plan.arch.build(input_shape=plan.live.input_shape, num_classes=plan.split.num_classes, seed=seed)
    else:
        model = fresh_model(plan.before, retain, torch_generator(seed, "golden"))
    start, cpu_start = time.perf_counter(), time.process_time()
    train(model, retain, recipe, seed=seed, device=device, description="golden model")
    info = {"train_time_s": time.perf_counter() - start, "train_cpu_s": time.process_time() - cpu_start,
            "recipe": recipe.to_dict(), "n_train": len(retain),
            "init": str(plan.arch) if plan.arch is not None else "reset_parameters() of every module (seeded)"}
    return model.to("cpu").eval(), info


def _evidence_summary(ev: Evidence) -> dict[str, Any]:
    return {"verdict": ev.verdict, "basis": ev.basis, "detail": ev.detail, "accuracy": ev.accuracy,
            "warnings": ev.warnings}


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)


__all__ = ["ForgetPlan", "ForgetResult", "LedgerError", "OUTPUT_FILES", "forget", "plan_forget"]
