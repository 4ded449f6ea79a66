"""Verifying a deletion ledger: recompute every hash and the chain, check every weights file against
its entry, and name the first entry that was edited, removed or whose weights changed.

Removing the *last* entries and rewriting ``HEAD`` to match cannot be seen from inside the ledger:
keep the head hash that ``unlearnkit ledger show`` prints elsewhere and pass it as ``expect_head``.
``Ledger.verify`` (``deletion/ledger.py``) calls ``verify_ledger``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from unlearnkit.deletion.ledger_read import GENESIS, LedgerError, LedgerReader, entry_hash


@dataclass
class Verification:
    """The result of ``Ledger.verify``.

    Attributes:
        ok: whether the chain, every entry and every weights file check out.
        n_entries: committed entries.
        head_hash: the hash of the last committed entry (``None`` for an empty ledger).
        problem: the first problem found, naming the entry; ``None`` when ``ok``.
        first_bad: the number of the first bad entry, when one is to blame.
        notes: harmless findings (leftovers of an interrupted request).

    Example:
        >>> Verification(True, 0, None).to_dict()["ok"]
        True
    """

    ok: bool
    n_entries: int
    head_hash: str | None
    problem: str | None = None
    first_bad: int | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict."""
        return {"ok": self.ok, "n_entries": self.n_entries, "head_hash": self.head_hash, "problem": self.problem,
                "first_bad": self.first_bad, "notes": list(self.notes)}


def verify_ledger(ledger: LedgerReader, expect_head: str | None = None) -> Verification:
    """Recompute the chain and the weight hashes of ``ledger``; name the first entry edited, removed
    or changed, and check that the ledger ends at ``expect_head`` when given.

    Example:
        >>> import tempfile
        >>> verify_ledger(LedgerReader(tempfile.mkdtemp() + "/ledger")).ok
        True
    """
    ledger.check_dir()
    if not ledger.exists:
        ok = expect_head is None or expect_head == GENESIS
        return Verification(ok, 0, None, None if ok else f"the ledger at {ledger.path} is empty, but a head "
                            f"{expect_head[:12]}... was expected: it was removed")
    try:
        ledger.meta()
        seq, head_hash = ledger.head()
    except LedgerError as exc:
        return Verification(False, 0, None, str(exc))
    notes: list[str] = []
    hashes = [GENESIS]
    broken = _walk_chain(ledger, seq, hashes, notes)
    if broken is not None:
        return broken
    prev_hash = hashes[-1]
    if head_hash != prev_hash:
        return Verification(False, seq, None, f"HEAD names a hash that is not entry {seq}'s: HEAD was edited",
                            seq, notes)
    beyond = ledger.numbered("entries", above=seq)
    if len(beyond) > 1:
        return Verification(False, seq, head_hash, f"entries {', '.join(str(n) for n in beyond)} lie beyond HEAD "
                            f"(entry {seq}): HEAD was moved back or entries were added by hand", seq + 1, notes)
    if beyond:
        notes.append(f"entry {beyond[0]} is the uncommitted leftover of an interrupted request (ignored; the next "
                     "request removes it)")
    if expect_head is not None and expect_head != head_hash:
        if expect_head in hashes:
            k = hashes.index(expect_head)
            return Verification(False, seq, head_hash, f"the expected head is entry {k}, but the ledger ends at "
                                f"entry {seq}", None, notes)
        return Verification(False, seq, head_hash, f"the expected head {expect_head[:12]}... is not in the ledger: "
                            "entries after it were removed and HEAD rewritten", seq + 1, notes)
    return Verification(True, seq, head_hash if seq else None, None, None, notes)


def _walk_chain(ledger: LedgerReader, seq: int, hashes: list[str], notes: list[str]) -> Verification | None:
    """Check entries 1..``seq`` in order, appending each one's hash to ``hashes``; the failed
    ``Verification`` of the first bad entry, or ``None`` when all check out."""
    prev_hash, prev_after = GENESIS, None
    for i in range(1, seq + 1):
        path = ledger.entry_path(i)
        if not path.is_file():
            return Verification(False, i - 1, None, f"entry {i} was removed ({path.name} is missing)", i, notes)
        try:
            e = ledger.read_entry(i)
        except LedgerError:
            return Verification(False, i - 1, None, f"entry {i} was edited: it is no longer valid JSON", i, notes)
        if e.get("hash") != entry_hash(e):
            return Verification(False, i - 1, None, f"entry {i} ({e.get('request_id')}) was edited: its content no "
                                "longer matches its hash", i, notes)
        if e.get("seq") != i:
            return Verification(False, i - 1, None, f"entry {i} holds request number {e.get('seq')}: an entry before "
                                "it was removed or the entries were reordered", i, notes)
        if e.get("prev_hash") != prev_hash:
            return Verification(False, i - 1, None, f"entry {i} ({e.get('request_id')}) does not follow entry {i - 1}: "
                                f"the chain is broken (entry {i - 1} was replaced or removed)", i, notes)
        if i == 1:
            problem = check_weights(ledger, 0, e.get("model_before_sha256"), "the model before entry 1")
            if problem:
                return Verification(False, 0, None, problem, 1, notes)
        elif e.get("model_before_sha256") != prev_after:
            return Verification(False, i - 1, None, f"entry {i} ({e.get('request_id')}) did not start from the "
                                f"model after entry {i - 1}", i, notes)
        problem = check_weights(ledger, i, e.get("model_after_sha256"), f"entry {i} ({e.get('request_id')})")
        if problem:
            return Verification(False, i - 1, None, problem, i, notes)
        prev_hash, prev_after = e["hash"], e["model_after_sha256"]
        hashes.append(prev_hash)
    return None


def check_weights(ledger: LedgerReader, seq: int, expected: str | None, what: str) -> str | None:
    """The problem with the weights file after entry ``seq`` (missing, or its SHA-256 is not
    ``expected``), naming ``what``; ``None`` when it checks out."""
    path = ledger.weights_path(seq)
    if not path.is_file():
        return f"the weights of {what}, {path.relative_to(ledger.path)}, are missing"
    with open(path, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    if digest != expected:
        return f"the weights of {what}, {path.relative_to(ledger.path)}, changed: their SHA-256 is not the entry's"
    return None
