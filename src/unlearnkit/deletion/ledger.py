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

For tests, ``UNLEARNKIT_LEDGER_PAUSE="<step>:<seconds>"`` sleeps at one step of an append
(``weights``, ``entry``, ``head`` or ``committed``), so that a test can kill the process there.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn

from unlearnkit.errors import ConfigError
from unlearnkit.fileio import atomic_write_bytes
from unlearnkit.training.store import canonical_json

FORMAT = "unlearnkit-ledger"
VERSION = 1
GENESIS = "0" * 64
PAUSE_ENV = "UNLEARNKIT_LEDGER_PAUSE"
_NUMBERED = re.compile(r"^(\d{6})\.(json|safetensors)$")


class LedgerError(ConfigError):
    """A ledger that cannot be used: not a ledger, a broken chain, busy, or changed under a request."""


def entry_hash(entry: dict[str, Any]) -> str:
    """SHA-256 of the entry's canonical JSON, without its own ``hash`` field."""
    return hashlib.sha256(canonical_json({k: v for k, v in entry.items() if k != "hash"}).encode()).hexdigest()


def ids_sha256(ids) -> str:
    """SHA-256 of the sorted IDs joined by newlines (UTF-8): the fingerprint of a request.

    Example:
        >>> ids_sha256(["b", "a"]) == hashlib.sha256(b"a\\nb").hexdigest()
        True
    """
    return hashlib.sha256("\n".join(sorted(str(i) for i in ids)).encode()).hexdigest()


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


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
    """

    ok: bool
    n_entries: int
    head_hash: str | None
    problem: str | None = None
    first_bad: int | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "n_entries": self.n_entries, "head_hash": self.head_hash, "problem": self.problem,
                "first_bad": self.first_bad, "notes": list(self.notes)}


class Ledger:
    """An append-only, hash-chained ledger of deletion requests in a directory.

    Example:
        >>> import tempfile
        >>> ledger = Ledger(tempfile.mkdtemp() + "/ledger")
        >>> ledger.head(), ledger.verify().ok
        ((0, '0000000000000000000000000000000000000000000000000000000000000000'), True)
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._salt: str | None = None

    # ------------------------------------------------------------------ reading
    def _check_dir(self) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise LedgerError(f"Ledger {self.path} is a file, not a ledger directory.")
        if self.path.is_dir() and not (self.path / "LEDGER").is_file() and any(
                p for p in self.path.iterdir() if not p.name.startswith(".")):
            raise LedgerError(f"{self.path} is not a ledger (no LEDGER file) and is not empty; give a new or empty "
                              "directory, or an existing ledger.")

    @property
    def exists(self) -> bool:
        """Whether the ledger has been created (its first request appended)."""
        self._check_dir()
        return (self.path / "LEDGER").is_file()

    def meta(self) -> dict[str, Any]:
        if not self.exists:
            return {}
        try:
            meta = json.loads((self.path / "LEDGER").read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise LedgerError(f"Ledger {self.path}: the LEDGER file is corrupt ({exc}).") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise LedgerError(f"Ledger {self.path}: the LEDGER file does not describe an unlearnkit ledger.")
        if meta.get("version") != VERSION:
            raise LedgerError(f"Ledger {self.path} has format version {meta.get('version')!r}; this unlearnkit reads "
                              f"version {VERSION}.")
        return meta

    @property
    def salt(self) -> str:
        """The ledger's salt for hashing IDs that are not stored (created with the ledger)."""
        if self._salt is None:
            self._salt = self.meta().get("salt") or secrets.token_hex(16)
        return self._salt

    def id_hash(self, record_id: str) -> str:
        """The salted hash (HMAC-SHA256 with the ledger's salt) under which an unstored ID is kept."""
        return hmac.new(bytes.fromhex(self.salt), str(record_id).encode(), hashlib.sha256).hexdigest()

    def head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the last committed entry; ``(0, GENESIS)`` for an empty ledger."""
        if not self.exists:
            return 0, GENESIS
        head_file = self.path / "HEAD"
        if not head_file.is_file():
            return 0, GENESIS
        try:
            head = json.loads(head_file.read_text())
            return int(head["seq"]), str(head["hash"])
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError):
            raise LedgerError(f"Ledger {self.path}: the HEAD file is corrupt; the ledger cannot be trusted.") from None

    def _entry_path(self, seq: int) -> Path:
        return self.path / "entries" / f"{seq:06d}.json"

    def weights_path(self, seq: int) -> Path:
        """The weights after entry ``seq`` (``0``: the model before the first request)."""
        return self.path / "weights" / f"{seq:06d}.safetensors"

    def _read_entry(self, seq: int) -> dict[str, Any]:
        try:
            entry = json.loads(self._entry_path(seq).read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise LedgerError(f"Ledger {self.path}: entry {seq} is not valid JSON ({exc}).") from None
        if not isinstance(entry, dict):
            raise LedgerError(f"Ledger {self.path}: entry {seq} is not a JSON object.")
        return entry

    def entries(self) -> list[dict[str, Any]]:
        """The committed entries, in order (read as they are; ``verify`` checks them)."""
        seq, _ = self.head()
        out = []
        for i in range(1, seq + 1):
            if not self._entry_path(i).is_file():
                raise LedgerError(f"Ledger {self.path}: entry {i} was removed (run 'unlearnkit ledger verify').")
            out.append(self._read_entry(i))
        return out

    def find(self, run_id: str | int) -> dict[str, Any]:
        """An entry by request id, by number, or ``"latest"``."""
        entries = self.entries()
        if not entries:
            raise LedgerError(f"Ledger {self.path} has no entries.")
        if run_id == "latest":
            return entries[-1]
        text = str(run_id)
        for e in entries:
            if e.get("request_id") == text or (text.isdigit() and e.get("seq") == int(text)):
                return e
        raise LedgerError(f"No request {text!r} in ledger {self.path}; requests: "
                          f"{', '.join(str(e.get('request_id')) for e in entries)}.")

    def deleted(self) -> tuple[dict[str, int], dict[str, int]]:
        """IDs deleted by the committed entries: ``({id: seq}, {salted id hash: seq})``."""
        ids: dict[str, int] = {}
        hashes: dict[str, int] = {}
        for e in self.entries():
            for i in e.get("ids") or []:
                ids.setdefault(i, e["seq"])
            for h in e.get("id_hashes") or []:
                hashes.setdefault(h, e["seq"])
        return ids, hashes

    def deleted_by(self, record_ids) -> dict[str, int]:
        """For each of ``record_ids`` deleted before, the number of the entry that deleted it."""
        ids, hashes = self.deleted()
        out = {}
        for i in record_ids:
            if i in ids:
                out[i] = ids[i]
            elif hashes and self.id_hash(i) in hashes:
                out[i] = hashes[self.id_hash(i)]
        return out

    def load_state(self, seq: int, expected_sha256: str) -> dict[str, torch.Tensor]:
        """The weights after entry ``seq``, checked against ``expected_sha256``."""
        from unlearnkit.deletion.modelio import state_from_bytes

        path = self.weights_path(seq)
        if not path.is_file():
            raise LedgerError(f"Ledger {self.path}: the weights of entry {seq} ({path.name}) are missing.")
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != expected_sha256:
            raise LedgerError(f"Ledger {self.path}: the weights of entry {seq} ({path.name}) changed: their SHA-256 "
                              "does not match the entry (run 'unlearnkit ledger verify').")
        return state_from_bytes(data, str(path))

    def load_model(self, run_id: str | int = "latest", model: nn.Module | None = None) -> nn.Module:
        """The model after a request (by request id, number or ``"latest"``), weights checked.

        Args:
            run_id: the request.
            model: a module of the right architecture to load into; default rebuilt from the entry's
                architecture (an import path must still resolve).
        """
        from unlearnkit.deletion.modelio import ArchSpec, load_weights_into

        e = self.find(run_id)
        state = self.load_state(e["seq"], e["model_after_sha256"])
        if model is None:
            arch = e.get("model", {}).get("arch")
            if not arch:
                raise LedgerError(f"Entry {e['seq']} of ledger {self.path} records no importable architecture; "
                                  "pass model= (a module of the right architecture) to load its weights into.")
            spec = ArchSpec.from_dict(arch)
            info = e["model"]
            model = spec.build(input_shape=tuple(info["input_shape"]), num_classes=info["num_classes"])
        return load_weights_into(model, state, f"The weights of ledger entry {e['seq']}")

    # ---------------------------------------------------------------- verifying
    def verify(self, *, expect_head: str | None = None) -> Verification:
        """Recompute the chain and the weight hashes; name the first entry edited, removed or changed."""
        self._check_dir()
        if not self.exists:
            ok = expect_head is None or expect_head == GENESIS
            return Verification(ok, 0, None, None if ok else f"the ledger at {self.path} is empty, but a head "
                                f"{expect_head[:12]}... was expected: it was removed")
        try:
            self.meta()
            seq, head_hash = self.head()
        except LedgerError as exc:
            return Verification(False, 0, None, str(exc))
        notes: list[str] = []
        prev_hash, prev_after = GENESIS, None
        hashes = [GENESIS]
        for i in range(1, seq + 1):
            path = self._entry_path(i)
            if not path.is_file():
                return Verification(False, i - 1, None, f"entry {i} was removed ({path.name} is missing)", i, notes)
            try:
                e = self._read_entry(i)
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
                problem = self._check_weights(0, e.get("model_before_sha256"), "the model before entry 1")
                if problem:
                    return Verification(False, 0, None, problem, 1, notes)
            elif e.get("model_before_sha256") != prev_after:
                return Verification(False, i - 1, None, f"entry {i} ({e.get('request_id')}) did not start from the "
                                    f"model after entry {i - 1}", i, notes)
            problem = self._check_weights(i, e.get("model_after_sha256"), f"entry {i} ({e.get('request_id')})")
            if problem:
                return Verification(False, i - 1, None, problem, i, notes)
            prev_hash, prev_after = e["hash"], e["model_after_sha256"]
            hashes.append(prev_hash)
        if head_hash != prev_hash:
            return Verification(False, seq, None, f"HEAD names a hash that is not entry {seq}'s: HEAD was edited",
                                seq, notes)
        beyond = self._numbered("entries", above=seq)
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

    def _check_weights(self, seq: int, expected: str | None, what: str) -> str | None:
        path = self.weights_path(seq)
        if not path.is_file():
            return f"the weights of {what}, {path.relative_to(self.path)}, are missing"
        with open(path, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
        if digest != expected:
            return f"the weights of {what}, {path.relative_to(self.path)}, changed: their SHA-256 is not the entry's"
        return None

    def _numbered(self, folder: str, above: int) -> list[int]:
        d = self.path / folder
        if not d.is_dir():
            return []
        return sorted(int(m.group(1)) for p in d.iterdir() if (m := _NUMBERED.match(p.name)) and int(m.group(1)) > above)

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
                for n in self._numbered(folder, above=seq):
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
            _write(self._entry_path(seq + 1), (json.dumps(entry, indent=2, sort_keys=True) + "\n").encode())
            _pause("head")
            _write(self.path / "HEAD", (json.dumps({"seq": seq + 1, "hash": entry["hash"]}) + "\n").encode())
            _pause("committed")
