"""``ModelStore``: a content-addressed cache of trained models (safetensors + JSON metadata).

An entry's key is the SHA-256 of the canonical JSON of what determines its weights (dataset,
split fingerprint or "full", label set, architecture and its arguments, recipe, seed, training
code version). Both files are written to temporary names and renamed into place, weights first
and metadata last, so an entry either exists whole or not at all. Weights are never unpickled.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from unlearnkit.errors import StoreError
from unlearnkit.fileio import abandoned_temp, atomic_write_bytes, temp_prefix

#: A temporary file whose writer cannot be checked (another host, an unnamed file) is abandoned
#: when it is older than this many seconds.
TEMP_STALE_S = 3600.0


def default_home() -> Path:
    """``$UNLEARNKIT_HOME``, else ``~/.cache/unlearnkit``: where the model and run stores live."""
    env = os.environ.get("UNLEARNKIT_HOME")
    return Path(env) if env else Path.home() / ".cache" / "unlearnkit"


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def content_key(spec: dict[str, Any]) -> str:
    """The store key of an entry: SHA-256 of the canonical JSON of ``spec``."""
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()


class ModelStore:
    """A directory of trained models keyed by content.

    Example:
        >>> import tempfile, torch
        >>> store = ModelStore(tempfile.mkdtemp())
        >>> key = store.put({"what": "demo"}, torch.nn.Linear(2, 2), {"note": "x"})
        >>> store.has(key)
        True
    """

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_home() / "models"

    def _paths(self, key: str) -> tuple[Path, Path]:
        folder = self.root / key[:2]
        return folder / f"{key}.safetensors", folder / f"{key}.json"

    def has(self, key: str) -> bool:
        return self._paths(key)[1].is_file()

    def put(self, spec: dict[str, Any], model: nn.Module, meta: dict[str, Any] | None = None) -> str:
        """Store ``model``'s weights under the key of ``spec``; returns the key.

        Raises:
            StoreError: the store's folder cannot be written (read-only, not a folder, disk full).
        """
        key = content_key(spec)
        weights_path, meta_path = self._paths(key)
        state = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
        try:
            fd, tmp = tempfile.mkstemp(dir=_mkdir(weights_path.parent), prefix=temp_prefix("w"), suffix=".tmp")
            os.close(fd)
            try:
                save_file(state, tmp)
                os.chmod(tmp, 0o644)
                digest = _sha256_file(Path(tmp))
                os.replace(tmp, weights_path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            record = {"key": key, "spec": spec, "meta": meta or {}, "weights_sha256": digest}
            atomic_write_bytes(meta_path, json.dumps(record, indent=2, sort_keys=True, default=str).encode())
        except OSError as exc:
            raise StoreError(f"Cannot write to the model store {self.root}: {exc.strerror or exc}"
                             f"{f' ({exc.filename})' if exc.filename else ''}.") from None
        return key

    def verify(self, key: str) -> None:
        """Check that an entry's record is readable and its weights match their checksum.

        Raises:
            StoreError: the entry is missing, its record corrupt, or its weights missing or altered.
        """
        record = self.meta(key)
        weights_path, _ = self._paths(key)
        if not weights_path.is_file():
            raise StoreError(f"Weights file {weights_path} is missing; delete {self._paths(key)[1]} to retrain.")
        if _sha256_file(weights_path) != record["weights_sha256"]:
            raise StoreError(f"Weights file {weights_path} is corrupt (checksum mismatch); delete it to retrain.")

    def delete(self, key: str) -> bool:
        """Remove an entry (record first, so it is never half there); returns whether it existed."""
        weights_path, meta_path = self._paths(key)
        existed = meta_path.is_file() or weights_path.is_file()
        meta_path.unlink(missing_ok=True)
        weights_path.unlink(missing_ok=True)
        return existed

    def remove_abandoned_temp_files(self, stale_s: float = TEMP_STALE_S) -> list[Path]:
        """Remove the temporary files (``.w.*.tmp``, ``.<key>.json.*.tmp``) of writers that are gone.

        A temporary file names the process that writes it; the file is removed when that process
        ran on this host and no longer exists, or, when it cannot be checked (another host, a file
        of an older version), when the file is older than ``stale_s`` seconds. Returns the paths removed.
        """
        if not self.root.is_dir():
            return []
        now = time.time()
        removed = []
        for folder in self.root.iterdir():
            if not folder.is_dir():
                continue
            for path in folder.glob(".*.tmp"):
                if abandoned_temp(path, stale_s, now):
                    path.unlink(missing_ok=True)
                    removed.append(path)
        return removed

    def meta(self, key: str) -> dict[str, Any]:
        """The JSON record of an entry (spec, meta, weights checksum)."""
        _, meta_path = self._paths(key)
        if not meta_path.is_file():
            raise StoreError(f"No model {key!r} in the model store at {self.root}.")
        try:
            record = json.loads(meta_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StoreError(f"Model-store metadata {meta_path} is corrupt ({exc}); delete the entry to retrain.") from None
        if not isinstance(record, dict) or not isinstance(record.get("weights_sha256"), str):
            raise StoreError(f"Model-store metadata {meta_path} is corrupt (no weights checksum); delete the entry to retrain.")
        return record

    def load_state(self, key: str) -> dict[str, torch.Tensor]:
        """The verified state dict of an entry."""
        record = self.meta(key)
        weights_path, _ = self._paths(key)
        return load_weights(weights_path, expected_sha256=record.get("weights_sha256"))

    def load_into(self, key: str, model: nn.Module) -> nn.Module:
        """Load an entry's weights into ``model`` (same architecture) and return it in eval mode."""
        state = self.load_state(key)
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise StoreError(f"Model-store entry {key} does not fit this architecture: {str(exc).splitlines()[0]}") from None
        return model.eval()


def load_weights(path: str | os.PathLike, expected_sha256: str | None = None) -> dict[str, torch.Tensor]:
    """Read a safetensors file (never pickle); a missing, truncated or altered file is a ``StoreError``."""
    path = Path(path)
    if not path.is_file():
        raise StoreError(f"Weights file {path} is missing.")
    if expected_sha256 is not None and _sha256_file(path) != expected_sha256:
        raise StoreError(f"Weights file {path} is corrupt (checksum mismatch); delete it to retrain.")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise StoreError(f"Weights file {path} is not a valid safetensors file ({exc}).") from None


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
