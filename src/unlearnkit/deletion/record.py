"""The record of a request that ran (the last step of ``forget``): the evidence record (what
``evidence.json`` holds), the ledger entry, and the writing: the output directory, staged and renamed
into place with the ledger entry (``recovery.publish``), or the ledger entry alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from unlearnkit.deletion.evidence import Evidence
from unlearnkit.deletion.ledger import ids_sha256, now_iso
from unlearnkit.deletion.modelio import weights_bytes
from unlearnkit.deletion.plan import ForgetPlan
from unlearnkit.deletion.recovery import keep_head_note, publish
from unlearnkit.deletion.run import ForgetRun, jsonable
from unlearnkit.methods.front_door import method_name
from unlearnkit.version import __version__

OUTPUT_FILES = ("model.safetensors", "evidence.json", "evidence.md", "evidence.html")


def build_record(plan: ForgetPlan, run: ForgetRun, *, seed: int, store_ids: bool, dry_run: bool,
                 recovered: list[str]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The ledger entry (``None`` without a ledger or in a dry run; built, not appended) and the record."""
    led = plan.ledger
    seq = plan.seq + 1
    request = _request(plan, seq)
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
    result, evidence = run.result, run.evidence
    fields = _entry_fields(plan, run, request, model_info, seed)
    entry = led.build_entry(fields) if led is not None and not dry_run else None
    record = {
        "request": request, "model": {**model_info, "before_sha256": run.sha_before, "after_sha256": run.sha_after},
        "method": {"name": fields["method"], "params": fields["params"], "choice": plan.choice,
                   "runtime_s": result.runtime_s, "cpu_s": result.cpu_s},
        "data": fields["data"], "evidence": evidence.to_dict(),
        "headline": None if run.headline is None else {**run.headline.to_dict(), "golden": run.golden_info},
        "ledger": None if led is None else {"path": str(led.path), "seq": seq if entry else None,
                                            "dry_run": dry_run, "entry_hash": entry["hash"] if entry else None,
                                            "keep_head": keep_head_note(led.path, entry["hash"]) if entry else None},
        "seed": seed, "package_version": __version__, "recovered": recovered,
    }
    return entry, record


def _request(plan: ForgetPlan, seq: int) -> dict[str, Any]:
    sha_ids = ids_sha256(plan.ids)
    request_id = f"req-{seq:04d}-{sha_ids[:8]}" if plan.ledger is not None else f"req-{sha_ids[:8]}"
    return {
        "request_id": request_id, "time": now_iso(), "n_requested": len(plan.ids) + len(plan.already),
        "n_deleted": len(plan.ids), "ids_sha256": sha_ids, "shape": plan.shape, "classes": plan.classes,
    }


def _entry_fields(plan: ForgetPlan, run: ForgetRun, request: dict[str, Any], model_info: dict[str, Any],
                  seed: int) -> dict[str, Any]:
    """The ledger entry's fields (before the chain's own: ``seq``, ``prev_hash``, ``hash``)."""
    live, result = plan.live, run.result
    return {
        **request,
        "model": model_info,
        "model_before_sha256": run.sha_before,
        "model_after_sha256": run.sha_after,
        "method": method_name(plan.estimator),
        "params": jsonable(result.params),
        "method_choice": plan.choice,
        "seed": seed,
        "package_version": __version__,
        "runtime_s": result.runtime_s,
        "cpu_s": result.cpu_s,
        "data": {
            "name": live.name, "source": live.source, "n_train": len(live.train_y) + plan.dropped,
            "n_deleted_before": plan.dropped, "n_retained": len(plan.split.retain), "n_heldout": len(live.val_y),
            "n_test": len(live.test_y), "heldout_note": live.val_note, "test_note": live.test_note,
        },
        "evidence": _evidence_summary(run.evidence),
    }


def write_outputs(out: Path | None, plan: ForgetPlan, run: ForgetRun, record: dict[str, Any],
                  entry: dict[str, Any] | None) -> None:
    """Write the output directory (with the ledger entry, when there is one) or, without ``out``, append the
    entry alone."""
    led = plan.ledger
    if out is not None:
        from unlearnkit.deletion.render import render_html, render_markdown

        files = {"model.safetensors": run.after_bytes}
        if run.golden is not None:
            files["golden.safetensors"] = weights_bytes(run.golden)
        files["evidence.json"] = (json.dumps(record, indent=2, sort_keys=True, default=str) + "\n").encode()
        files["evidence.md"] = render_markdown(record).encode()
        files["evidence.html"] = render_html(record).encode()
        if entry is not None:
            files["ledger-entry.json"] = (json.dumps(entry, indent=2, sort_keys=True) + "\n").encode()
        publish(out, files, led if entry is not None else None, entry, run.after_bytes,
                plan.before_bytes if plan.seq == 0 else None)
    elif entry is not None:
        led.append(entry, run.after_bytes, plan.before_bytes if plan.seq == 0 else None)


def _evidence_summary(ev: Evidence) -> dict[str, Any]:
    return {"verdict": ev.verdict, "basis": ev.basis, "detail": ev.detail, "accuracy": ev.accuracy,
            "warnings": ev.warnings}


__all__ = ["OUTPUT_FILES", "build_record", "write_outputs"]
