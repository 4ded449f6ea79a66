"""Reading a deletion ledger: its on-disk format, its files and its committed entries.

The layout of a ledger directory and the meaning of an entry are described in
``deletion/ledger.py``, whose ``Ledger`` adds verifying (``deletion/ledger_verify.py``) and
appending to the ``LedgerReader`` defined here. ``HEAD`` is the commit point: only the entries up
to it are read.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

import torch
from torch import nn

from unlearnkit.errors import ConfigError
from unlearnkit.training.store import canonical_json

FORMAT = "unlearnkit-ledger"
VERSION = 1
GENESIS = "0" * 64
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
    """The current UTC time as ``2026-01-31T12:00:00Z``."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


class LedgerReader:
    """A deletion ledger's directory, read: its meta data, ``HEAD``, entries and weights.

    ``Ledger`` (``deletion/ledger.py``) is the class to use; it adds verifying and appending.

    Example:
        >>> import tempfile
        >>> LedgerReader(tempfile.mkdtemp() + "/ledger").head()
        (0, '0000000000000000000000000000000000000000000000000000000000000000')
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._salt: str | None = None

    def check_dir(self) -> None:
        """Refuse a path that is a file, or a non-empty directory without a ``LEDGER`` file."""
        if self.path.exists() and not self.path.is_dir():
            raise LedgerError(f"Ledger {self.path} is a file, not a ledger directory.")
        if self.path.is_dir() and not (self.path / "LEDGER").is_file() and any(
                p for p in self.path.iterdir() if not p.name.startswith(".")):
            raise LedgerError(f"{self.path} is not a ledger (no LEDGER file) and is not empty; give a new or empty "
                              "directory, or an existing ledger.")

    @property
    def exists(self) -> bool:
        """Whether the ledger has been created (its first request appended)."""
        self.check_dir()
        return (self.path / "LEDGER").is_file()

    def meta(self) -> dict[str, Any]:
        """The ``LEDGER`` file's content (``{}`` before the first request), its format checked."""
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

    def entry_path(self, seq: int) -> Path:
        """The file of entry ``seq``."""
        return self.path / "entries" / f"{seq:06d}.json"

    def weights_path(self, seq: int) -> Path:
        """The weights after entry ``seq`` (``0``: the model before the first request)."""
        return self.path / "weights" / f"{seq:06d}.safetensors"

    def read_entry(self, seq: int) -> dict[str, Any]:
        """Entry ``seq`` as it is on disk (a JSON object; ``verify`` checks it)."""
        try:
            entry = json.loads(self.entry_path(seq).read_text())
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
            if not self.entry_path(i).is_file():
                raise LedgerError(f"Ledger {self.path}: entry {i} was removed (run 'unlearnkit ledger verify').")
            out.append(self.read_entry(i))
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

    def numbered(self, folder: str, above: int) -> list[int]:
        """The numbers of the files in ``folder`` (``entries`` or ``weights``) above ``above``, sorted."""
        d = self.path / folder
        if not d.is_dir():
            return []
        return sorted(int(m.group(1)) for p in d.iterdir() if (m := _NUMBERED.match(p.name)) and int(m.group(1)) > above)
