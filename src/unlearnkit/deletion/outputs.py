"""Does an output folder of ``forget`` hold one request's model, evidence and ledger entry, together?

A folder's ``model.safetensors`` swapped for another request's, or its evidence copied from
another folder, looks complete. ``check_output`` ties the pieces by their hashes: the SHA-256 of
``model.safetensors`` must be the evidence's ``after_sha256`` and the ledger entry's
``model_after_sha256``; the evidence must name the entry's hash and request; ``evidence.md`` and
``evidence.html`` must name the same weights; and, given the ledger, the entry must be the
ledger's entry of that number (``unlearnkit ledger verify LEDGER --out DIR``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from unlearnkit.deletion.ledger import Ledger, LedgerError, entry_hash
from unlearnkit.errors import ConfigError


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} is not readable JSON ({type(exc).__name__}).") from None


def check_output(out: str | Path, ledger: Ledger | None = None) -> tuple[bool, str]:
    """Check that ``out``'s model, evidence and ledger entry belong together (and to ``ledger``).

    Returns:
        ``(ok, line)``: whether they do, and one line saying which request it is or what does not match.

    Raises:
        ConfigError: ``out`` is not an output folder of ``forget`` (no ``model.safetensors`` or
            ``evidence.json``, or unreadable JSON).

    Example:
        >>> check_output("results/r1", Ledger("ledger"))  # doctest: +SKIP
        (True, 'results/r1 is request 1 (req-0001-1a2b3c4d) of ledger ledger: model, evidence and entry match')
    """
    out = Path(out)
    model, evidence = out / "model.safetensors", out / "evidence.json"
    if not model.is_file() or not evidence.is_file():
        raise ConfigError(f"{out} is not an output folder of 'unlearnkit forget' (it needs model.safetensors and "
                          "evidence.json).")
    with open(model, "rb") as fh:
        sha = hashlib.file_digest(fh, "sha256").hexdigest()
    record = _read_json(evidence)
    try:
        after = record["model"]["after_sha256"]
        request_id = record["request"]["request_id"]
        led_info = record.get("ledger") or {}
    except (TypeError, KeyError, AttributeError):
        return False, f"{evidence} is not the evidence of a request (no model.after_sha256 or request.request_id)"
    if sha != after:
        return False, (f"{model} is not the model of this folder's evidence ({request_id}): its SHA-256 {sha[:12]}... "
                       f"differs from the evidence's {str(after)[:12]}... (swapped or edited)")
    for name in ("evidence.md", "evidence.html"):
        page = out / name
        if page.is_file() and after not in page.read_text(encoding="utf-8", errors="replace"):
            return False, f"{page} does not name this folder's model ({after[:12]}...): it belongs to another request"
    entry_file = out / "ledger-entry.json"
    entry = _read_json(entry_file) if entry_file.is_file() else None
    if entry is not None:
        if not isinstance(entry, dict) or entry.get("hash") != entry_hash(entry):
            return False, f"{entry_file} was edited: its content no longer matches its hash"
        if entry.get("model_after_sha256") != sha or entry.get("request_id") != request_id:
            return False, (f"{entry_file} is the entry of {entry.get('request_id')}, not of this folder's model and "
                           f"evidence ({request_id})")
        if led_info.get("entry_hash") != entry["hash"]:
            return False, f"{evidence} names another ledger entry than {entry_file}"
    if ledger is None:
        where = f", ledger entry {entry['seq']}" if entry else ""
        return True, f"{out} holds {request_id}: model and evidence match{where}"
    if entry is None:
        return False, f"{out} ({request_id}) has no ledger entry: it was not recorded in a ledger (or a dry run)"
    try:
        recorded = ledger.find(int(entry["seq"]))
    except (LedgerError, KeyError, TypeError, ValueError):
        recorded = None
    if recorded is None or recorded.get("hash") != entry["hash"]:
        return False, (f"{out} ({request_id}) is not an entry of ledger {ledger.path}: its entry {entry.get('seq')} "
                       "differs from the ledger's (another ledger, or the ledger was rewritten)")
    return True, (f"{out} is request {entry['seq']} ({request_id}) of ledger {ledger.path}: model, evidence and entry "
                  "match")
