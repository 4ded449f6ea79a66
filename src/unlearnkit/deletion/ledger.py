"""The deletion ledger: an append-only, hash-chained record of deletion requests and their models.

A ledger is a directory::

    LEDGER                      {"format": "unlearnkit-ledger", "version": 1, "created": ..., "salt": ...}
    HEAD                        {"seq": n, "hash": <hash of entry n>}: the commit point
    entries/000001.json         one JSON object per request, in order
    weights/000000.safetensors  the model before the first request
    weights/000001.safetensors  the model after request 1, and so on

Each entry holds the request id and time, the SHA-256 of the sorted deleted IDs (and the IDs, or
with ``store_ids=False`` only a salted hash of each, so later requests can still exclude them), the
SHA-256 of the model before and after (``weights_sha256``, of the canonical safetensors bytes),
method, parameters, package version, the evidence, ``prev_hash`` (the previous entry's hash) and its
own ``hash``: the SHA-256 of its canonical JSON without ``hash``.

**Appending** (``Ledger.append``) writes, under an exclusive lock, the new weights file, then the
entry file, then ``HEAD``; each through a temporary file, ``fsync`` and a rename. ``HEAD`` is the
commit point: a process killed at any moment leaves the ledger at the previous request (files past
``HEAD`` are leftovers, ignored and removed by the next append) or at the new one, never between.

**Verifying** (``Ledger.verify``) recomputes every hash and the chain, checks every weights file
against its entry, and names the first entry that was edited, removed or whose weights changed.
Removing the *last* entries and rewriting ``HEAD`` to match cannot be seen from inside the ledger:
keep the head hash that ``unlearnkit ledger show`` prints elsewhere and pass it as ``expect_head``.

Reading lives in ``deletion/ledger_read.py`` (``LedgerReader``, the format, ``LedgerError``),
verifying in ``deletion/ledger_verify.py`` (``Verification``); both are re-exported here.

For tests, ``UNLEARNKIT_LEDGER_PAUSE="<step>:<seconds>"`` sleeps at one step of an append
(``weights``, ``entry``, ``head`` or ``committed``), so that a test can kill the process there.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Iterator

from unlearnkit.deletion.ledger_read import (FORMAT, GENESIS, VERSION, LedgerError, LedgerReader, entry_hash,
                                             ids_sha256, now_iso)
from unlearnkit.deletion.ledger_verify import Verification, verify_ledger
from unlearnkit.fileio import atomic_write_bytes

__all__ = ["FORMAT", "GENESIS", "PAUSE_ENV", "VERSION", "Ledger", "LedgerError", "Verification", "entry_hash",
           "ids_sha256", "now_iso"]

PAUSE_ENV = "UNLEARNKIT_LEDGER_PAUSE"


def _pause(step: str) -> None:
    spec = os.environ.get(PAUSE_ENV, "")
    name, _, seconds = spec.partition(":")
    if name == step:
        time.sleep(float(seconds or 5))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(path: Path, data: bytes) -> None:
    atomic_write_bytes(path, data)
    _fsync_dir(path.parent)


class Ledger(LedgerReader):
    """An append-only, hash-chained ledger of deletion requests in a directory.

    Reading (``head``, ``entries``, ``find``, ``deleted_by``, ``load_model``, ...) comes from
    ``LedgerReader``; ``verify`` and ``check`` from ``deletion/ledger_verify.py``; appending is here.

    Example:
        >>> import tempfile
        >>> ledger = Ledger(tempfile.mkdtemp() + "/ledger")
        >>> ledger.head(), ledger.verify().ok
        ((0, '0000000000000000000000000000000000000000000000000000000000000000'), True)
    """

    # ---------------------------------------------------------------- verifying
    def verify(self, *, expect_head: str | None = None) -> Verification:
        """Recompute the chain and the weight hashes; name the first entry edited, removed or changed."""
        return verify_ledger(self, expect_head)

    def check(self) -> Verification:
        """``verify()``, raising ``LedgerError`` with the problem when the ledger is broken."""
        v = self.verify()
        if not v.ok:
            raise LedgerError(f"Ledger {self.path} is broken: {v.problem}. Run 'unlearnkit ledger verify {self.path}'.")
        return v

    # ---------------------------------------------------------------- appending
    def build_entry(self, fields: dict[str, Any]) -> dict[str, Any]:
        """The next entry: ``fields`` plus ``seq``, ``prev_hash`` and ``hash`` (nothing is written)."""
        seq, head_hash = self.head()
        entry = {"format": FORMAT, "version": VERSION, **fields, "seq": seq + 1, "prev_hash": head_hash}
        entry["hash"] = entry_hash(entry)
        return entry

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.path.mkdir(parents=True, exist_ok=True)
        fh = open(self.path / ".lock", "a")
        try:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LedgerError(f"Ledger {self.path} is being written by another request; try again when it is "
                                  "done.") from None
            yield
        finally:
            fh.close()

    def append(self, entry: dict[str, Any], weights_after: bytes, weights_before: bytes | None = None) -> None:
        """Commit ``entry`` (from ``build_entry``) with the weights after it (and before, for the first).

        Raises:
            LedgerError: the ledger changed since ``build_entry`` (another request was appended),
                or the weights do not match the entry's hashes.
        """
        if hashlib.sha256(weights_after).hexdigest() != entry["model_after_sha256"]:
            raise LedgerError("the weights given do not match the entry's model_after_sha256")
        with self._lock():
            seq, head_hash = self.head()
            if entry["seq"] != seq + 1 or entry["prev_hash"] != head_hash:
                raise LedgerError(f"Ledger {self.path} changed while this request ran (it is now at entry {seq}); "
                                  "nothing was recorded. Run the request again.")
            for folder in ("entries", "weights"):
                for n in self.numbered(folder, above=seq):
                    for p in (self.path / folder).glob(f"{n:06d}.*"):
                        p.unlink()
                for p in (self.path / folder).glob(".*.tmp") if (self.path / folder).is_dir() else []:
                    p.unlink()
            if seq == 0:
                if weights_before is None or hashlib.sha256(weights_before).hexdigest() != entry["model_before_sha256"]:
                    raise LedgerError("the first entry needs the weights before it, matching model_before_sha256")
                if (self.path / "LEDGER").is_file() and self.meta().get("salt") != self.salt:
                    raise LedgerError(f"Ledger {self.path} was created by another request while this one ran; "
                                      "nothing was recorded. Run the request again.")
                if not (self.path / "LEDGER").is_file():
                    meta = {"format": FORMAT, "version": VERSION, "created": now_iso(), "salt": self.salt}
                    _write(self.path / "LEDGER", (json.dumps(meta, indent=2) + "\n").encode())
                _write(self.weights_path(0), weights_before)
            _pause("weights")
            _write(self.weights_path(seq + 1), weights_after)
            _pause("entry")
            _write(self.entry_path(seq + 1), (json.dumps(entry, indent=2, sort_keys=True) + "\n").encode())
            _pause("head")
            _write(self.path / "HEAD", (json.dumps({"seq": seq + 1, "hash": entry["hash"]}) + "\n").encode())
            _pause("committed")
