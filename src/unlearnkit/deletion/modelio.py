"""Your own model: an architecture from an import path (or a built-in one) and its weights.

- ``ArchSpec.parse("mypackage.models:build")`` names a factory (a function or an ``nn.Module``
  class) called with keyword arguments; ``ArchSpec.parse("path/to/file.py:build")`` imports a file;
  ``ArchSpec.parse("mlp", {"hidden_width": 48})`` a registered architecture (``unlearnkit list models``).
- ``read_state_dict(path)``: a ``.safetensors`` file, or a ``.pt`` / ``.pth`` state dict read with
  ``torch.load(weights_only=True)``. A pickle where safetensors is expected is refused.
- ``load_weights_into(model, state)``: names the first key that does not fit.
- ``weights_bytes`` / ``weights_sha256``: the canonical safetensors form of a model's weights, whose
  SHA-256 the deletion ledger records.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import pickle
import re
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from unlearnkit.errors import ConfigError, DataError
from unlearnkit.seeding import derive_seed

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth")


@dataclass(frozen=True)
class ArchSpec:
    """How to build a model: a factory at an import path, or a registered architecture.

    Attributes:
        target: ``"package.module:factory"``, ``"path/to/file.py:factory"`` or a registered name.
        kwargs: keyword arguments of the factory (or the architecture's parameters).

    Example:
        >>> spec = ArchSpec.parse("mlp", {"hidden_width": 16, "depth": 1})
        >>> spec.is_builtin, spec.build(input_shape=(4,), num_classes=3)(torch.zeros(2, 4)).shape
        (True, torch.Size([2, 3]))
    """

    target: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, kwargs: Mapping[str, Any] | None = None) -> "ArchSpec":
        from unlearnkit.models import MODELS

        if not isinstance(text, str) or not text.strip():
            raise ConfigError("The architecture must be an import path 'package.module:factory' or a model name "
                              f"({', '.join(MODELS.names())}).")
        text = text.strip()
        if ":" in text:
            module, _, attr = text.rpartition(":")
            if not module or not attr.isidentifier():
                raise ConfigError(f"Architecture {text!r} is not an import path 'package.module:factory' "
                                  "(or 'file.py:factory').")
        elif text not in MODELS.names():
            raise ConfigError(f"Unknown architecture {text!r}: give an import path 'package.module:factory' "
                              f"(your own nn.Module) or a model name ({', '.join(MODELS.names())}).")
        return cls(text, dict(kwargs or {}))

    @property
    def is_builtin(self) -> bool:
        return ":" not in self.target

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "kwargs": dict(self.kwargs)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ArchSpec":
        return cls.parse(d["target"], d.get("kwargs") or {})

    def factory(self) -> Any:
        """The factory callable (imported; ``ConfigError`` naming what does not resolve)."""
        module_name, _, attr = self.target.rpartition(":")
        module = _import(module_name, self.target)
        if not hasattr(module, attr):
            raise ConfigError(f"Cannot resolve architecture {self.target!r}: module {module_name!r} has no "
                              f"attribute {attr!r}.")
        fn = getattr(module, attr)
        if not callable(fn):
            raise ConfigError(f"Architecture {self.target!r} is not callable (a {type(fn).__name__}); it must be a "
                              "function or an nn.Module class returning the model.")
        return fn

    def build(self, *, input_shape: tuple[int, ...] | None = None, num_classes: int | None = None,
              seed: int = 0) -> nn.Module:
        """A freshly initialised model; the same ``seed`` gives the same initial weights.

        The factory runs under a forked CPU RNG seeded from ``seed``, so the caller's random state
        is untouched. Built-in architectures need ``input_shape`` and ``num_classes``.
        """
        if self.is_builtin:
            from unlearnkit.models import build_model

            return build_model(self.target, input_shape=input_shape, num_classes=num_classes, seed=seed, **self.kwargs)
        fn = self.factory()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(seed, "init", self.target))
            try:
                model = fn(**self.kwargs)
            except Exception as exc:  # the user's code: report it in one line
                args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
                raise ConfigError(f"Calling {self.target}({args}) failed: {type(exc).__name__}: {exc}") from None
        if not isinstance(model, nn.Module):
            raise ConfigError(f"{self.target} returned a {type(model).__name__}, not a torch.nn.Module.")
        return model

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{self.target}({args})" if args else self.target


def _import(module_name: str, target: str) -> Any:
    if module_name.endswith(".py") or "/" in module_name or "\\" in module_name:
        path = Path(module_name)
        if not path.is_file():
            raise ConfigError(f"Cannot import architecture {target!r}: file {module_name!r} does not exist.")
        name = "unlearnkit_user_" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[name]
            raise ConfigError(f"Cannot import architecture {target!r}: {type(exc).__name__}: {exc}") from None
        return module
    try:
        return importlib.import_module(module_name)
    except Exception as exc:  # ModuleNotFoundError, or an error inside the user's module
        raise ConfigError(f"Cannot import architecture {target!r}: {type(exc).__name__}: {exc}") from None


# ---------------------------------------------------------------------------------- weights
def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from a ``.safetensors`` file or a ``.pt`` / ``.pth`` file (``weights_only=True``).

    Raises:
        DataError: a missing file, an unknown suffix, a pickle named ``.safetensors``, a ``.pt``
            file holding anything but tensors, or a file that is not a mapping of names to tensors.

    Example:
        >>> import tempfile, os
        >>> from safetensors.torch import save_file
        >>> p = os.path.join(tempfile.mkdtemp(), "w.safetensors")
        >>> save_file({"w": torch.ones(2)}, p)
        >>> read_state_dict(p)["w"].tolist()
        [1.0, 1.0]
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"Weights file {str(path)!r} does not exist.")
    suffix = p.suffix.lower()
    if suffix not in WEIGHT_SUFFIXES:
        raise DataError(f"Weights file {p} has suffix {p.suffix!r}; give a .safetensors file or a .pt / .pth "
                        "state dict.")
    data = p.read_bytes()
    if suffix == ".safetensors":
        if not _safetensors_framed(data) and _looks_pickled(data):
            raise DataError(
                f"Weights file {p} is a pickle (torch.save) file, not safetensors; pickles can run code and are "
                "refused here. Rename it .pt to read it with torch.load(weights_only=True), or convert it with "
                "safetensors.torch.save_file(model.state_dict(), ...)."
            )
        try:
            state = st_load(data)
        except (SafetensorError, ValueError, OSError) as exc:
            raise DataError(f"Weights file {p} is not a valid safetensors file ({_one_line(str(exc))}).") from None
    else:
        state = _torch_load(p)
    if not isinstance(state, Mapping):
        raise DataError(f"Weights file {p} holds a {type(state).__name__}, not a state dict (a mapping of parameter "
                        "names to tensors); save model.state_dict().")
    for k, v in state.items():
        if not isinstance(k, str) or not isinstance(v, torch.Tensor):
            raise DataError(f"Weights file {p}: entry {k!r} is a {type(v).__name__}, not a tensor; save "
                            "model.state_dict() alone.")
    return dict(state)


def _looks_pickled(data: bytes) -> bool:
    """A torch.save zip, or a raw pickle (protocol 2-5: ``0x80`` and the protocol number)."""
    return data[:4] == b"PK\x03\x04" or (data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"))


def _safetensors_framed(data: bytes) -> bool:
    """Whether ``data`` starts like safetensors: an 8-byte header length that fits, then a JSON object."""
    if len(data) < 9:
        return False
    n = int.from_bytes(data[:8], "little")
    return 8 + n <= len(data) and data[8:9] == b"{"


def _one_line(text: str, limit: int = 160) -> str:
    """``text`` without ANSI codes, on one line, cut at a word boundary to at most ``limit`` characters."""
    flat = " ".join(_ANSI.sub("", text).split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0] + " ..."


def _torch_load(p: Path) -> Any:
    """``torch.load(weights_only=True)`` with torch's warnings kept quiet and its errors in one line."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        with open(p, "rb") as fh:
            if fh.read(1) == b"\x80":
                raise DataError(f"Weights file {p} is a plain pickle (pickle.dump), not a torch.save file; it cannot be "
                                "read without running code from it. Save model.state_dict() with torch.save or "
                                "safetensors.") from None
        found = re.search(r"Unsupported (?:global: GLOBAL [\w.]+|operand \d+)", _ANSI.sub("", str(exc)))
        what = found.group(0) if found else "objects other than tensors"
        raise DataError(f"Weights file {p} was refused by torch.load(weights_only=True): it holds more than tensors "
                        f"({what}), and reading those would run code from the file. Save model.state_dict() with "
                        "torch.save or safetensors.") from None
    except Exception as exc:  # truncated zip, not a torch file at all
        raise DataError(f"Weights file {p} is not a readable torch state dict ({type(exc).__name__}: "
                        f"{_one_line(str(exc))}).") from None


def load_weights_into(model: nn.Module, state: Mapping[str, torch.Tensor], source: str = "the weights") -> nn.Module:
    """Copy ``state`` into ``model``; every key must exist in both with the same shape.

    Raises:
        ConfigError: naming the first key (in the model's order) that is missing, has another
            shape, or is not in the model.
    """
    own = model.state_dict()
    for key, t in own.items():
        if key not in state:
            raise ConfigError(f"{source} do not fit the architecture: key {key!r} (shape {tuple(t.shape)}) is missing "
                              f"from them ({len(state)} keys, e.g. {next(iter(state), 'none')!r}).")
        if tuple(state[key].shape) != tuple(t.shape):
            raise ConfigError(f"{source} do not fit the architecture: key {key!r} has shape "
                              f"{tuple(state[key].shape)} in them but {tuple(t.shape)} in the model.")
    extra = [k for k in state if k not in own]
    if extra:
        raise ConfigError(f"{source} do not fit the architecture: key {extra[0]!r} is not a parameter or buffer of "
                          "the model.")
    model.load_state_dict({k: v for k, v in state.items()})
    return model.eval()


def weights_bytes(model_or_state: nn.Module | Mapping[str, torch.Tensor]) -> bytes:
    """The weights in canonical safetensors form (CPU, contiguous, no metadata)."""
    state = model_or_state.state_dict() if isinstance(model_or_state, nn.Module) else model_or_state
    return st_save({k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()})


def weights_sha256(model_or_state: nn.Module | Mapping[str, torch.Tensor]) -> str:
    """SHA-256 (hex) of ``weights_bytes``: equal weights give equal hashes.

    Example:
        >>> lin = torch.nn.Linear(2, 2)
        >>> _ = torch.nn.init.zeros_(lin.weight), torch.nn.init.zeros_(lin.bias)
        >>> weights_sha256(lin) == weights_sha256({"bias": torch.zeros(2), "weight": torch.zeros(2, 2)})
        True
    """
    return hashlib.sha256(weights_bytes(model_or_state)).hexdigest()


def state_from_bytes(data: bytes, source: str) -> dict[str, torch.Tensor]:
    try:
        return st_load(data)
    except (SafetensorError, ValueError) as exc:
        raise DataError(f"{source} is not a valid safetensors file ({exc}).") from None
